//! Work on the engine's threads: independent jobs (a day to build, a day
//! to encode, a block of lines to read) pulled one at a time by scoped
//! threads, so a long job does not hold up a thread's whole share. No
//! pool: threads live for one call.
//! How many threads is the engine's setting ([`Engine::set_query_threads`],
//! `HITMAP_THREADS`), so one switch keeps a host on a single thread.
//!
//! [`Engine::set_query_threads`]: crate::Engine::set_query_threads

use std::sync::Mutex;

/// `f` applied to every job, results in job order, on up to `threads`
/// threads (the calling one included). Runs on the calling thread alone
/// when there is one thread or fewer than two jobs. A panic in `f` is
/// resumed on the calling thread. Hosts that prepare work for the engine
/// (the Arrow intake's rows) use it with the engine's
/// [`query_threads`](crate::Engine::query_threads).
///
/// # Examples
/// ```
/// let squares = hitmap::par::map_jobs(vec![1u64, 2, 3, 4], 2, |x| x * x);
/// assert_eq!(squares, [1, 4, 9, 16]);
/// ```
pub fn map_jobs<T: Send, R: Send>(
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

/// `read` applied to every job on up to `threads` threads (the calling one
/// included), and `merge` to each result on the calling thread in job
/// order, as soon as the results before it are merged: merging overlaps
/// the reading of later jobs. A panic on any thread reaches the caller.
pub(crate) fn in_order<J: Sync, R: Send>(
    jobs: &[J],
    threads: usize,
    read: impl Fn(&J) -> R + Sync,
    mut merge: impl FnMut(R),
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let take = || {
        let i = next.fetch_add(1, Ordering::Relaxed);
        (i < jobs.len()).then_some(i)
    };
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 1..threads.min(jobs.len()) {
            let tx = tx.clone();
            let (take, read) = (&take, &read);
            scope.spawn(move || {
                while let Some(i) = take() {
                    if tx.send((i, read(&jobs[i]))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut ready: std::collections::BTreeMap<usize, R> = std::collections::BTreeMap::new();
        let mut want = 0;
        while want < jobs.len() {
            if let Some(r) = ready.remove(&want) {
                merge(r);
                want += 1;
                continue;
            }
            ready.extend(rx.try_iter());
            if ready.contains_key(&want) {
                continue;
            }
            // The next result is not here: read a job here, or wait.
            if let Some(i) = take() {
                ready.insert(i, read(&jobs[i]));
            } else {
                match rx.recv() {
                    Ok((i, r)) => {
                        ready.insert(i, r);
                    }
                    // A worker panicked; the scope resumes its panic.
                    Err(_) => break,
                }
            }
        }
    });
}

/// How many threads one query may use: `Engine::set_query_threads`,
/// else the environment's `HITMAP_THREADS`, else every core; and how much
/// work (visits) a thread must have before a query splits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryThreads {
    pub(crate) threads: usize,
    pub(crate) min_work: usize,
}

/// Visits a thread must get before a query starts it.
const MIN_WORK_PER_THREAD: usize = 20_000;

impl QueryThreads {
    pub(crate) fn new(threads: usize) -> QueryThreads {
        QueryThreads {
            threads: if threads == 0 {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                threads
            },
            min_work: MIN_WORK_PER_THREAD,
        }
    }

    /// Splits any query with work for more than one thread (tests).
    pub(crate) fn eager(threads: usize) -> QueryThreads {
        QueryThreads {
            min_work: 1,
            ..QueryThreads::new(threads)
        }
    }

    pub(crate) fn get(self) -> usize {
        self.threads
    }
}

impl Default for QueryThreads {
    fn default() -> QueryThreads {
        let asked = std::env::var("HITMAP_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok());
        QueryThreads::new(asked.unwrap_or(0))
    }
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
    fn in_order_merges_every_result_in_job_order_on_any_thread_count() {
        let jobs: Vec<u64> = (0..500).collect();
        for threads in [1, 2, 3, 8] {
            let mut merged = Vec::new();
            in_order(&jobs, threads, |x| x * x, |r| merged.push(r));
            assert_eq!(merged, jobs.iter().map(|x| x * x).collect::<Vec<_>>());
        }
        let mut none = Vec::new();
        in_order(&Vec::<u64>::new(), 2, |x| *x, |r| none.push(r));
        assert!(none.is_empty());
    }

    #[test]
    fn in_order_resumes_a_reader_panic_on_the_caller() {
        for threads in [1, 2, 3] {
            let r = std::panic::catch_unwind(|| {
                in_order(
                    &(0..200).collect::<Vec<u32>>(),
                    threads,
                    |&x| {
                        assert!(x != 117, "job 117");
                        x
                    },
                    |_| {},
                );
            });
            assert!(r.is_err(), "{threads} threads");
        }
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
