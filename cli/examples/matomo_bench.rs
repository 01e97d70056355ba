//! Matomo import benchmark (BENCHMARKS.md, "Migrating from Matomo").
//!
//! Starts a private MariaDB (`scripts/mariadb`), loads a generated year
//! of one site into Matomo 5's tables, then measures on the same server,
//! one after the other:
//!
//! 1. `hitmap import-matomo` (the library call behind it) into a fresh
//!    store, keeping Matomo's visits: rows per second, import + archive;
//! 2. the same with hitmap's own sessionization;
//! 3. Matomo's per-day archiving SQL for every day of the year (the
//!    LogAggregator queries of VisitsSummary, Actions' page URLs with entry,
//!    exit and time spent, and Referrers' types; what `core:archive` runs
//!    per day before it aggregates weeks, months and the year).
//!
//! ```text
//! cargo run --release -p hitmap-cli --example matomo_bench -- --visitors 1500
//! # again on the same data: add --reuse
//! ```

#[path = "../tests/integration/matomo_data.rs"]
mod matomo_data;

use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use hitmap_cli::matomo::MysqlDatabase;
use hitmap_intake::matomo::{self, ImportOptions};
use mysql::prelude::Queryable;

// The allocator of the `hitmap` command (cli/src/main.rs), so that this
// measures what `hitmap import-matomo` runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn arg(name: &str, default: u32) -> u32 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().expect("a number"))
}

/// Seconds of CPU (user + system) process `pid` (or `self`) used so far.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after ')'.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let visitors = arg("--visitors", 1500);
    let days = arg("--days", 365);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let socket = matomo_data::start_server(&root.join("target/bench-mariadb"));
    let dsn = |db: &str| matomo_data::dsn(&socket, db);
    // --reuse: keep the data of the last run with the same size.
    let tag = format!("hm_bench_{visitors}_{days}");
    let mut admin = mysql::Conn::new(mysql::Opts::from_url(&dsn("mysql")).unwrap()).unwrap();
    let have: Option<u64> = admin
        .query_first(format!(
            "SELECT count(*) FROM {tag}.matomo_log_link_visit_action"
        ))
        .unwrap_or(None);
    let reuse = std::env::args().any(|a| a == "--reuse") && have.is_some_and(|n| n > 0);
    let mut conn = matomo_data::create_db(&socket, &tag, reuse);
    let zone = "Europe/Paris";
    let first_day = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let rows = if reuse {
        let rows = have.unwrap_or(0);
        println!("reusing the {rows} actions of the last run of this size (--reuse)");
        rows
    } else {
        load(&mut conn, zone, first_day, days, visitors)
    };
    measure(&root, &mut conn, &dsn(&tag), rows, zone, first_day, days);
}

/// Writes the generated year into Matomo's tables.
fn load(
    conn: &mut mysql::Conn,
    zone: &'static str,
    first_day: NaiveDate,
    days: u32,
    visitors: u32,
) -> u64 {
    let spec = matomo_data::Spec {
        seed: 42,
        sites: vec![(1, zone, "intranet.example.org")],
        first_day,
        days,
        visitors,
        daily_per_mille: 350,
        pageviews_only: false,
    };
    let t = Instant::now();
    let rows = matomo_data::load(conn, &spec);
    conn.query_drop(
        "ANALYZE TABLE matomo_log_visit, matomo_log_link_visit_action, matomo_log_action",
    )
    .unwrap();
    let visits: u64 = conn
        .query_first("SELECT count(*) FROM matomo_log_visit")
        .unwrap()
        .unwrap();
    println!(
        "loaded {rows} actions in {visits} visits over {days} days into MariaDB in {:.1} s (not measured below)",
        t.elapsed().as_secs_f64()
    );
    rows
}

