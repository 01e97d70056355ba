//! `hitmap serve --track`: Matomo's tracking endpoint (`/matomo.php`,
//! `/piwik.php`). Handlers only read HTTP; one committer thread turns the
//! requests into hits (one [`Tracker`], its caches, the day's salt) and
//! commits them in groups: everything that arrived while the previous
//! group was being made durable becomes one batch, so one write-ahead log
//! append and one `fdatasync` acknowledge many requests (group commit).
//! A request is answered only after its hit is durable.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hitmap::{Engine, Hit, IngestOptions};
use hitmap_intake::track::{Client, Refused, Tracker};

/// How the tracking endpoint commits.
#[derive(Debug, Clone)]
pub struct TrackConfig {
    /// The tracker's options (tokens, visitor ids, IP masking, GeoIP).
    pub options: hitmap_intake::track::TrackOptions,
    /// How long the committer waits for more requests before a commit
    /// (0: commit as soon as the previous commit is done).
    pub commit_interval: Duration,
    /// Seal live parts into day files after this long without requests.
    pub seal_idle: Duration,
    /// Largest body of a tracking request (bulk requests are large).
    pub max_body_bytes: usize,
}

impl Default for TrackConfig {
    fn default() -> TrackConfig {
        TrackConfig {
            options: Default::default(),
            commit_interval: Duration::ZERO,
            seal_idle: Duration::from_secs(300),
            max_body_bytes: 8 << 20,
        }
    }
}

/// What a handler knows of the client.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: Option<String>,
    pub accept_language: Option<String>,
}

/// One request for the committer.
pub(crate) struct Job {
    pub(crate) kind: JobKind,
    pub(crate) client: ClientInfo,
    pub(crate) reply: tokio::sync::oneshot::Sender<Reply>,
}

pub(crate) enum JobKind {
    Single(Vec<(String, String)>),
    Bulk(Vec<Vec<(String, String)>>, Option<String>),
}

/// The committer's answer to one job.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A single request: stored, a ping or a bot (`Ok`), or refused.
    Single(Result<(), Refused>),
    /// A bulk request: counts, and the refused indices.
    Bulk {
        tracked: usize,
        invalid: Vec<usize>,
        authed: bool,
    },
    /// The commit failed: nothing of this request is stored.
    Failed(String),
}

/// Starts the committer thread; it runs until every sender is dropped,
/// then seals what is live and stops.
pub(crate) fn start(
    engine: Arc<RwLock<Engine>>,
    config: TrackConfig,
) -> Result<(Sender<Job>, std::thread::JoinHandle<()>), hitmap_intake::Error> {
    let tracker = {
        let e = engine.read().unwrap_or_else(|p| p.into_inner());
        Tracker::new(&e, config.options.clone())?
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("hitmap-track".into())
        .spawn(move || run(rx, engine, tracker, config))
        .map_err(|e| hitmap_intake::Error::Config(format!("cannot start the committer: {e}")))?;
    Ok((tx, handle))
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// At most this many requests go into one commit.
const MAX_GROUP: usize = 20_000;

fn run(rx: Receiver<Job>, engine: Arc<RwLock<Engine>>, mut tracker: Tracker, config: TrackConfig) {
    loop {
        let first = match rx.recv_timeout(config.seal_idle) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) => {
                let mut e = engine.write().unwrap_or_else(|p| p.into_inner());
                if e.live_hits() > 0 {
                    let _ = e.seal();
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut jobs = vec![first];
        let deadline = Instant::now() + config.commit_interval;
        while jobs.len() < MAX_GROUP {
            let next = match deadline.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => rx.recv_timeout(left).ok(),
                _ => rx.try_recv().ok(),
            };
            match next {
                Some(job) => jobs.push(job),
                None => break,
            }
        }
        commit_group(&engine, &mut tracker, jobs);
    }
    let mut e = engine.write().unwrap_or_else(|p| p.into_inner());
    let _ = e.seal();
}

/// Turns a group of jobs into one batch, commits it, answers each job.
fn commit_group(engine: &RwLock<Engine>, tracker: &mut Tracker, jobs: Vec<Job>) {
    let now = now_secs();
    let mut hits: Vec<Hit> = Vec::new();
    // Per job: its replies before the commit, and the range of its hits.
    let mut pending: Vec<(Reply, std::ops::Range<usize>)> = Vec::with_capacity(jobs.len());
    let mut outs: Vec<tokio::sync::oneshot::Sender<Reply>> = Vec::with_capacity(jobs.len());
    for job in jobs {
        let c = &job.client;
        let client = Client {
            ip: &c.ip,
            user_agent: c.user_agent.as_deref(),
            accept_language: c.accept_language.as_deref(),
            now,
        };
        let start = hits.len();
        let reply = match &job.kind {
            JobKind::Single(params) => Reply::Single(match tracker.track(params, &client, None) {
                Ok(t) => {
                    hits.extend(t.into_hits());
                    Ok(())
                }
                Err(e) => Err(e),
            }),
            JobKind::Bulk(requests, token) => {
                let authed = tracker.authorized(token.as_deref());
                let mut tracked = 0;
                let mut invalid = Vec::new();
                for (i, params) in requests.iter().enumerate() {
                    match tracker.track(params, &client, token.as_deref()) {
                        Ok(t) => {
                            hits.extend(t.into_hits());
                            tracked += 1;
                        }
                        Err(_) => invalid.push(i),
                    }
                }
                Reply::Bulk {
                    tracked,
                    invalid,
                    authed,
                }
            }
        };
        pending.push((reply, start..hits.len()));
        outs.push(job.reply);
    }
    let mut options = IngestOptions::default();
    let salt = tracker.take_salt_cursor();
    if let Some((name, value)) = &salt {
        options = options.cursor(*name, value.clone());
    }
    let result = if hits.is_empty() && salt.is_none() {
        Ok(hitmap::IngestOutcome::default())
    } else {
        let mut e = engine.write().unwrap_or_else(|p| p.into_inner());
        e.ingest_with(&hits, &options)
    };
    for ((reply, range), out) in pending.into_iter().zip(outs) {
        let reply = match &result {
            Err(e) => Reply::Failed(e.to_string()),
            Ok(outcome) => {
                // The engine may still refuse a hit (a damaged day).
                let refused = outcome
                    .rejected
                    .iter()
                    .find(|r| range.contains(&(r.line as usize - 1)));
                match (reply, refused) {
                    (Reply::Single(_), Some(r)) => {
                        Reply::Single(Err(Refused::Invalid(r.reason.clone())))
                    }
                    (reply, _) => reply,
                }
            }
        };
        let _ = out.send(reply);
    }
}
