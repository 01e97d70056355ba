//! Work on the engine's threads: independent jobs (a day to build, a day
//! to encode) pulled one at a time by scoped threads, so a long day does
//! not hold up a thread's whole share. No pool: threads live for one call.
//! How many threads is the engine's setting ([`Engine::set_query_threads`],
//! `HITMAP_THREADS`), so one switch keeps a host on a single thread.
//!
//! [`Engine::set_query_threads`]: crate::Engine::set_query_threads

use std::sync::Mutex;

/// `f` applied to every job, results in job order, on up to `threads`
/// threads (the calling one included). Runs on the calling thread alone
/// when there is one thread or fewer than two jobs. A panic in `f` is
/// resumed on the calling thread.
pub(crate) fn map_jobs<T: Send, R: Send>(
    jobs: Vec<T>,
    threads: usize,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let n = jobs.len();
    let threads = threads.min(n);
    if threads <= 1 {
        return jobs.into_iter().map(f).collect();
    }
    let queue = Mutex::new(jobs.into_iter().enumerate());
    let work = || {
        let mut done = Vec::new();
        loop {
            // A poisoned queue means another worker panicked: stop taking
            // jobs; its panic is resumed below.
            let next = match queue.lock() {
                Ok(mut q) => q.next(),
                Err(_) => None,
            };
            let Some((i, job)) = next else { break };
            done.push((i, f(job)));
        }
        done
    };
    let mut all: Vec<(usize, R)> = Vec::with_capacity(n);
    std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        all.extend(work());
        for h in others {
            match h.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_job_order_on_any_thread_count() {
        let jobs: Vec<u64> = (0..1000).collect();
        let want: Vec<u64> = jobs.iter().map(|x| x * x).collect();
        for threads in [1, 2, 3, 8] {
            assert_eq!(map_jobs(jobs.clone(), threads, |x| x * x), want);
        }
        assert!(map_jobs(Vec::<u8>::new(), 4, |x| x).is_empty());
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let r = std::panic::catch_unwind(|| {
            map_jobs((0..100).collect(), 2, |x: u32| {
                assert!(x != 57, "job 57");
                x
            })
        });
        assert!(r.is_err());
    }
}
