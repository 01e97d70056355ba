//! A seeded generator of intranet-like traffic, for the quickstart, the
//! benchmarks and differential tests: the same seed gives the same hits on
//! every machine.
//!
//! What it models: visitors with a department, office and device who come
//! back on many days; weekday and office-hour seasonality; Zipf page
//! popularity in a path hierarchy; page titles; downloads, outlinks, site
//! searches and events; referrers and campaigns; visits that cross local
//! midnight; hits delivered somewhat out of order.
//!
//! Two profiles ([`Profile`]): the intranet (integer timestamps, visit
//! fields on a visit's first hit, about 176 bytes a line) and a heavy
//! one that looks like what a big client's collector sends (RFC 3339
//! timestamps with the site's offset, the visit's fields on every hit,
//! thousands of URLs and titles, about 330 bytes a line).

use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use chrono_tz::Tz;

use crate::hit::{Event, Hit, HitType};
use crate::site::SiteConfig;

/// How much traffic to make.
///
/// # Examples
/// ```
/// let cfg = hitmap::sample::SampleConfig { days: 2, visitors: 50, ..Default::default() };
/// let hits: Vec<_> = hitmap::sample::generate(&cfg).collect();
/// let again: Vec<_> = hitmap::sample::generate(&cfg).collect();
/// assert_eq!(hits, again);
/// assert!(!hits.is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct SampleConfig {
    /// Seed of the pseudo-random sequence.
    pub seed: u64,
    /// Site id of the hits.
    pub site: u32,
    /// First local day.
    pub start: NaiveDate,
    /// Number of days.
    pub days: u32,
    /// Number of distinct visitors.
    pub visitors: u32,
    /// Mean actions per visit (sets the hit volume with `visitors`).
    pub actions_per_visit: f64,
    /// Share of visitors who visit on an average weekday.
    pub daily_share: f64,
    /// What the hits look like.
    pub profile: Profile,
}

/// What the sample hits look like.
///
/// # Examples
/// ```
/// use hitmap::sample::{Profile, SampleConfig, generate, ndjson_line};
/// let cfg = SampleConfig { days: 1, visitors: 200, profile: Profile::Heavy, ..Default::default() };
/// let hit = generate(&cfg).next().unwrap();
/// assert!(hit.browser.is_some() && hit.title.is_some() || hit.kind != hitmap::HitType::Pageview);
/// // Its line carries an RFC 3339 time with the site's offset.
/// assert!(ndjson_line(&cfg, &hit).contains(r#""ts":"2025-01-01T"#));
/// assert_eq!("heavy".parse::<Profile>(), Ok(Profile::Heavy));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Profile {
    /// The intranet: integer timestamps, a visit's device, browser, OS,
    /// country, language, user and dimensions on its first hit only,
    /// 2,000 pages; about 176 bytes a line.
    #[default]
    Intranet,
    /// A big client's collector: RFC 3339 timestamps with the site's
    /// offset; title, user, device, browser, OS, country and language on
    /// every hit, two visit dimensions on three hits in four; 8,000 pages
    /// with long URLs and titles; about 7 actions a visit and 330 bytes a
    /// line (30,000 visitors over a year: about 12 million hits).
    Heavy,
}

impl std::str::FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Profile, String> {
        match s {
            "intranet" => Ok(Profile::Intranet),
            "heavy" => Ok(Profile::Heavy),
            _ => Err(format!("unknown sample profile {s:?}: intranet or heavy")),
        }
    }
}

/// A sample hit as its NDJSON line (no newline), as the profile writes
/// it: integer Unix seconds for the intranet, RFC 3339 with the site's
/// offset for the heavy profile.
pub fn ndjson_line(cfg: &SampleConfig, hit: &Hit) -> String {
    match cfg.profile {
        Profile::Intranet => hit.to_ndjson(),
        Profile::Heavy => {
            let tz: Tz = TIME_ZONE.parse().expect("known zone");
            let t = tz
                .timestamp_opt(hit.ts, 0)
                .single()
                .expect("a Unix second is one local time");
            hit.to_ndjson_with_time(t.to_rfc3339().into())
        }
    }
}

impl Default for SampleConfig {
    /// One year from 2025-01-01, 30,000 visitors, about 10 million hits.
    fn default() -> Self {
        SampleConfig {
            seed: 42,
            site: 1,
            start: NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid"),
            days: 365,
            visitors: 30_000,
            actions_per_visit: 6.0,
            daily_share: 0.175,
            profile: Profile::Intranet,
        }
    }
}

