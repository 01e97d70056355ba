//! `hitmap import-matomo` against a real MariaDB (Debian's
//! mariadb-server, started by `scripts/mariadb` on a private socket):
//! Matomo 5's tables with generated rows as its tracker stores them, and
//! the answers compared with what Matomo's own archiving SQL (its
//! LogAggregator queries) returns on the same database.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use hitmap::Engine;
use hitmap_cli::matomo::MysqlDatabase;
use hitmap_intake::matomo::{self, ImportOptions};
use mysql::prelude::Queryable;
use serde_json::Value;

use crate::matomo_data::{self, Spec};

/// The server's socket: started once per test binary, stopped when the
/// binary exits.
fn socket() -> &'static str {
    static SOCKET: OnceLock<String> = OnceLock::new();
    SOCKET.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hitmap-mariadb-{}", std::process::id()));
        matomo_data::start_server(&dir)
    })
}

fn dsn(db: &str) -> String {
    matomo_data::dsn(socket(), db)
}

/// A fresh database with Matomo 5's schema and the generated data.
fn matomo_db(name: &str, spec: &Spec) -> mysql::Conn {
    let mut conn = matomo_data::create_db(socket(), name, false);
    matomo_data::load(&mut conn, spec);
    conn
}

fn spec(seed: u64, pageviews_only: bool) -> Spec {
    Spec {
        seed,
        sites: vec![
            (1, "Europe/Paris", "intranet.example.org"),
            (2, "UTC", "shop.example.com"),
        ],
        // Across the spring DST change in Paris.
        first_day: NaiveDate::from_ymd_opt(2025, 3, 20).unwrap(),
        days: 21,
        visitors: 60,
        daily_per_mille: 350,
        pageviews_only,
    }
}

fn import(db: &str, engine: &mut Engine, options: &ImportOptions) -> matomo::Summary {
    let mut conn = MysqlDatabase::connect(&dsn(db)).unwrap();
    matomo::import(engine, &mut conn, options, &mut |_| {}).unwrap()
}

fn keep() -> ImportOptions {
    ImportOptions {
        keep_visits: true,
        settle_secs: 0,
        ..ImportOptions::default()
    }
}

/// A period as Matomo's archiver bounds it: local first and last second
/// in UTC, for `server_time` and `visit_last_action_time`.
struct Period {
    api: String,
    start: String,
    end: String,
}

fn period(zone: &str, period: &str, from: NaiveDate, to: NaiveDate) -> Period {
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let at = |d, h, m, s| matomo_data::utc_literal(tz, d, h, m, s);
    let date = if period == "range" {
        format!("{from},{to}")
    } else {
        from.to_string()
    };
    Period {
        api: format!("period={period}&date={date}"),
        start: at(from, 0, 0, 0),
        end: at(to, 23, 59, 59),
    }
}

fn periods(zone: &str) -> Vec<Period> {
    let d = |m, day| NaiveDate::from_ymd_opt(2025, m, day).unwrap();
    let mut out: Vec<Period> = [d(3, 20), d(3, 29), d(3, 30), d(3, 31), d(4, 9)]
        .into_iter()
        .map(|day| period(zone, "day", day, day))
        .collect();
    // ISO weeks, Monday first.
    let monday = d(3, 24);
    out.push(period(zone, "week", monday, monday + chrono::Days::new(6)));
    out.push(period(zone, "month", d(3, 1), d(3, 31)));
    out.push(period(zone, "month", d(4, 1), d(4, 30)));
    out.push(period(zone, "range", d(3, 22), d(4, 6)));
    out.push(period(zone, "range", d(3, 20), d(4, 9)));
    assert_eq!(monday.weekday(), chrono::Weekday::Mon);
    out
}

fn rows(conn: &mut mysql::Conn, sql: &str) -> Vec<Vec<i64>> {
    let rows: Vec<mysql::Row> = conn.query(sql).unwrap();
    rows.into_iter()
        .map(|r| {
            r.unwrap()
                .into_iter()
                .map(|v| match v {
                    mysql::Value::NULL => 0,
                    mysql::Value::Int(i) => i,
                    mysql::Value::UInt(u) => u as i64,
                    mysql::Value::Bytes(b) => String::from_utf8(b).unwrap().parse().unwrap(),
                    other => panic!("unexpected {other:?}"),
                })
                .collect()
        })
        .collect()
}

fn api(engine: &Engine, q: &str) -> Value {
    let text = engine
        .api(&format!("{q}&format=json&filter_limit=-1"))
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// The row labels of a report.
fn labels(rows: &Value) -> Vec<&str> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect()
}

