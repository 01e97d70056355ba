//! The subcommands of `hitmap`, each a function over parsed arguments, so
//! tests call them as the binary does.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use hitmap::{ApiOptions, ApiRequest, Engine, Format, Query, SiteConfig};
use hitmap_intake::logs::LogSource;
use serde_json::{Value, json};

use crate::CliError;
use crate::output::{OutputFormat, show};

/// Fails with the way to create a store when `dir` holds none.
fn require_store(dir: &Path) -> Result<(), CliError> {
    if dir.join("MANIFEST").exists() {
        return Ok(());
    }
    Err(CliError::Usage(format!(
        "no hitmap store at {}: create one with `hitmap init {} --site 1 --timezone UTC`",
        dir.display(),
        dir.display()
    )))
}

/// Opens a store that must exist (for writing).
pub fn open_existing(dir: &Path) -> Result<Engine, CliError> {
    require_store(dir)?;
    Ok(Engine::open(dir)?)
}

/// `hitmap export-day`: one local day of a site as a bundle file.
pub fn export_day(dir: &Path, site: u32, date: &str, out: &Path) -> Result<String, CliError> {
    let bytes = open_reader(dir)?.export_day(site, date)?;
    std::fs::write(out, &bytes)
        .map_err(|e| CliError::Io(format!("cannot write {}", out.display()), e))?;
    Ok(format!(
        "wrote {date} of site {site} to {} ({} bytes)\n",
        out.display(),
        bytes.len()
    ))
}

/// `hitmap import-day`: bundles into a store (created when missing), each
/// committed on its own; the first bad one stops with its file named,
/// the ones before it stay imported.
pub fn import_day(dir: &Path, bundles: &[std::path::PathBuf]) -> Result<String, CliError> {
    let mut engine = Engine::open(dir)?;
    let mut out = String::new();
    for file in bundles {
        let bytes = std::fs::read(file)
            .map_err(|e| CliError::Io(format!("cannot read {}", file.display()), e))?;
        let day = engine.import_day(&bytes).map_err(|e| {
            CliError::Hitmap(hitmap::Error::Request(format!(
                "{}: {e} ({} bundle(s) before it were imported)",
                file.display(),
                out.lines().count()
            )))
        })?;
        out.push_str(&format!("imported {day} from {}\n", file.display()));
    }
    Ok(out)
}

/// Whether a store location is an object store URL (`s3://…`), not a folder.
pub fn is_url(location: &Path) -> bool {
    location.to_str().is_some_and(|s| s.contains("://"))
}

/// Opens a store that must exist, read-only (queries): a folder, or an
/// object store URL (`s3://bucket/prefix`) a store was published to.
/// A command asks one question and exits, so it keeps no day cache: a
/// day kept for a later question would only be fresh memory to fault in
/// (a segmented year took 0.55 s and 290 MB with the server's cache,
/// 0.33 s and 104 MB without; the files read are the same).
pub fn open_reader(dir: &Path) -> Result<Engine, CliError> {
    open_reader_with(dir, hitmap::ReaderOptions::default().cache_mb(0))
}

/// [`open_reader`] with a cache budget and refresh age.
pub fn open_reader_with(dir: &Path, options: hitmap::ReaderOptions) -> Result<Engine, CliError> {
    match dir.to_str() {
        Some(url) if is_url(dir) => Ok(Engine::open_reader(url, options)?),
        _ => {
            require_store(dir)?;
            Ok(Engine::open_read_only_with(dir, options)?)
        }
    }
}

/// `hitmap publish`: the store's current commit to an object store.
pub fn publish(dir: &Path, url: &str, retain: std::time::Duration) -> Result<String, CliError> {
    let mut engine = open_existing(dir)?;
    let p = engine.publish(url, &hitmap::PublishOptions::default().retain(retain))?;
    Ok(format!(
        "published generation {} to {url}: {} file(s) uploaded, {} bytes; {} superseded file(s) deleted\n",
        p.generation, p.uploaded, p.bytes, p.deleted
    ))
}

/// What `hitmap init` sets up for a site.
#[derive(Debug, Clone, Default)]
pub struct SiteArgs {
    /// Site id.
    pub site: u32,
    /// IANA time zone.
    pub timezone: String,
    /// Visit timeout in seconds.
    pub visit_timeout: Option<u32>,
    /// The site's own hosts.
    pub hosts: Vec<String>,
    /// `Name=/prefix,/prefix`.
    pub sections: Vec<String>,
    /// Declared custom dimensions.
    pub dimensions: Vec<String>,
    /// An ecommerce site: its orders and abandoned carts are reported.
    pub ecommerce: bool,
    /// The site's name.
    pub name: Option<String>,
    /// The site's main URL.
    pub main_url: Option<String>,
    /// Excluded IPs (addresses, ranges, wildcards).
    pub exclude_ips: Vec<String>,
    /// Excluded user agents (a part, any case).
    pub exclude_user_agents: Vec<String>,
    /// Excluded URL query parameters (any case).
    pub exclude_parameters: Vec<String>,
    /// Drop requests to URLs that are not the site's.
    pub exclude_unknown_urls: bool,
    /// Matomo's `action_title_category_delimiter`.
    pub title_category_delimiter: Option<String>,
}

