//! Matomo's raw log tables into hits.
//!
//! [`import`] reads a Matomo database through any SQL client that
//! implements [`Database`] (the `hitmap` command uses the `mysql` crate,
//! Python uses PyMySQL), so the queries, the mapping and the checkpoint
//! rules exist once:
//!
//! 1. the sites (`site`, `site_url`, `custom_dimensions`) become hitmap
//!    sites with the same id, time zone, hosts and custom dimension names
//!    (a site already in the store keeps its configuration; its time zone
//!    must agree);
//! 2. actions (`log_link_visit_action`) are read in batches in
//!    `idlink_va` order, the table's primary key, so every batch is one
//!    index range scan; their visits (`log_visit`) and names
//!    (`log_action`, cached) follow by primary key, and the recorded
//!    conversions up to the batch's last action (`conversions.rs`). A
//!    visit that was still open at the last run simply goes on with its
//!    newer rows;
//! 3. each batch is committed with the checkpoint `matomo:<site>` in the
//!    same commit ([`hitmap::IngestOptions::cursor`]): an interrupted
//!    import resumes after the last committed row, and a repeated run
//!    reads only what is new (the continuous mode that replaces
//!    `core:archive`).
//!
//! The mapping of one row is in [`row`]; DeviceDetector's codes in
//! [`hitmap::device_codes`]. [`import_pipelined`] runs the reading, the
//! lookups and the commits as stages on threads (`Reader`, `Mapper`).

mod conversions;
pub mod row;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::mpsc::{Receiver, SyncSender};

use chrono::{NaiveDate, NaiveTime, TimeZone};
use hitmap::{Engine, IngestOptions, SiteConfig};

use crate::{Error, Result};
pub use row::{ActionName, Columns, Names, RowOutcome};

/// One value of a result row. The importer's queries return only
/// integers, floats, text and NULL (times as Unix seconds, binary ids as
/// hex), so every client maps its values onto these four.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// An integer column.
    Int(i64),
    /// A floating-point column.
    Float(f64),
    /// A text column (bytes that are not UTF-8 are replaced).
    Text(String),
}

impl Value {
    /// The value as an integer, if it is one (or a text of one).
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::matomo::Value;
    /// assert_eq!(Value::Text("7".into()).int(), Some(7));
    /// assert_eq!(Value::Null.int(), None);
    /// ```
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Value::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a float, if it is a number.
    pub fn float(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Text(s) => s.trim().parse().ok(),
            Value::Null => None,
        }
    }

    /// The value as non-empty text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(s) if !s.is_empty() => Some(s),
            _ => None,
        }
    }
}

/// A connection to Matomo's database. The importer sends only `SELECT`
/// statements with every value inlined (integers and dates it formatted
/// itself), so any client's plain query call will do.
pub trait Database {
    /// Runs one query and returns its rows, values in `SELECT` order.
    fn query(&mut self, sql: &str) -> std::result::Result<Vec<Vec<Value>>, String>;
}

/// How to import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportOptions {
    /// Matomo's table prefix (`matomo_` by default; `piwik_` on old
    /// installations, `` for none).
    pub prefix: String,
    /// The sites to import; `None` for every site of the database.
    pub sites: Option<Vec<u32>>,
    /// First local day to import (the site's time zone); fixed for a
    /// store once its first batch is in.
    pub from: Option<NaiveDate>,
    /// Last local day to import; fixed like `from`.
    pub to: Option<NaiveDate>,
    /// Keep Matomo's visits (`idvisit`) instead of re-sessionizing with
    /// hitmap's rules, so that numbers match Matomo's to the visit.
    pub keep_visits: bool,
    /// Rows per batch (each batch is one commit).
    pub batch_rows: usize,
    /// Rows newer than this many seconds (by the database's clock) wait
    /// for the next run: Matomo's tracker may still be committing rows
    /// with smaller ids, which a checkpoint must not skip.
    pub settle_secs: u32,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            prefix: "matomo_".into(),
            sites: None,
            from: None,
            to: None,
            keep_visits: false,
            batch_rows: 100_000,
            settle_secs: 60,
        }
    }
}

/// Where an import stands, given after every committed batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// The site being imported.
    pub site: u32,
    /// Rows read for this site in this run.
    pub rows: u64,
    /// Hits the engine accepted.
    pub hits: u64,
    /// The last committed `idlink_va`.
    pub cursor: u64,
}

