//! The durable store: a folder of immutable, checksummed files and one
//! `MANIFEST` that names the current generation of each. A commit writes
//! new files, syncs them, then atomically replaces the manifest, so a crash
//! at any instant leaves the store at the last committed batch, and readers
//! that load a manifest see whole batches only.
//!
//! Layout (every name built from site ids, dates and generation numbers;
//! no user string reaches a path):
//! ```text
//! MANIFEST                          current generation of every file
//! LOCK                              the writer's lock and pid
//! site-<id>/config-<gen>.bin        site configuration (JSON, sealed)
//! site-<id>/dicts-<gen>.bin         dictionaries
//! site-<id>/days/<date>-<gen>.day   one day archive
//! ```

pub(crate) mod codec;
pub(crate) mod format;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use codec::{Kind, open, seal};

/// What the manifest records for one site.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct SiteFiles {
    pub config: u64,
    pub dicts: u64,
    /// Day → generation of its file.
    pub days: BTreeMap<NaiveDate, u64>,
}

/// The manifest: the generation and every live file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub generation: u64,
    pub sites: BTreeMap<u32, SiteFiles>,
    /// Files superseded by a commit, with the Unix time they were retired:
    /// readers that loaded an older manifest may still be reading them, so
    /// they are deleted only after [`RETIRE_GRACE_SECS`].
    #[serde(default)]
    pub retired: BTreeMap<String, i64>,
}

/// How long a superseded file stays for readers of older snapshots.
pub(crate) const RETIRE_GRACE_SECS: i64 = 60;

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Manifest {
    /// Every file this manifest keeps: live and retired.
    fn kept(&self) -> std::collections::BTreeSet<PathBuf> {
        let mut kept: std::collections::BTreeSet<PathBuf> =
            self.retired.keys().map(PathBuf::from).collect();
        for (&site, f) in &self.sites {
            kept.insert(config_path(site, f.config));
            kept.insert(dicts_path(site, f.dicts));
            for (&day, &g) in &f.days {
                kept.insert(day_path(site, day, g));
            }
        }
        kept
    }
}

/// One change to commit for a site.
#[derive(Debug, Default)]
pub(crate) struct SiteChange {
    pub config: Option<Vec<u8>>,
    pub dicts: Option<Vec<u8>>,
    /// Day → new archive bytes, or `None` to remove the day.
    pub days: BTreeMap<NaiveDate, Option<Vec<u8>>>,
    /// Remove the whole site.
    pub drop: bool,
}

/// A store folder, opened for writing (holding the lock) or reading.
#[derive(Debug)]
pub(crate) struct Store {
    root: PathBuf,
    /// Held for the writer's lifetime; `None` when read-only.
    lock: Option<File>,
    pub manifest: Manifest,
}

pub(crate) fn store_err(path: impl AsRef<Path>, reason: impl std::fmt::Display) -> Error {
    Error::Store {
        path: path.as_ref().display().to_string(),
        reason: reason.to_string(),
    }
}

pub(crate) fn config_path(site: u32, generation: u64) -> PathBuf {
    PathBuf::from(format!("site-{site}")).join(format!("config-{generation}.bin"))
}

pub(crate) fn dicts_path(site: u32, generation: u64) -> PathBuf {
    PathBuf::from(format!("site-{site}")).join(format!("dicts-{generation}.bin"))
}

pub(crate) fn day_path(site: u32, day: NaiveDate, generation: u64) -> PathBuf {
    PathBuf::from(format!("site-{site}"))
        .join("days")
        .join(format!("{}-{generation}.day", day.format("%Y-%m-%d")))
}