/// `hitmap init`: creates the store (if missing) and adds or updates a site.
pub fn init(dir: &Path, args: &SiteArgs) -> Result<String, CliError> {
    let mut config = SiteConfig::new(args.site).time_zone(&args.timezone);
    if let Some(t) = args.visit_timeout {
        config = config.visit_timeout(t);
    }
    for h in &args.hosts {
        config = config.host(h);
    }
    for s in &args.sections {
        let (name, prefixes) = s.split_once('=').ok_or_else(|| {
            CliError::Usage(format!(
                "--section takes Name=/prefix[,/prefix...], got '{s}'"
            ))
        })?;
        let prefixes: Vec<&str> = prefixes
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        config = config.section(name.trim(), prefixes);
    }
    for d in &args.dimensions {
        config = config.dimension(d);
    }
    config = config.ecommerce(args.ecommerce);
    if let Some(n) = &args.name {
        config = config.name(n);
    }
    if let Some(u) = &args.main_url {
        config = config.main_url(u);
    }
    if let Some(d) = &args.title_category_delimiter {
        config = config.title_category_delimiter(d);
    }
    for ip in &args.exclude_ips {
        config = config.exclude_ip(ip);
    }
    for agent in &args.exclude_user_agents {
        config = config.exclude_user_agent(agent);
    }
    for p in &args.exclude_parameters {
        config = config.exclude_parameter(p);
    }
    config = config.exclude_unknown_urls(args.exclude_unknown_urls);
    // A rule the tracker could not read is refused now, named.
    hitmap_intake::exclude::Exclusions::of(&config).map_err(CliError::Usage)?;
    let mut engine = Engine::open(dir)?;
    engine.add_site(config)?;
    Ok(format!(
        "site {} ({}) ready in {}\nnext: hitmap ingest {} hits.ndjson\n",
        args.site,
        args.timezone,
        dir.display(),
        dir.display()
    ))
}

/// Opens an input: a path or `-` (stdin); gzip, bzip2 and zstd are
/// recognised by their first bytes. The bar counts the file's bytes.
fn input(
    path: &Path,
    bar: Option<indicatif::ProgressBar>,
) -> Result<Box<dyn BufRead + Send>, CliError> {
    Ok(hitmap_intake::input::open_counted(path, move |n| {
        if let Some(b) = &bar {
            b.inc(n);
        }
    })?)
}

/// A progress bar over a file's bytes, on a terminal only.
fn file_bar(path: &Path, progress: bool) -> Option<indicatif::ProgressBar> {
    let size = std::fs::metadata(path).map(|m| m.len()).ok();
    (progress && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(size.unwrap_or(0));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{msg} {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar.set_message(path.display().to_string());
        bar
    })
}

/// The access-log flags of `hitmap ingest` (Matomo's log importer's
/// names).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Access logs")]
pub struct LogArgs {
    /// Read access logs of this format (`auto` recognises each file's):
    /// common, common_vhost, ncsa_extended (combined), common_complete,
    /// w3c_extended (iis, netscaler, incapsula_w3c, amazon_cloudfront,
    /// shoutcast), elb, alb, s3, nginx_json, traefik_json, caddy_json,
    /// haproxy, ovh, gandi, icecast2.
    #[arg(long)]
    pub log_format: Option<String>,
    /// Read access logs with this regex and its named groups (ip, date,
    /// timezone, path, query_string, status, length, userid, user_agent,
    /// referrer, host, method, generation_time_micro/milli/secs).
    #[arg(long)]
    pub log_format_regex: Option<String>,
    /// strftime pattern of the regex's date group (default %d/%b/%Y:%H:%M:%S).
    #[arg(long)]
    pub log_date_format: Option<String>,
    /// Rename a W3C column, custom=standard (e.g. date-local=date); repeat.
    #[arg(long)]
    pub w3c_map_field: Vec<String>,
    /// Every line goes to this site (default: by host, or the store's only site).
    #[arg(long)]
    pub idsite: Option<u32>,
    /// The site of lines whose host is no site's.
    #[arg(long)]
    pub idsite_fallback: Option<u32>,
    /// Count static files (css, js, images, robots.txt) as downloads.
    #[arg(long)]
    pub enable_static: bool,
    /// Keep requests from robots.
    #[arg(long)]
    pub enable_bots: bool,
    /// Keep 4xx and 5xx responses (titled "404/URL = ...").
    #[arg(long)]
    pub enable_http_errors: bool,
    /// Keep 3xx responses (304 is always kept).
    #[arg(long)]
    pub enable_http_redirects: bool,
    /// Only these hosts (glob); repeat.
    #[arg(long)]
    pub include_host: Vec<String>,
    /// Never these hosts (glob); repeat.
    #[arg(long)]
    pub exclude_host: Vec<String>,
    /// Only these paths (glob, e.g. '/docs/*'); repeat.
    #[arg(long)]
    pub include_path: Vec<String>,
    /// Never these paths (glob, e.g. '/admin/*'); repeat.
    #[arg(long)]
    pub exclude_path: Vec<String>,
    /// Skip requests before this time ('2012-08-09 08:10:39 +0000').
    #[arg(long)]
    pub exclude_older_than: Option<String>,
    /// Skip requests after this time.
    #[arg(long)]
    pub exclude_newer_than: Option<String>,
    /// More robot user-agent fragments; repeat.
    #[arg(long)]
    pub useragent_exclude: Vec<String>,
    /// Lower-case paths.
    #[arg(long)]
    pub force_lowercase_path: bool,
    /// Drop query strings.
    #[arg(long)]
    pub strip_query_string: bool,
    /// Fields to read but leave out, comma-separated (Matomo's
    /// --ignore-groups, e.g. 'userid': visitors by address and agent).
    #[arg(long)]
    pub ignore_groups: Vec<String>,
    /// The logs' encoding (windows-1252, big5, ...; default UTF-8, bad bytes replaced).
    #[arg(long)]
    pub encoding: Option<String>,
    /// The secret of visitor keys (default: the store's own, made on first use).
    #[arg(long, env = "HITMAP_VISITOR_SECRET", hide_env_values = true)]
    pub visitor_secret: Option<String>,
    /// Mask this many bytes of the IP before the visitor key is made (0-4).
    #[arg(long)]
    pub anonymize_ip: Option<u8>,
    /// Count visitors and visits as Matomo's importer and tracker do: a line
    /// joins the visit of its address and agent (or user id) whose last
    /// request is within 30 minutes, in the order lines come; else a new
    /// visit, of a new visitor (Matomo gives it a random id). Default:
    /// visitors are recognised across visits by address and agent.
    #[arg(long)]
    pub matomo_visitors: bool,
    /// Keep the visits --matomo-visitors recognises in FILE between imports
    /// (read before, written after; implies --matomo-visitors): a later
    /// import's lines join them as in Matomo.
    #[arg(long, value_name = "FILE")]
    pub matomo_visitors_state: Option<PathBuf>,
    /// Read, check and count the lines, but import nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Countries from this MaxMind-format database (GeoLite2/GeoIP2 Country
    /// or City .mmdb).
    #[arg(long, env = "HITMAP_GEOIP")]
    pub geoip: Option<PathBuf>,
    /// Browsers, systems and devices as Matomo names them, with brand,
    /// model and engine: Matomo's DeviceDetector rules (a directory:
    /// device-detector's regexes/, or PyPI's device_detector package).
    #[arg(long, env = "HITMAP_DEVICE_DETECTOR")]
    pub device_detector: Option<PathBuf>,
    /// The lines are tracking requests (/matomo.php?..., /piwik.php?...):
    /// replay them as the tracking endpoint reads them (Matomo's
    /// --replay-tracking); --idsite overrides their idsite.
    #[arg(long)]
    pub replay_tracking: bool,
}