/// What one run imported for one site.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteSummary {
    /// The site.
    pub site: u32,
    /// Rows read.
    pub rows: u64,
    /// Hits the engine accepted.
    pub hits: u64,
    /// Rows that are not hits (content impressions, ecommerce items,
    /// page views without a URL, ...), by reason.
    pub skipped: BTreeMap<String, u64>,
    /// Rows the engine rejected, by reason (none on a sound database).
    pub rejected: BTreeMap<String, u64>,
    /// Recorded conversions read (`log_conversion` rows of manual goals,
    /// orders and abandoned carts) and accepted.
    pub conversions: (u64, u64),
    /// The checkpoint after the run (last committed `idlink_va`).
    pub cursor: u64,
    /// Whether rows were left for the next run because they were newer
    /// than [`ImportOptions::settle_secs`].
    pub settling: bool,
}

/// What one run imported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Per site, in id order.
    pub sites: Vec<SiteSummary>,
}

impl Summary {
    /// Rows read over all sites.
    pub fn rows(&self) -> u64 {
        self.sites.iter().map(|s| s.rows).sum()
    }

    /// Hits accepted over all sites.
    pub fn hits(&self) -> u64 {
        self.sites.iter().map(|s| s.hits).sum()
    }
}

/// The checkpoint a store keeps per Matomo site: the last committed
/// `idlink_va` and the window and mode it was taken with.
#[derive(Debug, Clone, PartialEq)]
struct Checkpoint {
    cursor: u64,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    keep_visits: bool,
    /// The last committed conversion (`conversions.rs`), if any.
    conversions: Option<[i64; 4]>,
}

impl Checkpoint {
    fn key(site: u32) -> String {
        format!("matomo:{site}")
    }

    fn encode(&self) -> String {
        let day = |d: Option<NaiveDate>| d.map_or("-".to_string(), |d| d.to_string());
        let mut text = format!(
            "v1;cursor={};from={};to={};visits={}",
            self.cursor,
            day(self.from),
            day(self.to),
            if self.keep_visits {
                "keep"
            } else {
                "sessionize"
            }
        );
        if let Some(c) = self.conversions {
            text += &format!(";conversions={}", conversions::encode(c));
        }
        text
    }

    fn decode(text: &str) -> Option<Checkpoint> {
        let mut parts = text.split(';');
        if parts.next()? != "v1" {
            return None;
        }
        let mut fields = BTreeMap::new();
        for p in parts {
            let (k, v) = p.split_once('=')?;
            fields.insert(k, v);
        }
        let day = |k: &str| -> Option<Option<NaiveDate>> {
            match *fields.get(k)? {
                "-" => Some(None),
                d => d.parse().ok().map(Some),
            }
        };
        Some(Checkpoint {
            cursor: fields.get("cursor")?.parse().ok()?,
            from: day("from")?,
            to: day("to")?,
            keep_visits: match *fields.get("visits")? {
                "keep" => true,
                "sessionize" => false,
                _ => return None,
            },
            conversions: match fields.get("conversions") {
                Some(c) => Some(conversions::decode(c)?),
                None => None,
            },
        })
    }
}

/// A Matomo site as the importer needs it.
#[derive(Debug, Clone)]
struct MatomoSite {
    id: u32,
    time_zone: String,
    hosts: Vec<String>,
    /// Matomo's site name and main URL.
    name: Option<String>,
    main_url: Option<String>,
    /// (scope, index, name) of the active custom dimensions.
    dimensions: Vec<(String, u32, String)>,
    /// Matomo's `idcustomdimension` of each, in the same order.
    dimension_ids: Vec<u32>,
}

