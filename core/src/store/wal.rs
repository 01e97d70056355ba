//! The write-ahead log: small batches are durable when one append and one
//! `fdatasync` are, long before their days are sealed into files.
//!
//! `wal/<n>.log` segments, each a file header (as every store file) then
//! records `len: u32 | crc32: u32 | payload`. The manifest's `wal` is the
//! first segment not yet sealed into day files: opening a store replays
//! segments from there into live parts. A record that is cut short or
//! fails its checksum ends its segment (a write that never finished was
//! never acknowledged); later segments are still read.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::store::codec::{HEADER, Kind, MAGIC, version_of};
use crate::store::store_err;

/// The folder of the log's segments.
pub(crate) const WAL_DIR: &str = "wal";


/// A segment's path, relative to the store.
pub(crate) fn wal_path(segment: u64) -> PathBuf {
    PathBuf::from(WAL_DIR).join(format!("{segment}.log"))
}

fn header() -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..7].copy_from_slice(MAGIC);
    h[7] = Kind::Wal as u8;
    h[8..10].copy_from_slice(&version_of(Kind::Wal).to_le_bytes());
    h
}

/// The segments in the store's `wal/` folder, numbered as hitmap names
/// them, in order.
pub(crate) fn segments(root: &Path) -> Vec<u64> {
    let mut out: Vec<u64> = fs::read_dir(root.join(WAL_DIR))
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.ok()?.file_name();
            let n = name.to_str()?.strip_suffix(".log")?;
            let ok = !n.is_empty()
                && (n == "0" || !n.starts_with('0'))
                && n.bytes().all(|b| b.is_ascii_digit());
            ok.then(|| n.parse().ok()).flatten()
        })
        .collect();
    out.sort_unstable();
    out
}

/// What [`read_from`] found.
#[derive(Debug, Default)]
pub(crate) struct LogRead {
    /// The records, in order.
    pub records: Vec<Vec<u8>>,
    /// Segments that could not be read (a file named like a segment whose
    /// header is not hitmap's log's, an I/O error), skipped with their
    /// reason.
    pub damaged: Vec<(String, String)>,
    /// A listed segment was gone when read: a seal retired and deleted it
    /// meanwhile (a full disk deletes retired files at once), so the
    /// manifest these records are replayed over is no longer current.
    pub vanished: bool,
}

/// The records of every segment from `first` on, in order. A damaged
/// record ends its segment.
pub(crate) fn read_from(root: &Path, first: u64) -> LogRead {
    let mut out = LogRead::default();
    for segment in segments(root).into_iter().filter(|&s| s >= first) {
        let rel = wal_path(segment);
        let bytes = match fs::read(root.join(&rel)) {
            Ok(b) => b,
            // Sealed and removed between the listing and the read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.vanished = true;
                continue;
            }
            Err(e) => {
                out.damaged.push((rel.display().to_string(), e.to_string()));
                continue;
            }
        };
        if unstarted(&bytes) {
            continue;
        }
        if bytes.get(..8) != header().get(..8) {
            out.damaged.push((
                rel.display().to_string(),
                "not a hitmap write-ahead log segment (its header is not hitmap's); skipped".into(),
            ));
            continue;
        }
        out.records
            .extend(segment_records(&bytes).map(<[u8]>::to_vec));
    }
    out
}

/// Whether a segment's bytes are those of a creation that never
/// finished: at most a header's bytes, all of them a prefix of hitmap's
/// header, so no records.
fn unstarted(bytes: &[u8]) -> bool {
    bytes.len() <= HEADER && header().starts_with(bytes)
}

/// The whole records of one segment's bytes, up to the first damaged one.
fn segment_records(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes.get(HEADER..).unwrap_or_default();
    std::iter::from_fn(move || {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let (crc, tail) = tail.split_first_chunk::<4>()?;
        let (payload, tail) = tail.split_at_checked(u32::from_le_bytes(*len) as usize)?;
        if crc32fast::hash(payload) != u32::from_le_bytes(*crc) {
            return None;
        }
        rest = tail;
        Some(payload)
    })
}

