//! A small real file system for disk-full tests: a tmpfs of a given size,
//! mounted on a fresh folder and unmounted (and removed) when dropped.
//! Mounting needs root (CAP_SYS_ADMIN), which the project's machines and
//! CI have; elsewhere the test fails with the reason instead of passing
//! unchecked. Shared by the core and CLI test binaries (`#[path]`).

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) struct Tmpfs(pub(crate) PathBuf);

impl Tmpfs {
    /// A tmpfs of `kib` KiB.
    pub(crate) fn mount(tag: &str, kib: u64) -> Tmpfs {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("hitmap-tmpfs-{}-{tag}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("the mount command");
        assert!(
            out.status.success(),
            "mounting a {kib} KiB tmpfs on {} failed (this test needs root, as on the project's machines and CI): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Fills the file system with `fill` until a write fails: what is
    /// left free is less than a page.
    pub(crate) fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0x5au8; 4096];
        while f.write_all(&block).and_then(|()| f.flush()).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Tmpfs {
    /// Removes what [`Tmpfs::fill`] wrote and waits until the room is
    /// back: a child process forked by another test while the filler was
    /// open holds its pages until it execs or exits.
    pub(crate) fn free(&self, filler: &Path) {
        std::fs::remove_file(filler).unwrap();
        let probe = self.0.join("probe");
        for _ in 0..400 {
            let fits = std::fs::write(&probe, vec![0u8; 256 << 10]).is_ok();
            let _ = std::fs::remove_file(&probe);
            if fits {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "the room of {} did not come back within 20 s",
            filler.display()
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Hex digits that do not compress (the write-ahead log packs its
/// records): what makes a batch take real room on a small disk.
pub(crate) fn noise(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from_digit((x % 16) as u32, 16).unwrap()
        })
        .collect()
}