/// The time zone of the sample site.
pub const TIME_ZONE: &str = "Europe/London";

const DEPARTMENTS: [&str; 8] = [
    "HR",
    "IT",
    "Sales",
    "Finance",
    "Legal",
    "Operations",
    "Marketing",
    "Research",
];
const OFFICES: [&str; 5] = ["London", "Manchester", "Edinburgh", "Paris", "Berlin"];
const ROLES: [&str; 4] = ["staff", "manager", "contractor", "director"];
const TOPICS: [&str; 12] = [
    "news", "teams", "policies", "it-help", "projects", "events", "docs", "people", "finance",
    "jobs", "wiki", "tools",
];
/// Site search categories (by keyword).
const SEARCH_CATEGORIES: [&str; 3] = ["People", "Documents", "News"];

const KEYWORDS: [&str; 20] = [
    "holiday",
    "expenses",
    "vpn",
    "payroll",
    "pension",
    "laptop",
    "travel",
    "benefits",
    "parking",
    "wifi",
    "password",
    "printer",
    "onboarding",
    "training",
    "canteen",
    "org chart",
    "sick leave",
    "bonus",
    "remote",
    "security",
];
const REFERRERS: [&str; 6] = [
    "https://www.google.com/search?q=intranet",
    "https://mail.example.com/",
    "https://teams.microsoft.com/",
    "https://www.linkedin.com/feed/",
    "https://intranet.example.org/",
    "https://wiki.partner.example/",
];

/// The site the sample traffic is for: its time zone, host, named sections
/// and custom dimensions.
///
/// # Examples
/// ```
/// let site = hitmap::sample::site_config(&Default::default());
/// assert_eq!(site.id(), 1);
/// ```
pub fn site_config(cfg: &SampleConfig) -> SiteConfig {
    SiteConfig::new(cfg.site)
        .time_zone(TIME_ZONE)
        .host("intranet.example.org")
        .section("News", ["/news"])
        .section("HR", ["/teams/hr", "/policies", "/jobs"])
        .section("IT", ["/teams/it", "/it-help"])
        .dimension("department")
        .dimension("office")
        .dimension("role")
}

/// SplitMix64: tiny, fast, good enough for synthetic data.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Geometric number of trials >= 1 with the given mean.
    fn geometric(&mut self, mean: f64) -> u32 {
        let p = 1.0 / mean.max(1.0);
        let u = self.unit().max(1e-12);
        1 + (u.ln() / (1.0 - p).ln()).floor().min(200.0) as u32
    }
    /// Zipf-like rank in 0..n with exponent about 1 (inverse-CDF on log scale).
    fn zipf(&mut self, n: u64) -> u64 {
        let x = ((n as f64 + 1.0).ln() * self.unit()).exp() - 1.0;
        (x as u64).min(n - 1)
    }
    /// Seconds spent on a page: log-normal-ish, mostly 5 s to 5 min.
    fn dwell(&mut self) -> i64 {
        let g = (self.unit() + self.unit() + self.unit() - 1.5) * 2.0;
        (40.0 * g.exp()).clamp(1.0, 1700.0) as i64
    }
}

#[derive(Debug, Clone)]
struct Visitor {
    key: String,
    user: Option<String>,
    department: &'static str,
    office: &'static str,
    role: &'static str,
    device: &'static str,
    browser: &'static str,
    os: &'static str,
    country: &'static str,
    language: &'static str,
    /// Relative activity (some people use the intranet all day).
    activity: f64,
}

fn make_visitor(i: u32, rng: &mut Rng) -> Visitor {
    let office = OFFICES[rng.zipf(OFFICES.len() as u64) as usize];
    let (country, language) = match office {
        "Paris" => ("fr", "fr-fr"),
        "Berlin" => ("de", "de-de"),
        _ => ("gb", "en-gb"),
    };
    let (device, browser, os) = match rng.below(20) {
        0..=13 => (
            "desktop",
            ["Chrome", "Edge", "Firefox"][rng.below(3) as usize],
            "Windows",
        ),
        14..=15 => ("desktop", "Safari", "Mac"),
        16..=18 => (
            "smartphone",
            ["Chrome Mobile", "Mobile Safari"][rng.below(2) as usize],
            ["Android", "iOS"][rng.below(2) as usize],
        ),
        _ => ("tablet", "Mobile Safari", "iOS"),
    };
    Visitor {
        key: format!("{:016x}", rng.next()),
        user: rng.chance(0.8).then(|| format!("u{i:06}")),
        department: DEPARTMENTS[rng.zipf(DEPARTMENTS.len() as u64) as usize],
        office,
        role: ROLES[rng.zipf(ROLES.len() as u64) as usize],
        device,
        browser,
        os,
        country,
        language,
        activity: 0.2 + 3.0 * rng.unit() * rng.unit(),
    }
}

