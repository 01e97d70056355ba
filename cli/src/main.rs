//! `hitmap`: the command line and HTTP server of the hitmap engine.

use std::io::Write;

// mimalloc: hits are many small strings made on one thread (the log
// parser) and freed on another (the committer); it keeps them cheap and
// keeps freed pages instead of faulting new ones in per batch. Built
// without transparent huge pages (cli/Cargo.toml says why).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hitmap_cli::commands::{self, GoalsCommand, ReportArgs, SiteArgs};
use hitmap_cli::output::OutputFormat;
use hitmap_cli::serve::{ServeOptions, serve};
use hitmap_cli::{CliError, http};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure (a bad site, segment or date, a damaged store, an I/O error)
  2  usage: a wrong flag or value, a missing store
  3  hitmap ingest: some lines were rejected (the other lines went in)
  4  hitmap check: damaged store files were found
  5  the store is locked by another writer

Quick start:
  hitmap demo                    # a sample year in, reports out, then served
  hitmap init ./metrics --site 1 --timezone Europe/London --section News=/news
  hitmap ingest ./metrics hits.ndjson.gz
  hitmap report ./metrics --site 1 --period month --date last3
  hitmap serve ./metrics --listen 127.0.0.1:8080

The hit format (one JSON object per line) is docs/hits.md.";