fn measure(
    root: &std::path::Path,
    conn: &mut mysql::Conn,
    dsn: &str,
    rows: u64,
    zone: &str,
    first_day: NaiveDate,
    days: u32,
) {
    let mut results = Vec::new();
    for (label, keep_visits) in [
        ("hitmap import + archive, Matomo's visits", true),
        ("hitmap import + archive, hitmap's sessions", false),
    ] {
        let store = root.join(format!("target/bench-matomo-store-{keep_visits}"));
        let _ = std::fs::remove_dir_all(&store);
        let mut engine = hitmap::Engine::open(&store).unwrap();
        // As `hitmap import-matomo`: one connection reads the actions,
        // a second their visits, names and conversions (--connections 1:
        // one for all).
        let mut dbs: Vec<MysqlDatabase> = (0..arg("--connections", 2))
            .map(|_| MysqlDatabase::connect(dsn).unwrap())
            .collect();
        let options = ImportOptions {
            keep_visits,
            settle_secs: 0,
            batch_rows: arg("--batch-rows", 100_000) as usize,
            ..ImportOptions::default()
        };
        let server = std::fs::read_to_string(root.join("target/bench-mariadb/mysqld.pid"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let (ours, theirs) = (cpu_seconds("self"), cpu_seconds(&server));
        let t = Instant::now();
        let summary =
            matomo::import_pipelined(&mut engine, &mut dbs, &options, &mut |_| {}).unwrap();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(summary.rows(), rows);
        let (ours, theirs) = (cpu_seconds("self") - ours, cpu_seconds(&server) - theirs);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        println!(
            "{label}: {secs:.1} s, {:.0} rows/s; CPU: hitmap {ours:.1} s, MariaDB {theirs:.1} s ({:.0} % of {cores} cores)",
            rows as f64 / secs,
            100.0 * (ours + theirs) / (secs * cores)
        );
        results.push((label, secs));
        drop(engine);
        let _ = std::fs::remove_dir_all(&store);
    }

    // Matomo's archiving: the per-day LogAggregator queries.
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let bound = |d, h, m, s| matomo_data::utc_literal(tz, d, h, m, s);
    let queries = [
        // VisitsSummary (getVisitsMetricFields).
        "SELECT count(distinct log_visit.idvisitor), count(distinct log_visit.config_id), count(*), sum(log_visit.visit_total_actions), max(log_visit.visit_total_actions), sum(log_visit.visit_total_time), sum(case log_visit.visit_total_actions when 1 then 1 when 0 then 1 else 0 end), sum(case log_visit.visit_goal_converted when 1 then 1 else 0 end), count(distinct log_visit.user_id) FROM matomo_log_visit AS log_visit WHERE log_visit.visit_last_action_time >= {start} AND log_visit.visit_last_action_time <= {end} AND log_visit.idsite IN (1)",
        // Actions: hits, visits, visitors per URL and per name.
        "SELECT log_action.name, log_action.type, log_action.idaction, log_action.url_prefix, count(distinct log_link_visit_action.idvisit), count(distinct log_link_visit_action.idvisitor), count(*) FROM matomo_log_link_visit_action AS log_link_visit_action LEFT JOIN matomo_log_action AS log_action ON log_link_visit_action.idaction_url = log_action.idaction WHERE log_link_visit_action.server_time >= {start} AND log_link_visit_action.server_time <= {end} AND log_link_visit_action.idsite IN (1) AND log_link_visit_action.idaction_url IS NOT NULL AND log_link_visit_action.idaction_event_category IS NULL AND log_action.type IN (1, 2, 3) GROUP BY log_link_visit_action.idaction_url ORDER BY 7 DESC, name ASC",
        "SELECT log_action.name, log_action.type, log_action.idaction, log_action.url_prefix, count(distinct log_link_visit_action.idvisit), count(distinct log_link_visit_action.idvisitor), count(*) FROM matomo_log_link_visit_action AS log_link_visit_action LEFT JOIN matomo_log_action AS log_action ON log_link_visit_action.idaction_name = log_action.idaction WHERE log_link_visit_action.server_time >= {start} AND log_link_visit_action.server_time <= {end} AND log_link_visit_action.idsite IN (1) AND log_link_visit_action.idaction_name IS NOT NULL AND log_link_visit_action.idaction_event_category IS NULL AND (log_action.type IN (4, 8) OR log_action.type IS NULL) GROUP BY log_link_visit_action.idaction_name ORDER BY 7 DESC, name ASC",
        // Entry and exit pages.
        "SELECT log_visit.visit_entry_idaction_url as idaction, log_action.type, log_action.name, count(distinct log_visit.idvisitor), count(*), sum(log_visit.visit_total_actions), sum(log_visit.visit_total_time), sum(case log_visit.visit_total_actions when 1 then 1 when 0 then 1 else 0 end) FROM matomo_log_visit AS log_visit LEFT JOIN matomo_log_action AS log_action ON log_visit.visit_entry_idaction_url = log_action.idaction WHERE log_visit.visit_last_action_time >= {start} AND log_visit.visit_last_action_time <= {end} AND log_visit.idsite IN (1) AND log_visit.visit_entry_idaction_url > 0 GROUP BY log_visit.visit_entry_idaction_url",
        "SELECT log_visit.visit_exit_idaction_url as idaction, log_action.type, log_action.name, count(distinct log_visit.idvisitor), count(*) FROM matomo_log_visit AS log_visit LEFT JOIN matomo_log_action AS log_action ON log_visit.visit_exit_idaction_url = log_action.idaction WHERE log_visit.visit_last_action_time >= {start} AND log_visit.visit_last_action_time <= {end} AND log_visit.idsite IN (1) AND log_visit.visit_exit_idaction_url > 0 GROUP BY log_visit.visit_exit_idaction_url",
        // Time spent per page.
        "SELECT log_link_visit_action.idaction_url_ref as idaction, log_action.type, log_action.name, count(*), sum(log_link_visit_action.time_spent_ref_action) FROM matomo_log_link_visit_action AS log_link_visit_action LEFT JOIN matomo_log_action AS log_action ON log_link_visit_action.idaction_url_ref = log_action.idaction WHERE log_link_visit_action.server_time >= {start} AND log_link_visit_action.server_time <= {end} AND log_link_visit_action.idsite IN (1) AND log_link_visit_action.time_spent_ref_action > 0 AND log_link_visit_action.idaction_url_ref IS NOT NULL AND log_link_visit_action.idaction_event_category IS NULL AND log_action.type IN (1, 2, 3) GROUP BY log_link_visit_action.idaction_url_ref",
        // Referrers by type.
        "SELECT log_visit.referer_type, count(distinct log_visit.idvisitor), count(*), sum(log_visit.visit_total_actions), max(log_visit.visit_total_actions), sum(log_visit.visit_total_time), sum(case log_visit.visit_total_actions when 1 then 1 when 0 then 1 else 0 end) FROM matomo_log_visit AS log_visit WHERE log_visit.visit_last_action_time >= {start} AND log_visit.visit_last_action_time <= {end} AND log_visit.idsite IN (1) GROUP BY log_visit.referer_type",
    ];
    let t = Instant::now();
    let mut rows_back = 0usize;
    for d in 0..days {
        let day = first_day + chrono::Days::new(u64::from(d));
        let (start, end) = (bound(day, 0, 0, 0), bound(day, 23, 59, 59));
        for q in queries {
            let sql = q.replace("{start}", &start).replace("{end}", &end);
            let r: Vec<mysql::Row> = conn.query(sql).unwrap();
            rows_back += r.len();
        }
    }
    let matomo = t.elapsed().as_secs_f64();
    println!(
        "Matomo's per-day archiving SQL ({} queries a day, {days} days, {rows_back} rows back): {matomo:.1} s",
        queries.len()
    );
    println!();
    println!("| step | seconds | speed-up over Matomo's day archiving SQL |");
    println!("|---|---|---|");
    for (label, secs) in &results {
        println!("| {label} | {secs:.1} | {:.1}x |", matomo / secs);
    }
    println!("| Matomo: per-day archiving SQL only | {matomo:.1} | 1.0x |");
}
