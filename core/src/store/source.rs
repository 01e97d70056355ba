//! Where a reader finds a store's files: a local folder, or (with the
//! `object-store` feature) a bucket in S3, Google Cloud Storage or Azure
//! Blob Storage through the `object_store` crate. Every read is counted,
//! so a host can tell what a query fetched.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;

use super::store_err;

/// How many file reads a reader made and how many bytes they brought.
///
/// # Examples
/// ```
/// let stats = hitmap::ReadStats::default();
/// assert_eq!((stats.requests, stats.bytes), (0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Files read (one request each on an object store).
    pub requests: u64,
    /// Bytes those reads returned.
    pub bytes: u64,
}

/// A store's location, and the counters of what was read from it.
#[derive(Debug)]
pub(crate) struct Source {
    at: At,
    requests: AtomicU64,
    bytes: AtomicU64,
}

#[derive(Debug)]
enum At {
    Folder(PathBuf),
    #[cfg(feature = "object-store")]
    Remote(super::remote::Remote),
}

impl Source {
    pub(crate) fn folder(root: &Path) -> Source {
        Source::new(At::Folder(root.to_path_buf()))
    }

    fn new(at: At) -> Source {
        Source {
            at,
            requests: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
        }
    }

    /// A location given as text: a URL with a scheme an object store
    /// knows (`s3://`, `gs://`, `az://`, `abfs://`, `file://`), else a
    /// folder path.
    pub(crate) fn parse(location: &str, storage: &[(String, String)]) -> Result<Source> {
        #[cfg(not(feature = "object-store"))]
        let _ = storage;
        match location.split_once("://") {
            Some(("file", path)) => Ok(Source::folder(Path::new(path))),
            #[cfg(feature = "object-store")]
            Some((scheme, _)) if super::remote::knows(scheme) => {
                Ok(Source::new(At::Remote(super::remote::Remote::open(location, storage)?)))
            }
            Some((scheme, _)) if !scheme.contains(['/', '\\']) && scheme.len() > 1 => {
                Err(store_err(
                    location,
                    if cfg!(feature = "object-store") {
                        format!("unknown scheme {scheme}://: use s3://, gs://, az://, file:// or a folder path")
                    } else {
                        "this build of hitmap reads local folders only (built without the object-store feature)".to_string()
                    },
                ))
            }
            _ => Ok(Source::folder(Path::new(location))),
        }
    }

    /// The local folder, if the store is one.
    pub(crate) fn folder_path(&self) -> Option<&Path> {
        match &self.at {
            At::Folder(p) => Some(p),
            #[cfg(feature = "object-store")]
            At::Remote(_) => None,
        }
    }

    /// The location, for messages.
    pub(crate) fn describe(&self) -> String {
        match &self.at {
            At::Folder(p) => p.display().to_string(),
            #[cfg(feature = "object-store")]
            At::Remote(r) => r.url().to_string(),
        }
    }

    /// Reads one whole file; `Ok(None)` if it does not exist.
    pub(crate) fn read_opt(&self, rel: &Path) -> Result<Option<Vec<u8>>> {
        let got = match &self.at {
            At::Folder(root) => match std::fs::read(root.join(rel)) {
                Ok(b) => Some(b),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(store_err(rel, e)),
            },
            #[cfg(feature = "object-store")]
            At::Remote(r) => r.get(rel)?,
        };
        Ok(self.counted(got))
    }

    /// Reads several whole files the manifest names (an object store
    /// fetches them concurrently).
    pub(crate) fn read_many(&self, rels: &[&Path]) -> Vec<Result<Vec<u8>>> {
        #[cfg(feature = "object-store")]
        if let At::Remote(r) = &self.at {
            return rels
                .iter()
                .zip(r.get_many(rels))
                .map(|(rel, got)| self.counted(got?).ok_or_else(|| not_found(rel)))
                .collect();
        }
        rels.iter().map(|rel| self.read(rel)).collect()
    }

    /// Counts one read and what it brought.
    fn counted(&self, got: Option<Vec<u8>>) -> Option<Vec<u8>> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if let Some(b) = &got {
            self.bytes.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        got
    }

    /// Reads one whole file the manifest names.
    pub(crate) fn read(&self, rel: &Path) -> Result<Vec<u8>> {
        self.read_opt(rel)?.ok_or_else(|| not_found(rel))
    }

    pub(crate) fn stats(&self) -> ReadStats {
        ReadStats {
            requests: self.requests.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}

fn not_found(rel: &Path) -> crate::error::Error {
    store_err(
        rel,
        "No such file: the store moved on since its manifest was read \
         (refresh the reader), or the file was removed",
    )
}