impl LogArgs {
    /// Whether the inputs are access logs rather than NDJSON.
    pub fn is_log(&self) -> bool {
        self.log_format.is_some() || self.log_format_regex.is_some()
    }

    /// The importer's options: each flag through
    /// [`hitmap_intake::logs::LogOptions::set`], as Python and the C ABI
    /// give them.
    pub fn options(&self) -> Result<hitmap_intake::logs::LogOptions, CliError> {
        let mut o = hitmap_intake::logs::LogOptions::default();
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let mut one = |name: &'static str, v: Option<String>| {
            if let Some(v) = v {
                pairs.push((name, v));
            }
        };
        one("log-format", self.log_format.clone());
        one("log-format-regex", self.log_format_regex.clone());
        one("log-date-format", self.log_date_format.clone());
        one("idsite", self.idsite.map(|v| v.to_string()));
        one(
            "idsite-fallback",
            self.idsite_fallback.map(|v| v.to_string()),
        );
        one("encoding", self.encoding.clone());
        one("exclude-older-than", self.exclude_older_than.clone());
        one("exclude-newer-than", self.exclude_newer_than.clone());
        one("visitor-secret", self.visitor_secret.clone());
        one("anonymize-ip", self.anonymize_ip.map(|v| v.to_string()));
        one(
            "geoip",
            self.geoip.as_ref().map(|p| p.display().to_string()),
        );
        one(
            "matomo-visitors-state",
            self.matomo_visitors_state
                .as_ref()
                .map(|p| p.display().to_string()),
        );
        one(
            "device-detector",
            self.device_detector
                .as_ref()
                .map(|p| p.display().to_string()),
        );
        for (name, on) in [
            ("enable-static", self.enable_static),
            ("enable-bots", self.enable_bots),
            ("enable-http-errors", self.enable_http_errors),
            ("enable-http-redirects", self.enable_http_redirects),
            ("force-lowercase-path", self.force_lowercase_path),
            ("strip-query-string", self.strip_query_string),
            ("matomo-visitors", self.matomo_visitors),
            ("dry-run", self.dry_run),
            ("replay-tracking", self.replay_tracking),
        ] {
            one(name, on.then(|| "true".to_owned()));
        }
        for (name, list) in [
            ("w3c-map-field", &self.w3c_map_field),
            ("include-host", &self.include_host),
            ("exclude-host", &self.exclude_host),
            ("include-path", &self.include_path),
            ("exclude-path", &self.exclude_path),
            ("useragent-exclude", &self.useragent_exclude),
            ("ignore-groups", &self.ignore_groups),
        ] {
            for v in list {
                one(name, Some(v.clone()));
            }
        }
        for (name, value) in pairs {
            o.set(name, &value)?;
        }
        Ok(o)
    }
}