/// Imports Matomo's raw data into `engine`, committing a batch at a time
/// with its checkpoint; see the module documentation. `progress` is
/// called after every committed batch.
///
/// # Errors
/// [`Error::Database`] when a query fails (what was committed before
/// stays, and the next run resumes there), [`Error::Schema`] when a table
/// or site is missing, [`Error::Config`] for an unusable option or time
/// zone, [`Error::Checkpoint`] when the store was imported with another
/// window or mode.
pub fn import(
    engine: &mut Engine,
    db: &mut dyn Database,
    options: &ImportOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Summary> {
    let (schema, sites, goals) = prepare(engine, db, options)?;
    let mut summary = Summary::default();
    for site in &sites {
        let (mut s, mut reader, mut mapper) = start_site(engine, options, &schema, site, &goals)?;
        let spares = mapper.spares();
        while let Some(rows) = reader.next(db)? {
            let spent = commit(engine, mapper.map(db, rows)?, &mut s, progress)?;
            let _ = spares.try_send(spent);
        }
        finish_site(engine, db, options, site, &goals, mapper, &mut s)?;
        summary.sites.push(s);
    }
    Ok(summary)
}

/// [`import`] with the reading on other threads, for clients that can
/// move to another thread (the `mysql` crate's). With one connection, one
/// thread reads and maps the next batch while the engine commits one;
/// with two, the first connection reads the actions and the second their
/// visits, names and conversions, so three stages overlap (MariaDB runs
/// each query on one thread). Connections after the second are not
/// used. Same results either way; the first connection also reads the
/// sites, and the conversions newer than the last action.
///
/// # Errors
/// As [`import`]; [`Error::Config`] for an empty `dbs`.
pub fn import_pipelined<D: Database + Send>(
    engine: &mut Engine,
    dbs: &mut [D],
    options: &ImportOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Summary> {
    let Some((db, rest)) = dbs.split_first_mut() else {
        return Err(Error::Config("import_pipelined needs a connection".into()));
    };
    let (schema, sites, goals) = prepare(engine, db, options)?;
    let mut summary = Summary::default();
    for site in &sites {
        let (mut s, mut reader, mut mapper) = start_site(engine, options, &schema, site, &goals)?;
        let reading: &mut D = &mut *db;
        let lookups: Option<&mut D> = rest.first_mut();
        let spares = mapper.spares();
        // Borrowed by the stages, handed to `finish_site` after them.
        let mapping = &mut mapper;
        std::thread::scope(|scope| -> Result<()> {
            // One batch ahead at each stage: memory stays bounded.
            let (tx, rx) = std::sync::mpsc::sync_channel::<Result<Batch>>(1);
            match lookups {
                None => {
                    scope.spawn(move || {
                        produce(&tx, || match reader.next(reading)? {
                            Some(rows) => mapping.map(reading, rows).map(Some),
                            None => Ok(None),
                        });
                    });
                }
                Some(lookups) => {
                    let (rows_tx, rows_rx) = std::sync::mpsc::sync_channel::<Result<Rows>>(1);
                    scope.spawn(move || produce(&rows_tx, || reader.next(reading)));
                    scope.spawn(move || {
                        let mut rows = rows_rx.into_iter();
                        produce(&tx, || match rows.next() {
                            Some(r) => mapping.map(lookups, r?).map(Some),
                            None => Ok(None),
                        });
                    });
                }
            }
            for batch in rx.iter() {
                // An error drops the receiver, which stops the stages
                // before it, one after the other.
                let spent = commit(engine, batch?, &mut s, progress)?;
                let _ = spares.try_send(spent);
            }
            Ok(())
        })?;
        finish_site(engine, db, options, site, &goals, mapper, &mut s)?;
        summary.sites.push(s);
    }
    Ok(summary)
}

/// Sends what `next` makes until it has nothing more, fails (the error is
/// sent too), or the receiver is gone.
fn produce<T>(
    tx: &std::sync::mpsc::SyncSender<Result<T>>,
    mut next: impl FnMut() -> Result<Option<T>>,
) {
    loop {
        match next() {
            Ok(Some(item)) => {
                if tx.send(Ok(item)).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        }
    }
}

/// After a site's actions: its recorded conversions newer than the last
/// action (`conversions.rs`), a batch a commit, and the goals hitmap
/// could not take, noted as skipped.
fn finish_site(
    engine: &mut Engine,
    db: &mut dyn Database,
    options: &ImportOptions,
    site: &MatomoSite,
    goals: &BTreeMap<u32, conversions::SiteGoals>,
    mapper: Mapper,
    s: &mut SiteSummary,
) -> Result<()> {
    if let Some(g) = goals.get(&site.id) {
        for why in &g.unsupported {
            *s.skipped.entry(why.clone()).or_default() += 1;
        }
    }
    let Some(mut conv) = mapper.conversions else {
        return Ok(());
    };
    let settled = settled_before(db, options.settle_secs)?;
    loop {
        let mut hits = Vec::new();
        let mut skipped = BTreeMap::new();
        let read = conv.read(db, settled, &mut hits, &mut skipped)?;
        if read.rows == 0 {
            return Ok(());
        }
        // The actions' checkpoint as the last commit left it.
        let checkpoint = Checkpoint {
            cursor: s.cursor,
            from: options.from,
            to: options.to,
            keep_visits: options.keep_visits,
            conversions: conv.checkpoint(),
        };
        let batch = Batch {
            hits,
            rows: 0,
            actions: 0,
            conversions: read.rows,
            skipped,
            checkpoint,
            settling: false,
        };
        commit(engine, batch, s, &mut |_| {})?;
        if !read.full {
            return Ok(());
        }
    }
}

/// A site's summary, action reader and mapper, from the store's
/// checkpoint.
fn start_site(
    engine: &Engine,
    options: &ImportOptions,
    schema: &Schema,
    site: &MatomoSite,
    goals: &BTreeMap<u32, conversions::SiteGoals>,
) -> Result<(SiteSummary, Reader, Mapper)> {
    let checkpoint = start_checkpoint(engine, options, site.id)?;
    let window = window_sql(site, options)?;
    let conversions = goals.get(&site.id).and_then(|g| {
        conversions::Conversions::new(engine, options, site, g, &window, checkpoint.conversions)
    });
    let summary = SiteSummary {
        site: site.id,
        cursor: checkpoint.cursor,
        ..SiteSummary::default()
    };
    let columns = Columns::new(
        &options.prefix,
        &schema.visit_columns,
        &schema.action_columns,
        &site.dimensions,
    );
    let mapper = Mapper {
        site: site.id,
        columns: columns.clone(),
        keep_visits: options.keep_visits,
        names: Names::new(),
        carried: HashSet::new(),
        conversions,
        spare: std::sync::mpsc::sync_channel(1),
    };
    let reader = Reader {
        site: site.id,
        columns,
        window,
        batch_rows: options.batch_rows,
        settle_secs: options.settle_secs,
        checkpoint,
        done: false,
    };
    Ok((summary, reader, mapper))
}

/// Checks the options, reads the schema and the sites, and adds the
/// sites the store lacks.
fn prepare(
    engine: &mut Engine,
    db: &mut dyn Database,
    options: &ImportOptions,
) -> Result<(
    Schema,
    Vec<MatomoSite>,
    BTreeMap<u32, conversions::SiteGoals>,
)> {
    let p = &options.prefix;
    if !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::Config(format!(
            "table prefix {p:?} may hold only letters, digits and '_'"
        )));
    }
    if options.batch_rows == 0 {
        return Err(Error::Config("batch_rows must be at least 1".into()));
    }
    if let (Some(f), Some(t)) = (options.from, options.to)
        && f > t
    {
        return Err(Error::Config(format!("--from {f} is after --to {t}")));
    }
    let schema = Schema::read(db, p)?;
    let sites = read_sites(db, p, &schema, options.sites.as_deref())?;
    let goals = conversions::read_goals(db, p, &schema.tables, schema.site_ecommerce, &sites)?;
    for site in &sites {
        ensure_site(engine, site, goals.get(&site.id))?;
    }
    Ok((schema, sites, goals))
}

/// Which tables and optional columns the database has.
#[derive(Debug, Default)]
struct Schema {
    tables: BTreeSet<String>,
    visit_columns: BTreeSet<String>,
    action_columns: BTreeSet<String>,
    /// Whether `site` has Matomo's `ecommerce` column.
    site_ecommerce: bool,
}

impl Schema {
    fn read(db: &mut dyn Database, p: &str) -> Result<Schema> {
        let rows = query(
            db,
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = DATABASE()",
        )?;
        let mut s = Schema::default();
        for r in rows {
            let (Some(t), Some(c)) = (
                r.first().and_then(Value::text),
                r.get(1).and_then(Value::text),
            ) else {
                continue;
            };
            let Some(t) = t.strip_prefix(p) else { continue };
            s.tables.insert(t.to_owned());
            match t {
                "log_visit" => s.visit_columns.insert(c.to_owned()),
                "log_link_visit_action" => s.action_columns.insert(c.to_owned()),
                "site" if c == "ecommerce" => {
                    s.site_ecommerce = true;
                    true
                }
                _ => false,
            };
        }
        for t in ["site", "log_visit", "log_link_visit_action", "log_action"] {
            if !s.tables.contains(t) {
                return Err(Error::Schema(format!(
                    "the database has no table {p}{t}: is it Matomo's database, and is the table prefix {p:?} right (--prefix)?"
                )));
            }
        }
        Ok(s)
    }
}

/// The last Unix second whose rows are settled: the database's clock
/// minus `settle_secs` (rows newer than that wait for the next run).
fn settled_before(db: &mut dyn Database, settle_secs: u32) -> Result<i64> {
    let now = query(
        db,
        "SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP())",
    )?
    .first()
    .and_then(|r| r.first())
    .and_then(Value::int)
    .unwrap_or(i64::MAX);
    Ok(now.saturating_sub(i64::from(settle_secs)))
}

fn query(db: &mut dyn Database, sql: &str) -> Result<Vec<Vec<Value>>> {
    db.query(sql).map_err(Error::Database)
}

fn read_sites(
    db: &mut dyn Database,
    p: &str,
    schema: &Schema,
    wanted: Option<&[u32]>,
) -> Result<Vec<MatomoSite>> {
    let filter = match wanted {
        Some([]) => {
            return Err(Error::Config("no site given".into()));
        }
        Some(ids) => format!(
            " WHERE idsite IN ({})",
            ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
        ),
        None => String::new(),
    };
    let mut sites = BTreeMap::new();
    for r in query(
        db,
        &format!("SELECT idsite, timezone, main_url, name FROM {p}site{filter} ORDER BY idsite"),
    )? {
        let Some(id) = r
            .first()
            .and_then(Value::int)
            .and_then(|i| u32::try_from(i).ok())
        else {
            continue;
        };
        let time_zone = iana_zone(r.get(1).and_then(Value::text).unwrap_or("UTC"), id)?;
        let mut hosts = Vec::new();
        hosts.extend(r.get(2).and_then(Value::text).and_then(host_of));
        sites.insert(
            id,
            MatomoSite {
                id,
                time_zone,
                hosts,
                name: r.get(3).and_then(Value::text).map(str::to_owned),
                main_url: r.get(2).and_then(Value::text).map(str::to_owned),
                dimensions: Vec::new(),
                dimension_ids: Vec::new(),
            },
        );
    }
    if let Some(ids) = wanted {
        for id in ids {
            if !sites.contains_key(id) {
                return Err(Error::Schema(format!(
                    "Matomo has no site {id} (table {p}site)"
                )));
            }
        }
    }
    if schema.tables.contains("site_url") {
        for r in query(db, &format!("SELECT idsite, url FROM {p}site_url"))? {
            let id = r
                .first()
                .and_then(Value::int)
                .and_then(|i| u32::try_from(i).ok());
            if let Some(site) = id.and_then(|id| sites.get_mut(&id))
                && let Some(h) = r.get(1).and_then(Value::text).and_then(host_of)
                && !site.hosts.contains(&h)
            {
                site.hosts.push(h);
            }
        }
    }
    if schema.tables.contains("custom_dimensions") {
        for r in query(
            db,
            &format!(
                "SELECT idsite, `index`, scope, name, idcustomdimension FROM {p}custom_dimensions WHERE active = 1 ORDER BY idsite, idcustomdimension"
            ),
        )? {
            let id = r
                .first()
                .and_then(Value::int)
                .and_then(|i| u32::try_from(i).ok());
            let index = r
                .get(1)
                .and_then(Value::int)
                .and_then(|i| u32::try_from(i).ok());
            let scope = r.get(2).and_then(Value::text);
            let name = r.get(3).and_then(Value::text);
            let dimension = r
                .get(4)
                .and_then(Value::int)
                .and_then(|i| u32::try_from(i).ok())
                .filter(|i| *i > 0);
            if let (Some(site), Some(index), Some(scope), Some(name), Some(dimension)) = (
                id.and_then(|id| sites.get_mut(&id)),
                index,
                scope,
                name,
                dimension,
            ) {
                site.dimensions
                    .push((scope.to_owned(), index, name.to_owned()));
                site.dimension_ids.push(dimension);
            }
        }
    }
    Ok(sites.into_values().collect())
}

/// The host of a site URL, lower case, `www.` kept off as hitmap does.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest
        .split(['/', '?', '#', ':'])
        .next()?
        .trim()
        .to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Matomo's time zone setting as an IANA name: `UTC+5` is `Etc/GMT-5`
/// (the IANA sign is reversed); fractional manual offsets have no IANA
/// name.
fn iana_zone(tz: &str, site: u32) -> Result<String> {
    let Some(offset) = tz.strip_prefix("UTC").filter(|o| !o.is_empty()) else {
        return Ok(tz.to_owned());
    };
    let hours: f64 = offset.parse().map_err(|_| {
        Error::Config(format!(
            "site {site}: time zone {tz:?} is not one hitmap knows"
        ))
    })?;
    if hours.fract() != 0.0 || !(-12.0..=14.0).contains(&hours) {
        return Err(Error::Config(format!(
            "site {site}: Matomo's manual time zone {tz:?} has no IANA equivalent; set the site to a city time zone in Matomo, or add it to hitmap first with the zone to use"
        )));
    }
    Ok(match hours as i32 {
        0 => "UTC".into(),
        h if h > 0 => format!("Etc/GMT-{h}"),
        h => format!("Etc/GMT+{}", -h),
    })
}

/// Adds the site to the store if it is new; an existing site must have
/// the same time zone (its days would differ from Matomo's otherwise).
fn ensure_site(
    engine: &mut Engine,
    site: &MatomoSite,
    goals: Option<&conversions::SiteGoals>,
) -> Result<()> {
    if let Some(existing) = engine.site(site.id) {
        // Matomo's goals the store lacks, and its ecommerce flag, are
        // added (nothing the store has is taken away).
        let existing = existing.clone();
        if let Some(g) = goals {
            if g.ecommerce && !existing.is_ecommerce() {
                engine.add_site(existing.clone().ecommerce(true))?;
            }
            for goal in &g.goals {
                if !existing.goals().iter().any(|x| x.id() == goal.id()) {
                    engine.set_goal(site.id, goal.clone())?;
                }
            }
        }
        if existing.time_zone_name() != site.time_zone {
            return Err(Error::Config(format!(
                "site {} is in time zone {} in this store but {} in Matomo: import into a store whose site {} has Matomo's zone",
                site.id,
                existing.time_zone_name(),
                site.time_zone,
                site.id
            )));
        }
        return Ok(());
    }
    let mut config = SiteConfig::new(site.id).time_zone(site.time_zone.clone());
    for h in &site.hosts {
        config = config.host(h.clone());
    }
    if let Some(n) = &site.name {
        config = config.name(n.clone());
    }
    if let Some(u) = &site.main_url {
        config = config.main_url(u.clone());
    }
    // Matomo's ids, so idDimension=N and dimensionN mean what they meant.
    for ((_, _, name), id) in site.dimensions.iter().zip(&site.dimension_ids) {
        config = config.dimension_with_id(name.clone(), *id);
    }
    if let Some(g) = goals {
        config = config.ecommerce(g.ecommerce);
        for goal in &g.goals {
            config = config.goal(goal.clone());
        }
    }
    engine.add_site(config)?;
    Ok(())
}

/// The checkpoint a run starts from, refused when the store was imported
/// with another window or mode.
fn start_checkpoint(engine: &Engine, options: &ImportOptions, site: u32) -> Result<Checkpoint> {
    let key = Checkpoint::key(site);
    let mut checkpoint = Checkpoint {
        cursor: 0,
        from: options.from,
        to: options.to,
        keep_visits: options.keep_visits,
        conversions: None,
    };
    if let Some(text) = engine.cursor(&key) {
        let stored = Checkpoint::decode(text).ok_or_else(|| {
            Error::Checkpoint(format!(
                "the store's checkpoint {key} = {text:?} is not one this hitmap writes"
            ))
        })?;
        if (stored.from, stored.to, stored.keep_visits)
            != (options.from, options.to, options.keep_visits)
        {
            return Err(Error::Checkpoint(format!(
                "site {site} of this store was imported with {}; this run asks for {}. Use the same options to go on, or import into a new store",
                describe(&stored),
                describe(&checkpoint)
            )));
        }
        checkpoint.cursor = stored.cursor;
        checkpoint.conversions = stored.conversions;
    }
    Ok(checkpoint)
}

/// One batch of action rows, read in `idlink_va` order.
struct Rows {
    rows: Vec<Vec<Value>>,
    /// The checkpoint once this batch is in.
    checkpoint: Checkpoint,
    settling: bool,
}

/// One batch read and mapped, ready to commit.
struct Batch {
    /// The actions' hits, then the conversions'.
    hits: Vec<hitmap::Hit>,
    /// Action rows read.
    rows: u64,
    /// Hits of actions, the first of `hits`.
    actions: usize,
    /// Conversion rows read.
    conversions: u64,
    skipped: BTreeMap<String, u64>,
    /// The checkpoint once this batch is in.
    checkpoint: Checkpoint,
    settling: bool,
}

/// Reads a site's action rows in batches, from the checkpoint on.
struct Reader {
    site: u32,
    columns: Columns,
    window: String,
    batch_rows: usize,
    settle_secs: u32,
    checkpoint: Checkpoint,
    done: bool,
}

impl Reader {
    /// The next batch, or `None` when nothing more is ready.
    fn next(&mut self, db: &mut dyn Database) -> Result<Option<Rows>> {
        if self.done {
            return Ok(None);
        }
        let settled = settled_before(db, self.settle_secs)?;
        let sql = self.columns.actions_sql(
            self.site,
            self.checkpoint.cursor,
            &self.window,
            self.batch_rows,
        );
        let mut rows = query(db, &sql)?;
        let full = rows.len() >= self.batch_rows;
        // Rows too young wait for the next run, and so does everything
        // after the first of them: the checkpoint only moves past rows
        // that are in.
        let mut last = self.checkpoint.cursor;
        let mut settling = false;
        let mut keep = 0;
        for r in &rows {
            let id = Columns::id(r);
            if id <= last {
                return Err(Error::Database(format!(
                    "rows came back out of idlink_va order ({id} after {last})"
                )));
            }
            if Columns::ts(r).is_some_and(|t| t > settled) {
                settling = true;
                break;
            }
            last = id;
            keep += 1;
        }
        rows.truncate(keep);
        self.done = !full || settling;
        if rows.is_empty() {
            self.done = true;
            return Ok(None);
        }
        self.checkpoint.cursor = last;
        Ok(Some(Rows {
            rows,
            checkpoint: self.checkpoint.clone(),
            settling,
        }))
    }
}

/// Turns a site's batches of action rows into hits: their visits and
/// names by primary key, then the mapping of [`row`]. Batches must come
/// in order (a visit's columns go on its first hit of the run).
struct Mapper {
    site: u32,
    columns: Columns,
    keep_visits: bool,
    names: Names,
    /// Visits whose own columns went on a hit in this run.
    carried: HashSet<u64>,
    /// The site's recorded conversions, read up to each batch's last
    /// action time into the batch.
    conversions: Option<conversions::Conversions>,
    /// Hit vectors committed and emptied, to be filled again: a new one
    /// of a batch's size is 120 MB of fresh pages.
    spare: (SyncSender<Vec<hitmap::Hit>>, Receiver<Vec<hitmap::Hit>>),
}

impl Mapper {
    /// Where a commit hands its emptied vector back (one is kept, more
    /// are dropped).
    fn spares(&self) -> SyncSender<Vec<hitmap::Hit>> {
        self.spare.0.clone()
    }

    fn map(&mut self, db: &mut dyn Database, rows: Rows) -> Result<Batch> {
        let Rows {
            rows,
            mut checkpoint,
            settling,
        } = rows;
        let visits = fetch_visits(db, &self.columns, &rows)?;
        fetch_names(db, &self.columns, &rows, &mut self.names)?;
        // The conversions up to the batch's last action go into the same
        // commit: the days it writes are written once.
        let mut conversions = Vec::new();
        let mut skipped = BTreeMap::new();
        let mut read = 0;
        if let Some(conv) = &mut self.conversions {
            if let Some(until) = rows.iter().filter_map(|r| Columns::ts(r)).max() {
                loop {
                    let r = conv.read(db, until, &mut conversions, &mut skipped)?;
                    read += r.rows;
                    if !r.full {
                        break;
                    }
                }
            }
            // Always the reader's own: the batch's checkpoint came from the
            // start of the run, and a commit must not move it back.
            checkpoint.conversions = conv.checkpoint();
        }
        // Hits are large (1,232 bytes): the vector is made once, at its
        // full size, or is one a commit handed back, whose pages are in.
        let want = rows.len() + conversions.len();
        let hits = match self.spare.1.try_recv() {
            Ok(v) if v.capacity() >= want => v,
            _ => Vec::with_capacity(want),
        };
        let mut batch = Batch {
            hits,
            rows: rows.len() as u64,
            actions: 0,
            conversions: read,
            skipped,
            checkpoint,
            settling,
        };
        for r in &rows {
            let id = Columns::action_visit(r);
            let visit = id.and_then(|id| visits.get(&id));
            let first = id.is_some_and(|id| !self.carried.contains(&id));
            let hit = self.columns.hit(
                r,
                visit.map(Vec::as_slice),
                &self.names,
                self.site,
                self.keep_visits,
                first,
            );
            match hit {
                RowOutcome::Hit(h) => {
                    // A content hit carries no visit columns: the visit's
                    // next action carries them.
                    if h.kind != hitmap::HitType::Content {
                        self.carried.extend(id);
                    }
                    batch.hits.push(*h);
                }
                RowOutcome::Skip(reason) => *batch.skipped.entry(reason).or_default() += 1,
            }
        }
        batch.actions = batch.hits.len();
        batch.hits.append(&mut conversions);
        Ok(batch)
    }
}

/// Commits one batch with its checkpoint and adds it to the summary;
/// returns its hit vector, emptied.
fn commit(
    engine: &mut Engine,
    batch: Batch,
    s: &mut SiteSummary,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<hitmap::Hit>> {
    let key = Checkpoint::key(s.site);
    let opts = IngestOptions::default().cursor(key, batch.checkpoint.encode());
    let out = engine.ingest_with(&batch.hits, &opts)?;
    s.rows += batch.rows;
    for (why, n) in batch.skipped {
        *s.skipped.entry(why).or_default() += n;
    }
    // Positions are 1-based; the conversions' hits come after the
    // actions'.
    let mut rejected = [0u64; 2];
    for r in out.rejected {
        rejected[usize::from(r.line > batch.actions as u64)] += 1;
        *s.rejected.entry(r.reason).or_default() += 1;
    }
    let conversion_hits = (batch.hits.len() - batch.actions) as u64;
    s.hits += (batch.actions as u64).saturating_sub(rejected[0]);
    s.conversions.0 += batch.conversions;
    s.conversions.1 += conversion_hits.saturating_sub(rejected[1]);
    s.cursor = batch.checkpoint.cursor;
    s.settling |= batch.settling;
    progress(&Progress {
        site: s.site,
        rows: s.rows,
        hits: s.hits,
        cursor: s.cursor,
    });
    let mut hits = batch.hits;
    hits.clear();
    Ok(hits)
}

/// Ids per `IN (...)` list.
const IN_LIST: usize = 10_000;

/// The visits of a batch's actions, by `idvisit`.
fn fetch_visits(
    db: &mut dyn Database,
    columns: &Columns,
    rows: &[Vec<Value>],
) -> Result<HashMap<u64, Vec<Value>>> {
    let mut ids: Vec<u64> = rows
        .iter()
        .filter_map(|r| Columns::action_visit(r))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut visits = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IN_LIST) {
        for row in query(db, &columns.visits_sql(chunk))? {
            if let Some(id) = Columns::visit_id(&row) {
                visits.insert(id, row);
            }
        }
    }
    Ok(visits)
}

/// Adds the `log_action` names a batch refers to that are not known yet.
fn fetch_names(
    db: &mut dyn Database,
    columns: &Columns,
    rows: &[Vec<Value>],
    names: &mut Names,
) -> Result<()> {
    let mut ids: Vec<u64> = rows
        .iter()
        .flat_map(|r| columns.action_ids(r))
        .filter(|id| !names.contains_key(id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    for chunk in ids.chunks(IN_LIST) {
        for row in query(db, &columns.names_sql(chunk))? {
            if let Some((id, name)) = Columns::name_row(&row) {
                names.insert(id, name);
            }
        }
    }
    Ok(())
}

fn describe(c: &Checkpoint) -> String {
    let day = |d: Option<NaiveDate>| d.map_or("-".to_string(), |d| d.to_string());
    format!(
        "--from {} --to {}{}",
        day(c.from),
        day(c.to),
        if c.keep_visits { " --keep-visits" } else { "" }
    )
}

/// The `server_time` bounds of the import window in UTC, as SQL.
fn window_sql(site: &MatomoSite, options: &ImportOptions) -> Result<String> {
    let tz: chrono_tz::Tz = site.time_zone.parse().map_err(|_| {
        Error::Config(format!(
            "site {}: unknown time zone {:?}",
            site.id, site.time_zone
        ))
    })?;
    let midnight = |day: NaiveDate| -> Result<String> {
        let local = day.and_time(NaiveTime::MIN);
        let utc = tz
            .from_local_datetime(&local)
            .earliest()
            .ok_or_else(|| Error::Config(format!("{day} has no midnight in {tz}")))?
            .naive_utc();
        Ok(utc.format("%Y-%m-%d %H:%M:%S").to_string())
    };
    let mut sql = String::new();
    if let Some(from) = options.from {
        sql += &format!(" AND server_time >= '{}'", midnight(from)?);
    }
    if let Some(to) = options.to.and_then(|t| t.succ_opt()) {
        sql += &format!(" AND server_time < '{}'", midnight(to)?);
    }
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_round_trip() {
        let c = Checkpoint {
            cursor: 42,
            from: NaiveDate::from_ymd_opt(2025, 1, 1),
            to: None,
            keep_visits: true,
            conversions: None,
        };
        assert_eq!(Checkpoint::decode(&c.encode()), Some(c.clone()));
        let c = Checkpoint {
            conversions: Some([1_735_689_600, 7, -1, 3]),
            ..c
        };
        assert_eq!(Checkpoint::decode(&c.encode()), Some(c));
        assert_eq!(Checkpoint::decode("v2;cursor=1"), None);
        assert_eq!(
            Checkpoint::decode("v1;cursor=x;from=-;to=-;visits=keep"),
            None
        );
    }

    #[test]
    fn manual_offsets_become_etc_zones() {
        assert_eq!(iana_zone("UTC+5", 1).unwrap(), "Etc/GMT-5");
        assert_eq!(iana_zone("UTC-3", 1).unwrap(), "Etc/GMT+3");
        assert_eq!(iana_zone("UTC", 1).unwrap(), "UTC");
        assert_eq!(iana_zone("Europe/Paris", 1).unwrap(), "Europe/Paris");
        assert!(
            iana_zone("UTC+5.5", 1)
                .unwrap_err()
                .to_string()
                .contains("no IANA")
        );
    }

    #[test]
    fn hosts_come_from_site_urls() {
        assert_eq!(
            host_of("https://WWW.Example.org:8080/x"),
            Some("www.example.org".into())
        );
        assert_eq!(host_of("intranet.local"), Some("intranet.local".into()));
        assert_eq!(host_of(""), None);
    }
}