fn num(v: &Value, k: &str) -> i64 {
    v.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// VisitsSummary: Matomo's `getVisitsMetricFields` over `log_visit` by
/// `visit_last_action_time`.
fn check_visits_summary(conn: &mut mysql::Conn, engine: &Engine, site: u32, p: &Period) {
    let sql = format!(
        "SELECT count(distinct log_visit.idvisitor), count(*), sum(log_visit.visit_total_actions), \
         max(log_visit.visit_total_actions), sum(log_visit.visit_total_time), \
         sum(case log_visit.visit_total_actions when 1 then 1 when 0 then 1 else 0 end), \
         count(distinct log_visit.user_id) \
         FROM matomo_log_visit AS log_visit WHERE log_visit.visit_last_action_time >= {} \
         AND log_visit.visit_last_action_time <= {} AND log_visit.idsite IN ({site})",
        p.start, p.end
    );
    let matomo = rows(conn, &sql).remove(0);
    let got = api(
        engine,
        &format!("method=VisitsSummary.get&idSite={site}&{}", p.api),
    );
    let ours: Vec<i64> = [
        "nb_uniq_visitors",
        "nb_visits",
        "nb_actions",
        "max_actions",
        "sum_visit_length",
        "bounce_count",
        "nb_users",
    ]
    .iter()
    .map(|k| num(&got, k))
    .collect();
    assert_eq!(ours, matomo, "VisitsSummary site {site} {}", p.api);
    assert!(
        matomo[1] > 0 || p.api.contains("day"),
        "no visits in {}",
        p.api
    );
}

/// Goals.get for the recorded conversions: Matomo's Goals archiving
/// (`queryConversionsByDimension`: `log_conversion` by `server_time`,
/// grouped by `idgoal`) against hitmap's manual goal 1 on site 1, orders
/// and abandoned carts on the ecommerce site.
fn check_goals(conn: &mut mysql::Conn, engine: &Engine, site: u32, p: &Period) {
    let cents = |c: &str| format!("CAST(ROUND(COALESCE(SUM({c}), 0) * 100) AS SIGNED)");
    let sql = format!(
        "SELECT idgoal, count(*), count(distinct idvisit), {}, COALESCE(SUM(items), 0), {}, {} \
         FROM matomo_log_conversion WHERE server_time >= {} AND server_time <= {} AND idsite IN ({site}) \
         GROUP BY idgoal ORDER BY idgoal",
        cents("revenue"),
        cents("revenue_subtotal"),
        cents("revenue_tax"),
        p.start,
        p.end
    );
    let matomo: std::collections::BTreeMap<i64, Vec<i64>> = rows(conn, &sql)
        .into_iter()
        .map(|r| (r[0], r[1..].to_vec()))
        .collect();
    let goals: &[(i64, &str)] = if site == 1 {
        &[(1, "1")]
    } else {
        &[(0, "ecommerceOrder"), (-1, "ecommerceAbandonedCart")]
    };
    let money = |v: &Value, k: &str| (v[k].as_f64().unwrap_or(0.0) * 100.0).round() as i64;
    for &(id, name) in goals {
        let got = api(
            engine,
            &format!(
                "method=Goals.get&idSite={site}&{}&idGoal={name}&format_metrics=0",
                p.api
            ),
        );
        let mut ours = vec![
            num(&got, "nb_conversions"),
            num(&got, "nb_visits_converted"),
            money(&got, "revenue"),
        ];
        let mut want = matomo.get(&id).cloned().unwrap_or_else(|| vec![0; 6]);
        if id == 1 {
            want.truncate(3);
        } else {
            ours.push(num(&got, "items"));
            if id == 0 {
                ours.push(money(&got, "revenue_subtotal"));
                ours.push(money(&got, "revenue_tax"));
            } else {
                want.truncate(4);
            }
        }
        assert_eq!(ours, want, "Goals.get idGoal={name} site {site} {}", p.api);
    }
}

/// Referrers.getReferrerType: `queryVisitsByDimension(referer_type)`.
fn check_referrer_types(conn: &mut mysql::Conn, engine: &Engine, site: u32, p: &Period) {
    let sql = format!(
        "SELECT log_visit.referer_type, count(distinct log_visit.idvisitor), count(*), \
         sum(log_visit.visit_total_actions), sum(log_visit.visit_total_time), \
         sum(case log_visit.visit_total_actions when 1 then 1 when 0 then 1 else 0 end) \
         FROM matomo_log_visit AS log_visit WHERE log_visit.visit_last_action_time >= {} \
         AND log_visit.visit_last_action_time <= {} AND log_visit.idsite IN ({site}) \
         GROUP BY log_visit.referer_type",
        p.start, p.end
    );
    // Matomo's labels of its referer_type numbers.
    let names = BTreeMap::from([
        (1, "Direct Entry"),
        (2, "Search Engines"),
        (3, "Websites"),
        (6, "Campaigns"),
        (7, "Social Networks"),
    ]);
    let matomo: BTreeMap<String, Vec<i64>> = rows(conn, &sql)
        .into_iter()
        .map(|r| (names[&r[0]].to_string(), r[1..].to_vec()))
        .collect();
    let got = api(
        engine,
        &format!("method=Referrers.getReferrerType&idSite={site}&{}", p.api),
    );
    let ours: BTreeMap<String, Vec<i64>> = got
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| num(r, "nb_visits") > 0)
        .map(|r| {
            let cols = [
                "nb_uniq_visitors",
                "nb_visits",
                "nb_actions",
                "sum_visit_length",
                "bounce_count",
            ];
            (
                r["label"].as_str().unwrap().to_string(),
                cols.iter().map(|k| num(r, k)).collect(),
            )
        })
        .collect();
    assert_eq!(ours, matomo, "getReferrerType site {site} {}", p.api);
}

/// UserCountry.getCity: Matomo's location query (visits by city, region
/// and country, `MAX` of the coordinates) against each row, found by its
/// segment; visits without a city are the `Unknown` row.
fn check_cities(conn: &mut mysql::Conn, engine: &Engine, site: u32, p: &Period) {
    use mysql::prelude::Queryable;
    type Key = (String, String, String);
    let sql = format!(
        "SELECT COALESCE(location_city, ''), COALESCE(location_region, ''), \
         IF(location_country = 'xx', '', COALESCE(location_country, '')), \
         count(distinct idvisitor), count(*), sum(visit_total_actions), \
         CAST(ROUND(MAX(location_latitude) * 1000) AS SIGNED), \
         CAST(ROUND(MAX(location_longitude) * 1000) AS SIGNED) \
         FROM matomo_log_visit WHERE visit_last_action_time >= {} \
         AND visit_last_action_time <= {} AND idsite IN ({site}) GROUP BY 1, 2, 3",
        p.start, p.end
    );
    type Row = (
        String,
        String,
        String,
        i64,
        i64,
        i64,
        Option<i64>,
        Option<i64>,
    );
    let mut matomo: BTreeMap<Key, Vec<i64>> = BTreeMap::new();
    for (city, region, country, uniq, visits, actions, lat, long) in
        conn.query::<Row, _>(sql).unwrap()
    {
        let key = if city.is_empty() {
            (String::new(), String::new(), String::new())
        } else {
            (city, region, country)
        };
        let known = !key.0.is_empty();
        let row = matomo.entry(key).or_insert_with(|| vec![0; 5]);
        // Visitors of the unknown row are not additive: counted below.
        row[0] += uniq;
        row[1] += visits;
        row[2] += actions;
        if known {
            row[3] = lat.unwrap_or(i64::MIN);
            row[4] = long.unwrap_or(i64::MIN);
        }
    }
    let got = api(
        engine,
        &format!(
            "method=UserCountry.getCity&idSite={site}&filter_limit=-1&{}",
            p.api
        ),
    );
    let mut ours: BTreeMap<Key, Vec<i64>> = BTreeMap::new();
    for r in got.as_array().unwrap() {
        let key = match r["segment"].as_str() {
            None => (String::new(), String::new(), String::new()),
            Some(s) => {
                let part = |k: &str| {
                    s.split(';')
                        .find_map(|c| c.strip_prefix(k))
                        .unwrap()
                        .replace('+', " ")
                };
                (part("city=="), part("regionCode=="), part("countryCode=="))
            }
        };
        let milli = |k: &str| {
            r[k].as_f64()
                .map_or(i64::MIN, |x| (x * 1000.0).round() as i64)
        };
        let known = !key.0.is_empty();
        ours.insert(
            key,
            vec![
                num(r, "nb_uniq_visitors"),
                num(r, "nb_visits"),
                num(r, "nb_actions"),
                if known { milli("lat") } else { 0 },
                if known { milli("long") } else { 0 },
            ],
        );
    }
    // The unknown row's visitors, counted once.
    let unknown = (String::new(), String::new(), String::new());
    if let Some(row) = matomo.get_mut(&unknown) {
        row[0] = rows(
            conn,
            &format!(
                "SELECT count(distinct idvisitor) FROM matomo_log_visit \
                 WHERE visit_last_action_time >= {} AND visit_last_action_time <= {} \
                 AND idsite IN ({site}) AND location_city IS NULL",
                p.start, p.end
            ),
        )[0][0];
    }
    assert_eq!(ours, matomo, "getCity site {site} {}", p.api);
}

