//! `hitmap serve --track`: Matomo's tracking endpoint (`/matomo.php`,
//! `/piwik.php`). Handlers only read HTTP; one committer thread turns the
//! requests into hits (one [`Tracker`], its caches, the day's salt) and
//! commits them in groups: everything that arrived while the previous
//! group was being made durable becomes one batch, so one write-ahead log
//! append and one `fdatasync` acknowledge many requests (group commit).
//! A request is answered only after its hit is durable.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hitmap::{Engine, Hit, IngestOptions, LogWriter, Logged};
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

/// What queries wait for: every request answered before a query
/// arrives is in its answer (read your writes), though the engine applies
/// logged records after their requests are answered.
#[derive(Debug, Default)]
pub(crate) struct Visible {
    state: Mutex<Counts>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct Counts {
    /// Records appended to the log, and applied to the engine.
    logged: u64,
    applied: u64,
    /// Hits appended and not applied yet.
    backlog: usize,
    /// The applier is gone (it stopped, or a bug stopped it): nothing
    /// waits for it any more.
    stopped: bool,
}

/// Hits appended and not applied that make the committer wait before it
/// appends more (a seal of a large day takes seconds: the requests of
/// those seconds wait in memory, this many at most).
const MAX_BACKLOG: usize = 400_000;

impl Visible {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits (up to `limit`) until every record appended so far is
    /// applied.
    pub(crate) fn wait_applied(&self, limit: Duration) {
        let mut counts = self.lock();
        let want = counts.logged;
        let deadline = Instant::now() + limit;
        while counts.applied < want && !counts.stopped {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            counts = self
                .changed
                .wait_timeout(counts, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Waits for room in the backlog.
    fn wait_room(&self) {
        let mut counts = self.lock();
        while counts.backlog > MAX_BACKLOG && !counts.stopped {
            counts = self
                .changed
                .wait(counts)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn logged(&self, hits: usize) {
        let mut counts = self.lock();
        counts.logged += 1;
        counts.backlog += hits;
    }

    fn applied(&self, records: u64, hits: usize) {
        let mut counts = self.lock();
        counts.applied += records;
        counts.backlog = counts.backlog.saturating_sub(hits);
        self.changed.notify_all();
    }
}

/// Marks the applier stopped when its thread ends, however it ends.
struct Stopped<'a>(&'a Visible);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.0.lock().stopped = true;
        self.0.changed.notify_all();
    }
}

/// The running committer: its requests, its thread, and (with a store's
/// log) what queries wait for.
pub(crate) struct Committer {
    pub(crate) jobs: Sender<Job>,
    pub(crate) thread: std::thread::JoinHandle<()>,
    pub(crate) visible: Option<Arc<Visible>>,
}

/// Starts the committer thread; it runs until every sender is dropped,
/// then seals what is live and stops. With a store's write-ahead log,
/// requests are answered once their record is durable and a second
/// thread applies the records to the engine, merges live parts and seals
/// days: none of that holds a request.
pub(crate) fn start(
    engine: Arc<RwLock<Engine>>,
    dir: &std::path::Path,
    config: TrackConfig,
) -> Result<Committer, hitmap_intake::Error> {
    let (tracker, log) = {
        let e = engine.read().unwrap_or_else(|p| p.into_inner());
        (Tracker::new(&e, config.options.clone())?, e.log_writer())
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let spawn_failed = |e: std::io::Error| {
        hitmap_intake::Error::Config(format!("cannot start the committer: {e}"))
    };
    let Some(log) = log else {
        let thread = std::thread::Builder::new()
            .name("hitmap-track".into())
            .spawn(move || run(rx, engine, tracker, config))
            .map_err(spawn_failed)?;
        return Ok(Committer {
            jobs: tx,
            thread,
            visible: None,
        });
    };
    let visible = Arc::new(Visible::default());
    let (atx, arx) = std::sync::mpsc::channel();
    let applier = {
        let applier = Applier {
            engine: engine.clone(),
            log: log.clone(),
            visible: visible.clone(),
            refused: dir.join(REFUSED_DIR),
        };
        let idle = config.seal_idle;
        std::thread::Builder::new()
            .name("hitmap-apply".into())
            .spawn(move || {
                let _stopped = Stopped(&applier.visible);
                applier.run(&arx, idle);
            })
            .map_err(spawn_failed)?
    };
    let thread = {
        let visible = visible.clone();
        std::thread::Builder::new()
            .name("hitmap-track".into())
            .spawn(move || {
                run_logged(rx, &log, tracker, &config, &visible, &atx);
                drop(atx);
                let _ = applier.join();
            })
            .map_err(spawn_failed)?
    };
    Ok(Committer {
        jobs: tx,
        thread,
        visible: Some(visible),
    })
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// At most this many requests go into one commit.
const MAX_GROUP: usize = 20_000;

/// The next group of jobs: the first to arrive (waiting up to `idle`),
/// then what arrives within the commit interval. `None` when every
/// sender is gone; an empty group when `idle` passed without a job.
fn next_group(rx: &Receiver<Job>, idle: Duration, interval: Duration) -> Option<Vec<Job>> {
    let first = match rx.recv_timeout(idle) {
        Ok(job) => job,
        Err(RecvTimeoutError::Timeout) => return Some(Vec::new()),
        Err(RecvTimeoutError::Disconnected) => return None,
    };
    let mut jobs = vec![first];
    let deadline = Instant::now() + interval;
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
    Some(jobs)
}

fn run(rx: Receiver<Job>, engine: Arc<RwLock<Engine>>, mut tracker: Tracker, config: TrackConfig) {
    while let Some(jobs) = next_group(&rx, config.seal_idle, config.commit_interval) {
        if jobs.is_empty() {
            let mut e = engine.write().unwrap_or_else(|p| p.into_inner());
            if e.live_hits() > 0 {
                let _ = e.seal();
            }
            continue;
        }
        let group = Group::track(&mut tracker, jobs);
        let result = if group.hits.is_empty() && group.salt.is_none() {
            Ok(Vec::new())
        } else {
            let mut options = IngestOptions::default();
            if let Some((name, value)) = &group.salt {
                options = options.cursor(*name, value.clone());
            }
            let mut e = engine.write().unwrap_or_else(|p| p.into_inner());
            e.ingest_with(&group.hits, &options)
                .map(|outcome| outcome.rejected)
                .map_err(|e| e.to_string())
        };
        group.answer(result);
    }
    let mut e = engine.write().unwrap_or_else(|p| p.into_inner());
    let _ = e.seal();
}

/// The committer with a log: each group's hits are one durable record
/// (answered then), handed to the applier.
fn run_logged(
    rx: Receiver<Job>,
    log: &LogWriter,
    mut tracker: Tracker,
    config: &TrackConfig,
    visible: &Visible,
    applier: &Sender<Logged>,
) {
    // Sealing when idle is the applier's: this waits for jobs only.
    let forever = Duration::from_secs(86_400);
    while let Some(jobs) = next_group(&rx, forever, config.commit_interval) {
        if jobs.is_empty() {
            continue;
        }
        let mut group = Group::track(&mut tracker, jobs);
        if group.hits.is_empty() && group.salt.is_none() {
            group.answer(Ok(Vec::new()));
            continue;
        }
        visible.wait_room();
        let hits = std::mem::take(&mut group.hits);
        let cursor = group.salt.as_ref().map(|(n, v)| (*n, v.as_str()));
        match log.append(hits, cursor) {
            Ok((logged, rejected)) => {
                visible.logged(logged.hits());
                // In the order of the log, which the applier follows.
                if applier.send(logged).is_err() {
                    group.answer(Err("the tracker's applier stopped".into()));
                    return;
                }
                group.answer(Ok(rejected));
            }
            Err(e) => group.answer(Err(e.to_string())),
        }
    }
}

/// Where the applier keeps tracked hits it could not add (their day's
/// file is damaged), as NDJSON to ingest once the day is restored.
pub(crate) const REFUSED_DIR: &str = "refused";

/// The applier thread: applies logged records to the engine, seals.
struct Applier {
    engine: Arc<RwLock<Engine>>,
    log: LogWriter,
    visible: Arc<Visible>,
    refused: std::path::PathBuf,
}

impl Applier {
    /// Applies logged records in order (all that arrived together at
    /// once), and seals when a day or the log is due, or after `idle`
    /// without records; at the end, applies the rest and seals.
    fn run(&self, rx: &Receiver<Logged>, idle: Duration) {
        loop {
            let first = match rx.recv_timeout(idle) {
                Ok(l) => l,
                Err(RecvTimeoutError::Timeout) => {
                    let live = self.engine.read().map_or(0, |e| e.live_hits());
                    if live > 0 {
                        self.seal(rx);
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut batch = vec![first];
            batch.extend(rx.try_iter());
            if self.apply(batch) {
                self.seal(rx);
            }
        }
        self.seal(rx);
    }

    /// Applies records; whether the engine is due for a seal.
    fn apply(&self, batch: Vec<Logged>) -> bool {
        if batch.is_empty() {
            return false;
        }
        let records = batch.len() as u64;
        let hits = batch.iter().map(Logged::hits).sum();
        let mut e = self.engine.write().unwrap_or_else(|p| p.into_inner());
        let applied = e.apply_logged(batch);
        let due = e.seal_due();
        drop(e);
        self.visible.applied(records, hits);
        match applied {
            Ok(applied) if !applied.refused.is_empty() => self.keep_refused(&applied),
            Ok(_) => {}
            Err(err) => eprintln!("hitmap: tracked hits wait in the write-ahead log: {err}"),
        }
        due
    }

    /// Writes hits the engine refused (a damaged day) to a file of their
    /// own, and says so.
    fn keep_refused(&self, applied: &hitmap::Applied) {
        let reason = applied
            .outcome
            .rejected
            .first()
            .map_or("", |r| r.reason.as_str());
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let path = self.refused.join(format!("{millis}.ndjson"));
        let mut text = String::new();
        for h in &applied.refused {
            text.push_str(&h.to_ndjson());
            text.push('\n');
        }
        let written =
            std::fs::create_dir_all(&self.refused).and_then(|()| std::fs::write(&path, text));
        match written {
            Ok(()) => eprintln!(
                "hitmap: {} tracked hits could not be stored ({reason}); they are in {}: ingest that file once the day is restored",
                applied.refused.len(),
                path.display()
            ),
            Err(e) => eprintln!(
                "hitmap: {} tracked hits could not be stored ({reason}), nor written to {}: {e}",
                applied.refused.len(),
                path.display()
            ),
        }
    }

    /// Seals: a new log segment starts, the records appended before it
    /// are applied, then the engine seals everything live (and retires
    /// those segments); records appended meanwhile are applied after.
    fn seal(&self, rx: &Receiver<Logged>) {
        let boundary = self.log.rotate();
        let mut later = Vec::new();
        while !self.log.applied_before(boundary) {
            let Ok(first) = rx.recv() else { break };
            let mut before = Vec::new();
            for l in std::iter::once(first).chain(rx.try_iter()) {
                if l.segment() < boundary {
                    before.push(l);
                } else {
                    later.push(l);
                }
            }
            self.apply(before);
        }
        {
            let mut e = self.engine.write().unwrap_or_else(|p| p.into_inner());
            if let Err(err) = e.seal() {
                eprintln!("hitmap: sealing live days failed (the next seal tries again): {err}");
            }
        }
        self.apply(later);
    }
}

/// A group of jobs turned into hits: each job's reply before the commit
/// and the range of its hits, and the day's salt cursor if it changed.
struct Group {
    hits: Vec<Hit>,
    pending: Vec<(Reply, std::ops::Range<usize>)>,
    outs: Vec<tokio::sync::oneshot::Sender<Reply>>,
    salt: Option<(&'static str, String)>,
}

impl Group {
    fn track(tracker: &mut Tracker, jobs: Vec<Job>) -> Group {
        let now = now_secs();
        let mut hits: Vec<Hit> = Vec::new();
        let mut pending = Vec::with_capacity(jobs.len());
        let mut outs = Vec::with_capacity(jobs.len());
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
                JobKind::Single(params) => {
                    Reply::Single(match tracker.track(params, &client, None) {
                        Ok(t) => {
                            hits.extend(t.into_hits());
                            Ok(())
                        }
                        Err(e) => Err(e),
                    })
                }
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
        Group {
            hits,
            pending,
            outs,
            salt: tracker.take_salt_cursor(),
        }
    }

    /// Answers each job: the commit failed (nothing stored), or it
    /// stored all but the `rejected` hits (1-based positions in the group).
    fn answer(self, result: Result<Vec<hitmap::Rejected>, String>) {
        for ((reply, range), out) in self.pending.into_iter().zip(self.outs) {
            let reply = match &result {
                Err(e) => Reply::Failed(e.clone()),
                Ok(rejected) => {
                    // The engine may still refuse a hit (a damaged day).
                    let refused = rejected
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use hitmap::{Query, SiteConfig};

    fn request(visitor: &str) -> (Job, tokio::sync::oneshot::Receiver<Reply>) {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let params = [
            ("idsite", "1"),
            ("rec", "1"),
            ("_id", visitor),
            ("url", "https://x.org/page"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let job = Job {
            kind: JobKind::Single(params.to_vec()),
            client: ClientInfo {
                ip: "192.0.2.7".into(),
                ..ClientInfo::default()
            },
            reply,
        };
        (job, answer)
    }

    /// Waits for an answer; a committer that needs the engine to answer
    /// never gives one while the test holds it (a minute is "never").
    fn answer(mut rx: tokio::sync::oneshot::Receiver<Reply>) -> Option<Reply> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(reply) = rx.try_recv() {
                return Some(reply);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// A seal of a large day holds the engine for seconds: requests are
    /// answered meanwhile (from the log alone), and a query after them
    /// sees them once the engine is free.
    #[test]
    fn requests_are_answered_while_the_engine_is_busy() {
        let dir = std::env::temp_dir().join(format!("hitmap-track-busy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut e = Engine::open(&dir).unwrap();
        e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
        let engine = Arc::new(RwLock::new(e));
        let committer = start(engine.clone(), &dir, TrackConfig::default()).unwrap();
        let visits = |e: &Engine| e.query(&Query::site(1)).unwrap().visits_summary().nb_visits;
        {
            // As the applier's seal would.
            let busy = engine.write().unwrap();
            for v in ["0123456789abcdef", "fedcba9876543210"] {
                let (job, rx) = request(v);
                committer.jobs.send(job).unwrap();
                let reply = answer(rx).expect("answered while the engine is busy");
                assert!(matches!(reply, Reply::Single(Ok(()))), "{reply:?}");
            }
            assert_eq!(busy.live_hits(), 0, "durable, not applied yet");
        }
        let visible = committer.visible.clone().expect("a store's log");
        visible.wait_applied(Duration::from_secs(60));
        assert_eq!(visits(&engine.read().unwrap()), 2);
        // Stopping applies and seals what is live.
        drop(committer.jobs);
        committer.thread.join().unwrap();
        assert_eq!(engine.read().unwrap().live_hits(), 0);
        drop(engine);
        assert_eq!(visits(&Engine::open(&dir).unwrap()), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A tracked hit for a day whose file is damaged is answered (the
    /// log has it) and kept in a file of its own, not dropped.
    #[test]
    fn hits_for_a_damaged_day_are_kept_in_a_file() {
        let dir = std::env::temp_dir().join(format!("hitmap-track-damaged-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut e = Engine::open(&dir).unwrap();
        e.add_site(SiteConfig::new(1).host("x.org")).unwrap();
        e.set_live_limit(0);
        let today = now_secs();
        e.ingest([Hit::pageview(1, today, "a", "https://x.org/")])
            .unwrap();
        drop(e);
        let days = dir.join("site-1").join("days");
        let file = std::fs::read_dir(&days)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[40] ^= 0x55;
        std::fs::write(&file, bytes).unwrap();
        let engine = Arc::new(RwLock::new(Engine::open(&dir).unwrap()));
        let committer = start(engine.clone(), &dir, TrackConfig::default()).unwrap();
        let (job, rx) = request("0123456789abcdef");
        committer.jobs.send(job).unwrap();
        let reply = answer(rx).expect("answered");
        assert!(matches!(reply, Reply::Single(Ok(()))), "{reply:?}");
        drop(committer.jobs);
        committer.thread.join().unwrap();
        let kept: Vec<_> = std::fs::read_dir(dir.join(REFUSED_DIR))
            .unwrap()
            .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].lines().count(), 1, "{kept:?}");
        assert!(kept[0].contains("0123456789abcdef"), "{kept:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