/// `hitmap ingest --log-format ...`: access logs into the store, with a
/// progress bar per file; returns the summary and its text (lines, hits,
/// skips by reason, the first invalid lines, the speed).
pub fn ingest_logs(
    dir: &Path,
    files: &[PathBuf],
    args: &LogArgs,
    show_invalid: usize,
    force: bool,
    progress: bool,
) -> Result<(hitmap_intake::logs::LogSummary, String), CliError> {
    let mut options = args.options()?;
    options.force = force;
    options.examples = show_invalid;
    let mut engine = open_existing(dir)?;
    let mut inputs = Vec::with_capacity(files.len());
    let mut bars = Vec::new();
    for path in files {
        let bar = file_bar(path, progress);
        bars.extend(bar.clone());
        // A file is opened again to resume after what the store holds.
        let source = LogSource::open_with(path, {
            let path = path.clone();
            move || {
                if let Some(b) = &bar {
                    b.set_position(0);
                }
                input(&path, bar.clone())
            }
        })?;
        inputs.push((path.display().to_string(), source));
    }
    let t = std::time::Instant::now();
    let summary = hitmap_intake::logs::import(&mut engine, inputs, &options, &mut |_| {})?;
    // A one-shot run leaves day files, not a write-ahead log to replay.
    engine.seal()?;
    for b in bars {
        b.finish_and_clear();
    }
    let secs = t.elapsed().as_secs_f64();
    let mut report = summary.report();
    if options.dry_run {
        report.push_str("  dry run: nothing was stored\n");
    }
    report.push_str(&format!(
        "  {secs:.1} s, {:.0} lines/s\n",
        summary.lines as f64 / secs.max(1e-9)
    ));
    Ok((summary, report))
}

/// The outcome of `hitmap ingest` over its files.
#[derive(Debug, Default)]
pub struct IngestSummary {
    /// Hits that went in.
    pub accepted: u64,
    /// Lines rejected, over all files.
    pub rejected: u64,
    /// What to print.
    pub report: String,
}

/// `hitmap ingest`: each file is read in chunks, each chunk committed as
/// one batch; bad lines are listed (the first `show_rejects` of each file)
/// and the rest goes in. Chunks the store already committed (the same
/// bytes, or the same batch id) are skipped unless `options` force.
pub fn ingest(
    dir: &Path,
    files: &[PathBuf],
    show_rejects: usize,
    progress: bool,
    options: &hitmap::IngestOptions,
) -> Result<IngestSummary, CliError> {
    let mut engine = open_existing(dir)?;
    let mut summary = IngestSummary::default();
    for path in files {
        let bar = file_bar(path, progress);
        let t = std::time::Instant::now();
        // A file read before resumes after what the store holds (it may
        // have grown, been renamed or compressed since); stdin is read as
        // it comes (give it a --batch-id to make a re-run recognisable).
        let out = if path.as_os_str() == "-" {
            engine.ingest_ndjson_with(input(path, bar.clone())?, options)?
        } else {
            engine.ingest_ndjson_resuming(
                || input(path, bar.clone()).map_err(|e| std::io::Error::other(e.to_string())),
                options,
            )?
        };
        // A one-shot run leaves day files, not a write-ahead log to replay.
        engine.seal()?;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let secs = t.elapsed().as_secs_f64();
        summary.accepted += out.accepted;
        summary.rejected += out.rejected.len() as u64;
        summary.report.push_str(&format!(
            "{}: {} hits ingested, {} lines rejected ({:.1} s)\n",
            path.display(),
            out.accepted,
            out.rejected.len(),
            secs
        ));
        if out.skipped_batches > 0 {
            summary.report.push_str(&format!(
                "  skipped {} batch(es), {} lines, that this store already holds (a re-run, or the part of a grown file read before; --force ingests them again)\n",
                out.skipped_batches, out.skipped_lines
            ));
        }
        if out.held_back > 0 {
            summary.report.push_str(
                "  its last line has no newline and is not whole JSON yet (still being written?): left for the next run\n",
            );
        }
        for r in out.rejected.iter().take(show_rejects) {
            summary
                .report
                .push_str(&format!("  line {}: {}\n", r.line, r.reason));
        }
        if out.rejected.len() > show_rejects {
            summary.report.push_str(&format!(
                "  ... and {} more (--show-rejects N to list more)\n",
                out.rejected.len() - show_rejects
            ));
        }
    }
    Ok(summary)
}

/// Infers the period from a date's form when none is given: `2026` a
/// year, `2026-03` a month, `A,B` a range, anything else days.
///
/// # Examples
/// ```
/// use hitmap_cli::commands::period_and_date;
/// assert_eq!(period_and_date(None, "2026-03"), ("month".to_string(), "2026-03-01".to_string()));
/// assert_eq!(period_and_date(None, "2026"), ("year".to_string(), "2026-01-01".to_string()));
/// assert_eq!(period_and_date(None, "2026-01-01,2026-01-31"), ("range".to_string(), "2026-01-01,2026-01-31".to_string()));
/// assert_eq!(period_and_date(Some("week"), "last4"), ("week".to_string(), "last4".to_string()));
/// ```
pub fn period_and_date(period: Option<&str>, date: &str) -> (String, String) {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (inferred, date) = match date.split('-').collect::<Vec<_>>().as_slice() {
        [y] if y.len() == 4 && digits(y) => ("year", format!("{y}-01-01")),
        [y, m] if y.len() == 4 && digits(y) && m.len() == 2 && digits(m) => {
            ("month", format!("{y}-{m}-01"))
        }
        _ if date.contains(',') => ("range", date.to_string()),
        _ => ("day", date.to_string()),
    };
    (period.unwrap_or(inferred).to_string(), date)
}

