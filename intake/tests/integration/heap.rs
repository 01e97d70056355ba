//! Freed heap goes back to the system (`heap.rs`).

/// Resident memory of this process, in bytes.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb * 1024
}

/// `bytes` in small blocks (below glibc's mmap threshold, so they live
/// in the heap), written to so that they are resident; every sixteenth
/// is returned and the rest freed, so that the free memory sits between
/// live blocks, where `free` alone never gives it back (a long-running
/// writer's heap after a peak looks like this).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fragment(bytes: usize) -> Vec<Vec<u8>> {
    let blocks: Vec<Vec<u8>> = (0..bytes / 4096).map(|i| vec![i as u8; 4000]).collect();
    blocks.into_iter().step_by(16).collect()
}

/// One test: only it calls `malloc_trim` in this binary, so no other test
/// gives its memory back for it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn freed_heap_goes_back_to_the_system() {
    use hitmap_intake::heap::{KEEP_FREE, Releasing, release_free_heap};
    let size = 4 * KEEP_FREE;
    let kept = fragment(size);
    let before = rss();
    assert!(release_free_heap(), "more than KEEP_FREE bytes were free");
    let after = rss();
    assert!(
        before.saturating_sub(after) > size / 2,
        "resident memory went from {before} to {after} bytes"
    );
    drop(kept);
    // The guard does it when the call holding it is over.
    let engine = std::sync::Mutex::new(hitmap::Engine::in_memory());
    let mut e = Releasing(engine.lock().unwrap());
    e.add_site(hitmap::SiteConfig::new(1)).unwrap();
    let kept = fragment(size);
    let before = rss();
    drop(e);
    let after = rss();
    assert!(
        before.saturating_sub(after) > size / 2,
        "resident memory went from {before} to {after} bytes"
    );
    drop(kept);
    assert_eq!(engine.lock().unwrap().site_ids(), vec![1]);
}