/// The segment a writer appends to, created at its first append (a
/// writer that appends nothing leaves no file).
#[derive(Debug)]
pub(crate) struct Wal {
    root: PathBuf,
    segment: u64,
    file: Option<File>,
    len: u64,
}

impl Wal {
    /// A writer that will append to segment `segment`.
    pub(crate) fn new(root: &Path, segment: u64) -> Wal {
        Wal {
            root: root.to_path_buf(),
            segment,
            file: None,
            len: 0,
        }
    }

    fn create(&mut self) -> Result<&mut File> {
        let rel = wal_path(self.segment);
        let dir = self.root.join(WAL_DIR);
        fs::create_dir_all(&dir).map_err(|e| store_err(WAL_DIR, e))?;
        let path = self.root.join(&rel);
        let open = || OpenOptions::new().write(true).create_new(true).open(&path);
        let mut file = match open() {
            Ok(f) => f,
            // Left by a creation that failed before its header was whole
            // (a full disk, a crash): it never held a record, so it is
            // ours to replace. Anything else under that name is kept and
            // the next append starts the next segment.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !fs::read(&path).is_ok_and(|b| unstarted(&b)) || fs::remove_file(&path).is_err() {
                    self.segment = self.segment.saturating_add(1);
                    return Err(store_err(&rel, e));
                }
                open().map_err(|e| store_err(&rel, e))?
            }
            Err(e) => return Err(store_err(&rel, e)),
        };
        let written = file
            .write_all(&header())
            .and_then(|()| file.sync_all())
            .and_then(|()| File::open(&dir)?.sync_all());
        if let Err(e) = written {
            // Nothing was acknowledged from this segment: remove it, so
            // the next append creates it anew once there is room (and no
            // reader or check meets a half-written header). If even the
            // removal fails, the next append starts the next segment.
            drop(file);
            if fs::remove_file(&path).is_err() {
                self.segment = self.segment.saturating_add(1);
            }
            return Err(store_err(&rel, e));
        }
        self.len = HEADER as u64;
        Ok(self.file.insert(file))
    }

    /// The store folder.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The segment being appended to.
    pub(crate) fn segment(&self) -> u64 {
        self.segment
    }

    /// Whether the current segment holds records.
    pub(crate) fn has_records(&self) -> bool {
        self.len > HEADER as u64
    }

    /// Bytes in the current segment.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Makes the next append start the next segment (after a seal, or
    /// after a failed append that may have left a partial record).
    pub(crate) fn rotate(&mut self) {
        if self.file.take().is_some() {
            self.segment = self.segment.saturating_add(1);
            self.len = 0;
        }
    }

    /// Appends one record and makes it durable.
    pub(crate) fn append(&mut self, payload: &[u8]) -> Result<()> {
        let len = u32::try_from(payload.len())
            .map_err(|_| store_err(wal_path(self.segment), "a record over 4 GiB"))?;
        let mut record = Vec::with_capacity(payload.len().saturating_add(8));
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        record.extend_from_slice(payload);
        let file = match self.file {
            Some(ref mut f) => f,
            None => self.create()?,
        };
        let written = file.write_all(&record).and_then(|()| file.sync_data());
        if let Err(e) = written {
            let at = wal_path(self.segment);
            self.rotate();
            return Err(store_err(at, e));
        }
        self.len = self.len.saturating_add(record.len() as u64);
        Ok(())
    }
}

/// The log a writer shares with its [`LogWriter`](crate::LogWriter)s: the
/// segment appended to, and what log writers appended that the engine
/// has not applied yet.
#[derive(Debug)]
pub(crate) struct SharedLog {
    pub(crate) wal: Wal,
    /// Records appended by log writers and not applied yet, per segment.
    /// A seal keeps every segment from the first of these on.
    pub(crate) unapplied: std::collections::BTreeMap<u64, u64>,
    /// Counts the engine's reloads: a reload replays every record on disk,
    /// so records appended before it are in its live parts already.
    pub(crate) generation: u64,
    /// The engine is gone (and with it the store's lock): log writers
    /// append nothing more.
    pub(crate) closed: bool,
}