/// DevicePlugins.getPlugin: Matomo's plugins query (each plugin's visits
/// with its `config_` column at 1) against each row; with no Internet
/// Explorer among the visits, the share is of all visits.
fn check_plugins(conn: &mut mysql::Conn, engine: &Engine, site: u32, p: &Period) {
    let columns: Vec<String> = hitmap::PLUGIN_NAMES
        .iter()
        .map(|(name, _)| format!("sum(case config_{name} when 1 then 1 else 0 end)"))
        .collect();
    let sql = format!(
        "SELECT count(*), {} FROM matomo_log_visit WHERE visit_last_action_time >= {} \
         AND visit_last_action_time <= {} AND idsite IN ({site})",
        columns.join(", "),
        p.start,
        p.end
    );
    let counts = &rows(conn, &sql)[0];
    let total = counts[0];
    let mut matomo: BTreeMap<String, (i64, String)> = BTreeMap::new();
    if total > 0 {
        for ((name, _), &n) in hitmap::PLUGIN_NAMES.iter().zip(&counts[1..]) {
            let percent = format!("{}%", (n as f64 * 100.0 / total as f64).round() as i64);
            matomo.insert(name.to_string(), (n, percent));
        }
    }
    let got = api(
        engine,
        &format!("method=DevicePlugins.getPlugin&idSite={site}&{}", p.api),
    );
    let ours: BTreeMap<String, (i64, String)> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let label = r["label"].as_str().unwrap().to_lowercase();
            let share = r["nb_visits_percentage"].as_str().unwrap().to_string();
            (label, (num(r, "nb_visits"), share))
        })
        .collect();
    assert_eq!(ours, matomo, "getPlugin site {site} {}", p.api);
}

/// Actions.getPageUrls (flat): the archiver's action query (hits, visits,
/// visitors per `idaction_url` of type 1, events excluded), its entry and
/// exit queries over `log_visit`, and with `time` its time-spent query
/// (`time_spent_ref_action` by `idaction_url_ref`, events' left out).
fn check_page_urls(conn: &mut mysql::Conn, engine: &Engine, site: u32, p: &Period, time: bool) {
    let label = |name: &str| format!("/{}", name.split_once('/').map_or("", |(_, path)| path));
    let mut matomo: BTreeMap<String, [i64; 6]> = BTreeMap::new();
    let sql = |sql: String| {
        sql.replace("{start}", &p.start)
            .replace("{end}", &p.end)
            .replace("{site}", &site.to_string())
    };
    let named = |conn: &mut mysql::Conn, q: String| -> Vec<(String, Vec<i64>)> {
        named_rows(conn, &q, 1)
            .into_iter()
            .map(|(mut names, nums)| (names.remove(0).expect("a name"), nums))
            .collect()
    };
    for (name, v) in named(conn, sql(
        "SELECT log_action.name, count(*), count(distinct log_link_visit_action.idvisit), \
         count(distinct log_link_visit_action.idvisitor) \
         FROM matomo_log_link_visit_action AS log_link_visit_action \
         LEFT JOIN matomo_log_action AS log_action ON log_link_visit_action.idaction_url = log_action.idaction \
         WHERE log_link_visit_action.server_time >= {start} AND log_link_visit_action.server_time <= {end} \
         AND log_link_visit_action.idsite IN ({site}) AND log_link_visit_action.idaction_url IS NOT NULL \
         AND log_link_visit_action.idaction_event_category IS NULL AND log_action.type IN (1) \
         GROUP BY log_link_visit_action.idaction_url".into(),
    )) {
        let r = matomo.entry(label(&name)).or_default();
        r[0] += v[0];
        r[1] += v[1];
        r[2] += v[2];
    }
    for (col, field) in [
        (3, "visit_entry_idaction_url"),
        (4, "visit_exit_idaction_url"),
    ] {
        for (name, v) in named(
            conn,
            sql(format!(
                "SELECT log_action.name, count(*) FROM matomo_log_visit AS log_visit \
             LEFT JOIN matomo_log_action AS log_action ON log_visit.{field} = log_action.idaction \
             WHERE log_visit.visit_last_action_time >= {{start}} AND log_visit.visit_last_action_time <= {{end}} \
             AND log_visit.idsite IN ({{site}}) AND log_visit.{field} > 0 GROUP BY log_visit.{field}"
            )),
        ) {
            matomo.entry(label(&name)).or_default()[col] += v[0];
        }
    }
    if time {
        for (name, v) in named(conn, sql(
            "SELECT log_action.name, sum(log_link_visit_action.time_spent_ref_action) \
             FROM matomo_log_link_visit_action AS log_link_visit_action \
             LEFT JOIN matomo_log_action AS log_action ON log_link_visit_action.idaction_url_ref = log_action.idaction \
             WHERE log_link_visit_action.server_time >= {start} AND log_link_visit_action.server_time <= {end} \
             AND log_link_visit_action.idsite IN ({site}) AND log_link_visit_action.time_spent_ref_action > 0 \
             AND log_link_visit_action.idaction_event_category IS NULL \
             AND log_action.type IN (1) GROUP BY log_link_visit_action.idaction_url_ref".into(),
        )) {
            matomo.entry(label(&name)).or_default()[5] += v[0];
        }
    }
    let got = api(
        engine,
        &format!("method=Actions.getPageUrls&flat=1&idSite={site}&{}", p.api),
    );
    let ours: BTreeMap<String, [i64; 6]> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let c = |k| num(r, k);
            (
                r["label"].as_str().unwrap().to_string(),
                [
                    c("nb_hits"),
                    c("nb_visits"),
                    c("nb_uniq_visitors"),
                    c("entry_nb_visits"),
                    c("exit_nb_visits"),
                    if time { c("sum_time_spent") } else { 0 },
                ],
            )
        })
        .collect();
    assert_eq!(ours, matomo, "getPageUrls site {site} {}", p.api);
}