/// A Reporting API request assembled from command-line flags.
#[derive(Debug, Clone, Default)]
pub struct ReportArgs {
    /// Site id.
    pub site: u32,
    /// `Module.method`.
    pub method: String,
    /// Period, or inferred from the date.
    pub period: Option<String>,
    /// Date expression.
    pub date: String,
    /// Segment.
    pub segment: Option<String>,
    /// Section.
    pub section: Option<String>,
    /// Rows.
    pub limit: Option<i64>,
    /// Further `key=value` parameters.
    pub extra: Vec<String>,
    /// Print the files and bytes read from the store to stderr.
    pub read_stats: bool,
}

impl ReportArgs {
    /// The query string.
    pub fn query(&self) -> String {
        use hitmap::encode_query_value as encode;
        let (period, date) = period_and_date(self.period.as_deref(), &self.date);
        let mut q = format!(
            "method={}&idSite={}&period={}&date={}",
            encode(&self.method),
            self.site,
            encode(&period),
            encode(&date)
        );
        if let Some(s) = &self.segment {
            q.push_str(&format!("&segment={}", encode(s)));
        }
        if let Some(s) = &self.section {
            q.push_str(&format!("&section={}", encode(s)));
        }
        // Every row unless asked (the Reporting API's default is 100).
        q.push_str(&format!("&filter_limit={}", self.limit.unwrap_or(-1)));
        for kv in &self.extra {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            q.push_str(&format!("&{}={}", encode(k), encode(v)));
        }
        q
    }
}

/// `hitmap report` / `hitmap pages`: a Reporting API answer, printed.
pub fn report(dir: &Path, args: &ReportArgs, format: OutputFormat) -> Result<String, CliError> {
    let engine = open_reader(dir)?;
    let out = report_on(&engine, args, format)?;
    if let Some(note) = crate::http::no_data_note(&engine, &args.query()) {
        eprintln!("hitmap: note: {note}");
    }
    if args.read_stats {
        let s = engine.read_stats();
        eprintln!("read {} file(s), {} bytes", s.requests, s.bytes);
    }
    Ok(out)
}

/// A Reporting API answer from an open engine, printed.
fn report_on(engine: &Engine, args: &ReportArgs, format: OutputFormat) -> Result<String, CliError> {
    if let OutputFormat::Api(f @ (Format::Csv | Format::Tsv | Format::Xml | Format::Html)) =
        format.resolve()
    {
        // The Reporting API's own rendering: it knows which levels of an
        // answer are periods or sites and which are keyed rows.
        let name = match f {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Html => "html",
            _ => "xml",
        };
        let query = format!("{}&format={name}", args.query());
        let mut text = engine.api_with(&query, &ApiOptions::default())?;
        if !text.ends_with('\n') {
            text.push('\n');
        }
        return Ok(text);
    }
    let request = ApiRequest::parse(&args.query())?;
    let answer = engine.answer_with(&request, &ApiOptions::default())?;
    Ok(show(&answer, format))
}