impl Store {
    /// Opens (creating if missing) a store for writing; fails with
    /// [`Error::Locked`] if another process writes to it.
    pub(crate) fn open_writer(root: &Path) -> Result<Store> {
        fs::create_dir_all(root)
            .map_err(|e| store_err(root, format!("cannot create the folder: {e}")))?;
        let lock_path = root.join("LOCK");
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| store_err("LOCK", e))?;
        if lock.try_lock().is_err() {
            let mut pid = String::new();
            let _ = lock.read_to_string(&mut pid);
            return Err(Error::Locked {
                pid: pid.trim().parse().unwrap_or(0),
            });
        }
        lock.set_len(0).map_err(|e| store_err("LOCK", e))?;
        write!(lock, "{}", std::process::id()).map_err(|e| store_err("LOCK", e))?;
        lock.sync_all().map_err(|e| store_err("LOCK", e))?;
        let manifest = read_manifest(root)?.unwrap_or_default();
        let store = Store {
            root: root.to_path_buf(),
            lock: Some(lock),
            manifest,
        };
        store.collect_garbage();
        Ok(store)
    }

    /// Opens an existing store for reading: a snapshot of its manifest.
    pub(crate) fn open_reader(root: &Path) -> Result<Store> {
        let manifest = read_manifest(root)?.ok_or_else(|| {
            store_err(
                root.join("MANIFEST"),
                "no store here: create one with Engine::open",
            )
        })?;
        Ok(Store {
            root: root.to_path_buf(),
            lock: None,
            manifest,
        })
    }

    pub(crate) fn is_writer(&self) -> bool {
        self.lock.is_some()
    }

    /// Reads one file the manifest names (decoding checks it).
    pub(crate) fn read(&self, rel: &Path) -> Result<Vec<u8>> {
        fs::read(self.root.join(rel)).map_err(|e| store_err(rel, e))
    }

    /// The store's folder.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// Re-reads the manifest from disk (after a failed commit).
    pub(crate) fn reload_manifest(&mut self) -> Result<()> {
        self.manifest = read_manifest(&self.root)?.unwrap_or_default();
        Ok(())
    }

    /// Commits changes as the next generation: new files, synced, then the
    /// manifest swapped atomically, then old files removed (superseded
    /// ones after the readers' grace).
    pub(crate) fn commit(&mut self, changes: BTreeMap<u32, SiteChange>) -> Result<()> {
        self.commit_with(changes, false)
    }

    /// Commits an erasure: superseded files are deleted at once instead of
    /// kept for readers (a reader that loses the race reloads the newer
    /// snapshot), so no erased byte stays on disk.
    pub(crate) fn commit_erasure(&mut self, changes: BTreeMap<u32, SiteChange>) -> Result<()> {
        self.commit_with(changes, true)
    }

    fn commit_with(&mut self, changes: BTreeMap<u32, SiteChange>, erase: bool) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let generation = self.manifest.generation + 1;
        let mut next = self.manifest.clone();
        next.generation = generation;
        let now = now_secs();
        next.retired.retain(|_, at| now - *at < RETIRE_GRACE_SECS);
        let mut retire = |p: PathBuf| {
            next.retired.insert(p.display().to_string(), now);
        };
        let mut written: Vec<PathBuf> = Vec::new();
        for (site, change) in changes {
            let before = self.manifest.sites.get(&site);
            if change.drop {
                if let Some(f) = before {
                    retire(config_path(site, f.config));
                    retire(dicts_path(site, f.dicts));
                    f.days
                        .iter()
                        .for_each(|(&d, &g)| retire(day_path(site, d, g)));
                }
                next.sites.remove(&site);
                continue;
            }
            if let Some(f) = before {
                if change.config.is_some() {
                    retire(config_path(site, f.config));
                }
                if change.dicts.is_some() {
                    retire(dicts_path(site, f.dicts));
                }
                for day in change.days.keys() {
                    if let Some(&g) = f.days.get(day) {
                        retire(day_path(site, *day, g));
                    }
                }
            }
            let files = next.sites.entry(site).or_default();
            if let Some(bytes) = change.config {
                written.push(self.write_file(&config_path(site, generation), &bytes)?);
                files.config = generation;
            }
            if let Some(bytes) = change.dicts {
                written.push(self.write_file(&dicts_path(site, generation), &bytes)?);
                files.dicts = generation;
            }
            for (day, bytes) in change.days {
                match bytes {
                    Some(bytes) => {
                        written.push(self.write_file(&day_path(site, day, generation), &bytes)?);
                        files.days.insert(day, generation);
                    }
                    None => {
                        files.days.remove(&day);
                    }
                }
            }
        }
        // The renames are durable once their folders are synced.
        let dirs: std::collections::BTreeSet<PathBuf> = written
            .iter()
            .filter_map(|p| p.parent().map(Path::to_path_buf))
            .collect();
        for dir in dirs {
            sync_dir(&self.root.join(&dir)).map_err(|e| store_err(&dir, e))?;
        }
        if erase {
            next.retired.clear();
        }
        let body = serde_json::to_vec(&next).expect("manifest serializes");
        let _ = self.write_file(Path::new("MANIFEST"), &seal(Kind::Manifest, &body))?;
        sync_dir(&self.root).map_err(|e| store_err(".", e))?;
        self.manifest = next;
        self.collect_garbage();
        Ok(())
    }

    /// Write-new, fsync, rename; returns the path written.
    fn write_file(&self, rel: &Path, bytes: &[u8]) -> Result<PathBuf> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| store_err(rel, e))?;
        }
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(|e| store_err(rel, e))?;
        f.write_all(bytes).map_err(|e| store_err(rel, e))?;
        f.sync_all().map_err(|e| store_err(rel, e))?;
        fs::rename(&tmp, &path).map_err(|e| store_err(rel, e))?;
        Ok(rel.to_path_buf())
    }

    /// Removes files the manifest neither names nor keeps for readers
    /// (older generations past their grace, files of a commit that crashed
    /// before its manifest). Best effort: a file left behind is only space.
    fn collect_garbage(&self) {
        if self.lock.is_none() {
            return;
        }
        let kept = self.manifest.kept();
        let Ok(entries) = fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("site-") || !entry.path().is_dir() {
                continue;
            }
            let site_dir = PathBuf::from(&name);
            for sub in [site_dir.clone(), site_dir.join("days")] {
                for file in fs::read_dir(self.root.join(&sub))
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let rel = sub.join(file.file_name());
                    if file.path().is_file() && !kept.contains(&rel) {
                        let _ = fs::remove_file(file.path());
                    }
                }
            }
            // Empty folders of dropped sites go too (fails while not empty).
            let _ = fs::remove_dir(self.root.join(site_dir.join("days")));
            let _ = fs::remove_dir(self.root.join(&site_dir));
        }
    }
}

fn read_manifest(root: &Path) -> Result<Option<Manifest>> {
    let path = root.join("MANIFEST");
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(store_err("MANIFEST", e)),
    };
    let body = open(Kind::Manifest, &bytes).map_err(|r| store_err("MANIFEST", r))?;
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| store_err("MANIFEST", format!("unreadable manifest: {e}")))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}