#[test]
fn keeping_matomos_visits_gives_matomos_numbers() {
    let mut conn = matomo_db("hm_keep", &spec(3, false));
    let mut engine = Engine::in_memory();
    // Small batches: many commits, visits cut across them.
    let summary = import(
        "hm_keep",
        &mut engine,
        &ImportOptions {
            batch_rows: 997,
            ..keep()
        },
    );
    let actions = rows(
        &mut conn,
        "SELECT count(*) FROM matomo_log_link_visit_action",
    )[0][0];
    assert_eq!(summary.rows() as i64, actions);
    assert_eq!(summary.hits(), summary.rows(), "{summary:?}");
    for (site, zone) in [(1, "Europe/Paris"), (2, "UTC")] {
        for p in periods(zone) {
            check_visits_summary(&mut conn, &engine, site, &p);
            check_referrer_types(&mut conn, &engine, site, &p);
            check_cities(&mut conn, &engine, site, &p);
            check_plugins(&mut conn, &engine, site, &p);
            // Page time too: downloads, outlinks, searches and events
            // between page views, as Matomo's tracker times them.
            check_page_urls(&mut conn, &engine, site, &p, true);
            check_goals(&mut conn, &engine, site, &p);
        }
    }
    // Every recorded conversion of a manual goal, order and cart came
    // in; Matomo's goals came with the sites (the deleted one did not).
    let conversions = rows(
        &mut conn,
        "SELECT count(*) FROM matomo_log_conversion WHERE idgoal <> 2",
    )[0][0];
    let read: u64 = summary.sites.iter().map(|s| s.conversions.0).sum();
    let taken: u64 = summary.sites.iter().map(|s| s.conversions.1).sum();
    assert!(conversions > 20, "{conversions}");
    assert_eq!((read as i64, taken as i64), (conversions, conversions));
    let goal_ids: Vec<u32> = engine
        .site(1)
        .unwrap()
        .goals()
        .iter()
        .map(|g| g.id())
        .collect();
    assert_eq!(goal_ids, [1, 2]);
    assert!(engine.site(2).unwrap().is_ecommerce() && !engine.site(1).unwrap().is_ecommerce());
    // Matomo's site name and main URL (its scheme kept).
    let site = api(&engine, "method=SitesManager.getSiteFromId&idSite=2");
    assert_eq!(site["name"], "Shop and news 2");
    assert!(
        site["main_url"].as_str().unwrap().starts_with("http://"),
        "{site}"
    );
    // The mapping, on one visit: names for DeviceDetector's codes, the
    // recorded referrer, the configured custom dimension.
    let visits = api(
        &engine,
        "method=DevicesDetection.getBrowsers&idSite=1&period=range&date=2025-03-20,2025-04-09",
    );
    let browsers = labels(&visits);
    assert!(
        browsers.contains(&"Firefox") && browsers.contains(&"Chrome Mobile"),
        "{browsers:?}"
    );
    let dims = api(
        &engine,
        "method=CustomDimensions.getCustomDimension&dimension=department&idSite=1&period=range&date=2025-03-20,2025-04-09",
    );
    let departments = labels(&dims);
    assert!(
        departments.contains(&"HR") && departments.contains(&"Sales"),
        "{departments:?}"
    );
    // Matomo's idcustomdimension numbers the dimension as it did there.
    let configured = api(
        &engine,
        "method=CustomDimensions.getConfiguredCustomDimensions&idSite=1",
    );
    assert_eq!(configured[0]["idcustomdimension"], 1);
    assert_eq!(configured[0]["name"], "department");
    let by_id = api(
        &engine,
        "method=CustomDimensions.getCustomDimension&idDimension=1&idSite=1&period=range&date=2025-03-20,2025-04-09",
    );
    assert_eq!(labels(&by_id), departments);
}

/// The import in stages on other threads (what `hitmap import-matomo`
/// runs), on one connection or two, stores what the plain one does.
#[test]
fn the_pipelined_import_stores_what_the_plain_one_does() {
    let name = "hm_pipe";
    matomo_db(name, &spec(23, false));
    for keep_visits in [true, false] {
        let options = ImportOptions {
            keep_visits,
            // Small batches: visits cut across them, every stage busy.
            batch_rows: 613,
            settle_secs: 0,
            ..ImportOptions::default()
        };
        let mut plain = Engine::in_memory();
        let want = import(name, &mut plain, &options);
        for connections in [1, 2, 3] {
            let mut dbs: Vec<MysqlDatabase> = (0..connections)
                .map(|_| MysqlDatabase::connect(&dsn(name)).unwrap())
                .collect();
            let mut engine = Engine::in_memory();
            let mut batches = 0;
            let got = matomo::import_pipelined(&mut engine, &mut dbs, &options, &mut |_| {
                batches += 1;
            })
            .unwrap();
            assert_eq!(got, want, "{connections} connections");
            assert!(batches > 10, "{batches}");
            for (site, zone) in [(1, "Europe/Paris"), (2, "UTC")] {
                for p in periods(zone) {
                    for method in [
                        "VisitsSummary.get",
                        "Actions.getPageUrls&flat=1",
                        "Actions.getPageTitles&flat=1",
                        "Actions.getEntryPageUrls&flat=1",
                        "Referrers.getReferrerType",
                        "Goals.get",
                        "DevicesDetection.getBrowsers",
                        "UserCountry.getCity",
                        "CustomDimensions.getCustomDimension&idDimension=1",
                    ] {
                        let q = format!("method={method}&idSite={site}&{}", p.api);
                        assert_eq!(
                            api(&engine, &q),
                            api(&plain, &q),
                            "{q}, {connections} connections, keep_visits {keep_visits}"
                        );
                    }
                }
            }
        }
    }
    let mut none: [MysqlDatabase; 0] = [];
    let err = matomo::import_pipelined(
        &mut Engine::in_memory(),
        &mut none,
        &ImportOptions::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("needs a connection"), "{err}");
}