/// Exact web analytics: raw page hits in, Matomo-style reports out.
#[derive(Parser, Debug)]
#[command(name = "hitmap", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Generates a sample year of intranet traffic into a store, prints
    /// reports, then serves it over HTTP until Ctrl-C.
    #[command(
        after_help = "Examples:\n  hitmap demo\n  hitmap demo --no-serve --dir /tmp/demo --visitors 500"
    )]
    Demo {
        /// The store folder (reused when it already holds the demo).
        #[arg(long, default_value = "hitmap-demo")]
        dir: PathBuf,
        /// Distinct visitors of the sample year.
        #[arg(long, default_value_t = 3000)]
        visitors: u32,
        /// Days of sample traffic, ending yesterday (or from --start).
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// First day of the sample traffic (YYYY-MM-DD); default: the
        /// traffic ends yesterday, so `today`, `lastN` and the printed
        /// examples show data.
        #[arg(long, value_parser = parse_day_arg)]
        start: Option<chrono::NaiveDate>,
        /// Only print the reports; do not start the server.
        #[arg(long)]
        no_serve: bool,
        /// Where the server listens.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Writes sample traffic as NDJSON (gzip when the name ends in .gz):
    /// hits to try `hitmap ingest` on.
    #[command(
        after_help = "Examples:\n  hitmap sample hits.ndjson.gz --days 90\n  hitmap sample - --days 1 | head -3\n  hitmap sample heavy.ndjson --days 365 --visitors 30000 --profile heavy"
    )]
    Sample {
        /// The file to write (`-` for stdout).
        output: PathBuf,
        /// Distinct visitors.
        #[arg(long, default_value_t = 1000)]
        visitors: u32,
        /// Days of traffic, ending yesterday (or from --start).
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// First day (YYYY-MM-DD); default: the traffic ends yesterday.
        #[arg(long, value_parser = parse_day_arg)]
        start: Option<chrono::NaiveDate>,
        /// Seed of the generator (the same seed gives the same hits).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// What the hits look like: `intranet` (integer timestamps, about
        /// 176 bytes a line) or `heavy` (RFC 3339 timestamps, the visit's
        /// fields on every hit, 8,000 long URLs; about 330 bytes a line).
        #[arg(long, default_value = "intranet")]
        profile: hitmap::sample::Profile,
    },
    /// Creates a store (if missing) and adds or updates a site.
    #[command(
        after_help = "Examples:\n  hitmap init ./metrics --site 1 --timezone Europe/London --section News=/news --section HR=/teams/hr\n  hitmap init ./metrics --site 2 --host intranet.example.org --dimension department"
    )]
    Init {
        /// The store folder.
        dir: PathBuf,
        /// Site id (Matomo's idSite).
        #[arg(long)]
        site: u32,
        /// IANA time zone: days, weeks and months are the site's local ones.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Seconds of inactivity that end a visit (default 1800).
        #[arg(long)]
        visit_timeout: Option<u32>,
        /// A host name of the site (its own referrers are direct entries); repeat.
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// A named section, Name=/prefix[,/prefix]; repeat.
        #[arg(long = "section")]
        sections: Vec<String>,
        /// A custom dimension hits carry in `dims`; repeat.
        #[arg(long = "dimension")]
        dimensions: Vec<String>,
        /// An ecommerce site: its orders and abandoned carts (`order` and
        /// `cart` hits) are reported (Goals.get idGoal=ecommerceOrder).
        #[arg(long)]
        ecommerce: bool,
        /// The site's name (MultiSites and SitesManager show it; default:
        /// its first host).
        #[arg(long)]
        name: Option<String>,
        /// The site's main URL with its scheme (default: https:// and its
        /// first host).
        #[arg(long)]
        main_url: Option<String>,
        /// Drop the requests of an IP address, a range (10.0.0.0/8) or a
        /// wildcard (192.168.*.*), as Matomo's excluded IPs; repeat.
        #[arg(long = "exclude-ip")]
        exclude_ips: Vec<String>,
        /// Drop the requests whose user agent holds this text (any case),
        /// as Matomo's excluded user agents; repeat.
        #[arg(long = "exclude-user-agent")]
        exclude_user_agents: Vec<String>,
        /// Strip this URL query parameter (any case) from the page URLs
        /// the tracker and the access-log importer record (downloads and
        /// outlinks keep theirs), as Matomo's
        /// excluded parameters (Matomo's default session and click ids,
        /// gclid, fbclid, phpsessid, jsessionid, sessionid, sid, ..., are
        /// always stripped); repeat.
        #[arg(long = "exclude-parameter")]
        exclude_parameters: Vec<String>,
        /// Drop the requests to URLs not on the site's hosts or under its
        /// main URL (Matomo's "only track visits to these URLs").
        #[arg(long)]
        exclude_unknown_urls: bool,
        /// Page titles are categories joined by this text (Matomo's
        /// action_title_category_delimiter, e.g. "/" or " | "): the page
        /// title reports show a tree of them, and the tracking endpoint
        /// stores titles cleaned as Matomo's tracker does.
        #[arg(long)]
        title_category_delimiter: Option<String>,
    },
    /// Ingests NDJSON hits, or web-server access logs with --log-format
    /// (gzip, bzip2 and zstd recognised; `-` for stdin), committed in
    /// chunks (bounded memory). A file sent again is skipped; a file (NDJSON
    /// or a log) that grew, was renamed or compressed since resumes after
    /// the part the store holds (cron-safe).
    #[command(
        after_help = "Examples:\n  hitmap ingest ./metrics hits.ndjson.gz other.ndjson\n  zcat hits/*.gz | hitmap ingest ./metrics -\n  hitmap ingest ./metrics --log-format auto --idsite 1 /var/log/nginx/access.log*\n  hitmap ingest ./metrics --log-format combined --enable-http-errors --exclude-path '/admin/*' access.log.zst\n  hitmap ingest ./metrics --log-format-regex '(?P<ip>\\S+) \\[(?P<date>.*?) (?P<timezone>.*?)\\] \"\\S+ (?P<path>.*?) \\S+\" (?P<status>\\d+)' app.log\n\nLogs: the formats of Matomo's log importer (common, common_vhost, ncsa_extended or combined,\ncommon_complete, w3c_extended (iis, netscaler, incapsula_w3c, amazon_cloudfront, shoutcast),\nelb, alb, s3, nginx_json, traefik_json, caddy_json, haproxy, ovh, gandi, icecast2), and its\nrules by default: static files, robots, 4xx/5xx and 3xx (but 304) are skipped. Visitors are a\nkeyed hash of IP and user agent (or the logged user); the IP is never stored. docs/logs.md."
    )]
    Ingest {
        /// The store folder.
        dir: PathBuf,
        /// Input files (NDJSON, one hit per line, docs/hits.md; or logs).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// How many rejected (or invalid log) lines to list.
        #[arg(long, default_value_t = 10)]
        show_rejects: usize,
        /// No progress bar.
        #[arg(long)]
        no_progress: bool,
        /// Ingest even what the store already holds (by default a file
        /// sent again is skipped, chunk by chunk).
        #[arg(long)]
        force: bool,
        /// Name the input (e.g. the file's name and date) instead of
        /// recognising it by content; chunk n is ID#n (NDJSON only).
        #[arg(long)]
        batch_id: Option<String>,
        #[command(flatten)]
        log: Box<commands::LogArgs>,
    },
    /// Imports Matomo's raw log tables from MariaDB/MySQL, resuming at the
    /// store's checkpoint; with --follow, keeps importing new rows (in
    /// place of Matomo's core:archive).
    #[command(
        after_help = "Examples:\n  hitmap import-matomo ./metrics --dsn mysql://matomo:secret@127.0.0.1:3306/matomo --site 1 --from 2025-01-01\n  hitmap import-matomo ./metrics --dsn 'mysql://root@localhost/matomo?socket=/run/mysqld/mysqld.sock' --keep-visits --follow\n\nThe DSN may also come from HITMAP_MATOMO_DSN (keeps the password out of the process list)."
    )]
    ImportMatomo {
        /// The store folder.
        dir: PathBuf,
        /// mysql://user:password@host:port/database (or ?socket=/path).
        #[arg(long, env = "HITMAP_MATOMO_DSN", hide_env_values = true)]
        dsn: String,
        /// A Matomo site id to import; repeat. Default: every site.
        #[arg(long = "site")]
        sites: Vec<u32>,
        /// First local day to import (fixed for the store once set).
        #[arg(long)]
        from: Option<String>,
        /// Last local day to import (fixed like --from).
        #[arg(long)]
        to: Option<String>,
        /// Keep Matomo's visits (idvisit) so numbers match Matomo's to the
        /// visit, instead of hitmap's sessionization.
        #[arg(long)]
        keep_visits: bool,
        /// Matomo's table prefix.
        #[arg(long, default_value = "matomo_")]
        prefix: String,
        /// Rows per committed batch.
        #[arg(long, default_value_t = 100_000)]
        batch_rows: usize,
        /// Leave rows younger than this many seconds for the next run
        /// (the tracker may still be writing older ids).
        #[arg(long, default_value_t = 60)]
        settle_secs: u32,
        /// Keep running: import new rows every --interval seconds.
        #[arg(long)]
        follow: bool,
        /// Seconds between runs with --follow.
        #[arg(long, default_value_t = 60)]
        interval: u64,
        /// No progress on stderr.
        #[arg(long)]
        no_progress: bool,
    },
    /// Any Reporting API report, as a table, JSON, CSV, TSV or XML.
    #[command(
        after_help = "Examples:\n  hitmap report ./metrics --site 1 --period month --date last3 --segment 'deviceType==smartphone' --section News\n  hitmap report ./metrics --site 1 --method Actions.getDownloads --date 2026-03 --format csv"
    )]
    Report {
        /// The store folder.
        dir: PathBuf,
        #[command(flatten)]
        query: QueryArgs,
        /// Module.method (see `hitmap report --help` examples).
        #[arg(long, default_value = "VisitsSummary.get")]
        method: String,
    },
    /// The top pages (Actions.getPageUrls, flat) of a period.
    #[command(
        after_help = "Examples:\n  hitmap pages ./metrics --site 1 --date 2026-03 --limit 20\n  hitmap pages ./metrics --site 1 --date last7 --period day --section News"
    )]
    Pages {
        /// The store folder.
        dir: PathBuf,
        #[command(flatten)]
        query: QueryArgs,
    },
    /// Lists the sites: time zone, sections, days held, hits, bytes.
    Sites {
        /// The store folder.
        dir: PathBuf,
        /// table, json, csv, tsv, xml or html (default: table on a terminal, json when piped).
        #[arg(long, default_value = "auto")]
        format: OutputFormat,
    },
    /// Forgets a visitor everywhere (right to erasure).
    Forget {
        /// The store folder.
        dir: PathBuf,
        /// Site id.
        #[arg(long)]
        site: u32,
        /// The visitor key of the hits.
        #[arg(long)]
        visitor: String,
    },
    /// Deletes a site's days from..to (local days, both included).
    Delete {
        /// The store folder.
        dir: PathBuf,
        /// Site id.
        #[arg(long)]
        site: u32,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        to: String,
    },
    /// Publishes the store's current commit to an object store (S3, GCS,
    /// Azure Blob) for `hitmap serve URL` and other readers: seals live
    /// data, uploads the files the bucket lacks, then the manifest.
    #[command(
        after_help = "Examples:\n  AWS_REGION=eu-west-1 hitmap publish ./metrics s3://analytics/hitmap\n  AWS_ENDPOINT=http://127.0.0.1:9000 AWS_ALLOW_HTTP=true hitmap publish ./metrics s3://bucket/prefix\n\nCredentials and endpoints come from the usual environment (AWS_*, GOOGLE_*, AZURE_*).\nThis store is the one writer of that prefix."
    )]
    Publish {
        /// The store folder.
        dir: PathBuf,
        /// s3://bucket/prefix, gs://bucket/prefix or az://container/prefix.
        url: String,
        /// Keep files a publish supersedes this many seconds (readers that
        /// loaded the previous manifest may still fetch them).
        #[arg(long, default_value_t = 3600)]
        retain_s: u64,
    },
    /// Writes one local day of a site as a self-contained bundle (its
    /// configuration, that day's dictionaries and archive, checksummed):
    /// to copy a day to another store, or to object storage.
    #[command(
        after_help = "Examples:\n  hitmap export-day ./metrics --site 1 --date 2026-03-05 --out 2026-03-05.day\n  hitmap import-day ./replica 2026-03-05.day"
    )]
    ExportDay {
        /// The store folder.
        dir: PathBuf,
        /// Site id.
        #[arg(long)]
        site: u32,
        /// The local day, YYYY-MM-DD.
        #[arg(long)]
        date: String,
        /// The bundle file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Loads day bundles written by `export-day` (or Engine::export_day)
    /// into a store; the site is added from the bundle when missing.
    ImportDay {
        /// The store folder (created when missing).
        dir: PathBuf,
        /// Bundle files.
        #[arg(required = true)]
        bundles: Vec<PathBuf>,
    },
    /// A site's goals: add (or replace), list, remove. Goals count over
    /// the stored actions when asked: a goal added today answers for
    /// every past day at once (Goals.get, VisitsSummary.get).
    #[command(
        subcommand,
        after_help = "Examples:\n  hitmap goals add ./metrics --site 1 --name Newsletter --match url --pattern /newsletter/thanks\n  hitmap goals add ./metrics --site 1 --id 2 --name Brochure --match file --pattern-type regex --pattern 'brochure.*\\.pdf$' --revenue 5\n  hitmap goals list ./metrics --site 1\n  hitmap goals remove ./metrics --site 1 --id 2\n  hitmap report ./metrics --site 1 --period year --date 2025-01-01 --method Goals.get --param idGoal=1"
    )]
    Goals(GoalsCommand),
    /// Removes a site and all its data.
    DropSite {
        /// The store folder.
        dir: PathBuf,
        /// Site id.
        #[arg(long)]
        site: u32,
    },
    /// Verifies every file's checksum; exit 4 names damaged files.
    Check {
        /// The store folder.
        dir: PathBuf,
        /// Rebuild a lost or damaged MANIFEST from the checksummed files
        /// (deletes nothing).
        #[arg(long)]
        repair: bool,
        /// Then rewrite day files of older format versions in today's, a
        /// month per commit, and rebuild older report rollups: same
        /// answers, segmented questions read only the columns they use,
        /// and every report of a whole month or year comes from its rollup.
        #[arg(long)]
        upgrade: bool,
    },
    /// Raw data for BI tools: the stored hits or visits of a range.
    #[command(
        after_help = "Examples:\n  hitmap export ./metrics --site 1 --from 2026-03-01 --to 2026-03-31 --what visits --format csv > visits.csv\n  hitmap export ./metrics --site 1 --from 2026-03-01 --to 2026-03-01 --what hits --format ndjson"
    )]
    Export {
        /// The store folder.
        dir: PathBuf,
        /// Site id.
        #[arg(long)]
        site: u32,
        /// First local day (YYYY-MM-DD, or today, yesterday, lastN: the first of those days).
        #[arg(long)]
        from: String,
        /// Last local day (YYYY-MM-DD, or today, yesterday).
        #[arg(long)]
        to: String,
        /// hits (the input records) or visits.
        #[arg(long, default_value = "hits")]
        what: String,
        /// csv, ndjson or parquet (typed columns, a row group per day).
        #[arg(long, default_value = "csv")]
        format: String,
        /// Write here instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Serves Matomo's Reporting API and the REST layout over HTTP.
    #[command(
        after_help = "Examples:\n  hitmap serve ./metrics --listen 127.0.0.1:8080\n  curl 'http://127.0.0.1:8080/index.php?module=API&method=VisitsSummary.get&idSite=1&period=month&date=last3'\n  curl 'http://127.0.0.1:8080/v1/sites/1/pages?from=2026-03-01&to=2026-03-31&filter_limit=10'\n  hitmap serve ./metrics --track   # also Matomo's tracking API at /matomo.php (docs/tracking.md)\n\nA token file holds one token a line, optionally with the sites it may read: `TOKEN 1,3`."
    )]
    Serve {
        /// The store folder, or the object store URL it was published to
        /// (s3://bucket/prefix, gs://…, az://…; read-only).
        dir: PathBuf,
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Require a token (token_auth= or Authorization: Bearer) from this file.
        #[arg(long)]
        token_file: Option<PathBuf>,
        /// Allow this origin to call from a browser (`*` for any); repeat.
        #[arg(long = "cors-origin")]
        cors_origins: Vec<String>,
        /// Requests answered at once; more get 429.
        #[arg(long, default_value_t = 64)]
        max_concurrent: usize,
        /// Time budget of one request in milliseconds; past it, 503.
        #[arg(long, default_value_t = 10_000)]
        timeout_ms: u64,
        /// Largest query string plus body in bytes; larger gets 413.
        #[arg(long, default_value_t = 65_536)]
        max_request_bytes: usize,
        /// How often to look for new commits to the store, in milliseconds.
        #[arg(long, default_value_t = 1_000)]
        refresh_ms: u64,
        /// Memory for day archives between requests, in MiB (the server
        /// reads days as requests and, with --track, batches need them).
        #[arg(long, default_value_t = hitmap::DEFAULT_CACHE_MB)]
        cache_mb: usize,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        track: Box<TrackArgs>,
    },
}

