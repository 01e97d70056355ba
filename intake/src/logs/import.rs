//! Access logs into a store: lines → requests ([`super::parse_line`]) →
//! the importer's rules ([`Rules`]) → hits (site, URL, visitor key, user
//! agent) → committed batches.
//!
//! Files are read as they stream (gzip, bzip2 and zstd recognised by
//! their first bytes; `-` is stdin) in chunks of about
//! [`LogOptions::batch_bytes`], each committed as one batch whose identity
//! is the hash of its bytes and its first line number: memory stays bounded on multi-GB files, and a
//! file imported again is skipped chunk by chunk (unless forced). One
//! thread reads and parses while the caller's thread commits.
//!
//! Nothing in a line stops a file: comments and blank lines are counted,
//! a line that does not read is counted as invalid with its line number
//! and reason, bad bytes are replaced (or decoded with
//! [`LogOptions::encoding`]).

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::sync::{Arc, mpsc};

use hitmap::{Engine, Hit, HitType, IngestOptions};

use super::{CustomFormat, Decision, Format, Parsed, Rules, W3cFields, detect_with, parse_line};
use crate::enrich::{Agent, Agents, Geo, SECRET_CURSOR, VisitorKeys, anonymize_ip};
use crate::{Error, Result};

/// Bytes of a log per committed batch, by default.
pub const DEFAULT_BATCH_BYTES: usize = 64 << 20;

/// Lines read to recognise a format.
const DETECT_LINES: usize = 50;

/// How the importer reads logs and which lines become hits. The defaults
/// are Matomo's importer's.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// The format; `None` recognises each file's from its first lines.
    pub format: Option<Format>,
    /// A regex with named groups instead of a format
    /// (`--log-format-regex`, see [`CustomFormat`]).
    pub regex: Option<String>,
    /// The strftime pattern of the regex's `date` group.
    pub date_format: Option<String>,
    /// Which lines become hits.
    pub rules: Rules,
    /// W3C columns renamed (`custom` → `standard`), Matomo's
    /// `--w3c-map-field`.
    pub w3c_map: Vec<(String, String)>,
    /// Every hit goes to this site (`--idsite`).
    pub site: Option<u32>,
    /// The site of lines whose host is none of the store's sites'
    /// (`--idsite-fallback`).
    pub site_fallback: Option<u32>,
    /// Skip requests before this Unix second (`--exclude-older-than`).
    pub exclude_older_than: Option<i64>,
    /// Skip requests after this Unix second (`--exclude-newer-than`).
    pub exclude_newer_than: Option<i64>,
    /// Lower-case paths (`--force-lowercase-path`).
    pub lowercase_path: bool,
    /// Drop query strings (`--strip-query-string`).
    pub strip_query: bool,
    /// Fields read from lines but left out (Matomo's `--ignore-groups`,
    /// e.g. `userid`): see [`LogLine::ignore`](super::LogLine::ignore).
    pub ignore_groups: Vec<String>,
    /// The logs' character encoding (`windows-1252`, `big5`, ...); by
    /// default UTF-8 with bad bytes replaced.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// The visitor-key secret; by default the store's own.
    pub visitor_secret: Option<String>,
    /// IP bytes masked before the visitor key is made (0 to 4).
    pub anonymize_ip: u8,
    /// Count visitors and visits as Matomo's importer does
    /// (`--matomo-visitors`): a line without a user id that joins no visit
    /// starts a new visitor, as Matomo's tracker gives such a visit a
    /// random visitor id, so none of them is returning. By default a
    /// visitor is recognised across visits by address and agent.
    ///
    /// Lines then join visits as Matomo's tracker recognises them, in
    /// the order they arrive ([`super::Recognizer`]): a line joins the
    /// visit of its address and agent whose last request is within 30
    /// minutes of it, also one an earlier import made when
    /// `matomo_visitors_state` keeps them.
    pub matomo_visitors: bool,
    /// Where the visits `matomo_visitors` recognises are kept between
    /// imports (`--matomo-visitors-state FILE`; implies
    /// `matomo_visitors`): read before the import, written after it.
    pub matomo_visitors_state: Option<std::path::PathBuf>,
    /// A MaxMind-format database (`.mmdb`) for the visitors' countries.
    pub geoip: Option<std::path::PathBuf>,
    /// Matomo's DeviceDetector rules (a directory): browsers, systems and
    /// devices as Matomo names them; else the built-in rules.
    pub device_detector: Option<std::path::PathBuf>,
    /// Bytes of log per committed batch.
    pub batch_bytes: usize,
    /// Import chunks the store already holds.
    pub force: bool,
    /// Read, check and count, but commit nothing (Matomo's `--dry-run`):
    /// to try a format and the rules on a log before importing it.
    pub dry_run: bool,
    /// Invalid lines kept as examples (with line number and reason).
    pub examples: usize,
    /// The log's lines are tracking requests (`/matomo.php?...`,
    /// `/piwik.php?...`), replayed as the tracking endpoint reads them
    /// (Matomo's `--replay-tracking`): their parameters, the line's
    /// address, user agent, referrer and time. `site` overrides `idsite`.
    pub replay_tracking: bool,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            format: None,
            regex: None,
            date_format: None,
            rules: Rules::default(),
            w3c_map: Vec::new(),
            site: None,
            site_fallback: None,
            exclude_older_than: None,
            exclude_newer_than: None,
            lowercase_path: false,
            strip_query: false,
            ignore_groups: Vec::new(),
            encoding: None,
            visitor_secret: None,
            anonymize_ip: 0,
            matomo_visitors: false,
            matomo_visitors_state: None,
            geoip: None,
            device_detector: None,
            batch_bytes: DEFAULT_BATCH_BYTES,
            force: false,
            dry_run: false,
            examples: 10,
            replay_tracking: false,
        }
    }
}

fn flag(name: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "" | "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(Error::Config(format!(
            "{name}: {value:?} is not true or false"
        ))),
    }
}

/// A moment as Matomo's importer takes it (`2012-08-09 08:10:39 +0000`),
/// or RFC 3339, as Unix seconds.
fn instant(name: &str, value: &str) -> Result<i64> {
    let v = value.trim();
    chrono::DateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S %z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(v))
        .map(|t| t.timestamp())
        .map_err(|_| {
            Error::Config(format!(
                "{name}: {value:?} is not a time like 2012-08-09 08:10:39 +0000"
            ))
        })
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::Config(format!("{name}: {value:?} is not a valid number")))
}

impl LogOptions {
    /// The option names [`LogOptions::set`] takes (the CLI's flags).
    pub const NAMES: [&str; 32] = [
        "replay-tracking",
        "log-format",
        "log-format-regex",
        "log-date-format",
        "w3c-map-field",
        "idsite",
        "idsite-fallback",
        "enable-static",
        "enable-bots",
        "enable-http-errors",
        "enable-http-redirects",
        "include-host",
        "exclude-host",
        "include-path",
        "exclude-path",
        "useragent-exclude",
        "exclude-older-than",
        "exclude-newer-than",
        "force-lowercase-path",
        "strip-query-string",
        "ignore-groups",
        "encoding",
        "visitor-secret",
        "anonymize-ip",
        "matomo-visitors",
        "matomo-visitors-state",
        "geoip",
        "device-detector",
        "batch-bytes",
        "force",
        "dry-run",
        "show-invalid",
    ];