/// `hitmap sites`: every site with its zone, sections, days, hits and bytes.
pub fn sites(dir: &Path, format: OutputFormat) -> Result<String, CliError> {
    let engine = open_reader(dir)?;
    let mut rows = Vec::new();
    for id in engine.site_ids() {
        let Some(config) = engine.site(id) else {
            continue;
        };
        let days = engine.site_days(id)?;
        let hits = engine.query(&Query::site(id))?.visits_summary().nb_actions;
        let bytes = dir_bytes(&dir.join(format!("site-{id}")));
        rows.push(json!({
            "site": id,
            "timezone": config.time_zone_name(),
            "sections": config.sections().iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(","),
            "days": days.len(),
            "first_day": days.first().map(|d| d.to_string()).unwrap_or_default(),
            "last_day": days.last().map(|d| d.to_string()).unwrap_or_default(),
            "hits": hits,
            "bytes": bytes,
        }));
    }
    let damaged = engine.damaged();
    let mut out = show(&Value::Array(rows), format);
    for d in damaged {
        out.push_str(&format!("damaged: {d}\n"));
    }
    Ok(out)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// `hitmap check`: every file decoded and checksummed; with `repair`, a
/// lost or damaged manifest is rebuilt first.
pub fn check(dir: &Path, repair: bool, upgrade: bool) -> Result<String, CliError> {
    let mut out = String::new();
    let readable = Engine::open_read_only(dir);
    if let Err(e) = &readable {
        if !repair {
            return Err(CliError::Usage(format!(
                "{e}\n(if the folder holds hitmap's files, `hitmap check {} --repair` rebuilds the manifest)",
                dir.display()
            )));
        }
        let r = hitmap::recover_manifest(dir)?;
        out.push_str(&format!(
            "rebuilt MANIFEST: {} site(s), {} day(s); {} file(s) not used (left in place)\n",
            r.sites.len(),
            r.days,
            r.skipped.len()
        ));
        for (path, why) in &r.skipped {
            out.push_str(&format!("  not used: {path}: {why}\n"));
        }
    }
    let mut engine = match readable {
        Ok(e) => e,
        Err(_) => Engine::open_read_only(dir)?,
    };
    let damaged = engine.verify();
    let days: usize = engine
        .site_ids()
        .iter()
        .map(|&id| engine.site_days(id).map_or(0, |d| d.len()))
        .sum();
    if damaged.is_empty() {
        out.push_str(&format!(
            "ok: {} site(s), {} day file(s), every checksum verified\n",
            engine.site_ids().len(),
            days
        ));
        if upgrade {
            drop(engine);
            let mut writer = Engine::open(dir)?;
            let n = writer.upgrade_days()?;
            let rollups = writer.upgrade_rollups()?;
            out.push_str(&format!(
                "upgraded: {n} day file(s) rewritten in format version 3; every visitor history kept in month pages (format version 4); {rollups} report rollup(s) rebuilt with every report (format version 5)\n"
            ));
        }
        return Ok(out);
    }
    for d in &damaged {
        out.push_str(&format!("damaged: {d}\n"));
    }
    out.push_str(
        "restore the named files from a backup, or delete their days with `hitmap delete`\n",
    );
    eprint!("{out}");
    Err(CliError::Damaged(damaged.len()))
}

/// A day given as `YYYY-MM-DD` or as a date expression of the site's
/// days (`today`, `yesterday`, `lastN`, `previousN`): its first day for
/// `first`, else its last.
fn day_of(engine: &Engine, site: u32, text: &str, first: bool) -> Result<String, CliError> {
    if hitmap::parse_day(text).is_ok() {
        return Ok(text.to_owned());
    }
    let (periods, _) = engine.periods(site, hitmap::Period::Day, text, chrono::Utc::now())?;
    let day = if first {
        periods.first().map(|p| p.from)
    } else {
        periods.last().map(|p| p.to)
    };
    day.map(|d| d.to_string())
        .ok_or_else(|| CliError::Usage(format!("{text:?} names no day")))
}

/// `hitmap export`: raw hits (the input contract's records) or visits of
/// a range, as NDJSON or CSV, to a writer.
pub fn export(
    dir: &Path,
    site: u32,
    from: &str,
    to: &str,
    what: &str,
    format: &str,
    out: &mut (dyn Write + Send),
) -> Result<u64, CliError> {
    let engine = open_reader(dir)?;
    let (from, to) = (
        day_of(&engine, site, from, true)?,
        day_of(&engine, site, to, false)?,
    );
    let (from, to) = (from.as_str(), to.as_str());
    let w = |e| CliError::Io("cannot write the export".into(), e);
    if let ("parquet", Some(kind)) = (format, hitmap::ExportKind::parse(what)) {
        return Ok(engine.export_parquet(site, from, to, kind, out)?.rows);
    }
    let mut n = 0u64;
    match (what, format) {
        ("hits", "ndjson" | "json") => {
            for h in &engine.export_hits(site, from, to)? {
                writeln!(out, "{}", h.to_ndjson()).map_err(w)?;
                n += 1;
            }
        }
        ("hits", "csv") => {
            let cols = [
                "site",
                "ts",
                "visitor",
                "type",
                "url",
                "title",
                "referrer",
                "user",
                "device",
                "browser",
                "os",
                "country",
                "language",
                "search",
                "event_category",
                "event_action",
                "event_name",
                "event_value",
                "dims",
            ];
            writeln!(out, "{}", cols.join(",")).map_err(w)?;
            for h in &engine.export_hits(site, from, to)? {
                let text = |s: Option<&str>| csv_text(s.unwrap_or_default());
                let ev = h.event.as_ref();
                let dims = if h.dims.is_empty() {
                    String::new()
                } else {
                    let map: serde_json::Map<String, Value> =
                        h.dims.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
                    csv_text(&Value::Object(map).to_string())
                };
                let cells = [
                    h.site.to_string(),
                    h.ts.to_string(),
                    csv_text(&h.visitor),
                    h.kind.name().to_string(),
                    text(h.url.as_deref()),
                    text(h.title.as_deref()),
                    text(h.referrer.as_deref()),
                    text(h.user.as_deref()),
                    text(h.device.as_deref()),
                    text(h.browser.as_deref()),
                    text(h.os.as_deref()),
                    text(h.country.as_deref()),
                    text(h.language.as_deref()),
                    text(h.search.as_deref()),
                    text(ev.map(|e| e.category.as_str())),
                    text(ev.map(|e| e.action.as_str())),
                    text(ev.and_then(|e| e.name.as_deref())),
                    ev.and_then(|e| e.value)
                        .map(|x| json!(x).to_string())
                        .unwrap_or_default(),
                    dims,
                ];
                writeln!(out, "{}", cells.join(",")).map_err(w)?;
                n += 1;
            }
        }
        ("visits", f @ ("csv" | "ndjson" | "json")) => {
            let visits = engine.export_visits(site, from, to)?;
            let cols = [
                "date",
                "visitor",
                "first_ts",
                "length",
                "actions",
                "entry_url",
                "exit_url",
                "referrer_type",
                "visitor_type",
                "visit_count",
                "user",
                "referrer",
                "device",
                "browser",
                "os",
                "country",
                "language",
            ];
            if f == "csv" {
                writeln!(out, "{}", cols.join(",")).map_err(w)?;
            }
            for r in visits {
                let v = serde_json::to_value(&r).unwrap_or_default();
                if f == "csv" {
                    let cells: Vec<String> = cols.iter().map(|c| csv_cell(&v[*c])).collect();
                    writeln!(out, "{}", cells.join(",")).map_err(w)?;
                } else {
                    writeln!(out, "{v}").map_err(w)?;
                }
                n += 1;
            }
        }
        (what, format) => {
            return Err(CliError::Usage(format!(
                "export --what {what} --format {format} is not available: use --what hits|visits with --format csv|ndjson|parquet"
            )));
        }
    }
    Ok(n)
}

fn csv_cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => csv_text(s),
        other => csv_text(&other.to_string()),
    }
}