/// A writer's log, shared with its log writers.
pub(crate) type Shared = std::sync::Arc<std::sync::Mutex<SharedLog>>;

impl SharedLog {
    pub(crate) fn new(wal: Wal) -> Shared {
        std::sync::Arc::new(std::sync::Mutex::new(SharedLog {
            wal,
            unapplied: Default::default(),
            generation: 0,
            closed: false,
        }))
    }

    /// The first segment that holds a record not applied yet.
    pub(crate) fn first_unapplied(&self) -> Option<u64> {
        self.unapplied.keys().next().copied()
    }

    /// One record of `segment` applied (or replayed).
    pub(crate) fn applied(&mut self, segment: u64) {
        if let Some(n) = self.unapplied.get_mut(&segment) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.unapplied.remove(&segment);
            }
        }
    }
}

/// Locks a shared log. A thread that panicked while holding it left the
/// log as its last whole append did (an append is one write and one sync).
pub(crate) fn lock(log: &Shared) -> std::sync::MutexGuard<'_, SharedLog> {
    log.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A record's payload: what a live batch commits besides its hits (its
/// identity and an importer's cursor), then the hits as NDJSON.
///
/// Version 1: `1 | id_len: u16 | id | name_len: u16 | name | value_len: u32 | value | lines`
/// (`id_len` 0: no identity; `name_len` 0: no cursor). Version 2, what
/// this build writes: `2 | packed`, `packed` being version 1's bytes after
/// the version byte, packed as a store file's body (codec, raw length,
/// zstd frame): hits as NDJSON pack about tenfold, so the log needs a
/// tenth of the disk before its seal.
pub(crate) fn encode_record(batch: Option<&str>, cursor: Option<(&str, &str)>, lines: &[u8]) -> Vec<u8> {
    let id = batch.unwrap_or("").as_bytes();
    let (name, value) = cursor.unwrap_or(("", ""));
    let mut out = Vec::with_capacity(lines.len().saturating_add(256));
    // Batch ids and cursor names are short; a longer one is cut (it then
    // never matches, so the batch is not skipped: safe).
    let id = id.get(..id.len().min(u16::MAX as usize)).unwrap_or_default();
    let name = name
        .as_bytes()
        .get(..name.len().min(u16::MAX as usize))
        .unwrap_or_default();
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(lines);
    let mut record = vec![2];
    record.extend(crate::store::format::compress_fast(&out));
    record
}

/// What a record holds: its batch identity, its cursor, its NDJSON lines.
pub(crate) type Record = (Option<String>, Option<(String, String)>, Vec<u8>);

/// A record's parts, or `None` if it is not one this build reads.
pub(crate) fn decode_record(r: &[u8]) -> Option<Record> {
    fn text(r: &[u8], n: usize) -> Option<(String, &[u8])> {
        let (t, rest) = r.split_at_checked(n)?;
        Some((String::from_utf8(t.to_vec()).ok()?, rest))
    }
    let (&version, r) = r.split_first()?;
    let unpacked;
    let r = match version {
        1 => r,
        2 => {
            unpacked = crate::store::format::decompress(r).ok()?;
            unpacked.as_slice()
        }
        _ => return None,
    };
    let (n, r) = r.split_first_chunk::<2>()?;
    let (id, r) = text(r, u16::from_le_bytes(*n) as usize)?;
    let (n, r) = r.split_first_chunk::<2>()?;
    let (name, r) = text(r, u16::from_le_bytes(*n) as usize)?;
    let (n, r) = r.split_first_chunk::<4>()?;
    let (value, lines) = text(r, u32::from_le_bytes(*n) as usize)?;
    let id = (!id.is_empty()).then_some(id);
    let cursor = (!name.is_empty()).then_some((name, value));
    Some((id, cursor, lines.to_vec()))
}