    /// Sets an option by its CLI name (`_` may stand for `-`): how Python
    /// keyword arguments and the C ABI's JSON options arrive. List options
    /// (`exclude-path`, ...) add one value per call.
    ///
    /// # Errors
    /// An unknown name or a value that does not read, naming both.
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::logs::{Format, LogOptions};
    /// let mut o = LogOptions::default();
    /// o.set("log_format", "combined")?;
    /// o.set("enable-static", "true")?;
    /// o.set("exclude-path", "/admin/*")?;
    /// assert_eq!(o.format, Some(Format::NcsaExtended));
    /// assert!(o.rules.enable_static);
    /// assert_eq!(o.rules.exclude_paths, ["/admin/*"]);
    /// assert!(o.set("idsite", "one").unwrap_err().to_string().contains("idsite"));
    /// # Ok::<(), hitmap_intake::Error>(())
    /// ```
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let key = name.replace('_', "-");
        let r = &mut self.rules;
        match key.as_str() {
            "log-format" | "format" => {
                self.format = match value {
                    "" | "auto" => None,
                    v => Some(Format::parse(v).ok_or_else(|| {
                        Error::Config(format!(
                            "log-format: unknown format {v:?} (one of: {})",
                            Format::ALL.map(Format::name).join(", ")
                        ))
                    })?),
                }
            }
            "log-format-regex" => self.regex = Some(value.to_owned()),
            "log-date-format" => self.date_format = Some(value.to_owned()),
            "w3c-map-field" => {
                let (from, to) = value.split_once('=').ok_or_else(|| {
                    Error::Config(format!(
                        "w3c-map-field: {value:?} should be custom=standard, e.g. date-local=date"
                    ))
                })?;
                self.w3c_map
                    .push((from.trim().to_owned(), to.trim().to_owned()));
            }
            "idsite" => self.site = Some(number(&key, value)?),
            "idsite-fallback" => self.site_fallback = Some(number(&key, value)?),
            "enable-static" => r.enable_static = flag(&key, value)?,
            "enable-bots" => r.enable_bots = flag(&key, value)?,
            "enable-http-errors" => r.enable_http_errors = flag(&key, value)?,
            "enable-http-redirects" => r.enable_http_redirects = flag(&key, value)?,
            "include-host" => r.include_hosts.push(value.to_owned()),
            "exclude-host" => r.exclude_hosts.push(value.to_owned()),
            "include-path" => r.include_paths.push(value.to_owned()),
            "exclude-path" => r.exclude_paths.push(value.to_owned()),
            "useragent-exclude" => r.bot_agents.push(value.to_ascii_lowercase()),
            "exclude-older-than" => self.exclude_older_than = Some(instant(&key, value)?),
            "exclude-newer-than" => self.exclude_newer_than = Some(instant(&key, value)?),
            "force-lowercase-path" => self.lowercase_path = flag(&key, value)?,
            "strip-query-string" => self.strip_query = flag(&key, value)?,
            "ignore-groups" => {
                for group in value.split(',').map(str::trim).filter(|g| !g.is_empty()) {
                    super::LogLine::default()
                        .ignore(group)
                        .map_err(|e| Error::Config(format!("ignore-groups: {e}")))?;
                    self.ignore_groups.push(group.to_owned());
                }
            }
            "encoding" => {
                self.encoding = Some(
                    encoding_rs::Encoding::for_label(value.trim().as_bytes()).ok_or_else(|| {
                        Error::Config(format!("encoding: unknown encoding {value:?}"))
                    })?,
                )
            }
            "visitor-secret" => self.visitor_secret = Some(value.to_owned()),
            "anonymize-ip" => {
                let n: u8 = number(&key, value)?;
                if n > 4 {
                    return Err(Error::Config(format!(
                        "anonymize-ip: {n} bytes; an address has 4 (0 to 4)"
                    )));
                }
                self.anonymize_ip = n;
            }
            "matomo-visitors" => self.matomo_visitors = flag(&key, value)?,
            "matomo-visitors-state" => {
                self.matomo_visitors_state = Some(value.into());
                self.matomo_visitors = true;
            }
            "geoip" => self.geoip = Some(value.into()),
            "device-detector" => self.device_detector = Some(value.into()),
            "batch-bytes" => self.batch_bytes = number::<usize>(&key, value)?.max(1),
            "force" => self.force = flag(&key, value)?,
            "dry-run" => self.dry_run = flag(&key, value)?,
            "show-invalid" => self.examples = number(&key, value)?,
            "replay-tracking" => self.replay_tracking = flag(&key, value)?,
            _ => {
                return Err(Error::Config(format!(
                    "unknown log option {name:?} (known: {})",
                    LogOptions::NAMES.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// A line that is not a request, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidLine {
    /// The input's name (a path, or `-`).
    pub input: String,
    /// 1-based line number in that input.
    pub line: u64,
    /// Why it does not read.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogSummary {
    /// Lines read (committed chunks only).
    pub lines: u64,
    /// Blank and comment lines.
    pub comments: u64,
    /// Lines that are not requests of the format.
    pub invalid: u64,
    /// Page views made.
    pub pageviews: u64,
    /// Downloads made.
    pub downloads: u64,
    /// Events made: a streaming server's events (CloudFront RTMP) and
    /// replayed tracking requests' events.
    pub events: u64,
    /// Requests that are not hits, by reason ([`super::Skip::reason`], or
    /// "no site for the host").
    pub skipped: BTreeMap<String, u64>,
    /// The first invalid lines.
    pub examples: Vec<InvalidLine>,
    /// Hits the engine refused (e.g. a site that does not exist).
    pub rejected: u64,
    /// The engine's reasons for the first refused hits.
    pub rejected_examples: Vec<String>,
    /// Batches committed.
    pub batches: u64,
    /// Chunks the store already held (an input imported again), and
    /// their lines.
    pub skipped_batches: u64,
    /// Lines in those chunks, and the lines a file imported again skipped
    /// (the part the store holds).
    pub skipped_lines: u64,
    /// Last lines left for the next run: a file's last line without its
    /// `\n` that does not read yet (being written).
    pub held_back: u64,
    /// The format of each input, as named or recognised.
    pub formats: Vec<(String, String)>,
}

impl LogSummary {
    /// Hits that went in.
    pub fn hits(&self) -> u64 {
        (self.pageviews + self.downloads + self.events).saturating_sub(self.rejected)
    }

    /// The summary as text, for people: one line of totals, then the
    /// skips by reason and the first invalid lines.
    ///
    /// # Examples
    /// ```
    /// let s = hitmap_intake::logs::LogSummary { lines: 3, pageviews: 2, comments: 1, ..Default::default() };
    /// assert!(s.report().starts_with("3 lines: 2 hits (2 page views, 0 downloads), 0 skipped, 0 invalid, 1 comments or blank"));
    /// ```
    pub fn report(&self) -> String {
        let skipped: u64 = self.skipped.values().sum();
        let events = if self.events > 0 {
            format!(", {} events", self.events)
        } else {
            String::new()
        };
        let mut out = format!(
            "{} lines: {} hits ({} page views, {} downloads{events}), {} skipped, {} invalid, {} comments or blank\n",
            self.lines,
            self.hits(),
            self.pageviews,
            self.downloads,
            skipped,
            self.invalid,
            self.comments
        );
        for (input, format) in &self.formats {
            out.push_str(&format!("  {input}: format {format}\n"));
        }
        for (reason, n) in &self.skipped {
            out.push_str(&format!("  skipped {n}: {reason}\n"));
        }
        for e in &self.examples {
            out.push_str(&format!(
                "  invalid {} line {}: {}\n",
                e.input, e.line, e.reason
            ));
        }
        if self.invalid > self.examples.len() as u64 {
            out.push_str(&format!(
                "  ... and {} more invalid lines\n",
                self.invalid - self.examples.len() as u64
            ));
        }
        if self.rejected > 0 {
            out.push_str(&format!("  {} hits refused by the store", self.rejected));
            if let Some(r) = self.rejected_examples.first() {
                out.push_str(&format!(", e.g. {r}"));
            }
            out.push('\n');
        }
        if self.skipped_batches > 0 {
            out.push_str(&format!(
                "  {} chunk(s), {} lines, already in the store (imported before; force to import again)\n",
                self.skipped_batches, self.skipped_lines
            ));
        }
        if self.held_back > 0 {
            out.push_str(&format!(
                "  {} last line(s) without a line end left for the next run (still being written)\n",
                self.held_back
            ));
        }
        out
    }

    /// The summary as JSON (for Python, the C ABI and scripts): the
    /// fields by name, `hits` added, `examples` as `{input, line, reason}`.
    ///
    /// # Examples
    /// ```
    /// let s = hitmap_intake::logs::LogSummary { lines: 3, pageviews: 2, ..Default::default() };
    /// assert_eq!(s.to_json()["hits"], 2);
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "lines": self.lines,
            "hits": self.hits(),
            "pageviews": self.pageviews,
            "downloads": self.downloads,
            "events": self.events,
            "comments": self.comments,
            "invalid": self.invalid,
            "skipped": self.skipped,
            "examples": self.examples.iter().map(|e| serde_json::json!({
                "input": e.input, "line": e.line, "reason": e.reason,
            })).collect::<Vec<_>>(),
            "rejected": self.rejected,
            "rejected_examples": self.rejected_examples,
            "batches": self.batches,
            "skipped_batches": self.skipped_batches,
            "skipped_lines": self.skipped_lines,
            "held_back": self.held_back,
            "formats": self.formats.iter().map(|(i, f)| serde_json::json!({"input": i, "format": f})).collect::<Vec<_>>(),
        })
    }

    fn add(&mut self, c: &Counts, examples: usize) {
        self.lines += c.lines;
        self.comments += c.comments;
        self.invalid += c.invalid;
        self.pageviews += c.pageviews;
        self.downloads += c.downloads;
        self.events += c.events;
        for (k, n) in &c.skipped {
            *self.skipped.entry((*k).to_owned()).or_default() += n;
        }
        for e in &c.examples {
            if self.examples.len() < examples {
                self.examples.push(e.clone());
            }
        }
    }
}

/// Per-chunk counts, made by the parsing thread.
#[derive(Debug, Default)]
struct Counts {
    lines: u64,
    comments: u64,
    invalid: u64,
    pageviews: u64,
    downloads: u64,
    events: u64,
    skipped: BTreeMap<&'static str, u64>,
    examples: Vec<InvalidLine>,
}

impl Counts {
    /// Adds another line's (or chunk's) counts.
    fn add(&mut self, o: Counts) {
        self.lines += o.lines;
        self.comments += o.comments;
        self.invalid += o.invalid;
        self.pageviews += o.pageviews;
        self.downloads += o.downloads;
        self.events += o.events;
        for (k, n) in o.skipped {
            *self.skipped.entry(k).or_default() += n;
        }
        self.examples.extend(o.examples);
    }
}

/// One parsed chunk on its way to a commit.
struct Chunk {
    id: String,
    hits: Vec<Hit>,
    counts: Counts,
    format: Option<(String, String)>,
    /// Where its input stands once this chunk is in (a file read again
    /// resumes after it): the cursor its commit records.
    cursor: Option<(String, String)>,
    /// A last line without its `\n` that does not read yet, left for the
    /// next run (a line still being written).
    held_back: bool,
}

/// An access log to import: a stream read once (stdin, a pipe), or a
/// file that can be opened again, which resumes after the part the store
/// holds when it is imported again (it grew, was renamed or compressed:
/// `hitmap::Engine::resume_input`).
pub enum LogSource {
    /// Read from where it stands; a repeat is known by its chunks only.
    Stream(Box<dyn BufRead + Send>),
    /// Opened (again) by the function.
    File(Box<dyn FnMut() -> std::io::Result<Box<dyn BufRead + Send>> + Send>),
}

impl LogSource {
    /// The log at `path` (`-`: stdin, a stream), opened by `open` now
    /// (an error before anything is imported) and again when a read must
    /// start over.
    ///
    /// # Errors
    /// What `open` gives the first time.
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::logs::LogSource;
    /// let path = std::path::Path::new("/no/access.log");
    /// assert!(LogSource::open_with(path, || hitmap_intake::input::open(path)).is_err());
    /// ```
    pub fn open_with<E: std::fmt::Display>(
        path: &std::path::Path,
        mut open: impl FnMut() -> std::result::Result<Box<dyn BufRead + Send>, E> + Send + 'static,
    ) -> std::result::Result<LogSource, E> {
        let first = open()?;
        if path == std::path::Path::new("-") {
            return Ok(LogSource::Stream(first));
        }
        let mut first = Some(first);
        Ok(LogSource::File(Box::new(move || match first.take() {
            Some(r) => Ok(r),
            None => open().map_err(|e| std::io::Error::other(e.to_string())),
        })))
    }
}

impl From<Box<dyn BufRead + Send>> for LogSource {
    fn from(r: Box<dyn BufRead + Send>) -> LogSource {
        LogSource::Stream(r)
    }
}

/// Where a resumed input stands, for the parsing thread.
struct Resumed {
    /// The cursor, at the resume point (`None`: no whole first line).
    cursor: Option<hitmap::InputCursor>,
    /// Lines skipped (the part the store holds).
    skipped: u64,
    /// The input's first lines, to recognise its format when its read
    /// starts past them.
    head: Vec<u8>,
    /// The skipped part's directive lines (`#Fields:` and the like, which
    /// a W3C log's later lines need).
    directives: Vec<String>,
}

/// The first lines (for [`Parser::recognise`]) and every `#` line of an
/// input's first `len` bytes.
fn preamble(input: &mut dyn BufRead, len: u64) -> std::io::Result<(Vec<u8>, Vec<String>)> {
    let (mut head, mut directives) = (Vec::new(), Vec::new());
    let (mut read, mut lines) = (0u64, 0usize);
    let mut line = Vec::new();
    while read < len {
        line.clear();
        let n = input.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        read += n as u64;
        if lines < DETECT_LINES {
            head.extend_from_slice(&line);
            lines += 1;
        }
        if line.first() == Some(&b'#') {
            directives.push(String::from_utf8_lossy(&line).into_owned());
        }
    }
    Ok((head, directives))
}

/// The reason for requests outside `--exclude-older-than` /
/// `--exclude-newer-than`.
pub const DATE_FILTERED: &str = "date filtered out";

/// The reason for lines whose site cannot be told.
pub const NO_SITE: &str = "no site for the host (give an idsite, or add the host to a site)";

/// Which site a line goes to, from the store's sites.
#[derive(Debug, Clone)]
struct Sites {
    forced: Option<u32>,
    by_host: HashMap<String, u32>,
    fallback: Option<u32>,
    /// Each site's main URL scheme (`https://`, Matomo's importer takes
    /// it for every line) and host (for lines without one).
    main_host: HashMap<u32, (String, String)>,
    /// The sites' exclusions (those that exclude something): Matomo's
    /// importer sends every line to its tracker, which drops them.
    exclusions: HashMap<u32, crate::exclude::Exclusions>,
    /// Each site's time zone (a visit ends at its local midnight).
    zones: HashMap<u32, chrono_tz::Tz>,
}

/// A host as sites are matched: no port, no trailing dot, no `www.`,
/// lower case (borrowed when it already is: this runs on every line).
fn normal_host(h: &str) -> std::borrow::Cow<'_, str> {
    let h = h.trim();
    let h = h.split(':').next().unwrap_or("").trim_end_matches('.');
    let h = match h.get(..4) {
        Some(w) if w.eq_ignore_ascii_case("www.") => &h[4..],
        _ => h,
    };
    if h.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(h.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(h)
    }
}

impl Sites {
    fn new(engine: &Engine, options: &LogOptions) -> Result<Sites> {
        let ids = engine.site_ids();
        for id in options.site.iter().chain(&options.site_fallback) {
            if !ids.contains(id) {
                return Err(Error::Config(format!(
                    "site {id} is not in the store (hitmap init --site {id} first, or pick one of {ids:?})"
                )));
            }
        }
        let mut by_host = HashMap::new();
        let mut main_host = HashMap::new();
        let mut exclusions = HashMap::new();
        let mut zones = HashMap::new();
        for id in &ids {
            if let Some(site) = engine.site(*id) {
                if let Ok(tz) = site.time_zone_name().parse::<chrono_tz::Tz>() {
                    zones.insert(*id, tz);
                }
                let ex = crate::exclude::Exclusions::of(site).map_err(Error::Config)?;
                if !ex.is_empty() {
                    exclusions.insert(*id, ex);
                }
                for h in site.hosts() {
                    by_host.entry(normal_host(h).into_owned()).or_insert(*id);
                }
                // Matomo's importer: the scheme of the site's main URL,
                // and its host for lines without one.
                let url = site.url();
                if let Some((scheme, rest)) = url.split_once("://") {
                    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
                    main_host.insert(*id, (format!("{scheme}://"), host.to_owned()));
                }
            }
        }
        // A store of one site needs no mapping.
        let fallback = options
            .site_fallback
            .or_else(|| (ids.len() == 1).then(|| ids[0]));
        Ok(Sites {
            forced: options.site,
            by_host,
            fallback,
            main_host,
            exclusions,
            zones,
        })
    }

