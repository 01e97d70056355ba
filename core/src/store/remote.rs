//! Stores in object storage (feature `object-store`): S3 (and anything
//! speaking its API), Google Cloud Storage and Azure Blob Storage through
//! the `object_store` crate.
//!
//! Readers fetch whole files by name (a day file is one request). A local
//! store is the single writer: [`Engine::publish`](crate::Engine::publish) seals it, uploads the
//! files its manifest names that the bucket lacks, then puts `MANIFEST`
//! last, so a reader sees the previous or the new commit, never half of
//! one. Superseded files stay for a retention time (readers that loaded
//! the previous manifest may still fetch them), then the next publish
//! deletes them: only names hitmap writes, only ones a published manifest
//! retired.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::{ObjectStore, ObjectStoreExt};
use object_store::path::Path as ObjectPath;

use crate::error::{Error, Result};

use super::{FileName, Manifest, store_err};

/// Schemes read through `object_store`.
pub(crate) fn knows(scheme: &str) -> bool {
    matches!(
        scheme,
        "s3" | "s3a" | "gs" | "az" | "adl" | "azure" | "abfs" | "abfss"
    )
}

/// A bucket and a prefix in it, with a private runtime for the client.
pub(crate) struct Remote {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
    /// Taken only by `Drop`.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Remote {
    fn drop(&mut self) {
        // A runtime dropped the usual way blocks, which panics inside a
        // host's async context (a server swapping its last snapshot out).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote").field("url", &self.url).finish()
    }
}

/// Bounded requests by default, so that an unreachable or frozen object
/// store fails a request within seconds (object_store's defaults wait 30 s
/// per attempt and retry for 3 minutes); storage options `timeout` and
/// `connect_timeout` set other values.
const CLIENT_DEFAULTS: [(&str, &str); 2] = [("timeout", "5s"), ("connect_timeout", "2s")];

fn retry_config() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 2,
        retry_timeout: std::time::Duration::from_secs(8),
        ..Default::default()
    }
}