fn parse_day_arg(s: &str) -> Result<chrono::NaiveDate, String> {
    hitmap::parse_day(s).map_err(|e| e.to_string())
}

/// `hitmap serve`: bounds on connections and request bodies.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Connections")]
struct LimitArgs {
    /// Connections open at once (0: the open-file limit less 64); more
    /// wait in the kernel's queue.
    #[arg(long, default_value_t = 0)]
    max_connections: usize,
    /// Time to send a request's headers, and the longest idle time of a
    /// kept-alive connection, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Time to send a request's body, in milliseconds; slower gets 408.
    #[arg(long, default_value_t = 10_000)]
    body_timeout_ms: u64,
    /// Request bodies held in memory at once, in MiB; a body that finds
    /// no room within the body timeout gets 503.
    #[arg(long, default_value_t = 64)]
    max_inflight_mb: usize,
    /// Largest tracking request body (a bulk request) in bytes; larger gets 413.
    #[arg(long, default_value_t = 8 << 20)]
    max_track_body_bytes: usize,
}

impl LimitArgs {
    fn limits(&self) -> hitmap_cli::serve::Limits {
        hitmap_cli::serve::Limits {
            max_connections: self.max_connections,
            header_timeout: Duration::from_millis(self.header_timeout_ms.max(1)),
            body_timeout: Duration::from_millis(self.body_timeout_ms.max(1)),
            max_inflight_bytes: self.max_inflight_mb.max(1) << 20,
        }
    }
}