    /// The local day (days since 1970-01-01 in the site's time zone) of
    /// a time.
    fn local_day(&self, site: u32, ts: i64) -> i64 {
        use chrono::TimeZone;
        let utc = ts.div_euclid(86_400);
        let Some(tz) = self.zones.get(&site) else {
            return utc;
        };
        let Some(t) = chrono::DateTime::from_timestamp(ts, 0) else {
            return utc;
        };
        let local = tz.from_utc_datetime(&t.naive_utc()).naive_local();
        local.and_utc().timestamp().div_euclid(86_400)
    }

    fn resolve(&self, host: Option<&str>) -> Option<u32> {
        self.forced
            .or_else(|| host.and_then(|h| self.by_host.get(&*normal_host(h)).copied()))
            .or(self.fallback)
    }
}

/// How lines are read: a named format or a regex.
enum Reader {
    Named(Option<Format>),
    Custom(CustomFormat),
}

/// The parsing side: lines → hits.
struct Parser {
    reader: Reader,
    options: LogOptions,
    sites: Sites,
    keys: VisitorKeys,
    agents: AgentMemory,
    geo: Option<Geo>,
    /// The tracking endpoint's reading of a request (`replay_tracking`).
    tracker: Option<crate::track::Tracker>,
    /// `matomo_visitors`: Matomo's visit recognition, and the config key
    /// (address and agent) of the hit [`Parser::hit`] made last.
    recognizer: Option<super::Recognizer>,
    config: u64,
}

/// The chunks' hit vectors, handed back by the committer once emptied.
/// A chunk holds 100,000s of hits of 1.2 KB each, and each new
/// vector is 100s of MB of fresh pages the kernel faults in and zeroes,
/// so at most [`HitVectors::IN_FLIGHT`] are made: one committing while
/// the parser fills the other.
struct HitVectors {
    spare: mpsc::Receiver<Vec<Hit>>,
    made: usize,
}

impl HitVectors {
    const IN_FLIGHT: usize = 2;