impl Remote {
    /// Connects to `url` (`s3://bucket/prefix` …) with credentials and
    /// endpoints from the environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`),
    /// then `storage` (object_store's configuration keys, such as
    /// `aws_endpoint`, `aws_allow_http`, `google_service_account`).
    pub(crate) fn open(url: &str, storage: &[(String, String)]) -> Result<Remote> {
        // HTTPS through rustls with ring (once per process; a provider
        // the host installed first stays).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let bad = |e: &dyn std::fmt::Display| store_err(url, format!("cannot use this object store: {e}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad(&"not a URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad(&"the URL names no bucket"));
        }
        let base = format!("{scheme}://{bucket}");
        let key_err = |k: &str| {
            store_err(
                url,
                format!("unknown storage option {k:?} for {scheme}:// (object_store's configuration keys, e.g. aws_endpoint)"),
            )
        };
        let store: Arc<dyn ObjectStore> = match scheme {
            "s3" | "s3a" => {
                let mut b = object_store::aws::AmazonS3Builder::from_env().with_url(&base)
                    .with_retry(retry_config());
                for (k, v) in CLIENT_DEFAULTS.iter().map(|(k, v)| (*k, *v)).chain(
                    storage.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ) {
                    b = b.with_config(k.parse().map_err(|_| key_err(k))?, v);
                }
                Arc::new(b.build().map_err(|e| bad(&e))?)
            }
            "gs" => {
                let mut b =
                    object_store::gcp::GoogleCloudStorageBuilder::from_env().with_url(&base)
                    .with_retry(retry_config());
                for (k, v) in CLIENT_DEFAULTS.iter().map(|(k, v)| (*k, *v)).chain(
                    storage.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ) {
                    b = b.with_config(k.parse().map_err(|_| key_err(k))?, v);
                }
                Arc::new(b.build().map_err(|e| bad(&e))?)
            }
            _ => {
                let mut b = object_store::azure::MicrosoftAzureBuilder::from_env().with_url(&base)
                    .with_retry(retry_config());
                for (k, v) in CLIENT_DEFAULTS.iter().map(|(k, v)| (*k, *v)).chain(
                    storage.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                ) {
                    b = b.with_config(k.parse().map_err(|_| key_err(k))?, v);
                }
                Arc::new(b.build().map_err(|e| bad(&e))?)
            }
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("hitmap-object-store")
            .enable_all()
            .build()
            .map_err(|e| bad(&e))?;
        Ok(Remote {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            url: url.to_string(),
            runtime: Some(runtime),
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn key(&self, rel: &Path) -> ObjectPath {
        let rel = rel.to_string_lossy().replace('\\', "/");
        if self.prefix.is_empty() {
            ObjectPath::from(rel)
        } else {
            ObjectPath::from(format!("{}/{rel}", self.prefix))
        }
    }

    /// Runs a future on the private runtime and waits for it, from any
    /// thread (a host's own async runtime included).
    fn run<T: Send + 'static>(&self, f: impl Future<Output = T> + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().expect("the object store task always answers")
    }

    fn spawn(&self, f: impl Future<Output = ()> + Send + 'static) {
        if let Some(rt) = &self.runtime {
            rt.spawn(f);
        }
    }

    /// The error of a request for `rel`, naming the object.
    fn err(&self, rel: &Path, e: object_store::Error) -> Error {
        let path = format!("{}/{}", self.url, rel.display());
        match e {
            // What retrying will not change: the configuration's errors.
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }
            | object_store::Error::InvalidPath { .. }
            | object_store::Error::UnknownConfigurationKey { .. }
            | object_store::Error::NotSupported { .. } => store_err(path, e),
            // A network error, a time-out, the service's own failure.
            e => Error::Unavailable {
                path,
                reason: e.to_string(),
            },
        }
    }

    /// A whole object; `Ok(None)` if it does not exist.
    pub(crate) fn get(&self, rel: &Path) -> Result<Option<Vec<u8>>> {
        self.get_many(&[rel])
            .pop()
            .expect("one answer for one object")
    }

    /// Whole objects (`None`: it does not exist), fetched concurrently (at
    /// most 16 requests in flight): a query's days cost one round trip
    /// time, not one each.
    pub(crate) fn get_many(&self, rels: &[&Path]) -> Vec<Result<Option<Vec<u8>>>> {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut out: Vec<Option<Result<Option<Vec<u8>>>>> = rels.iter().map(|_| None).collect();
        for chunk in (0..rels.len()).collect::<Vec<_>>().chunks(16) {
            for &i in chunk {
                let (store, key, tx) = (self.store.clone(), self.key(rels[i]), tx.clone());
                self.spawn(async move {
                    let got = match store.get(&key).await {
                        Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())),
                        Err(object_store::Error::NotFound { .. }) => Ok(None),
                        Err(e) => Err(e),
                    };
                    let _ = tx.send((i, got));
                });
            }
            for _ in chunk {
                let (i, got) = rx.recv().expect("every object store task answers");
                out[i] = Some(got.map_err(|e| self.err(rels[i], e)));
            }
        }
        out.into_iter().map(|r| r.expect("every index answered")).collect()
    }

    fn exists(&self, rel: &Path) -> Result<bool> {
        let (store, key) = (self.store.clone(), self.key(rel));
        match self.run(async move { store.head(&key).await }) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.err(rel, e)),
        }
    }

    fn put(&self, rel: &Path, bytes: Vec<u8>) -> Result<()> {
        let (store, key) = (self.store.clone(), self.key(rel));
        self.run(async move { store.put(&key, bytes.into()).await })
            .map(|_| ())
            .map_err(|e| self.err(rel, e))
    }

    fn delete(&self, rel: &Path) -> Result<()> {
        let (store, key) = (self.store.clone(), self.key(rel));
        match self.run(async move { store.delete(&key).await }) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.err(rel, e)),
        }
    }
}

/// How [`Engine::publish`](crate::Engine::publish) writes to the bucket.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// let options = hitmap::PublishOptions::default()
///     .retain(Duration::from_secs(600))
///     .storage_option("aws_endpoint", "http://127.0.0.1:9000");
/// assert_eq!(options.retention(), Duration::from_secs(600));
/// ```
#[derive(Debug, Clone)]
pub struct PublishOptions {
    retain: Duration,
    storage: Vec<(String, String)>,
}