/// `hitmap serve --track`: Matomo's tracking endpoint.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Tracking")]
struct TrackArgs {
    /// Take Matomo tracker requests at /matomo.php and /piwik.php (the
    /// server becomes the store's writer; queries see each hit once it is
    /// acknowledged).
    #[arg(long)]
    track: bool,
    /// Wait this long for more requests before a commit (group commit);
    /// 0 commits as soon as the previous commit is durable.
    #[arg(long, default_value_t = 0)]
    commit_ms: u64,
    /// Seal live data into day files after this many idle seconds.
    #[arg(long, default_value_t = 300)]
    seal_idle_s: u64,
    /// `uid` names the visitor (one person across devices).
    #[arg(long)]
    user_id_is_visitor: bool,
    /// Mask this many bytes of each IP address first (Matomo's IP anonymisation).
    #[arg(long, default_value_t = 0)]
    anonymize_ip: u8,
    /// Countries from this MaxMind-format database (else from the browser language).
    #[arg(long, env = "HITMAP_GEOIP")]
    geoip: Option<PathBuf>,
    /// Browsers, systems and devices as Matomo names them, with brand,
    /// model and engine: Matomo's DeviceDetector rules (a directory:
    /// device-detector's regexes/, or PyPI's device_detector package).
    #[arg(long, env = "HITMAP_DEVICE_DETECTOR")]
    device_detector: Option<PathBuf>,
}