    /// An empty vector: one handed back, a new one while fewer than
    /// [`HitVectors::IN_FLIGHT`] exist, else the next one handed back
    /// (or a new one if the committer is gone: its error ends the run).
    fn take(&mut self) -> Vec<Hit> {
        if let Ok(v) = self.spare.try_recv() {
            return v;
        }
        if self.made < Self::IN_FLIGHT {
            self.made += 1;
            return Vec::new();
        }
        self.spare.recv().unwrap_or_default()
    }
}

/// Per user agent: what it says, and whether the rules call it a robot
/// (one lookup a line for both).
#[derive(Default)]
struct AgentMemory {
    agents: Agents,
    seen: HashMap<Box<str>, (Arc<Agent>, bool), foldhash::fast::RandomState>,
}

impl AgentMemory {
    fn get(&mut self, ua: &str, rules: &Rules) -> (Arc<Agent>, bool) {
        if let Some((a, bot)) = self.seen.get(ua) {
            return (a.clone(), *bot);
        }
        if self.seen.len() >= SEEN_AGENTS {
            self.seen.clear();
        }
        let entry = (Arc::new(self.agents.parse(ua)), rules.is_bot(ua));
        self.seen.insert(ua.into(), entry.clone());
        entry
    }
}

/// Distinct user agents remembered before the memory starts over.
const SEEN_AGENTS: usize = 50_000;

impl Parser {
    fn decode<'a>(&self, raw: &'a [u8]) -> std::borrow::Cow<'a, str> {
        match self.options.encoding {
            Some(e) => e.decode_without_bom_handling(raw).0,
            None => match std::str::from_utf8(raw) {
                Ok(s) => std::borrow::Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(raw),
            },
        }
    }

    /// Reads one input in chunks and sends them; the first chunk names
    /// the format (recognised from its first lines unless given). A
    /// resumed input starts past the part the store holds: its line
    /// numbers count on, its format is recognised from its head, its
    /// skipped directives are replayed, and each chunk carries the cursor
    /// its commit records.
    fn run(
        &mut self,
        name: &str,
        mut input: Box<dyn BufRead + Send>,
        mut resumed: Option<Resumed>,
        tx: &mpsc::SyncSender<Result<Chunk>>,
        spare: &mut HitVectors,
    ) -> bool {
        let mut fields = W3cFields::mapped(self.options.w3c_map.clone());
        let mut line_no = resumed.as_ref().map_or(0, |r| r.skipped);
        // A chunk's bytes, allocated once at their full size: grown by
        // doubling, each step would copy and fault in what it held.
        let mut buf: Vec<u8> = Vec::with_capacity(
            self.options
                .batch_bytes
                .saturating_add(1 << 16)
                .min(1 << 30),
        );
        // The start of a line the last chunk cut off.
        let mut carry: Vec<u8> = Vec::new();
        let mut format = match &self.reader {
            Reader::Named(f) => *f,
            Reader::Custom(_) => None,
        };
        let mut first = true;
        loop {
            buf.clear();
            buf.append(&mut carry);
            if let Err(e) = fill(&mut *input, &mut buf, &mut carry, self.options.batch_bytes) {
                let _ = tx.send(Err(Error::Input(format!(
                    "cannot read {name} after line {line_no}: {e}"
                ))));
                return false;
            }
            if buf.is_empty() {
                return true;
            }
            let mut named = None;
            if first {
                first = false;
                // The first lines, however small the chunk: the chunk and
                // what the reader holds beyond it; after the skipped
                // part's first lines when the input resumes.
                let mut head = resumed
                    .as_mut()
                    .map(|r| std::mem::take(&mut r.head))
                    .unwrap_or_default();
                let end = memchr::memchr_iter(b'\n', &buf)
                    .nth(DETECT_LINES)
                    .map_or(buf.len(), |i| i + 1);
                head.extend_from_slice(&buf[..end]);
                if end == buf.len() {
                    head.extend_from_slice(&carry);
                    if let Ok(more) = input.fill_buf() {
                        head.extend_from_slice(&more[..more.len().min(1 << 20)]);
                    }
                }
                named = Some((name.to_owned(), self.recognise(&head, &mut format)));
                // A W3C log's columns come from the directives read before.
                if let (Some(r), Some(Format::W3cExtended)) = (resumed.as_ref(), format) {
                    for d in &r.directives {
                        let _ = parse_line(Format::W3cExtended, d, &mut fields);
                    }
                }
            }
            let mut hits = spare.take();
            hits.reserve(buf.len() / 400);
            let mut chunk = Chunk {
                // The bytes and where they start: two equal chunks of one
                // input (tiny batches of repeated lines) are two batches.
                id: format!(
                    "log:{:032x}",
                    xxhash_rust::xxh3::xxh3_128_with_seed(&buf, line_no)
                ),
                hits,
                counts: Counts::default(),
                format: named,
                cursor: None,
                held_back: false,
            };
            // Only the input's end lacks a line end.
            let tail = match buf.last() {
                Some(b'\n') | None => 0,
                Some(_) => buf.len() - memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1),
            };
            let (whole, last) = buf.split_at(buf.len() - tail);
            for raw in whole.split_inclusive(|&b| b == b'\n') {
                line_no += 1;
                let text = self.decode(raw);
                self.line(name, line_no, &text, format, &mut fields, &mut chunk);
            }
            let mut tail_whole = true;
            if !last.is_empty() {
                // A last line without its line end: whole if it reads (a
                // file whose writer left no final newline), else, when the
                // input resumes, left for the next run, which reads it
                // whole.
                let mut alone = Chunk {
                    id: String::new(),
                    hits: Vec::new(),
                    counts: Counts::default(),
                    format: None,
                    cursor: None,
                    held_back: false,
                };
                let text = self.decode(last);
                self.line(name, line_no + 1, &text, format, &mut fields, &mut alone);
                tail_whole = alone.counts.invalid == 0;
                if tail_whole || resumed.as_ref().is_none_or(|r| r.cursor.is_none()) {
                    line_no += 1;
                    chunk.hits.append(&mut alone.hits);
                    chunk.counts.add(alone.counts);
                } else {
                    chunk.held_back = true;
                }
            }
            if let Some(c) = resumed.as_mut().and_then(|r| r.cursor.as_mut()) {
                c.advance(&buf);
                chunk.cursor = Some(c.cursor(tail_whole));
            }
            if tx.send(Ok(chunk)).is_err() {
                return false;
            }
        }
    }

    /// The format of an input, from its first chunk, for the summary.
    fn recognise(&self, buf: &[u8], format: &mut Option<Format>) -> String {
        if let Reader::Custom(_) = self.reader {
            return "custom regex".into();
        }
        if format.is_none() {
            let lines: Vec<std::borrow::Cow<'_, str>> = buf
                .split(|&b| b == b'\n')
                .take(DETECT_LINES)
                .map(|l| self.decode(l))
                .collect();
            let refs: Vec<&str> = lines.iter().map(|l| l.as_ref()).collect();
            *format = detect_with(&refs, &W3cFields::mapped(self.options.w3c_map.clone()));
        }
        match format {
            Some(f) if matches!(self.reader, Reader::Named(Some(_))) => f.name().to_owned(),
            Some(f) => format!("{} (recognised)", f.name()),
            None => "not recognised: every line is invalid (give the format)".to_owned(),
        }
    }

    fn line(
        &mut self,
        input: &str,
        line_no: u64,
        text: &str,
        format: Option<Format>,
        fields: &mut W3cFields,
        chunk: &mut Chunk,
    ) {
        let c = &mut chunk.counts;
        c.lines += 1;
        let parsed = match (&self.reader, format) {
            // A named format knows its own comments (W3C headers).
            (Reader::Named(_), Some(f)) => parse_line(f, text, fields),
            _ if text.trim().is_empty() || text.starts_with('#') => Ok(Parsed::Comment),
            (Reader::Custom(f), _) => f.parse(text).map(Parsed::Line),
            (Reader::Named(_), None) => Err("the log format was not recognised".to_owned()),
        };
        let line = match parsed {
            Ok(Parsed::Comment) => {
                c.comments += 1;
                return;
            }
            Ok(Parsed::Line(mut l)) => {
                for g in &self.options.ignore_groups {
                    // Checked when the option was set.
                    let _ = l.ignore(g);
                }
                l.validate().map(|()| l)
            }
            Err(reason) => Err(reason),
        };
        let line = match line {
            Ok(l) => l,
            Err(reason) => {
                c.invalid += 1;
                if c.examples.len() < self.options.examples {
                    c.examples.push(InvalidLine {
                        input: input.to_owned(),
                        line: line_no,
                        reason,
                    });
                }
                return;
            }
        };
        let o = &self.options;
        if o.exclude_older_than.is_some_and(|t| line.ts < t)
            || o.exclude_newer_than.is_some_and(|t| line.ts > t)
        {
            *c.skipped.entry(DATE_FILTERED).or_default() += 1;
            return;
        }
        if let Some(tracker) = self.tracker.as_mut() {
            replay(tracker, &self.options, input, line_no, &line, chunk);
            return;
        }
        let ua = line.user_agent.as_deref().unwrap_or("");
        let mut agent = None;
        let rules = &self.options.rules;
        let memory = &mut self.agents;
        let decision = rules.decide_with(&line, || {
            let a = memory.get(ua, rules);
            let bot = a.1;
            agent = Some(a.0);
            bot
        });
        let kind = match decision {
            // A streaming server's event, as Matomo's importer records it.
            Decision::Pageview if line.event_action.is_some() => HitType::Event,
            Decision::Pageview => HitType::Pageview,
            Decision::Download => HitType::Download,
            Decision::Skip(s) => {
                *c.skipped.entry(s.reason()).or_default() += 1;
                return;
            }
        };
        let Some(site) = self.sites.resolve(line.host.as_deref()) else {
            *c.skipped.entry(NO_SITE).or_default() += 1;
            return;
        };
        let agent = match agent {
            Some(a) => Some(a),
            None if !ua.is_empty() => Some(self.agents.get(ua, &self.options.rules).0),
            None => None,
        };
        let hit = self.hit(site, kind, &line, agent.as_deref());
        // The site's exclusions, on the line's own address (before any
        // anonymisation, as Matomo's tracker tests it) and the hit's URL.
        if let Some(why) = self
            .sites
            .exclusions
            .get(&site)
            .and_then(|ex| ex.test(line.ip.as_deref().unwrap_or(""), ua, hit.url.as_deref()))
        {
            *c.skipped.entry(why.reason()).or_default() += 1;
            return;
        }
        let mut hit = hit;
        self.join(&mut hit);
        match kind {
            HitType::Download => c.downloads += 1,
            HitType::Event => c.events += 1,
            _ => c.pageviews += 1,
        }
        chunk.hits.push(hit);
    }

    /// `matomo_visitors`: the visitor and visit Matomo's tracker gives a
    /// kept line ([`super::Recognizer`]), as the hit's visitor key and
    /// explicit visit id.
    fn join(&mut self, hit: &mut Hit) {
        let Some(r) = self.recognizer.as_mut() else {
            return;
        };
        let user = hit.user.as_deref().map(|_| key_bits(&hit.visitor));
        // A new visitor's key (made only when one starts): its config and
        // first request's time, as Matomo's random id, a visitor of its own.
        let (keys, config, ts) = (&self.keys, self.config, hit.ts);
        let fresh = || key_bits(&keys.key(&["matomo", &format!("{config:016x}"), &ts.to_string()]));
        let day = self.sites.local_day(hit.site, hit.ts);
        let joined = r.join(hit.site, hit.ts, day, self.config, user, fresh);
        hit.visitor = format!("{:016x}", joined.visitor);
        hit.visit = Some(format!("m{}", joined.first));
        // A line older than the visit it joins (its lines arrived out of
        // order, or an earlier import's visit): Matomo's visit still runs
        // from its first request to arrive (`visit_first_action_time`,
        // and its length from there); the line counts at that start.
        hit.ts = hit.ts.max(joined.first);
    }

    fn hit(
        &mut self,
        site: u32,
        kind: HitType,
        line: &super::LogLine<'_>,
        agent: Option<&Agent>,
    ) -> Hit {
        let o = &self.options;
        let full = &*line.path;
        let (path, query) = match memchr::memchr(b'?', full.as_bytes()) {
            Some(i) => (&full[..i], Some(&full[i + 1..])),
            None => (full, None),
        };
        let path = if o.lowercase_path {
            std::borrow::Cow::Owned(path.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(path)
        };
        let host = line
            .host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty());
        let main = self.sites.main_host.get(&site);
        let host = match host {
            Some(h) => h,
            None => main.map_or("localhost", |(_, h)| h.as_str()),
        };
        let scheme = main.map_or("https://", |(s, _)| s.as_str());
        let query = query.filter(|q| !o.strip_query && !q.is_empty());
        let mut url =
            String::with_capacity(9 + host.len() + path.len() + query.map_or(0, |q| q.len() + 1));
        url.push_str(scheme);
        url.push_str(host);
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            url.make_ascii_lowercase();
        }
        url.push_str(&path);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        let ua = line.user_agent.as_deref().unwrap_or("");
        let user = line
            .userid
            .as_deref()
            .filter(|u| !u.is_empty() && *u != "-");
        let ip = line.ip.as_deref().unwrap_or("");
        let ip = if o.anonymize_ip > 0 {
            std::borrow::Cow::Owned(anonymize_ip(ip, o.anonymize_ip))
        } else {
            std::borrow::Cow::Borrowed(ip)
        };
        let visitor = match user {
            Some(u) => self.keys.key(&["uid", u]),
            None => self.keys.key(&["ip", &ip, ua]),
        };
        if self.recognizer.is_some() {
            // Matomo's config id: the address and agent (the visitor
            // and visit are given once the line is kept, `Parser::join`).
            self.config = match user {
                None => key_bits(&visitor),
                Some(_) => key_bits(&self.keys.key(&["ip", &ip, ua])),
            };
        }
        // The (anonymised, when asked) address: geolocation sees no more
        // of it than the visitor key does.
        let place = self.geo.as_mut().and_then(|g| g.locate(&ip)).cloned();
        let referrer = line
            .referrer
            .as_deref()
            .filter(|r| !r.is_empty() && *r != "-");
        let mut hit = Hit::new(site, line.ts, visitor, kind);
        if let Some(status @ 300..=599) = line.status
            && status != 304
        {
            // Matomo's importer titles errors and redirects (when they are
            // kept) as "404/URL = <url>/From = <referrer>".
            let mut title = format!("{status}/URL = {}", percent(&url));
            if let Some(r) = referrer {
                title.push_str(&format!("/From = {}", percent(r)));
            }
            hit.title = Some(title);
        }
        if let (HitType::Event, Some(action)) = (kind, line.event_action.as_deref()) {
            hit.event = Some(hitmap::Event {
                category: "cloudfront_rtmp".to_owned(),
                action: action.to_owned(),
                name: line.event_name.as_deref().map(str::to_owned),
                value: None,
            });
        }
        // As Matomo's tracker records a page view's URL: without the
        // site's excluded query parameters and Matomo's default session
        // and click ids (the error title above keeps them, as Matomo's
        // importer sends it; a download keeps its URL as sent).
        let excluded = self.sites.exclusions.get(&site);
        let stripped = match kind {
            HitType::Download => None,
            _ => match crate::exclude::Exclusions::page_url(excluded, &url) {
                std::borrow::Cow::Owned(stripped) => Some(stripped),
                std::borrow::Cow::Borrowed(_) => None,
            },
        };
        hit.url = Some(stripped.unwrap_or(url));
        // Matomo's importer: the generation time (when above 0, its whole
        // milliseconds) as the server time, the response's length (when
        // above 0) as the bandwidth.
        if kind == HitType::Pageview {
            hit.perf.times[hitmap::Perf::SERVER] = line
                .generation_ms
                .filter(|ms| *ms > 0.0 && *ms < f64::from(hitmap::Perf::MAX_TIME_MS) + 1.0)
                .map(|ms| ms as u32);
        }
        hit.perf.bandwidth = line
            .length
            .filter(|n| *n > 0 && *n <= hitmap::Perf::MAX_BANDWIDTH);
        if let Some(p) = place {
            p.fill(&mut hit);
            hit.country = p.country;
        }
        hit.user = user.map(str::to_owned);
        hit.referrer = referrer.map(str::to_owned);
        if let Some(agent) = agent {
            agent.fill(&mut hit);
        }
        hit
    }
}