#[test]
fn page_time_matches_matomo_when_visits_are_page_views() {
    let mut conn = matomo_db("hm_time", &spec(11, true));
    let mut engine = Engine::in_memory();
    import("hm_time", &mut engine, &keep());
    for (site, zone) in [(1, "Europe/Paris"), (2, "UTC")] {
        for p in periods(zone) {
            check_page_urls(&mut conn, &engine, site, &p, true);
        }
    }
}

#[test]
fn resessionizing_keeps_every_action_and_merges_only_close_visits() {
    let mut conn = matomo_db("hm_sess", &spec(5, false));
    let mut engine = Engine::in_memory();
    import(
        "hm_sess",
        &mut engine,
        &ImportOptions {
            settle_secs: 0,
            ..ImportOptions::default()
        },
    );
    let p = period(
        "Europe/Paris",
        "range",
        NaiveDate::from_ymd_opt(2025, 3, 20).unwrap(),
        NaiveDate::from_ymd_opt(2025, 4, 9).unwrap(),
    );
    let got = api(
        &engine,
        &format!("method=VisitsSummary.get&idSite=1&{}", p.api),
    );
    let m = rows(
        &mut conn,
        &format!(
            "SELECT count(distinct idvisitor), count(*), sum(visit_total_actions) FROM matomo_log_visit \
             WHERE idsite = 1 AND visit_last_action_time >= {} AND visit_last_action_time <= {}",
            p.start, p.end
        ),
    )
    .remove(0);
    // Same visitors and actions; a campaign click minutes after a visit
    // is a new visit for Matomo and the same visit for hitmap's rule.
    assert_eq!(num(&got, "nb_uniq_visitors"), m[0]);
    assert_eq!(num(&got, "nb_actions"), m[2]);
    assert!(num(&got, "nb_visits") < m[1], "{got} vs {m:?}");
}

#[test]
fn follow_mode_picks_up_new_rows_and_open_visits_exactly_once() {
    let name = "hm_follow";
    let mut conn = matomo_db(name, &spec(3, false));
    let dir = crate::TempDir::new("matomo-follow");
    let store = |f: &dyn Fn(&mut Engine)| {
        let mut e = Engine::open(&dir.0).unwrap();
        f(&mut e);
    };
    store(&|e| {
        import(name, e, &keep());
    });
    // The tracker goes on: an open visit gets two more actions and a new
    // visit arrives.
    let (last_visit, visitor, last_ts): (u64, String, String) = conn
        .query_first(
            "SELECT idvisit, HEX(idvisitor), visit_last_action_time FROM matomo_log_visit \
             WHERE idsite = 1 ORDER BY visit_last_action_time DESC LIMIT 1",
        )
        .unwrap()
        .unwrap();
    let next_id: u64 = conn
        .query_first("SELECT MAX(idlink_va) + 1 FROM matomo_log_link_visit_action")
        .unwrap()
        .unwrap();
    let url: u64 = conn
        .query_first(
            "SELECT idaction FROM matomo_log_action WHERE type = 1 AND name LIKE 'intranet.example.org/%' LIMIT 1",
        )
        .unwrap()
        .unwrap();
    for (i, secs) in [(0u64, 30), (1, 90)] {
        conn.query_drop(format!(
            "INSERT INTO matomo_log_link_visit_action (idlink_va, idsite, idvisitor, idvisit, server_time, idaction_url, time_spent_ref_action) \
             VALUES ({}, 1, UNHEX('{visitor}'), {last_visit}, '{last_ts}' + INTERVAL {secs} SECOND, {url}, 30)",
            next_id + i
        ))
        .unwrap();
    }
    conn.query_drop(format!(
        "UPDATE matomo_log_visit SET visit_total_actions = visit_total_actions + 2, \
         visit_total_time = visit_total_time + 90, visit_last_action_time = visit_last_action_time + INTERVAL 90 SECOND, \
         visit_exit_idaction_url = {url} WHERE idvisit = {last_visit}"
    ))
    .unwrap();
    // The next run takes the new rows only; a third finds nothing.
    store(&|e| {
        let s = import(name, e, &keep());
        assert_eq!((s.rows(), s.hits()), (2, 2));
        let again = import(name, e, &keep());
        assert_eq!(again.rows(), 0);
    });
    let engine = Engine::open_read_only(&dir.0).unwrap();
    for p in periods("Europe/Paris") {
        check_visits_summary(&mut conn, &engine, 1, &p);
        check_page_urls(&mut conn, &engine, 1, &p, false);
    }
    // Another window or mode on the same store is refused, not mixed.
    let mut e = Engine::open(&dir.0).unwrap();
    let mut db = MysqlDatabase::connect(&dsn(name)).unwrap();
    let err = matomo::import(
        &mut e,
        &mut db,
        &ImportOptions {
            settle_secs: 0,
            ..ImportOptions::default()
        },
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("--keep-visits"), "{err}");
}