impl Default for PublishOptions {
    fn default() -> PublishOptions {
        PublishOptions {
            retain: Duration::from_secs(3600),
            storage: Vec::new(),
        }
    }
}

impl PublishOptions {
    /// How long files a publish supersedes stay for readers that loaded
    /// the previous manifest (default one hour).
    pub fn retain(mut self, retain: Duration) -> PublishOptions {
        self.retain = retain;
        self
    }

    /// The retention time.
    pub fn retention(&self) -> Duration {
        self.retain
    }

    /// An object_store configuration key and value (`aws_endpoint`,
    /// `aws_allow_http`, `aws_access_key_id`, …), over the environment's.
    pub fn storage_option(mut self, key: impl Into<String>, value: impl Into<String>) -> PublishOptions {
        self.storage.push((key.into(), value.into()));
        self
    }
}

/// What [`Engine::publish`](crate::Engine::publish) did.
///
/// # Examples
/// ```
/// let p = hitmap::Published::default();
/// assert_eq!((p.uploaded, p.bytes, p.deleted), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    /// The generation the bucket's manifest now names.
    pub generation: u64,
    /// Files uploaded (the manifest included).
    pub uploaded: u64,
    /// Bytes uploaded.
    pub bytes: u64,
    /// Superseded files deleted (retired by an earlier publish longer
    /// than the retention time ago).
    pub deleted: u64,
}

/// Publishes `store`'s current commit to an object store URL
/// ([`Engine::publish`](crate::Engine::publish), which seals the store first).
pub(crate) fn publish(store: &super::Store, url: &str, options: &PublishOptions) -> Result<Published> {
    let retain = options.retain;
    let remote = Remote::open(url, &options.storage)?;
    let local = store.manifest.clone();
    let previous = match remote.get(Path::new("MANIFEST"))? {
        Some(bytes) => Some(super::parse_manifest(&bytes).map_err(|e| match e {
            Error::Store { reason, .. } => store_err(format!("{url}/MANIFEST"), reason),
            e => e,
        })?),
        None => None,
    };
    if let Some(p) = &previous
        && p.generation > local.generation
    {
        return Err(store_err(
            format!("{url}/MANIFEST"),
            format!(
                "names generation {}, newer than this store's {}: another store publishes here \
                 (each prefix has one writer)",
                p.generation, local.generation
            ),
        ));
    }
    let now = super::now_secs();
    let want = local.live_files();
    let had = previous
        .as_ref()
        .map(Manifest::live_files)
        .unwrap_or_default();
    let mut out = Published {
        generation: local.generation,
        ..Published::default()
    };
    for rel in &want {
        if had.contains(rel) || remote.exists(rel)? {
            continue;
        }
        let bytes = store.read(rel)?;
        out.bytes += bytes.len() as u64;
        out.uploaded += 1;
        remote.put(rel, bytes)?;
    }
    // What this publish supersedes, and what earlier ones did.
    let mut retired: BTreeMap<String, i64> =
        previous.as_ref().map(|p| p.retired.clone()).unwrap_or_default();
    for rel in had.difference(&want) {
        retired.insert(rel.display().to_string(), now);
    }
    for rel in &want {
        retired.remove(&rel.display().to_string());
    }
    let keep = i64::try_from(retain.as_secs()).unwrap_or(i64::MAX);
    let expired: Vec<String> = retired
        .iter()
        .filter(|(_, at)| now.saturating_sub(**at) >= keep)
        .map(|(p, _)| p.clone())
        .collect();
    let mut next = local;
    next.retired = retired;
    next.wal = 0;
    for p in &expired {
        next.retired.remove(p);
    }
    let manifest = next.sealed()?;
    out.bytes += manifest.len() as u64;
    out.uploaded += 1;
    remote.put(Path::new("MANIFEST"), manifest)?;
    for p in expired {
        let rel = Path::new(&p);
        if FileName::parse(rel).is_some() {
            remote.delete(rel)?;
            out.deleted += 1;
        }
    }
    Ok(out)
}