/// Skipped: a replayed request the tracking endpoint does not record
/// (`rec=0` or none, Matomo's importer's default for a replay).
pub const NOT_RECORDED: &str = "tracking request not recorded (rec is not 1)";
/// Skipped: a replayed heartbeat (`ping=1`).
pub const PING: &str = "heartbeat (ping=1)";

/// A visitor key's 64 bits (16 hex digits, [`VisitorKeys::key`]).
fn key_bits(key: &str) -> u64 {
    u64::from_str_radix(key, 16).unwrap_or_default()
}

/// The token replayed requests carry, as the bulk requests of Matomo's
/// importer carry its `token_auth`: the importer's own tracker knows only
/// this one, and no request from outside reaches that tracker.
const REPLAY_TOKEN: &str = "hitmap-log-import-replay";

/// One log line replayed as a tracking request (Matomo's
/// `--replay-tracking`): a request to `matomo.php` or `piwik.php` with a
/// query string, read by the tracking endpoint's rules with the line's
/// address, user agent and time as the client's, its referrer as `urlref`
/// unless the request has one, and `--idsite` over the request's
/// `idsite`, authenticated as Matomo's importer's requests are (`cip`, an
/// old `cdt` and `country`, `region`, `city`, `lat`, `long` apply). The host, path and robot rules apply; HTTP statuses do not
/// (the tracker may have failed the first time).
fn replay(
    tracker: &mut crate::track::Tracker,
    o: &LogOptions,
    input: &str,
    line_no: u64,
    line: &super::LogLine<'_>,
    chunk: &mut Chunk,
) {
    use crate::track::{Client, Refused, Tracked};
    let c = &mut chunk.counts;
    let invalid = |c: &mut Counts, reason: String| {
        c.invalid += 1;
        if c.examples.len() < o.examples {
            c.examples.push(InvalidLine {
                input: input.to_owned(),
                line: line_no,
                reason,
            });
        }
    };
    let full = &*line.path;
    let (path, query) = full.split_once('?').unwrap_or((full, ""));
    let lower = path.to_ascii_lowercase();
    if query.is_empty() || !(lower.ends_with("piwik.php") || lower.ends_with("matomo.php")) {
        invalid(
            c,
            format!("no query string, or {lower} does not end with piwik.php/matomo.php"),
        );
        return;
    }
    let mut unstatused = line.clone();
    unstatused.status = None;
    if let Decision::Skip(s) = o.rules.decide(&unstatused) {
        *c.skipped.entry(s.reason()).or_default() += 1;
        return;
    }
    let mut params: Vec<(String, String)> = vec![("rec".into(), "0".into())];
    if let Some(r) = line
        .referrer
        .as_deref()
        .filter(|r| !r.is_empty() && *r != "-")
    {
        params.push(("urlref".into(), r.to_owned()));
    }
    params.extend(hitmap::query_pairs(query));
    if !params.iter().any(|(k, _)| k == "idsite") {
        invalid(c, "missing idsite".into());
        return;
    }
    if let Some(site) = o.site {
        params.push(("idsite".into(), site.to_string()));
    }
    // Matomo's importer sends the line's generation time as `pf_srv` and
    // its length as `bw_bytes`, over the request's own.
    if let Some(ms) = line.generation_ms.filter(|ms| *ms > 0.0) {
        params.retain(|(k, _)| k != "pf_srv");
        params.push(("pf_srv".into(), (ms as u64).to_string()));
    }
    if let Some(n) = line.length.filter(|n| *n > 0) {
        params.retain(|(k, _)| k != "bw_bytes");
        params.push(("bw_bytes".into(), n.to_string()));
    }
    let client = Client {
        ip: line.ip.as_deref().filter(|ip| *ip != "-").unwrap_or(""),
        user_agent: line.user_agent.as_deref(),
        accept_language: None,
        now: line.ts,
    };
    match tracker.track(&params, &client, Some(REPLAY_TOKEN)) {
        Ok(t @ (Tracked::Hit(_) | Tracked::Viewed(..))) => {
            for hit in t.into_hits() {
                match hit.kind {
                    HitType::Download => c.downloads += 1,
                    HitType::Event => c.events += 1,
                    HitType::ProductView => {}
                    _ => c.pageviews += 1,
                }
                chunk.hits.push(hit);
            }
        }
        Ok(Tracked::Bot) => *c.skipped.entry(super::Skip::Bot.reason()).or_default() += 1,
        Ok(Tracked::Excluded(why)) => *c.skipped.entry(why.reason()).or_default() += 1,
        Ok(Tracked::Ping) => *c.skipped.entry(PING).or_default() += 1,
        Err(Refused::NotTracking) => *c.skipped.entry(NOT_RECORDED).or_default() += 1,
        Err(Refused::Invalid(why)) if why.contains("is not a site of this store") => {
            *c.skipped.entry(NO_SITE).or_default() += 1;
        }
        Err(Refused::Invalid(why)) => invalid(c, why),
    }
}

