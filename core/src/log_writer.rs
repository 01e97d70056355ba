//! Appending to a writer's write-ahead log while the engine is busy.
//!
//! A [`LogWriter`] checks hits against the contract, appends the accepted
//! ones to the store's write-ahead log as one record and makes it durable
//! (`fdatasync`), without the engine: another thread may hold the engine
//! meanwhile, sealing days or merging live parts. The [`Logged`] ticket it
//! returns carries the hits to the engine ([`Engine::apply_logged`](crate::Engine::apply_logged)),
//! which adds them as live parts without appending them again. Until it
//! is applied, a record keeps its log segment (and every later one) from
//! being retired by a seal, so an acknowledged hit is never lost: a
//! process that stops first replays it when the store opens again.

use crate::error::{Error, Result};
use crate::hit::Hit;
use crate::intern::Zones;
use crate::ndjson::Rejected;
use crate::store::wal::{self, Shared};

/// Appends hits to a writer's write-ahead log on any thread
/// ([`Engine::log_writer`](crate::Engine::log_writer)).
///
/// # Examples
/// ```
/// use hitmap::{Engine, Hit, Query, SiteConfig};
/// let dir = std::env::temp_dir().join(format!("hitmap-log-writer-{}", std::process::id()));
/// let mut engine = Engine::open(&dir)?;
/// engine.add_site(SiteConfig::new(1))?;
/// let log = engine.log_writer().expect("a folder store has a log");
/// // On another thread, while the engine seals, say:
/// let (logged, rejected) = log.append(vec![Hit::pageview(1, 1_717_200_000, "a", "https://x.org/")], None)?;
/// assert!(rejected.is_empty()); // durable now
/// engine.apply_logged(vec![logged])?; // and in the engine's answers
/// assert_eq!(engine.query(&Query::site(1))?.visits_summary().nb_visits, 1);
/// # drop((engine, log)); std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LogWriter {
    pub(crate) log: Shared,
    /// The sites' time zones when the writer was made.
    pub(crate) zones: std::sync::Arc<Zones>,
}

/// One record a [`LogWriter`] appended: durable, not yet in the engine's
/// answers. Give it to [`Engine::apply_logged`](crate::Engine::apply_logged); a ticket dropped
/// unapplied keeps the log from being sealed until the store is opened
/// again (which replays it).
#[derive(Debug)]
pub struct Logged {
    pub(crate) hits: Vec<Hit>,
    pub(crate) segment: u64,
    pub(crate) generation: u64,
    pub(crate) cursor: Option<(String, String)>,
}

impl Logged {
    /// The hits the record holds (those the contract accepted).
    pub fn hits(&self) -> usize {
        self.hits.len()
    }

    /// The log segment the record is in.
    pub fn segment(&self) -> u64 {
        self.segment
    }
}

impl LogWriter {
    /// Checks `hits` against the contract and the sites the writer was
    /// made with, appends the accepted ones (and `cursor`, an importer's
    /// checkpoint committed with them) to the log as one record and makes
    /// it durable. Returns the ticket to apply and the rejected hits (the
    /// 1-based position and the reason, as an ingest gives them). An
    /// error (the disk, the log) appends nothing.
    pub fn append(
        &self,
        hits: Vec<Hit>,
        cursor: Option<(&str, &str)>,
    ) -> Result<(Logged, Vec<Rejected>)> {
        let mut rejected = Vec::new();
        let mut lines = Vec::new();
        let mut kept = Vec::with_capacity(hits.len());
        for (i, hit) in hits.into_iter().enumerate() {
            let view = hit.view();
            match view
                .validate()
                .and_then(|()| self.zones.place(&view).map(drop))
            {
                Ok(()) => {
                    lines.extend_from_slice(hit.to_ndjson().as_bytes());
                    lines.push(b'\n');
                    kept.push(hit);
                }
                Err(reason) => rejected.push(Rejected {
                    line: i as u64 + 1,
                    reason,
                }),
            }
        }
        let record = wal::encode_record(None, cursor, &lines);
        let mut log = wal::lock(&self.log);
        if log.closed {
            // Another writer may hold the store now: its seals do not
            // know this writer's segment.
            return Err(Error::Store {
                path: wal::WAL_DIR.into(),
                reason: "the engine this log writer belongs to is gone; nothing was appended (open the store again)".into(),
            });
        }
        let mut appended = log.wal.append(&record);
        // A full disk: the files kept for readers of older commits make
        // room, and the append is tried once more.
        if let Err(e) = &appended
            && crate::store::is_disk_full(e)
            && crate::store::Store::purge_retired_in(log.wal.root())
        {
            appended = log.wal.append(&record);
        }
        appended?;
        let segment = log.wal.segment();
        *log.unapplied.entry(segment).or_default() += 1;
        Ok((
            Logged {
                hits: kept,
                segment,
                generation: log.generation,
                cursor: cursor.map(|(n, v)| (n.to_owned(), v.to_owned())),
            },
            rejected,
        ))
    }

    /// Makes the next append start a new log segment, and returns it:
    /// once every record appended before is applied, a seal can retire
    /// everything before it (a server calls this before it seals, then
    /// applies what was appended before, then seals).
    pub fn rotate(&self) -> u64 {
        let mut log = wal::lock(&self.log);
        if log.wal.has_records() {
            log.wal.rotate();
        }
        log.wal.segment()
    }

    /// Whether every record appended before segment `boundary` (from
    /// [`LogWriter::rotate`]) is applied.
    pub fn applied_before(&self, boundary: u64) -> bool {
        wal::lock(&self.log)
            .first_unapplied()
            .is_none_or(|s| s >= boundary)
    }
}
