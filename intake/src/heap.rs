//! Giving freed memory back to the system, for the hosts that embed the
//! engine in another program (Python, PHP through the C ABI).
//!
//! Those hosts allocate through the C library's `malloc`. glibc keeps what
//! is freed for reuse, and a long-running writer that builds a year's
//! report rollups (hundreds of MB for a moment) then keeps that much
//! resident for good: a Python writer grew from 98 MB after one year of
//! data to 306 MB after ten while the engine itself held 24
//! (`benches/writer_memory.py`). [`release_free_heap`] hands such memory
//! back once a call has finished. The `hitmap` command links mimalloc,
//! which returns freed pages on its own.

/// Free heap held past this many bytes is given back.
pub const KEEP_FREE: usize = 32 << 20;

/// Gives the memory the C allocator holds freed back to the system when
/// it holds more than [`KEEP_FREE`] bytes of it; returns whether it did.
/// Cheap when there is little to give (one walk over the allocator's
/// arenas); does nothing on systems other than glibc's.
///
/// # Examples
/// ```
/// let big = vec![1u8; 64 << 20];
/// drop(big);
/// // Whether anything was held depends on the allocator and the platform.
/// let _released: bool = hitmap_intake::heap::release_free_heap();
/// ```
pub fn release_free_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    {
        // SAFETY: both are thread-safe glibc calls without arguments that
        // point anywhere; they take the allocator's own locks.
        let free = unsafe { libc::mallinfo2() }.fordblks;
        if free > KEEP_FREE {
            // SAFETY: as above; a pad of 0 keeps nothing spare at the top.
            return unsafe { libc::malloc_trim(0) } == 1;
        }
    }
    false
}

/// A lock guard (or any handle to the engine) that gives free heap back
/// ([`release_free_heap`]) when the call holding it is over.
///
/// # Examples
/// ```
/// use std::sync::Mutex;
/// use hitmap_intake::heap::Releasing;
/// let engine = Mutex::new(hitmap::Engine::in_memory());
/// {
///     let mut e = Releasing(engine.lock().unwrap());
///     e.add_site(hitmap::SiteConfig::new(1))?;
/// } // the heap is looked at here
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug)]
pub struct Releasing<G>(pub G);

impl<G: std::ops::Deref> std::ops::Deref for Releasing<G> {
    type Target = G::Target;
    fn deref(&self) -> &G::Target {
        &self.0
    }
}

impl<G: std::ops::DerefMut> std::ops::DerefMut for Releasing<G> {
    fn deref_mut(&mut self) -> &mut G::Target {
        &mut self.0
    }
}

impl<G> Drop for Releasing<G> {
    fn drop(&mut self) {
        release_free_heap();
    }
}