/// Quotes a CSV field when it holds a separator, a quote or a line break.
fn csv_text(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// `hitmap demo`: a sample year (hitmap's seeded intranet generator) into
/// a store, then a few reports. A store that already holds the demo is
/// reused as it is, so running it again changes nothing.
/// The first day of `days` of sample traffic: `start`, else the day that
/// makes the traffic end yesterday (UTC), so relative dates show data.
pub fn sample_start(days: u32, start: Option<chrono::NaiveDate>) -> chrono::NaiveDate {
    start.unwrap_or_else(|| {
        chrono::Utc::now().date_naive() - chrono::Days::new(u64::from(days.max(1)))
    })
}

/// Hits the demo generates and ingests at a time.
const DEMO_CHUNK: usize = 1 << 20;

pub fn demo(
    dir: &Path,
    visitors: u32,
    days: u32,
    start: Option<chrono::NaiveDate>,
) -> Result<String, CliError> {
    use hitmap::sample::{self, SampleConfig};
    let cfg = SampleConfig {
        visitors,
        days,
        start: sample_start(days, start),
        ..SampleConfig::default()
    };
    let mut out = String::new();
    let fresh = !dir.join("MANIFEST").exists();
    // One engine for the ingest and every report: the store loads once.
    let engine = {
        let mut engine = Engine::open(dir)?;
        if fresh || engine.site_days(cfg.site).map_or(true, |d| d.is_empty()) {
            engine.add_site(sample::site_config(&cfg))?;
            // In chunks of a million hits (about a month of the default
            // traffic): memory stays bounded however many days are asked.
            let t = std::time::Instant::now();
            let mut accepted = 0;
            let mut hits = Vec::with_capacity(DEMO_CHUNK);
            let mut generated = sample::generate(&cfg).peekable();
            while generated.peek().is_some() {
                hits.clear();
                hits.extend(generated.by_ref().take(DEMO_CHUNK));
                accepted += engine.ingest(&hits)?.accepted;
            }
            engine.seal()?;
            out.push_str(&format!(
                "Generated {} hits of {} visitors over {} days and ingested them into {} in {:.1} s.\n\n",
                accepted,
                cfg.visitors,
                cfg.days,
                dir.display(),
                t.elapsed().as_secs_f64()
            ));
        } else {
            out.push_str(&format!(
                "Using the demo store already in {} (delete it to start over).\n\n",
                dir.display()
            ));
        }
        engine
    };
    // The days the store holds (a store kept from an earlier run keeps
    // its own dates).
    let held = engine.site_days(cfg.site).unwrap_or_default();
    let first = held.first().copied().unwrap_or(cfg.start);
    let last = held
        .last()
        .copied()
        .unwrap_or(cfg.start + chrono::Days::new(u64::from(cfg.days.max(1) - 1)));
    let range = format!("{first},{last}");
    let table = OutputFormat::Table;
    let ask = |title: &str, args: ReportArgs| -> Result<String, CliError> {
        Ok(format!("{title}\n{}\n", report_on(&engine, &args, table)?))
    };
    let base = ReportArgs {
        site: cfg.site,
        method: "VisitsSummary.get".into(),
        date: range.clone(),
        ..Default::default()
    };
    out.push_str(&ask(
        &format!("Visits summary, {first} to {last} (unique visitors exact):"),
        base.clone(),
    )?);
    out.push_str(&ask(
        "By month:",
        ReportArgs {
            period: Some("month".into()),
            ..base.clone()
        },
    )?);
    out.push_str(&ask(
        "Smartphone visits of HR or IT staff, in the News section:",
        ReportArgs {
            segment: Some("deviceType==smartphone;department==HR,department==IT".into()),
            section: Some("News".into()),
            ..base.clone()
        },
    )?);
    out.push_str(&ask(
        "Sections:",
        ReportArgs {
            method: "Hitmap.getSections".into(),
            ..base.clone()
        },
    )?);
    // The month in the middle of the data.
    let middle =
        first + chrono::Days::new(u64::try_from((last - first).num_days() / 2).unwrap_or(0));
    let month = middle.format("%Y-%m").to_string();
    out.push_str(&ask(
        &format!("Top pages of {month}:"),
        ReportArgs {
            method: "Actions.getPageUrls".into(),
            date: month,
            limit: Some(10),
            extra: vec!["flat=1".into()],
            ..base
        },
    )?);
    out.push_str(&path_hint());
    Ok(out)
}

/// How to run `hitmap` by name, when this binary is not on `PATH` (a
/// `cargo run` or `target/release/hitmap` after a build).
fn path_hint() -> String {
    let Some(exe) = std::env::current_exe().ok() else {
        return String::new();
    };
    let on_path = exe.parent().is_some_and(|dir| {
        std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d == dir))
    });
    if on_path {
        return String::new();
    }
    format!(
        "\nThis hitmap is {}; `cargo install --path cli` puts `hitmap` on your PATH (in ~/.cargo/bin).\n",
        exe.display()
    )
}