/// Flags shared by `report` and `pages`.
#[derive(clap::Args, Debug)]
struct QueryArgs {
    /// Site id.
    #[arg(long)]
    site: u32,
    /// day, week, month, year or range (default: from the date's form).
    #[arg(long)]
    period: Option<String>,
    /// YYYY-MM-DD, YYYY-MM, YYYY, A,B, today, yesterday, lastN, previousN.
    #[arg(long, default_value = "yesterday")]
    date: String,
    /// A Matomo segment, e.g. 'deviceType==smartphone;pageUrl=@news'.
    #[arg(long)]
    segment: Option<String>,
    /// A path prefix (/news) or a section name.
    #[arg(long)]
    section: Option<String>,
    /// Rows to show (-1: every row).
    #[arg(long, allow_negative_numbers = true)]
    limit: Option<i64>,
    /// Any further Reporting API parameter, key=value; repeat.
    #[arg(long = "param")]
    params: Vec<String>,
    /// Print the files and bytes read from the store to stderr (the
    /// store is read lazily: the days asked, and each site's head files).
    #[arg(long)]
    read_stats: bool,
    /// table, json, csv, tsv, xml or html (default: table on a terminal, json when piped).
    #[arg(long, default_value = "auto")]
    format: OutputFormat,
}

impl QueryArgs {
    fn report(&self, method: &str) -> ReportArgs {
        ReportArgs {
            site: self.site,
            method: method.to_string(),
            period: self.period.clone(),
            date: self.date.clone(),
            segment: self.segment.clone(),
            section: self.section.clone(),
            limit: self.limit,
            extra: self.params.clone(),
            read_stats: self.read_stats,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hitmap: {e}");
            ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(1))
        }
    }
}