#[test]
fn the_command_imports_and_reports() {
    let name = "hm_cli";
    let mut conn = matomo_db(name, &spec(9, false));
    let dir = crate::TempDir::new("matomo-cli");
    let out = crate::hitmap(&[
        "import-matomo",
        dir.0.to_str().unwrap(),
        "--dsn",
        &dsn(name),
        "--site",
        "2",
        "--keep-visits",
        "--from",
        "2025-03-25",
        "--settle-secs",
        "0",
        "--no-progress",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("site 2:"), "{text}");
    let engine = Engine::open_read_only(&dir.0).unwrap();
    assert_eq!(engine.site_ids(), [2]);
    for p in periods("UTC")
        .into_iter()
        .filter(|p| p.start.as_str() >= "'2025-03-25")
    {
        check_visits_summary(&mut conn, &engine, 2, &p);
    }
    // Nothing before --from: no visit that day.
    let march = api(
        &engine,
        "method=VisitsSummary.get&idSite=2&period=day&date=2025-03-24",
    );
    assert_eq!(march["nb_visits"], serde_json::json!(0));
    // A wrong password is a clear error that does not echo it.
    let out = crate::hitmap(&[
        "import-matomo",
        dir.0.to_str().unwrap(),
        "--dsn",
        &format!("mysql://nobody:s3cret@localhost/{name}?socket={}", socket()),
        "--no-progress",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot connect") && !err.contains("s3cret"),
        "{err}"
    );
}

/// The `sh` blocks of README's and docs/matomo.md's Matomo sections, run
/// as written against the test server (the DSN line pointed at it).
#[test]
fn the_documented_commands_work_as_written() {
    let name = "hm_readme";
    matomo_db(name, &spec(13, false));
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for (file, heading) in [
        ("README.md", "## Migrate from Matomo"),
        ("docs/matomo.md", "## Import once"),
    ] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        let section = text.split_once(heading).unwrap().1;
        let block = section
            .split("```sh\n")
            .nth(1)
            .unwrap()
            .split("```")
            .next()
            .unwrap();
        let script: Vec<String> = block
            .lines()
            .map(|l| {
                if l.starts_with("export HITMAP_MATOMO_DSN=") {
                    format!("export HITMAP_MATOMO_DSN='{}'", dsn(name))
                } else {
                    l.to_string()
                }
            })
            .collect();
        assert!(script.iter().any(|l| l.starts_with("hitmap import-matomo")));
        let dir = crate::TempDir::new("matomo-doc");
        let bin = std::path::Path::new(env!("CARGO_BIN_EXE_hitmap"))
            .parent()
            .unwrap();
        let out = std::process::Command::new("sh")
            .arg("-ec")
            .arg(script.join("\n"))
            .current_dir(&dir.0)
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("imported") && stdout.contains("nb_visits"),
            "{file}: {stdout}"
        );
    }
}

/// A connection that fails after a number of queries, as a dropped link
/// or a killed server would.
struct Flaky {
    inner: MysqlDatabase,
    left: usize,
}

impl matomo::Database for Flaky {
    fn query(&mut self, sql: &str) -> Result<Vec<Vec<matomo::Value>>, String> {
        if self.left == 0 {
            return Err("Lost connection to server during query".into());
        }
        self.left -= 1;
        self.inner.query(sql)
    }
}

#[test]
fn an_interrupted_import_resumes_without_loss_or_double_counting() {
    let name = "hm_resume";
    let mut conn = matomo_db(name, &spec(17, false));
    let dir = crate::TempDir::new("matomo-resume");
    let options = ImportOptions {
        batch_rows: 250,
        ..keep()
    };
    let flaky = |left| Flaky {
        inner: MysqlDatabase::connect(&dsn(name)).unwrap(),
        left,
    };
    // Fail part-way, several times: each run keeps what it committed,
    // whether the import runs on one thread, or in stages on two
    // connections and one of them fails (the actions' or the lookups').
    let mut failures = 0;
    for (run, left) in [16, 18, 6, 20].into_iter().enumerate() {
        let mut e = Engine::open(&dir.0).unwrap();
        let before = e.cursor("matomo:1").map(str::to_owned);
        let err = match run {
            0 | 3 => matomo::import(&mut e, &mut flaky(left), &options, &mut |_| {}),
            1 => matomo::import_pipelined(
                &mut e,
                &mut [flaky(left), flaky(usize::MAX)],
                &options,
                &mut |_| {},
            ),
            _ => matomo::import_pipelined(
                &mut e,
                &mut [flaky(usize::MAX), flaky(left)],
                &options,
                &mut |_| {},
            ),
        }
        .unwrap_err();
        assert!(err.to_string().contains("Lost connection"), "{err}");
        assert_ne!(
            e.cursor("matomo:1").map(str::to_owned),
            before,
            "run {run} committed nothing"
        );
        failures += 1;
    }
    assert_eq!(failures, 4);
    let mut e = Engine::open(&dir.0).unwrap();
    let rest = import(name, &mut e, &options);
    let total = rows(
        &mut conn,
        "SELECT count(*) FROM matomo_log_link_visit_action",
    )[0][0];
    assert!(rest.rows() > 0 && (rest.rows() as i64) < total, "{rest:?}");
    // The conversions' checkpoint is the actions' one: they are
    // committed with the batches of actions around them.
    let checkpoint = e.cursor("matomo:1").unwrap().to_owned();
    assert!(checkpoint.contains(";conversions="), "{checkpoint}");
    assert_eq!(e.cursor("matomo-conversions:1"), None);
    drop(e);
    let engine = Engine::open_read_only(&dir.0).unwrap();
    for (site, zone) in [(1, "Europe/Paris"), (2, "UTC")] {
        for p in periods(zone) {
            check_visits_summary(&mut conn, &engine, site, &p);
            check_page_urls(&mut conn, &engine, site, &p, false);
            // Conversions too: none lost or counted twice across the
            // interruptions.
            check_goals(&mut conn, &engine, site, &p);
        }
    }
}

/// A store an earlier hitmap imported keeps its conversions' checkpoint
/// under its own key: a later run goes on from it and does not read
/// those conversions again.
#[test]
fn an_older_stores_conversions_checkpoint_is_honoured() {
    let name = "hm_old_conv";
    let mut conn = matomo_db(name, &spec(29, false));
    let all = import(name, &mut Engine::in_memory(), &keep());
    let read: u64 = all.sites.iter().map(|s| s.conversions.0).sum();
    assert!(read > 20, "{all:?}");
    // The middle conversion of site 2, as the older key held it.
    let mid = rows(
        &mut conn,
        "SELECT TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', server_time), idvisit, idgoal, buster \
         FROM matomo_log_conversion WHERE idsite = 2 AND idgoal <= 0 \
         ORDER BY server_time, idvisit, idgoal, buster",
    );
    let after = mid.len() / 2;
    let m = &mid[after - 1];
    let mut engine = Engine::in_memory();
    engine
        .ingest_with(
            &[] as &[hitmap::Hit],
            &hitmap::IngestOptions::default().cursor(
                "matomo-conversions:2",
                format!("{}:{}:{}:{}", m[0], m[1], m[2], m[3]),
            ),
        )
        .unwrap();
    let s = import(name, &mut engine, &keep());
    let site2 = |s: &matomo::Summary| s.sites.iter().find(|x| x.site == 2).unwrap().conversions;
    assert_eq!(site2(&s).0, site2(&all).0 - after as u64, "{s:?}");
    let site1 = |s: &matomo::Summary| s.sites.iter().find(|x| x.site == 1).unwrap().conversions;
    assert_eq!(site1(&s), site1(&all));
}