/// `hitmap sample`: the seeded sample traffic as NDJSON, gzip-compressed
/// when the file name ends in `.gz`; returns the number of hits.
pub fn sample(
    output: &Path,
    visitors: u32,
    days: u32,
    seed: u64,
    start: Option<chrono::NaiveDate>,
    profile: hitmap::sample::Profile,
) -> Result<(u64, chrono::NaiveDate, chrono::NaiveDate), CliError> {
    use hitmap::sample::{self, SampleConfig};
    let cfg = SampleConfig {
        visitors,
        days,
        seed,
        start: sample_start(days, start),
        profile,
        ..SampleConfig::default()
    };
    let last = cfg.start + chrono::Days::new(u64::from(days.max(1) - 1));
    let err = |e| CliError::Io(format!("cannot write {}", output.display()), e);
    let raw: Box<dyn Write> = if output == Path::new("-") {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(output).map_err(err)?)
    };
    let write = |w: &mut dyn Write| -> std::io::Result<u64> {
        let mut n = 0u64;
        for hit in sample::generate(&cfg) {
            w.write_all(sample::ndjson_line(&cfg, &hit).as_bytes())?;
            w.write_all(b"\n")?;
            n += 1;
        }
        Ok(n)
    };
    let n = if output.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(
            std::io::BufWriter::new(raw),
            flate2::Compression::fast(),
        );
        let n = write(&mut gz).map_err(err)?;
        gz.finish().and_then(|mut w| w.flush()).map_err(err)?;
        n
    } else {
        let mut w = std::io::BufWriter::new(raw);
        let n = write(&mut w).map_err(err)?;
        w.flush().map_err(err)?;
        n
    };
    Ok((n, cfg.start, last))
}

/// `hitmap goals …`: a site's goals.
#[derive(Debug, clap::Subcommand)]
pub enum GoalsCommand {
    /// Adds a goal, or replaces the goal with its id.
    Add {
        /// The store folder.
        dir: PathBuf,
        /// Site id.
        #[arg(long)]
        site: u32,
        /// Goal id (Matomo's idgoal; default: one past the highest).
        #[arg(long)]
        id: Option<u32>,
        /// The goal's name.
        #[arg(long)]
        name: String,
        /// What converts: url, title, file, external_website,
        /// event_category, event_action, event_name or manually.
        #[arg(long = "match")]
        attribute: String,
        /// The pattern (not for manually).
        #[arg(long, default_value = "")]
        pattern: String,
        /// contains, exact or regex.
        #[arg(long, default_value = "contains")]
        pattern_type: String,
        /// Compare case-sensitively.
        #[arg(long)]
        case_sensitive: bool,
        /// Convert once a second in a visit, not once a visit.
        #[arg(long)]
        allow_multiple: bool,
        /// Revenue of each conversion.
        #[arg(long, default_value_t = 0.0)]
        revenue: f64,
        /// An event goal's conversion earns its event's value.
        #[arg(long)]
        event_value_as_revenue: bool,
        /// A description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Lists a site's goals.
    List {
        /// The store folder.
        dir: PathBuf,
        /// Site id.
        #[arg(long)]
        site: u32,
        /// table, json, csv, tsv, xml or html (default: table on a terminal, json when piped).
        #[arg(long, default_value = "auto")]
        format: OutputFormat,
    },
    /// Removes a goal.
    Remove {
        /// The store folder.
        dir: PathBuf,
        /// Site id.
        #[arg(long)]
        site: u32,
        /// Goal id.
        #[arg(long)]
        id: u32,
    },
}

/// `hitmap goals add|list|remove`.
pub fn goals(command: GoalsCommand) -> Result<String, CliError> {
    match command {
        GoalsCommand::Add {
            dir,
            site,
            id,
            name,
            attribute,
            pattern,
            pattern_type,
            case_sensitive,
            allow_multiple,
            revenue,
            event_value_as_revenue,
            description,
        } => {
            let mut engine = open_existing(&dir)?;
            let existing = engine.site(site).ok_or(hitmap::Error::UnknownSite(site))?;
            let id = id.unwrap_or_else(|| {
                existing
                    .goals()
                    .iter()
                    .map(hitmap::Goal::id)
                    .max()
                    .unwrap_or(0)
                    + 1
            });
            let goal =
                hitmap::Goal::new(id, name, attribute.parse()?, pattern_type.parse()?, pattern)
                    .case_sensitive(case_sensitive)
                    .allow_multiple(allow_multiple)
                    .revenue(revenue)
                    .event_value_as_revenue(event_value_as_revenue)
                    .description(description);
            let replaced = existing.goals().iter().any(|g| g.id() == id);
            engine.set_goal(site, goal)?;
            Ok(format!(
                "goal {id} of site {site} {}; it counts over every stored day\n",
                if replaced { "replaced" } else { "added" }
            ))
        }
        GoalsCommand::List { dir, site, format } => {
            let engine = open_reader(&dir)?;
            let answer = engine.api(&format!("method=Goals.getGoals&idSite={site}&format=json"))?;
            let by_id: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
            let rows: Vec<Value> = by_id
                .as_object()
                .map(|m| m.values().cloned().collect())
                .unwrap_or_default();
            Ok(show(&Value::Array(rows), format))
        }
        GoalsCommand::Remove { dir, site, id } => {
            if open_existing(&dir)?.remove_goal(site, id)? {
                Ok(format!("goal {id} of site {site} removed\n"))
            } else {
                Err(CliError::Usage(format!("site {site} has no goal {id}")))
            }
        }
    }
}