/// One page of the site: its URL and title.
fn page(rank: u64, dept: &str) -> (String, String) {
    let topic = TOPICS[(rank % TOPICS.len() as u64) as usize];
    let n = rank / TOPICS.len() as u64;
    match (topic, n) {
        (_, 0) if rank == 0 => ("https://intranet.example.org/".into(), "Home".into()),
        ("teams", _) => (
            format!(
                "https://intranet.example.org/teams/{}/page-{}",
                dept.to_lowercase(),
                n % 40
            ),
            format!("{dept} team page {}", n % 40),
        ),
        ("news", _) => (
            format!("https://intranet.example.org/news/2025/story-{n}"),
            format!("News story {n}"),
        ),
        (t, _) => (
            format!("https://intranet.example.org/{t}/{}/item-{}", n % 7, n),
            format!("{t} item {n}"),
        ),
    }
}

const SHOP_SECTIONS: [&str; 10] = [
    "products",
    "support",
    "blog",
    "docs",
    "careers",
    "press",
    "community",
    "pricing",
    "partners",
    "events",
];
const WORDS: [&str; 16] = [
    "getting",
    "started",
    "advanced",
    "guide",
    "release",
    "notes",
    "security",
    "update",
    "customer",
    "story",
    "pricing",
    "plans",
    "integration",
    "overview",
    "migration",
    "checklist",
];

/// One page of the heavy profile's site: a long URL and title.
fn heavy_page(rank: u64) -> (String, String) {
    if rank == 0 {
        return (
            "https://intranet.example.org/".into(),
            "Example Corporation | Home of the example products and services".into(),
        );
    }
    let section = SHOP_SECTIONS[(rank % SHOP_SECTIONS.len() as u64) as usize];
    let n = rank / SHOP_SECTIONS.len() as u64;
    let w = |k: u64| WORDS[((rank.wrapping_mul(2_654_435_761) >> (4 * k)) % 16) as usize];
    let slug = format!("{}-{}-{}", w(0), w(1), w(2));
    (
        format!(
            "https://intranet.example.org/{section}/{}/{slug}-{n}",
            n % 23
        ),
        format!("{} {} {} {n} - {section} | Example", w(0), w(1), w(2)),
    )
}

/// Streams the sample traffic, day by day.
pub fn generate(cfg: &SampleConfig) -> impl Iterator<Item = Hit> + use<> {
    let mut rng = Rng(cfg.seed);
    let visitors: Vec<Visitor> = (0..cfg.visitors)
        .map(|i| make_visitor(i, &mut rng))
        .collect();
    let tz: Tz = TIME_ZONE.parse().expect("known zone");
    let cfg = cfg.clone();
    (0..cfg.days).flat_map(move |d| {
        let date = cfg.start + chrono::Days::new(u64::from(d));
        let mut day_rng = Rng(cfg.seed ^ (u64::from(d) + 1).wrapping_mul(0xA24B_AED4_963E_E407));
        day_hits(&cfg, date, &tz, &visitors, &mut day_rng)
    })
}