fn run(command: Command) -> Result<String, CliError> {
    match command {
        Command::Demo {
            dir,
            visitors,
            days,
            start,
            no_serve,
            listen,
        } => {
            let out = commands::demo(&dir, visitors, days, start)?;
            if no_serve {
                return Ok(out);
            }
            // The dashboard first: what a person opens.
            println!(
                "Dashboard: http://{listen}/ (open it in a browser once the server is listening)\n"
            );
            print!("{out}");
            let _ = std::io::stdout().flush();
            serve_store(ServeOptions {
                dir,
                cache_mb: hitmap::DEFAULT_CACHE_MB,
                listen,
                config: http::Config::default(),
                cors_origins: Vec::new(),
                max_concurrent: 64,
                refresh: Duration::from_secs(1),
                track: None,
                limits: Default::default(),
            })?;
            Ok(String::new())
        }
        Command::Sample {
            output,
            visitors,
            days,
            start,
            seed,
            profile,
        } => {
            let (n, first, last) = commands::sample(&output, visitors, days, seed, start, profile)?;
            eprintln!(
                "wrote {n} hits of site 1 from {first} to {last} (time zone Europe/London, sections News, HR, IT; `hitmap demo` sets such a site up)"
            );
            Ok(String::new())
        }
        Command::Init {
            dir,
            site,
            timezone,
            visit_timeout,
            hosts,
            sections,
            dimensions,
            ecommerce,
            name,
            main_url,
            exclude_ips,
            exclude_user_agents,
            exclude_parameters,
            exclude_unknown_urls,
            title_category_delimiter,
        } => commands::init(
            &dir,
            &SiteArgs {
                site,
                timezone,
                visit_timeout,
                hosts,
                sections,
                dimensions,
                ecommerce,
                name,
                main_url,
                exclude_ips,
                exclude_user_agents,
                exclude_parameters,
                exclude_unknown_urls,
                title_category_delimiter,
            },
        ),
        Command::Ingest {
            dir,
            files,
            show_rejects,
            no_progress,
            force,
            batch_id,
            log,
        } => {
            let rejected = if log.is_log() {
                let (s, report) =
                    commands::ingest_logs(&dir, &files, &log, show_rejects, force, !no_progress)?;
                eprint!("{report}");
                s.rejected
            } else {
                let mut options = hitmap::IngestOptions::default().force(force);
                if let Some(id) = batch_id {
                    options = options.batch_id(id);
                }
                let s = commands::ingest(&dir, &files, show_rejects, !no_progress, &options)?;
                eprint!("{}", s.report);
                s.rejected
            };
            if rejected > 0 {
                return Err(CliError::Rejected(rejected));
            }
            Ok(String::new())
        }
        Command::ImportMatomo {
            dir,
            dsn,
            sites,
            from,
            to,
            keep_visits,
            prefix,
            batch_rows,
            settle_secs,
            follow,
            interval,
            no_progress,
        } => {
            let day = |d: Option<String>| d.as_deref().map(hitmap::parse_day).transpose();
            let options = hitmap_intake::matomo::ImportOptions {
                prefix,
                sites: (!sites.is_empty()).then_some(sites),
                from: day(from)?,
                to: day(to)?,
                keep_visits,
                batch_rows,
                settle_secs,
            };
            let args = hitmap_cli::matomo::ImportArgs {
                dsn,
                options,
                follow,
                interval: Duration::from_secs(interval),
                progress: !no_progress,
            };
            hitmap_cli::matomo::import(&dir, &args)
        }
        Command::Report { dir, query, method } => {
            commands::report(&dir, &query.report(&method), query.format)
        }
        Command::Pages { dir, query } => {
            let mut args = query.report("Actions.getPageUrls");
            args.extra.push("flat=1".into());
            if args.limit.is_none() {
                args.limit = Some(20);
            }
            commands::report(&dir, &args, query.format)
        }
        Command::Sites { dir, format } => commands::sites(&dir, format),
        Command::Forget { dir, site, visitor } => {
            let n = commands::open_existing(&dir)?.forget_visitor(site, &visitor)?;
            Ok(format!(
                "forgot visitor {visitor:?} of site {site}: {n} hits removed from every file\n"
            ))
        }
        Command::Delete {
            dir,
            site,
            from,
            to,
        } => {
            commands::open_existing(&dir)?.delete_range(site, from.as_str(), to.as_str())?;
            Ok(format!(
                "deleted {from}..{to} of site {site} from every file\n"
            ))
        }
        Command::ExportDay {
            dir,
            site,
            date,
            out,
        } => commands::export_day(&dir, site, &date, &out),
        Command::ImportDay { dir, bundles } => commands::import_day(&dir, &bundles),
        Command::Publish { dir, url, retain_s } => {
            commands::publish(&dir, &url, Duration::from_secs(retain_s))
        }
        Command::Goals(command) => commands::goals(command),
        Command::DropSite { dir, site } => {
            commands::open_existing(&dir)?.drop_site(site)?;
            Ok(format!("site {site} and all its data removed\n"))
        }
        Command::Check {
            dir,
            repair,
            upgrade,
        } => commands::check(&dir, repair, upgrade),
        Command::Export {
            dir,
            site,
            from,
            to,
            what,
            format,
            output,
        } => {
            let n = match &output {
                Some(path) => {
                    let mut f =
                        std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| {
                            CliError::Io(format!("cannot create {}", path.display()), e)
                        })?);
                    let n = commands::export(&dir, site, &from, &to, &what, &format, &mut f)?;
                    f.flush()
                        .map_err(|e| CliError::Io(format!("cannot write {}", path.display()), e))?;
                    n
                }
                None => {
                    use std::io::IsTerminal;
                    if format == "parquet" && std::io::stdout().is_terminal() {
                        return Err(CliError::Usage(
                            "Parquet is binary: write it to a file with --output FILE (or redirect stdout)".into(),
                        ));
                    }
                    let mut out = std::io::BufWriter::new(std::io::stdout());
                    let n = commands::export(&dir, site, &from, &to, &what, &format, &mut out)?;
                    out.flush()
                        .map_err(|e| CliError::Io("cannot write stdout".into(), e))?;
                    n
                }
            };
            eprintln!("exported {n} {what}");
            Ok(String::new())
        }
        Command::Serve {
            dir,
            listen,
            token_file,
            cors_origins,
            max_concurrent,
            timeout_ms,
            max_request_bytes,
            refresh_ms,
            cache_mb,
            limits,
            track,
        } => {
            let tokens = match &token_file {
                None => http::Tokens::default(),
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| CliError::Io(format!("cannot read {}", path.display()), e))?;
                    http::Tokens::parse(&text)
                        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?
                }
            };
            let config = http::Config {
                tokens,
                max_request_bytes,
                timeout: Duration::from_millis(timeout_ms),
            };
            let track = track.track.then(|| hitmap_cli::track::TrackConfig {
                options: hitmap_intake::track::TrackOptions {
                    tokens: config.tokens.access(),
                    user_id_is_visitor: track.user_id_is_visitor,
                    anonymize_ip: track.anonymize_ip,
                    geoip: track.geoip.clone(),
                    device_detector: track.device_detector.clone(),
                },
                commit_interval: Duration::from_millis(track.commit_ms),
                seal_idle: Duration::from_secs(track.seal_idle_s.max(1)),
                max_body_bytes: limits.max_track_body_bytes,
            });
            let options = ServeOptions {
                dir: dir.clone(),
                cache_mb,
                listen,
                config,
                cors_origins,
                max_concurrent: max_concurrent.max(1),
                refresh: Duration::from_millis(refresh_ms.max(10)),
                track,
                limits: limits.limits(),
            };
            serve_store(options)?;
            Ok(String::new())
        }
    }
}

fn serve_store(options: ServeOptions) -> Result<(), CliError> {
    let dir = options.dir.clone();
    let tracking = options.track.is_some();
    serve(options, |addr| {
        // Written with errors ignored: a closed stdout must not stop the server.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = writeln!(out, "  dashboard: http://{addr}/");
        let _ = writeln!(
            out,
            "  try: curl 'http://{addr}/index.php?module=API&method=VisitsSummary.get&idSite=1&period=month&date=last3'"
        );
        let _ = writeln!(
            out,
            "  REST: http://{addr}/v1/sites/1/visits?date=last30   OpenAPI: http://{addr}/openapi.json"
        );
        if tracking {
            let _ = writeln!(
                out,
                "  tracking: http://{addr}/matomo.php (Matomo's tracker; set it as the tracker URL)"
            );
        }
        let _ = writeln!(out, "serving {} until Ctrl-C", dir.display());
        let _ = out.flush();
    })?;
    eprintln!("hitmap: stopped");
    Ok(())
}