#[test]
fn the_follow_command_keeps_a_store_current() {
    let name = "hm_follow_cli";
    let mut conn = matomo_db(name, &spec(21, false));
    let dir = crate::TempDir::new("matomo-follow-cli");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hitmap"))
        .args(["import-matomo", dir.0.to_str().unwrap(), "--site", "2"])
        .args(["--keep-visits", "--settle-secs", "0", "--no-progress"])
        .args(["--follow", "--interval", "1"])
        .env("HITMAP_MATOMO_DSN", dsn(name))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let cursor = || {
        Engine::open_read_only(&dir.0)
            .ok()
            .and_then(|e| e.cursor("matomo:2").map(str::to_owned))
    };
    let wait_for = |what: &dyn Fn(&str) -> bool| {
        for _ in 0..300 {
            if cursor().is_some_and(|c| what(&c)) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    };
    let last: u64 = conn
        .query_first("SELECT MAX(idlink_va) FROM matomo_log_link_visit_action WHERE idsite = 2")
        .unwrap()
        .unwrap();
    assert!(
        wait_for(&|c| c.contains(&format!("cursor={last};"))),
        "{:?}",
        cursor()
    );
    // The tracker records a new visit; the running importer takes it.
    let url: u64 = conn
        .query_first("SELECT idaction FROM matomo_log_action WHERE type = 1 LIMIT 1")
        .unwrap()
        .unwrap();
    conn.query_drop(
        "INSERT INTO matomo_log_visit (idvisit, idsite, idvisitor, visit_first_action_time, visit_last_action_time, config_id, location_ip, visit_total_actions, visit_total_time) \
         VALUES (999999, 2, UNHEX('00000000000000ff'), '2025-04-09 12:00:00', '2025-04-09 12:00:00', UNHEX('00000000000000ff'), UNHEX('7f000001'), 1, 0)"
    )
    .unwrap();
    conn.query_drop(format!(
        "INSERT INTO matomo_log_link_visit_action (idlink_va, idsite, idvisitor, idvisit, server_time, idaction_url) \
         VALUES ({}, 2, UNHEX('00000000000000ff'), 999999, '2025-04-09 12:00:00', {url})",
        last + 100_000
    ))
    .unwrap();
    let next = last + 100_000;
    let caught_up = wait_for(&|c| c.contains(&format!("cursor={next};")));
    let _ = child.kill();
    let _ = child.wait();
    assert!(caught_up, "{:?}", cursor());
    let engine = Engine::open_read_only(&dir.0).unwrap();
    check_visits_summary(
        &mut conn,
        &engine,
        2,
        &period(
            "UTC",
            "day",
            NaiveDate::from_ymd_opt(2025, 4, 9).unwrap(),
            NaiveDate::from_ymd_opt(2025, 4, 9).unwrap(),
        ),
    );
}

/// The rows of a query whose first `texts` columns are names (`None`
/// for NULL) and the rest numbers (NULL as 0).
fn named_rows(
    conn: &mut mysql::Conn,
    q: &str,
    texts: usize,
) -> Vec<(Vec<Option<String>>, Vec<i64>)> {
    let rows: Vec<mysql::Row> = conn.query(q).unwrap();
    rows.into_iter()
        .map(|r| {
            let mut vals = r.unwrap().into_iter();
            let names = (&mut vals)
                .take(texts)
                .map(|v| match v {
                    mysql::Value::Bytes(b) => Some(String::from_utf8(b).unwrap()),
                    mysql::Value::NULL => None,
                    other => panic!("{other:?}"),
                })
                .collect();
            let nums = vals
                .map(|v| match v {
                    mysql::Value::Int(i) => i,
                    mysql::Value::UInt(u) => u as i64,
                    mysql::Value::Bytes(b) => String::from_utf8(b).unwrap().parse().unwrap(),
                    mysql::Value::NULL => 0,
                    other => panic!("{other:?}"),
                })
                .collect();
            (names, nums)
        })
        .collect()
}

/// Matomo's Contents archiver (`ContentRecords`): impressions grouped by
/// (piece, target, name) with their distinct visits and visitors, and
/// interactions by (piece, interaction, name), added up per name (or
/// piece) as its record does; interactions count where the row has
/// impressions. (label, visits, visitors, impressions, interactions).
fn matomo_contents(conn: &mut mysql::Conn, by_piece: bool) -> BTreeMap<String, [i64; 4]> {
    let named =
        |conn: &mut mysql::Conn, q: &str| -> Vec<(Option<String>, Option<String>, Vec<i64>)> {
            named_rows(conn, q, 2)
                .into_iter()
                .map(|(mut names, nums)| (names.remove(0), names.remove(0), nums))
                .collect()
        };
    let impressions = named(
        conn,
        "SELECT p.name, n.name, count(distinct l.idvisit), count(distinct l.idvisitor), count(*) \
         FROM matomo_log_link_visit_action l \
         LEFT JOIN matomo_log_action p ON l.idaction_content_piece = p.idaction \
         LEFT JOIN matomo_log_action t ON l.idaction_content_target = t.idaction \
         LEFT JOIN matomo_log_action n ON l.idaction_content_name = n.idaction \
         WHERE l.idaction_content_name IS NOT NULL AND l.idaction_content_interaction IS NULL \
         GROUP BY l.idaction_content_piece, l.idaction_content_target, l.idaction_content_name",
    );
    let interactions = named(
        conn,
        "SELECT p.name, n.name, count(*) FROM matomo_log_link_visit_action l \
         LEFT JOIN matomo_log_action p ON l.idaction_content_piece = p.idaction \
         LEFT JOIN matomo_log_action i ON l.idaction_content_interaction = i.idaction \
         LEFT JOIN matomo_log_action n ON l.idaction_content_name = n.idaction \
         WHERE l.idaction_content_name IS NOT NULL AND l.idaction_content_interaction IS NOT NULL \
         GROUP BY p.idaction, i.idaction, n.idaction",
    );
    let label = |piece: &Option<String>, name: &Option<String>| -> Option<String> {
        if by_piece {
            piece.clone()
        } else {
            name.clone()
        }
    };
    let mut out: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for (piece, name, n) in &impressions {
        let key = label(piece, name).unwrap_or_else(|| "Content Piece not defined".into());
        let row = out.entry(key).or_default();
        row[0] += n[0];
        row[1] += n[1];
        row[2] += n[2];
    }
    for (piece, name, n) in &interactions {
        if let Some(row) = label(piece, name).and_then(|k| out.get_mut(&k)) {
            row[3] += n[0];
        }
    }
    out
}

#[test]
fn contents_import_as_matomos_content_archiver_counts_them() {
    // Matomo's Contents system test (TwoVisitsWithContents) as its tracker
    // stores it: two visitors, each a page view then content impressions
    // and interactions (their URL an action of type 13).
    let mut conn = matomo_data::create_db(socket(), "hm_contents", false);
    conn.query_drop(
        "INSERT INTO matomo_site (idsite, name, main_url, ts_created, ecommerce, sitesearch_keyword_parameters, \
         sitesearch_category_parameters, timezone, currency, excluded_ips, excluded_parameters, excluded_user_agents, \
         excluded_referrers, `group`, `type`) VALUES (1, 'Contents', 'http://www.example.org', NOW(), 0, '', '', 'UTC', \
         'EUR', '', '', '', '', '', 'website')",
    )
    .unwrap();
    let names: [(&str, u8); 14] = [
        ("www.example.org/page", 1),
        ("Ads", 4),
        ("http://www.example.org/page", 13),
        ("ImageAd", 13),
        ("Text Ad", 13),
        ("Video Ad", 13),
        ("Unknown", 14),
        ("/path/ad.jpg", 14),
        ("/path/ad2.jpg", 14),
        ("Click to download Piwik now", 14),
        ("Click NOW", 14),
        ("movie.mov", 14),
        ("http://www.example.com", 15),
        ("click", 16),
    ];
    let actions: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, (name, kind))| {
            let prefix = if *kind == 1 { "1" } else { "NULL" };
            format!("({}, '{name}', {i}, {kind}, {prefix})", i + 1)
        })
        .collect();
    conn.query_drop(format!(
        "INSERT INTO matomo_log_action (idaction, name, hash, type, url_prefix) VALUES {}",
        actions.join(",")
    ))
    .unwrap();
    let id = |name: &str| names.iter().position(|(n, _)| *n == name).unwrap() + 1;
    // (seconds after the visit's start, name, piece, target, interaction)
    type ContentRow<'a> = (
        i64,
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );
    let contents: [ContentRow; 9] = [
        (0, "ImageAd", Some("Unknown"), None, None),
        (0, "ImageAd", None, None, None),
        (
            120,
            "ImageAd",
            Some("/path/ad.jpg"),
            Some("http://www.example.com"),
            None,
        ),
        (
            120,
            "ImageAd",
            Some("/path/ad2.jpg"),
            Some("http://www.example.com"),
            None,
        ),
        (
            120,
            "ImageAd",
            Some("/path/ad.jpg"),
            Some("http://www.example.com"),
            Some("click"),
        ),
        (
            180,
            "Text Ad",
            Some("Click to download Piwik now"),
            None,
            None,
        ),
        (180, "Text Ad", Some("Click NOW"), None, Some("click")),
        (270, "Video Ad", Some("movie.mov"), None, None),
        (275, "Video Ad", Some("movie.mov"), None, None),
    ];
    let opt = |x: Option<&str>| x.map_or("NULL".to_string(), |n| id(n).to_string());
    let mut link = 0;
    for (v, start) in [(1u64, "2010-01-03 11:22:33"), (2, "2010-01-03 11:52:33")] {
        let visitor = format!("UNHEX('000000000000000{v}')");
        let at = |s: i64| format!("DATE_ADD('{start}', INTERVAL {s} SECOND)");
        conn.query_drop(format!(
            "INSERT INTO matomo_log_visit (idvisit, idsite, idvisitor, visit_last_action_time, config_id, location_ip, \
             visit_first_action_time, visit_total_time, visit_total_actions, referer_type) \
             VALUES ({v}, 1, {visitor}, {}, {visitor}, UNHEX('7F000001'), '{start}', 276, 1, 1)",
            at(275)
        ))
        .unwrap();
        link += 1;
        conn.query_drop(format!(
            "INSERT INTO matomo_log_link_visit_action (idlink_va, idsite, idvisitor, idvisit, server_time, idaction_url, \
             idaction_name) VALUES ({link}, 1, {visitor}, {v}, '{start}', {}, {})",
            id("www.example.org/page"),
            id("Ads")
        ))
        .unwrap();
        for (s, name, piece, target, interaction) in contents {
            link += 1;
            conn.query_drop(format!(
                "INSERT INTO matomo_log_link_visit_action (idlink_va, idsite, idvisitor, idvisit, server_time, \
                 idaction_url, idaction_content_name, idaction_content_piece, idaction_content_target, \
                 idaction_content_interaction) VALUES ({link}, 1, {visitor}, {v}, {}, {}, {}, {}, {}, {})",
                at(s),
                id("http://www.example.org/page"),
                id(name),
                opt(piece),
                opt(target),
                opt(interaction)
            ))
            .unwrap();
        }
    }
    let mut engine = Engine::in_memory();
    let summary = import("hm_contents", &mut engine, &keep());
    assert_eq!(summary.hits(), summary.rows(), "{summary:?}");
    assert_eq!(summary.rows(), 20);
    for (method, by_piece) in [
        ("Contents.getContentNames", false),
        ("Contents.getContentPieces", true),
    ] {
        let got = api(
            &engine,
            &format!("method={method}&idSite=1&period=day&date=2010-01-03"),
        );
        let ours: BTreeMap<String, [i64; 4]> = got
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let n = |k| num(r, k);
                (
                    r["label"].as_str().unwrap().to_owned(),
                    [
                        n("nb_visits"),
                        n("nb_uniq_visitors"),
                        n("nb_impressions"),
                        n("nb_interactions"),
                    ],
                )
            })
            .collect();
        assert_eq!(ours, matomo_contents(&mut conn, by_piece), "{method}");
    }
    // The contents are not actions, and the visit keeps its page view's
    // visit columns (the first content row carries none).
    let summary = api(
        &engine,
        "method=VisitsSummary.get&idSite=1&period=day&date=2010-01-03",
    );
    assert_eq!(
        (num(&summary, "nb_visits"), num(&summary, "nb_actions")),
        (2, 2)
    );
}