fn day_hits(
    cfg: &SampleConfig,
    date: NaiveDate,
    tz: &Tz,
    visitors: &[Visitor],
    rng: &mut Rng,
) -> Vec<Hit> {
    let weekday_factor = match date.weekday() {
        Weekday::Sat | Weekday::Sun => 0.08,
        Weekday::Fri => 0.8,
        _ => 1.0,
    };
    let midnight = tz
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("valid"))
        .earliest()
        .map_or_else(
            || {
                date.and_hms_opt(1, 0, 0)
                    .expect("valid")
                    .and_utc()
                    .timestamp()
            },
            |t| t.timestamp(),
        );
    let mut hits = Vec::new();
    for v in visitors {
        let p = cfg.daily_share * weekday_factor * v.activity;
        if !rng.chance(p.min(0.95)) {
            continue;
        }
        let visits = 1 + u32::from(rng.chance(0.25)) + u32::from(rng.chance(0.05));
        for _ in 0..visits {
            // Office hours, with a few late-evening visits near midnight.
            let hour = if rng.chance(0.01) {
                23.0 + 0.9 * rng.unit()
            } else {
                7.5 + 10.5 * rng.unit()
            };
            let start = midnight + (hour * 3600.0) as i64;
            visit_hits(cfg, v, start, rng, &mut hits);
        }
    }
    // Deliver out of order: rotate and swap neighbours, as collectors do.
    let n = hits.len();
    for i in (1..n).step_by(7) {
        let j = i.saturating_sub(1 + rng.below(5) as usize);
        hits.swap(i, j);
    }
    hits
}

fn visit_hits(cfg: &SampleConfig, v: &Visitor, start: i64, rng: &mut Rng, out: &mut Vec<Hit>) {
    // The heavy profile's visits are one action longer on average.
    let n = rng.geometric(match cfg.profile {
        Profile::Intranet => cfg.actions_per_visit,
        Profile::Heavy => cfg.actions_per_visit + 1.0,
    });
    let mut ts = start;
    for a in 0..n {
        let mut hit = match rng.below(100) {
            0..=83 => {
                let (url, title) = match cfg.profile {
                    Profile::Intranet => page(rng.zipf(2_000), v.department),
                    Profile::Heavy => heavy_page(rng.zipf(8_000)),
                };
                let url = if a == 0 && rng.chance(0.03) {
                    format!(
                        "{url}?utm_source=newsletter&utm_campaign=w{}",
                        rng.below(52)
                    )
                } else {
                    url
                };
                Hit::pageview(cfg.site, ts, v.key.clone(), url).with_title(title)
            }
            84..=89 => Hit::new(cfg.site, ts, v.key.clone(), HitType::Download).with_url(format!(
                "https://intranet.example.org/docs/files/form-{}.pdf",
                rng.zipf(300)
            )),
            90..=92 => Hit::new(cfg.site, ts, v.key.clone(), HitType::Outlink)
                .with_url(format!("https://www.partner{}.example/", rng.zipf(50))),
            93..=97 => {
                let k = rng.zipf(KEYWORDS.len() as u64) as usize;
                let mut hit = Hit::new(cfg.site, ts, v.key.clone(), HitType::Search)
                    .with_url("https://intranet.example.org/search")
                    .with_search(KEYWORDS[k]);
                // A category and a result count from the keyword and the
                // time (no draw: the other hits stay as they were); every
                // fourth keyword never finds anything.
                if !k.is_multiple_of(5) {
                    hit.search_category = Some(SEARCH_CATEGORIES[k % 3].into());
                }
                hit.search_count = Some(if k % 4 == 3 { 0 } else { (ts % 20) as u32 });
                hit
            }
            _ => Hit::new(cfg.site, ts, v.key.clone(), HitType::Event).with_event(Event {
                category: ["video", "form", "share"][rng.below(3) as usize].into(),
                action: ["play", "submit", "click"][rng.below(3) as usize].into(),
                name: None,
                value: rng.chance(0.5).then(|| rng.below(100) as f64),
            }),
        };
        let heavy = cfg.profile == Profile::Heavy;
        // The visit's fields on its first hit; the heavy profile's
        // collector sends them with every hit.
        if heavy || a == 0 {
            hit.device = Some(v.device.into());
            hit.browser = Some(v.browser.into());
            hit.os = Some(v.os.into());
            hit.country = Some(v.country.into());
            hit.language = Some(v.language.into());
            hit.user = v.user.clone();
            if a == 0 && rng.chance(0.3) {
                hit.referrer = Some(REFERRERS[rng.zipf(REFERRERS.len() as u64) as usize].into());
            }
            if !heavy {
                hit.dims = vec![
                    ("department".into(), v.department.into()),
                    ("office".into(), v.office.into()),
                    ("role".into(), v.role.into()),
                ];
            } else if rng.chance(0.75) {
                hit.dims = vec![
                    ("department".into(), v.department.into()),
                    ("office".into(), v.office.into()),
                ];
            }
        }
        out.push(hit);
        ts += rng.dwell();
    }
}