/// Reads whole lines into `buf` up to about `limit` bytes (more when one
/// line is longer): blocks are copied as they come and the chunk is cut
/// after its last newline, the rest going to `carry` for the next chunk.
fn fill(
    input: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    carry: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<()> {
    loop {
        let block = input.fill_buf()?;
        if block.is_empty() {
            return Ok(()); // the end: the last line may lack its newline
        }
        if buf.len() >= limit {
            // Past the limit inside one long line: up to its end, looking
            // at the new bytes only.
            let end = memchr::memchr(b'\n', block).map(|p| p + 1);
            let n = end.unwrap_or(block.len());
            buf.extend_from_slice(&block[..n]);
            input.consume(n);
            if end.is_some() {
                return Ok(());
            }
            continue;
        }
        let n = block.len().min(limit - buf.len());
        buf.extend_from_slice(&block[..n]);
        input.consume(n);
        if buf.len() >= limit
            && let Some(last) = memchr::memrchr(b'\n', buf)
        {
            carry.extend_from_slice(&buf[last + 1..]);
            buf.truncate(last + 1);
            return Ok(());
        }
    }
}

/// Percent-encodes everything but unreserved characters, as Python's
/// `urllib.parse.quote(s, '')`.
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// [`import`] of files by path (`-` is stdin; compressed files are
/// recognised, [`crate::input::open`]), each named by its path: what the
/// Python and C hosts call.
///
/// # Errors
/// A file that cannot be opened (before anything is imported), and as
/// [`import`].
///
/// # Examples
/// ```
/// let mut engine = hitmap::Engine::in_memory();
/// let err = hitmap_intake::logs::import_files(&mut engine, &["/no/access.log"], &Default::default()).unwrap_err();
/// assert!(err.to_string().starts_with("cannot open /no/access.log"));
/// ```
pub fn import_files<P: AsRef<std::path::Path>>(
    engine: &mut Engine,
    paths: &[P],
    options: &LogOptions,
) -> Result<LogSummary> {
    let inputs = paths
        .iter()
        .map(|p| {
            let p = p.as_ref();
            // Opened now, so that a missing file fails before anything is
            // imported; read again (resumed) through the opener.
            let mut first = Some(crate::input::open(p)?);
            let source = if p == std::path::Path::new("-") {
                LogSource::Stream(first.take().expect("just opened"))
            } else {
                let path = p.to_owned();
                LogSource::File(Box::new(move || match first.take() {
                    Some(r) => Ok(r),
                    None => {
                        crate::input::open(&path).map_err(|e| std::io::Error::other(e.to_string()))
                    }
                }))
            };
            Ok((p.display().to_string(), source))
        })
        .collect::<Result<Vec<_>>>()?;
    import(engine, inputs, options, &mut |_| {})
}

/// Imports access logs into `engine`: each input (a name for messages,
/// and a [`LogSource`]: a reader, e.g. from [`crate::input::open`], or a
/// file's opener) in turn. A file imported again resumes after the part
/// the store holds (it grew, or was renamed or compressed: a cron job
/// over a log that is still written counts each line once); each commit
/// records where its input stands. `progress` sees the summary after each
/// committed batch.
///
/// # Errors
/// Options that cannot be used (a bad regex, a site not in the store), an
/// input that cannot be read (what was committed before stays), a failed
/// commit. Bad lines are never errors: they are counted in the summary.
///
/// # Examples
/// ```
/// use hitmap::{Engine, SiteConfig};
/// use hitmap_intake::logs::{LogOptions, import};
/// let mut engine = Engine::in_memory();
/// engine.add_site(SiteConfig::new(1).host("example.org"))?;
/// let log = r#"1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET /a HTTP/1.1" 200 368 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
/// 1.2.3.4 - - [10/Feb/2012:16:42:08 -0500] "GET /style.css HTTP/1.1" 200 99 "-" "Mozilla/5.0"
/// not a log line
/// "#;
/// let input: Box<dyn std::io::BufRead + Send> = Box::new(std::io::Cursor::new(log.as_bytes().to_vec()));
/// let s = import(&mut engine, vec![("access.log".into(), input.into())], &LogOptions::default(), &mut |_| {})?;
/// assert_eq!((s.pageviews, s.invalid, s.skipped["static file"]), (1, 1, 1));
/// assert_eq!(s.examples[0].line, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn import(
    engine: &mut Engine,
    inputs: Vec<(String, LogSource)>,
    options: &LogOptions,
    progress: &mut dyn FnMut(&LogSummary),
) -> Result<LogSummary> {
    let reader = match &options.regex {
        Some(r) => Reader::Custom(
            CustomFormat::new(r, options.date_format.as_deref()).map_err(Error::Format)?,
        ),
        None => Reader::Named(options.format),
    };
    let sites = Sites::new(engine, options)?;
    let (keys, mut new_secret) = VisitorKeys::for_store(engine, options.visitor_secret.as_deref())?;
    let mut parser = Parser {
        reader,
        options: options.clone(),
        sites,
        keys,
        agents: AgentMemory {
            agents: Agents::configured(options.device_detector.as_deref())?,
            seen: HashMap::default(),
        },
        geo: options.geoip.as_deref().map(Geo::open).transpose()?,
        recognizer: match (&options.matomo_visitors_state, options.matomo_visitors) {
            (Some(path), _) => Some(super::Recognizer::load(path)?),
            (None, true) => Some(super::Recognizer::default()),
            (None, false) => None,
        },
        config: 0,
        tracker: options
            .replay_tracking
            .then(|| {
                crate::track::Tracker::new(
                    engine,
                    crate::track::TrackOptions {
                        // Matomo's importer sends its token with every
                        // replayed request: they may set `cip`, an old
                        // `cdt` and the location overrides.
                        tokens: vec![crate::track::TokenAccess::all(REPLAY_TOKEN)],
                        anonymize_ip: options.anonymize_ip,
                        geoip: options.geoip.clone(),
                        device_detector: options.device_detector.clone(),
                        ..Default::default()
                    },
                )
            })
            .transpose()?,
    };
    let mut summary = LogSummary::default();
    // Each file where it resumes (read now: the store is the caller's
    // while the chunks commit).
    let mut readers = Vec::with_capacity(inputs.len());
    for (name, source) in inputs {
        let (reader, resumed) = match source {
            LogSource::Stream(r) => (r, None),
            LogSource::File(mut open) => {
                let cant =
                    |e: &dyn std::fmt::Display| Error::Input(format!("cannot read {name}: {e}"));
                let r = engine
                    .resume_input(&mut open, options.force)
                    .map_err(|e| cant(&e))?;
                let skipped = r.skipped_lines;
                let (mut head, mut directives) = (Vec::new(), Vec::new());
                if skipped > 0 {
                    summary.skipped_batches += 1;
                    summary.skipped_lines += skipped;
                    let len = r.cursor.as_ref().map_or(0, |c| c.len());
                    (head, directives) =
                        preamble(&mut *open().map_err(|e| cant(&e))?, len).map_err(|e| cant(&e))?;
                }
                let resumed = Resumed {
                    cursor: r.cursor,
                    skipped,
                    head,
                    directives,
                };
                (r.reader, Some(resumed))
            }
        };
        readers.push((name, reader, resumed));
    }
    // The visitor-key secret a new store gets goes in first, alone: each
    // chunk's commit records its input's cursor.
    if let Some(s) = new_secret.take()
        && !options.dry_run
    {
        engine.ingest_with(
            std::iter::empty::<Hit>(),
            &IngestOptions::default().cursor(SECRET_CURSOR, s),
        )?;
    }
    let (tx, rx) = mpsc::sync_channel::<Result<Chunk>>(1);
    // Emptied hit vectors go back to the parser ([`HitVectors`]).
    let (give_back, spare) = mpsc::channel::<Vec<Hit>>();
    let mut vectors = HitVectors { spare, made: 0 };
    let recognized = std::thread::scope(|scope| -> Result<Option<super::Recognizer>> {
        // Owned here, so dropped when this returns (with an error too): a
        // parser waiting for an emptied vector then stops.
        let give_back = give_back;
        let parsing = scope.spawn(move || {
            for (name, input, resumed) in readers {
                if !parser.run(&name, input, resumed, &tx, &mut vectors) {
                    break;
                }
            }
            parser.recognizer
        });
        for chunk in rx {
            let mut chunk = chunk?;
            if let Some(f) = chunk.format.clone() {
                summary.formats.push(f);
            }
            summary.held_back += u64::from(chunk.held_back);
            if options.dry_run {
                summary.add(&chunk.counts, options.examples);
                progress(&summary);
            } else if !options.force && engine.has_batch(&chunk.id) {
                summary.skipped_batches += 1;
                summary.skipped_lines += chunk.counts.lines;
            } else {
                let mut ingest = IngestOptions::default()
                    .batch_id(chunk.id.clone())
                    .force(options.force);
                if let Some((name, value)) = &chunk.cursor {
                    ingest = ingest.cursor(name.clone(), value.clone());
                }
                let out = engine.ingest_with(&chunk.hits, &ingest)?;
                summary.add(&chunk.counts, options.examples);
                summary.rejected += out.rejected.len() as u64;
                for r in out.rejected.iter() {
                    if summary.rejected_examples.len() >= options.examples {
                        break;
                    }
                    summary.rejected_examples.push(r.reason.clone());
                }
                summary.batches += 1;
                progress(&summary);
            }
            // Every chunk's vector goes back, emptied, whatever its fate.
            chunk.hits.clear();
            let _ = give_back.send(chunk.hits);
        }
        // A panic of the parsing thread goes on here, as the scope's own
        // join would have carried it.
        parsing
            .join()
            .map_err(|panic| std::panic::resume_unwind(panic))
    })?;
    // The visits recognised, for the next import (after every chunk is
    // committed: a failed import leaves the state as it was).
    if let (Some(path), Some(r)) = (&options.matomo_visitors_state, recognized)
        && !options.dry_run
    {
        r.save(path)?;
    }
    Ok(summary)
}
