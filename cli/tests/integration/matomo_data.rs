//! Generated Matomo data, written into Matomo 5's tables the way its
//! tracker stores them: visits split at 30 minutes of inactivity, at the
//! site's midnight and when a campaign starts; `log_visit` columns
//! (totals, entry and exit, referrer, device codes) kept current as the
//! tracker does; actions with `idaction_url_ref` and
//! `time_spent_ref_action`; ids given in arrival order. Shared by the
//! import tests and `examples/matomo_bench.rs`.

use std::collections::HashMap;
use std::fmt::Write as _;

use chrono::{NaiveDate, TimeZone};
use mysql::prelude::Queryable;

/// Starts (or finds running) a private MariaDB in `dir` with
/// `scripts/mariadb`, stopped when this process exits; its socket.
pub fn start_server(dir: &std::path::Path) -> String {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = std::process::Command::new(root.join("scripts/mariadb"))
        .arg(dir)
        .arg(std::process::id().to_string())
        .output()
        .expect("scripts/mariadb runs");
    assert!(
        out.status.success(),
        "MariaDB did not start (scripts/test-all installs mariadb-server): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A connection to database `db` on the server at `socket`.
pub fn dsn(socket: &str, db: &str) -> String {
    format!("mysql://root@localhost/{db}?socket={socket}")
}

/// Creates database `name` afresh (or keeps it with `keep`) with Matomo
/// 5's schema, and connects to it.
pub fn create_db(socket: &str, name: &str, keep: bool) -> mysql::Conn {
    let mut admin =
        mysql::Conn::new(mysql::Opts::from_url(&dsn(socket, "mysql")).unwrap()).unwrap();
    if !keep {
        admin
            .query_drop(format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        admin.query_drop(format!("CREATE DATABASE {name}")).unwrap();
    }
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(&dsn(socket, name)).unwrap()).unwrap();
    if !keep {
        let schema = include_str!("../fixtures/matomo5-schema.sql");
        for stmt in schema.split(';').filter(|s| s.contains("CREATE")) {
            conn.query_drop(stmt).unwrap();
        }
    }
    conn
}

/// A site-local time as the SQL literal of its UTC time (what Matomo's
/// archiver binds for a period's first and last second).
pub fn utc_literal(tz: chrono_tz::Tz, day: NaiveDate, h: u32, m: u32, s: u32) -> String {
    tz.from_local_datetime(&day.and_hms_opt(h, m, s).unwrap())
        .earliest()
        .unwrap()
        .naive_utc()
        .format("'%Y-%m-%d %H:%M:%S'")
        .to_string()
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub seed: u64,
    /// (idsite, IANA zone, host).
    pub sites: Vec<(u32, &'static str, &'static str)>,
    pub first_day: NaiveDate,
    pub days: u32,
    pub visitors: u32,
    /// Chance (per mille) that a visitor comes on a given day.
    pub daily_per_mille: u32,
    /// Page views only (no downloads, outlinks, searches or events).
    pub pageviews_only: bool,
}

/// One generated action before ids are given.
#[derive(Debug, Clone)]
struct Act {
    ts: i64,
    /// 1 page, 2 outlink, 3 download, 8 search, 10 event: also the
    /// `log_action` type of its URL.
    kind: u8,
    /// URL without its prefix, and `url_prefix`.
    url: Option<(String, u8)>,
    /// Name and its `log_action` type (4 title, 8 keyword, 12 event name).
    name: Option<(String, u8)>,
    event: Option<(String, String)>,
    value: Option<f64>,
    dim: Option<String>,
}

#[derive(Debug, Clone)]
struct Visit {
    site: u32,
    visitor: [u8; 8],
    user: Option<String>,
    acts: Vec<Act>,
    referrer: (u8, Option<String>, Option<String>, Option<String>),
    device: (u8, &'static str, &'static str),
    country: &'static str,
    /// `location_region`, `location_city`, latitude, longitude (SQL text).
    place: (&'static str, &'static str, &'static str, &'static str),
    lang: &'static str,
    dim: Option<String>,
    /// `config_cookie` .. `config_windowsmedia` (bit i: the i-th of
    /// `hitmap::PLUGIN_NAMES`): 0, 1 or NULL.
    plugins: [Option<u8>; 8],
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

const DEVICES: [(u8, &str, &str); 5] = [
    (0, "FF", "WIN"),
    (0, "CH", "MAC"),
    (1, "CM", "AND"),
    (2, "MF", "IOS"),
    (0, "UNK", "LIN"),
];
const COUNTRIES: [&str; 5] = ["fr", "de", "gb", "us", "xx"];
/// Locations as Matomo's GeoIP provider records them (a city without a
/// region, a region without a city, none).
const PLACES: [(&str, &str, &str, &str); 5] = [
    ("'VA'", "'Ashburn'", "39.044000", "-77.488000"),
    ("'VA'", "'Ashburn'", "39.050000", "-77.500000"),
    ("NULL", "'Singapore'", "1.367000", "103.800000"),
    ("'NU'", "NULL", "69.400000", "-81.800000"),
    ("NULL", "NULL", "NULL", "NULL"),
];
const LANGS: [&str; 4] = ["fr-fr,fr;q=0.9", "de", "en-gb", "xx"];
const DEPARTMENTS: [&str; 3] = ["HR", "IT", "Sales"];

/// Generates the visits and loads them into `db` (which must hold the
/// schema of `fixtures/matomo5-schema.sql`). Returns the number of
/// actions written.
pub fn load(conn: &mut mysql::Conn, spec: &Spec) -> u64 {
    let mut rng = Rng(spec.seed | 1);
    let mut visits = Vec::new();
    for &(site, zone, host) in &spec.sites {
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        for v in 0..spec.visitors {
            let visitor =
                (u64::from(v).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(site)).to_be_bytes();
            let user = (v % 7 == 0).then(|| format!("user{v}"));
            let dim = (v % 4 != 0).then(|| DEPARTMENTS[(v as usize / 4) % 3].to_string());
            for d in 0..spec.days {
                if rng.below(1000) >= u64::from(spec.daily_per_mille) {
                    continue;
                }
                let day = spec.first_day + chrono::Days::new(u64::from(d));
                let midnight = |day: NaiveDate| {
                    tz.from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
                        .earliest()
                        .unwrap()
                        .timestamp()
                };
                let (start, end) = (midnight(day), midnight(day.succ_opt().unwrap()));
                let mut t = start + rng.below(((end - start) * 9 / 10) as u64) as i64;
                let mut campaign_follows = false;
                for _ in 0..1 + rng.below(3) {
                    if t >= end {
                        break;
                    }
                    let referrer = if campaign_follows {
                        campaign(&mut rng, host)
                    } else {
                        referrer(&mut rng, host)
                    };
                    let mut acts = Vec::new();
                    for i in 0..1 + rng.below(8) {
                        if i > 0 {
                            let long = rng.below(10) == 0;
                            t += 1 + rng.below(if long { 1500 } else { 240 }) as i64;
                        }
                        if t >= end {
                            break;
                        }
                        acts.push(action(&mut rng, t, host, spec.pageviews_only, i == 0));
                    }
                    if acts.is_empty() {
                        break;
                    }
                    visits.push(Visit {
                        site,
                        visitor,
                        user: user.clone(),
                        acts,
                        referrer,
                        device: rng.pick(&DEVICES),
                        country: rng.pick(&COUNTRIES),
                        place: rng.pick(&PLACES),
                        lang: rng.pick(&LANGS),
                        dim: dim.clone(),
                        plugins: std::array::from_fn(|_| match rng.below(5) {
                            0 => None,
                            1 | 2 => Some(0),
                            _ => Some(1),
                        }),
                    });
                    // The next visit: sometimes a campaign click a few
                    // minutes later (Matomo starts a new visit for it),
                    // else after more than 30 minutes.
                    campaign_follows = rng.below(4) == 0;
                    t += if campaign_follows {
                        60 + rng.below(600) as i64
                    } else {
                        1800 + rng.below(20_000) as i64
                    };
                }
            }
        }
    }
    write(conn, spec, visits)
}

fn referrer(rng: &mut Rng, host: &str) -> (u8, Option<String>, Option<String>, Option<String>) {
    match rng.below(6) {
        0 | 1 => (1, None, None, None),
        2 => {
            let kw = rng.pick(&["holidays", "payroll", "canteen menu"]);
            (
                2,
                Some("Google".into()),
                Some(kw.into()),
                Some(format!(
                    "https://www.google.fr/search?q={}",
                    kw.replace(' ', "+")
                )),
            )
        }
        3 => (
            3,
            Some("blog.example.com".into()),
            None,
            Some("https://blog.example.com/post/1".into()),
        ),
        4 => (
            7,
            Some("Facebook".into()),
            None,
            Some("https://m.facebook.com/".into()),
        ),
        _ => campaign(rng, host),
    }
}

fn campaign(rng: &mut Rng, _host: &str) -> (u8, Option<String>, Option<String>, Option<String>) {
    let name = rng.pick(&["spring-mail", "newsletter"]);
    (6, Some(name.into()), Some("banner".into()), None)
}

fn action(rng: &mut Rng, ts: i64, host: &str, pageviews_only: bool, first: bool) -> Act {
    let page = |rng: &mut Rng| {
        let path = rng.pick(&[
            "",
            "news",
            "news/a",
            "news/b?x=1",
            "teams/hr",
            "teams/hr/payroll",
            "teams/it",
            "about",
        ]);
        (
            format!("{host}/{path}"),
            if rng.below(3) == 0 { 2 } else { 3 },
        )
    };
    let kind = if pageviews_only || first {
        1
    } else {
        rng.pick(&[1, 1, 1, 1, 2, 3, 8, 10])
    };
    let mut a = Act {
        ts,
        kind,
        url: None,
        name: None,
        event: None,
        value: None,
        dim: (rng.below(5) == 0).then(|| "beta".to_string()),
    };
    match kind {
        1 => {
            let url = page(rng);
            let title = url.0.rsplit('/').next().unwrap_or("").to_string();
            a.name = (!title.is_empty()).then_some((format!("Title {title}"), 4));
            a.url = Some(url);
        }
        2 => a.url = Some((format!("partner.example.net/{}", rng.below(3)), 2)),
        3 => a.url = Some((format!("{host}/files/report-{}.pdf", rng.below(4)), 3)),
        8 => a.name = Some((rng.pick(&["leave", "vpn", "badge"]).to_string(), 8)),
        _ => {
            a.event = Some((
                rng.pick(&["video", "form"]).to_string(),
                rng.pick(&["play", "submit"]).to_string(),
            ));
            a.name = (rng.below(2) == 0).then(|| ("intro".to_string(), 12));
            a.value = (rng.below(2) == 0).then(|| rng.below(100) as f64 / 4.0);
            a.url = Some(page(rng));
        }
    }
    a
}

/// `log_action`: one id per (name, type).
#[derive(Default)]
struct Actions {
    ids: HashMap<(String, u8), u64>,
    rows: Vec<String>,
}

impl Actions {
    fn id(&mut self, name: &(String, u8), prefix: Option<u8>) -> u64 {
        let next = self.ids.len() as u64 + 1;
        *self.ids.entry(name.clone()).or_insert_with(|| {
            self.rows.push(format!(
                "({next}, {}, CRC32({}), {}, {})",
                sql_str(Some(&name.0)),
                sql_str(Some(&name.0)),
                name.1,
                prefix.map_or("NULL".into(), |p| p.to_string())
            ));
            next
        })
    }

    /// The id of an action's URL (its type is the action's kind).
    fn url(&mut self, a: &Act) -> u64 {
        let (url, prefix) = a.url.clone().unwrap();
        self.id(&(url, a.kind), Some(prefix))
    }

    fn name(&mut self, a: Option<&Act>) -> String {
        a.and_then(|a| a.name.as_ref())
            .map_or("NULL".into(), |n| self.id(n, None).to_string())
    }
}

fn sql_str(s: Option<&str>) -> String {
    match s {
        None => "NULL".into(),
        Some(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''")),
    }
}

fn datetime(ts: i64) -> String {
    format!(
        "'{}'",
        chrono::DateTime::from_timestamp(ts, 0)
            .unwrap()
            .format("%Y-%m-%d %H:%M:%S")
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// Gives ids in arrival order and writes the rows.
/// Site 1's goals: a manual one (its conversions are recorded in
/// `log_conversion`) and a URL one (Matomo records its conversions too,
/// hitmap computes them from the actions; none are generated here).
/// Every other site is an ecommerce site.
const GOALS: &str = "(1, 1, 'Signed up', 'manually', '', '', 0, 0, 5, 0), \
    (1, 2, 'News', 'url', 'news', 'contains', 0, 0, 2, 0), \
    (1, 3, 'Gone', 'manually', '', '', 0, 0, 1, 1)";

/// Recorded conversions for some visits, as Matomo's tracker writes
/// them: on site 1 conversions of manual goal 1, elsewhere ecommerce
/// orders (a unique id, products in `log_conversion_item`) or abandoned
/// carts (idgoal -1, products under order id '0'), never both in one
/// visit (an order takes its visit's cart over).
fn conversions(spec: &Spec, visits: &[Visit], dict: &mut Actions) -> (Vec<String>, Vec<String>) {
    let mut rng = Rng(spec.seed.wrapping_mul(31) | 1);
    let (mut rows, mut items) = (Vec::new(), Vec::new());
    for (vi, v) in visits.iter().enumerate() {
        let roll = rng.below(10);
        let at = v.acts[rng.below(v.acts.len() as u64) as usize].ts;
        let visitor = hex(&v.visitor);
        let url = "'https://x.org/thanks'";
        let cents = |rng: &mut Rng| (1 + rng.below(20_000)) as f64 / 100.0;
        if v.site == 1 {
            if roll < 2 {
                let revenue = cents(&mut rng);
                rows.push(format!(
                    "({}, 1, UNHEX('{visitor}'), {}, 1, 0, NULL, NULL, {url}, {revenue}, NULL, NULL, NULL, NULL)",
                    vi + 1,
                    datetime(at)
                ));
            }
            continue;
        }
        if roll >= 3 {
            continue;
        }
        let order = roll < 2;
        let mut total_items = 0;
        let mut subtotal = 0.0;
        for k in 0..1 + rng.below(3) {
            let price = cents(&mut rng);
            let quantity = 1 + rng.below(3);
            total_items += quantity;
            subtotal += price * quantity as f64;
            let sku = dict.id(&(format!("SKU{}", (vi as u64 + k) % 7), 5), None);
            let name = dict.id(&(format!("Product {}", (vi as u64 + k) % 7), 6), None);
            let category = dict.id(&(format!("Category {}", (vi as u64 + k) % 3), 7), None);
            items.push(format!(
                "({}, UNHEX('{visitor}'), {}, {}, '{}', {sku}, {name}, {category}, 0, 0, 0, 0, {price}, {quantity}, 0)",
                v.site,
                datetime(at),
                vi + 1,
                if order { format!("O{}", vi + 1) } else { "0".into() }
            ));
        }
        let subtotal = (subtotal * 100.0).round() / 100.0;
        if order {
            rows.push(format!(
                "({}, {}, UNHEX('{visitor}'), {}, 0, {}, 'O{}', {total_items}, {url}, {}, {subtotal}, 3.5, 4.25, 1)",
                vi + 1,
                v.site,
                datetime(at),
                vi + 1,
                vi + 1,
                subtotal + 3.5 + 4.25 - 1.0
            ));
        } else {
            rows.push(format!(
                "({}, {}, UNHEX('{visitor}'), {}, -1, 0, NULL, {total_items}, {url}, {subtotal}, NULL, NULL, NULL, NULL)",
                vi + 1,
                v.site,
                datetime(at)
            ));
        }
    }
    (rows, items)
}

fn write(conn: &mut mysql::Conn, spec: &Spec, mut visits: Vec<Visit>) -> u64 {
    conn.query_drop(format!(
        "INSERT INTO matomo_goal (idsite, idgoal, name, match_attribute, pattern, pattern_type, case_sensitive, allow_multiple, revenue, deleted) VALUES {GOALS}"
    ))
    .unwrap();
    for &(site, zone, host) in &spec.sites {
        conn.query_drop(format!(
            "INSERT INTO matomo_site (idsite, name, main_url, ts_created, ecommerce, sitesearch_keyword_parameters, sitesearch_category_parameters, timezone, currency, excluded_ips, excluded_parameters, excluded_user_agents, excluded_referrers, `group`, `type`) \
             VALUES ({site}, 'Shop and news {site}', 'http://{host}', NOW(), {}, '', '', '{zone}', 'EUR', '', '', '', '', '', 'website')",
            u8::from(site != 1)
        ))
        .unwrap();
        conn.query_drop(format!(
            "INSERT INTO matomo_site_url (idsite, url) VALUES ({site}, 'https://www.{host}')"
        ))
        .unwrap();
        conn.query_drop(format!(
            "INSERT INTO matomo_custom_dimensions (idcustomdimension, idsite, name, `index`, scope, active, extractions) VALUES \
             (1, {site}, 'department', 1, 'visit', 1, '[]'), (2, {site}, 'variant', 1, 'action', 1, '[]')"
        ))
        .unwrap();
    }
    visits.sort_by_key(|v| (v.acts[0].ts, v.site, v.visitor));
    let mut dict = Actions::default();
    // Actions in arrival order across all visits.
    let mut order: Vec<(i64, usize, usize)> = Vec::new();
    for (vi, v) in visits.iter().enumerate() {
        for (ai, a) in v.acts.iter().enumerate() {
            order.push((a.ts, vi, ai));
        }
    }
    order.sort();
    let mut visit_rows = Vec::with_capacity(visits.len());
    let mut count_visits: HashMap<(u32, [u8; 8]), (u32, i64)> = HashMap::new();
    for (vi, v) in visits.iter().enumerate() {
        let first = v.acts[0].ts;
        let last = v.acts[v.acts.len() - 1].ts;
        let pages: Vec<&Act> = v.acts.iter().filter(|a| a.kind == 1).collect();
        let entry = pages.first().map_or(0, |a| dict.url(a));
        let exit = pages.last().map_or(0, |a| dict.url(a));
        let entry_name = dict.name(pages.first().copied());
        let exit_name = dict.name(pages.last().copied());
        let seen = count_visits.entry((v.site, v.visitor)).or_insert((0, 0));
        let since_last = if seen.0 == 0 { 0 } else { first - seen.1 };
        seen.0 += 1;
        seen.1 = last;
        let (rtype, rname, rkw, rurl) = &v.referrer;
        visit_rows.push(format!(
            "({}, {}, UNHEX('{}'), {}, UNHEX('{}'), UNHEX('7f000001'), {}, {}, {}, {}, {entry_name}, {entry}, {exit_name}, {exit}, {n}, {n}, {searches}, {}, {}, {rtype}, {}, '{}', '{}', '', {}, '{}', '', {events}, '12:00:00', {since_last}, '1920x1080', {}, '{}', {}, {}, {}, {}, {}, {plugins})",
            vi + 1,
            v.site,
            hex(&v.visitor),
            datetime(last),
            hex(&v.visitor),
            sql_str(v.user.as_deref()),
            datetime(first),
            u8::from(seen.0 > 1),
            seen.0,
            sql_str(rkw.as_deref()),
            sql_str(rname.as_deref()),
            sql_str(rurl.as_deref()),
            v.lang,
            v.device.1,
            v.device.0,
            v.device.2,
            if v.acts.len() == 1 { 0 } else { 1 + last - first },
            v.country,
            sql_str(v.dim.as_deref()),
            v.place.0,
            v.place.1,
            v.place.2,
            v.place.3,
            n = v.acts.len(),
            searches = v.acts.iter().filter(|a| a.kind == 8).count(),
            events = v.acts.iter().filter(|a| a.kind == 10).count(),
            plugins = v
                .plugins
                .iter()
                .map(|p| p.map_or("NULL".into(), |p| p.to_string()))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    let (conversion_rows, item_rows) = conversions(spec, &visits, &mut dict);
    let mut link_rows = Vec::with_capacity(order.len());
    // Per visit: (time of its last action so far, URL of its last page view).
    let mut state: HashMap<usize, (i64, u64)> = HashMap::new();
    for (id, &(ts, vi, ai)) in order.iter().enumerate() {
        let v = &visits[vi];
        let a = &v.acts[ai];
        let url = a.url.is_some().then(|| dict.url(a));
        let name = a.name.as_ref().map(|n| dict.id(n, None));
        let (ev_cat, ev_act) = match &a.event {
            Some((c, x)) => (
                Some(dict.id(&(c.clone(), 10), None)),
                Some(dict.id(&(x.clone(), 11), None)),
            ),
            None => (None, None),
        };
        // The tracker's bookkeeping: the previous page view is the
        // referring action, the time since the previous action its time.
        let (ref_url, spent) = match state.get(&vi) {
            Some(&(prev, page)) => (page, ts - prev),
            None => (0, 0),
        };
        let page_url = if a.kind == 1 {
            url.unwrap_or(0)
        } else {
            ref_url
        };
        state.insert(vi, (ts, page_url));
        let opt = |x: Option<u64>| x.map_or("NULL".into(), |x| x.to_string());
        link_rows.push(format!(
            "({}, {}, UNHEX('{}'), {}, {ref_url}, NULL, {}, {}, {}, {}, {}, {}, {spent}, {}, {}, {})",
            id + 1,
            v.site,
            hex(&v.visitor),
            vi + 1,
            a.value.map_or("NULL".into(), |x| x.to_string()),
            if a.kind == 1 { "1" } else { "NULL" },
            datetime(ts),
            opt(name),
            opt(url),
            if a.kind == 8 { "1" } else { "NULL" },
            opt(ev_act),
            opt(ev_cat),
            sql_str(a.dim.as_deref()),
        ));
    }
    let action_rows = dict.rows;
    let insert = |conn: &mut mysql::Conn, head: &str, rows: &[String]| {
        for chunk in rows.chunks(2000) {
            conn.query_drop(format!("{head} VALUES {}", chunk.join(",")))
                .unwrap();
        }
    };
    insert(
        conn,
        "INSERT INTO matomo_log_action (idaction, name, hash, type, url_prefix)",
        &action_rows,
    );
    insert(
        conn,
        "INSERT INTO matomo_log_visit (idvisit, idsite, idvisitor, visit_last_action_time, config_id, location_ip, user_id, visit_first_action_time, visitor_returning, visitor_count_visits, visit_entry_idaction_name, visit_entry_idaction_url, visit_exit_idaction_name, visit_exit_idaction_url, visit_total_actions, visit_total_interactions, visit_total_searches, referer_keyword, referer_name, referer_type, referer_url, location_browser_lang, config_browser_name, config_browser_version, config_device_type, config_os, config_os_version, visit_total_events, visitor_localtime, visitor_seconds_since_last, config_resolution, visit_total_time, location_country, custom_dimension_1, location_region, location_city, location_latitude, location_longitude, config_cookie, config_flash, config_java, config_pdf, config_quicktime, config_realplayer, config_silverlight, config_windowsmedia)",
        &visit_rows,
    );
    insert(
        conn,
        "INSERT INTO matomo_log_conversion (idvisit, idsite, idvisitor, server_time, idgoal, buster, idorder, items, url, revenue, revenue_subtotal, revenue_tax, revenue_shipping, revenue_discount)",
        &conversion_rows,
    );
    insert(
        conn,
        "INSERT INTO matomo_log_conversion_item (idsite, idvisitor, server_time, idvisit, idorder, idaction_sku, idaction_name, idaction_category, idaction_category2, idaction_category3, idaction_category4, idaction_category5, price, quantity, deleted)",
        &item_rows,
    );
    insert(
        conn,
        "INSERT INTO matomo_log_link_visit_action (idlink_va, idsite, idvisitor, idvisit, idaction_url_ref, idaction_name_ref, custom_float, pageview_position, server_time, idaction_name, idaction_url, search_count, time_spent_ref_action, idaction_event_action, idaction_event_category, custom_dimension_1)",
        &link_rows,
    );
    link_rows.len() as u64
}
