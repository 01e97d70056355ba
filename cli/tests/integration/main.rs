//! One integration-test binary for the CLI: the `hitmap` binary end to
//! end, and its server over real loopback HTTP.

mod cli;
mod dashboard;
mod logs;
mod matomo;
mod matomo_data;
mod object_store;
mod readme;
mod reliability;
mod server;
mod track;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hitmap-cli-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `hitmap` with arguments.
pub fn hitmap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hitmap"))
        .args(args)
        .output()
        .expect("the hitmap binary runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `hitmap init` of the sample's site 1 (Europe/London, a News and an HR
/// section, a department dimension) in `store`, with `extra` options;
/// it must succeed.
pub fn init_sample_site(store: &str, extra: &[&str]) {
    let mut args = vec![
        "init",
        store,
        "--site",
        "1",
        "--timezone",
        "Europe/London",
        "--section",
        "News=/news",
        "--section",
        "HR=/teams/hr,/policies",
        "--dimension",
        "department",
    ];
    args.extend_from_slice(extra);
    let out = hitmap(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// A store with site 1 ([`init_sample_site`]) holding a few weeks of
/// sample traffic, ingested through `hitmap ingest`.
pub fn sample_store(dir: &Path) -> PathBuf {
    let store = dir.join("store");
    let s = store.to_str().unwrap();
    init_sample_site(s, &[]);
    let cfg = hitmap::sample::SampleConfig {
        days: 21,
        visitors: 150,
        ..Default::default()
    };
    let ndjson: String = hitmap::sample::generate(&cfg)
        .map(|h| h.to_ndjson() + "\n")
        .collect();
    let file = dir.join("hits.ndjson");
    std::fs::write(&file, ndjson).unwrap();
    let out = hitmap(&["ingest", s, file.to_str().unwrap(), "--no-progress"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    store
}
