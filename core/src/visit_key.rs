//! Values derived per visit from what its hits stored: the hour and
//! weekday of its start on the site's clock, the visitor's local hour,
//! browser and OS versions, resolution, continent, the referrer's name,
//! keyword and campaign parts, days since the visitor's previous visit;
//! and the labels by which visits-grouped reports group them
//! ([`Grouping`], [`VisitGroup`]). Reports, report rollups and segments
//! read them through this one place, so that a month's rollup groups its
//! visits by the very labels a query over its days would.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Datelike, NaiveDate, Timelike};
use chrono_tz::Tz;

use crate::archive::DayArchive;
use crate::dict::NONE;
use crate::history::History;
use crate::hit::attr;
use crate::raw::{SiteDicts, VField};
use crate::referrer::{Referrer, ReferrerPart, ReferrerType, describe_referrer, referrer_label};
use crate::section::SectionSet;
use crate::site::SiteConfig;

/// The label Matomo gives page views without a title.
pub const UNTITLED: &str = "Page Name not defined";

/// The label of rows without a value.
pub(crate) const UNKNOWN: &str = "Unknown";

/// Which visits-grouped report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Grouping {
    BrowserVersion,
    /// `DevicesDetection.getOsFamilies`: the operating system's family
    /// (`Ubuntu` → `GNU/Linux`).
    OsFamily,
    /// `DevicesDetection.getBrand`.
    Brand,
    /// `DevicesDetection.getModel`: brand and model (Matomo's
    /// `brand;model`, a visit without a model of a known device type
    /// `generic <type>`).
    Model,
    /// `DevicesDetection.getBrowserEngines`.
    Engine,
    OsVersion,
    Resolution,
    /// `Resolution.getConfiguration`: operating system, browser and
    /// screen resolution together (`Windows / Firefox / 1024x768`).
    Configuration,
    /// `DevicePlugins.getPlugin`: visits by their set of browser plugins
    /// ([`plugins_key`]); the report counts each plugin's visits from
    /// these sets.
    Plugins,
    Continent,
    Language,
    LanguageCode,
    Country,
    /// `UserCountry.getRegion`: visits by region and country (a row's
    /// subtable: the region's names the visits carried).
    Region,
    /// `UserCountry.getCity`: visits by city, region and country (a
    /// row's subtable: the region's name and the coordinates the visits
    /// carried).
    City,
    ServerHour,
    LocalHour,
    DayOfWeek,
    Duration,
    Pages,
    VisitCount,
    DaysSinceLast,
    ReferrerType,
    ReferrerAll,
    Referrer(ReferrerPart),
}

/// A visits-grouped report a report rollup keeps: a [`Grouping`],
/// the sections report or VisitFrequency's. The visit count and the days
/// since the last visit also depend on the visitor history of earlier
/// days ([`VisitGroup::history`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum VisitGroup {
    /// Visits by a grouping's labels.
    By(Grouping),
    /// The sections report: each named section's visits, cut to it. A
    /// visit counts in every section it has an action in; a row's key is
    /// the section's name and its prefixes (`SectionSet::key`), so a
    /// row stands only for the definition it was counted with.
    Sections,
    /// VisitFrequency: visits that are their visitor's first (`new`) and
    /// the others (`returning`).
    Frequency,
}

/// Which part of an event a report is by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum EventPart {
    Category,
    Action,
    Name,
}

/// The event combination (category, action, name ids) of event action
/// `i`: a row's visits count a visit once per combination.
pub(crate) fn event_combination(a: &DayArchive, i: usize) -> [u32; 3] {
    let x = a.extra(i);
    [x.ev_category, x.ev_action, x.ev_name]
}

/// The label of events without a name (Matomo's).
pub(crate) const EVENT_NAME_NOT_DEFINED: &str = "Event Name not defined";

/// The event reports a report rollup keeps: (part, subtable's part), as
/// `Events.getCategory`, `getAction` and `getName` ask them.
pub(crate) const EVENT_TABLES: [(EventPart, EventPart); 3] = [
    (EventPart::Category, EventPart::Action),
    (EventPart::Action, EventPart::Name),
    (EventPart::Name, EventPart::Action),
];

/// A visits-grouped row's key: its label, and its sub-label for a row of
/// a subtable (the row `(label, None)` is its parent).
pub(crate) type GroupKey = (String, Option<String>);

/// The number each rolled group is stored as in a rollup file; `None`
/// marks a retired number, whose sections a reader skips: 10 and 11, the
/// referrer type and all-referrers reports before version 7 (whose search
/// rows were engines, not keywords: stored as 26 and 27 since), and 18 to
/// 21, the entry and exit page reports by URL and title, which rollups
/// kept until the entry and exit reports became the page reports cut to
/// their entries and exits.
const GROUP_CODES: [Option<VisitGroup>; 32] = {
    use Grouping as G;
    use VisitGroup::By;
    [
        Some(By(G::BrowserVersion)),
        Some(By(G::OsVersion)),
        Some(By(G::Resolution)),
        Some(By(G::Continent)),
        Some(By(G::Language)),
        Some(By(G::ServerHour)),
        Some(By(G::LocalHour)),
        Some(By(G::DayOfWeek)),
        Some(By(G::Duration)),
        Some(By(G::Pages)),
        None,
        None,
        Some(By(G::Referrer(ReferrerPart::SearchEngine))),
        Some(By(G::Referrer(ReferrerPart::Keyword))),
        Some(By(G::Referrer(ReferrerPart::Website))),
        Some(By(G::Referrer(ReferrerPart::Social))),
        Some(By(G::Referrer(ReferrerPart::Campaign))),
        Some(By(G::Referrer(ReferrerPart::AiAssistant))),
        None,
        None,
        None,
        None,
        Some(VisitGroup::Sections),
        Some(By(G::VisitCount)),
        Some(By(G::DaysSinceLast)),
        Some(VisitGroup::Frequency),
        Some(By(G::ReferrerType)),
        Some(By(G::ReferrerAll)),
        // Rollups of version 12 on.
        Some(By(G::OsFamily)),
        Some(By(G::Brand)),
        Some(By(G::Model)),
        Some(By(G::Engine)),
    ]
};

/// How many groups a report rollup keeps ([`GROUP_CODES`] not retired).
const ROLLED_COUNT: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < GROUP_CODES.len() {
        if GROUP_CODES[i].is_some() {
            n += 1;
        }
        i += 1;
    }
    n
};

/// Every [`VisitGroup`] a report rollup keeps, in the order of their
/// numbers.
pub(crate) const ROLLED_GROUPS: [VisitGroup; ROLLED_COUNT] = {
    let mut out = [VisitGroup::Sections; ROLLED_COUNT];
    let (mut i, mut k) = (0, 0);
    while i < GROUP_CODES.len() {
        if let Some(g) = GROUP_CODES[i] {
            out[k] = g;
            k += 1;
        }
        i += 1;
    }
    out
};

impl VisitGroup {
    /// The number it is stored as ([`GROUP_CODES`]).
    pub(crate) fn code(self) -> Option<u32> {
        GROUP_CODES
            .iter()
            .position(|g| *g == Some(self))
            .map(|i| i as u32)
    }

    /// The group stored as `code`: `Some(None)` for a retired number.
    pub(crate) fn from_code(code: u32) -> Option<Option<VisitGroup>> {
        GROUP_CODES.get(code as usize).copied()
    }

    /// Whether report rollups keep it.
    pub(crate) fn rolled(self) -> bool {
        self.code().is_some()
    }

    /// Whether its labels depend on the visitor history (earlier days'
    /// visits), not on the visit's own day alone: a rollup's rows of it
    /// hold only while no history page of its period's months is newer
    /// than the rollup, and only when it was built from its days (a late
    /// batch's update of a period drops them).
    pub(crate) fn history(self) -> bool {
        matches!(
            self,
            VisitGroup::By(Grouping::VisitCount | Grouping::DaysSinceLast) | VisitGroup::Frequency
        )
    }

    /// Whether its rows show distinct visitors, and distinct users (a
    /// rollup keeps the ids of what they show): VisitorInterest's ranges
    /// show visits alone, entry and exit pages no users.
    pub(crate) fn distinct(self) -> (bool, bool) {
        match self {
            VisitGroup::By(
                Grouping::Duration
                | Grouping::Pages
                | Grouping::VisitCount
                | Grouping::DaysSinceLast,
            ) => (false, false),
            VisitGroup::By(_) | VisitGroup::Sections | VisitGroup::Frequency => (true, true),
        }
    }
}

/// A range of a VisitorInterest report: bounds and Matomo's label.
pub(crate) struct Range {
    pub low: u64,
    pub high: Option<u64>,
    pub label: String,
}

pub(crate) fn ranges(g: Grouping) -> Vec<Range> {
    let r = |low: u64, high: Option<u64>, label: String| Range { low, high, label };
    // Each range runs from its lower bound to the next one's, the last
    // one open.
    let counted = |lows: &[u64], one: &str, many: &str| -> Vec<Range> {
        lows.iter()
            .enumerate()
            .map(|(i, &low)| {
                let high = lows.get(i + 1).map(|next| next - 1);
                let label = match high {
                    Some(h) if h == low && low == 1 => format!("1 {one}"),
                    Some(h) if h == low => format!("{low} {many}"),
                    Some(h) => format!("{low}-{h} {many}"),
                    None => format!("{low}+ {many}"),
                };
                r(low, high, label)
            })
            .collect()
    };
    match g {
        Grouping::Duration => {
            let seconds = [(0, 10), (11, 30), (31, 60)];
            let minutes = [(1, 2), (2, 4), (4, 7), (7, 10), (10, 15), (15, 30)];
            let mut out: Vec<Range> = seconds
                .iter()
                // Matomo's labels: an en dash for seconds, a hyphen for minutes.
                .map(|&(l, h)| r(l, Some(h), format!("{l}\u{2013}{h}s")))
                .collect();
            out.extend(
                minutes
                    .iter()
                    .map(|&(l, h)| r(l * 60 + 1, Some(h * 60), format!("{l}-{h} min"))),
            );
            out.push(r(1801, None, "30+ min".into()));
            out
        }
        Grouping::Pages => counted(&[1, 2, 3, 4, 5, 6, 8, 11, 15, 21], "page", "pages"),
        Grouping::VisitCount => counted(
            &[1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 26, 51, 101, 201],
            "visit",
            "visits",
        ),
        Grouping::DaysSinceLast => counted(
            &[0, 1, 2, 3, 4, 5, 6, 7, 8, 15, 31, 61, 121, 365],
            "day",
            "days",
        ),
        _ => Vec::new(),
    }
}

pub(crate) fn range_index(ranges: &[Range], x: u64) -> Option<usize> {
    ranges
        .iter()
        .position(|r| x >= r.low && r.high.is_none_or(|h| x <= h))
}

/// What a visit's key in a grouped report derives from
/// ([`VisitKeys::group_source`]): dictionary ids and small numbers, the
/// unused places [`NONE`].
pub(crate) type GroupSource = [u32; GROUP_SOURCE_LEN];

/// The most values a [`GroupSource`] holds (a campaign's: its type,
/// landing URL, referrer URL and six recorded parts).
pub(crate) const GROUP_SOURCE_LEN: usize = 9;

/// Separates a referrer type from a name in one grouping key.
pub(crate) const SEP: char = '\u{1}';

/// One visit as a grouped report counts it: whole, or cut to a section.
#[derive(Clone, Copy)]
pub(crate) struct VisitAt<'a> {
    /// The site-local day of the visit.
    pub date: NaiveDate,
    pub archive: &'a DayArchive,
    pub visit: u32,
    /// How many of its actions count (all, or the section's).
    pub actions: usize,
    /// Its length in seconds (whole, or cut to the section).
    pub length: u32,
    /// Its [`VisitKeys::days_since_last`] when the caller has it at hand
    /// ([`VisitKeys::days_since_last_of_day`]); `None`: looked up.
    pub since_last: Option<Option<i64>>,
}

/// Referrer descriptions by (landing URL id, referrer id) of one site's
/// dictionaries: a segment keeps one for all the days of a request.
pub(crate) type ReferrerCache = Mutex<HashMap<(u32, u32), Arc<Referrer>>>;

/// Where a [`VisitKeys`] keeps its referrer descriptions.
enum Cache<'s> {
    Own(ReferrerCache),
    Shared(&'s ReferrerCache),
}

/// Per-site lookups for visit-derived values, with a cache of referrer
/// descriptions by (landing URL, referrer) pair.
pub(crate) struct VisitKeys<'s> {
    /// The site's dictionaries.
    pub dicts: &'s SiteDicts,
    /// The site's configuration.
    pub config: &'s SiteConfig,
    tz: Tz,
    /// The visitor history (days since the last visit), if at hand.
    history: Option<&'s History>,
    attrs: [Option<u32>; attr::N],
    referrers: Cache<'s>,
}

/// [`VisitKeys::days_since_last`] of visit `vi` of `a` (a day `day`),
/// with `previous` giving its visitor's previous day with visits when the
/// visit is the day's first of a returning visitor.
fn since_last_with(
    a: &DayArchive,
    vi: usize,
    day: chrono::NaiveDate,
    previous: impl FnOnce() -> Option<chrono::NaiveDate>,
) -> Option<i64> {
    if a.rank_in_day[vi] > 0 {
        return Some(0);
    }
    if a.before[vi] == 0 {
        return None;
    }
    Some((day - previous()?).num_days())
}

impl<'s> VisitKeys<'s> {
    /// Seconds from the start of the visitor's first visit to this
    /// visit's start (0 for the first visit), when the history is at hand
    /// and knows it.
    pub(crate) fn seconds_since_first(&self, a: &DayArchive, v: u32) -> Option<i64> {
        let totals = self.history?.totals().ok()?;
        let first = totals.first_start(a.visitor[v as usize])?;
        Some((a.visit_start(v) - first).max(0))
    }

    /// The orders of a visit's conversions that count: an order id's
    /// first use in the site when the history is at hand
    /// ([`History::orders`]), else its visitor's first use that day.
    pub(crate) fn orders<'a>(
        &'a self,
        visit: &'a [crate::recorded::Recorded],
    ) -> Box<dyn Iterator<Item = &'a crate::recorded::Recorded> + 'a> {
        match self.history {
            Some(h) => Box::new(h.orders(visit)),
            None => Box::new(crate::recorded::orders(visit)),
        }
    }

    /// Lookups over a site's dictionaries, configuration and time zone,
    /// and its visitor history if `history` gives it.
    pub(crate) fn new(
        dicts: &'s SiteDicts,
        config: &'s SiteConfig,
        tz: Tz,
        history: Option<&'s History>,
    ) -> VisitKeys<'s> {
        VisitKeys {
            dicts,
            config,
            tz,
            history,
            attrs: std::array::from_fn(|i| dicts.dim_names.get(attr::NAMES[i])),
            referrers: Cache::Own(Mutex::new(HashMap::new())),
        }
    }

    /// Lookups that share a referrer cache (a segment's, across days).
    pub(crate) fn with_cache(self, cache: &'s ReferrerCache) -> VisitKeys<'s> {
        VisitKeys {
            referrers: Cache::Shared(cache),
            ..self
        }
    }

    /// The value of one of hitmap's visit attributes (`attr::*`).
    pub(crate) fn attr(&self, a: &DayArchive, v: u32, index: usize) -> Option<&'s str> {
        let name = self.attrs[index]?;
        let column = a.dims.iter().find(|c| c.name == name)?;
        let id = column.values[v as usize];
        (id != NONE).then(|| self.dicts.dim_values.value(id))
    }

    /// A visit-level field's value.
    pub(crate) fn field(&self, a: &DayArchive, v: u32, f: VField) -> Option<&'s str> {
        let id = a.fields[f as usize][v as usize];
        (id != NONE).then(|| self.dicts.field(f as usize).value(id))
    }

    fn start(&self, a: &DayArchive, v: u32) -> chrono::DateTime<chrono_tz::Tz> {
        chrono::DateTime::from_timestamp(a.visit_start(v), 0)
            .expect("timestamps are validated")
            .with_timezone(&self.tz)
    }

    /// The visit's id (Matomo's `idVisit`): a number from its visitor
    /// and its first action's time (a hash, below 2^53 so that JSON
    /// readers keep it exact), the same for the same visit in any store
    /// or build of it.
    pub(crate) fn visit_id(&self, a: &DayArchive, v: u32) -> u64 {
        let visitor = self.dicts.visitors.value(a.visitor[v as usize]);
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(visitor.as_bytes());
        h.update(&[0]);
        h.update(&a.visit_start(v).to_le_bytes());
        // Never 0: Matomo's ids start at 1.
        (h.digest() & ((1 << 53) - 1)).max(1)
    }

    /// The hour (0-23) the visit started, on the site's clock.
    pub(crate) fn server_hour(&self, a: &DayArchive, v: u32) -> u32 {
        self.start(a, v).hour()
    }

    /// The weekday the visit started, 1 (Monday) to 7 (Sunday).
    pub(crate) fn weekday(&self, a: &DayArchive, v: u32) -> u32 {
        self.start(a, v).weekday().number_from_monday()
    }

    /// The visitor's local hour, when a hit carried it.
    pub(crate) fn local_hour(&self, a: &DayArchive, v: u32) -> Option<u32> {
        self.attr(a, v, attr::LOCAL_HOUR)?.parse().ok()
    }

    /// `Chrome 120.0`: browser and version (the name alone without one).
    pub(crate) fn browser_version(&self, a: &DayArchive, v: u32) -> Option<String> {
        joined(
            self.field(a, v, VField::Browser),
            self.attr(a, v, attr::BROWSER_VERSION),
        )
    }

    /// `Windows 10`: operating system and version.
    pub(crate) fn os_version(&self, a: &DayArchive, v: u32) -> Option<String> {
        joined(
            self.field(a, v, VField::Os),
            self.attr(a, v, attr::OS_VERSION),
        )
    }

    /// The browser's version alone.
    pub(crate) fn browser_version_only(&self, a: &DayArchive, v: u32) -> Option<&'s str> {
        self.attr(a, v, attr::BROWSER_VERSION)
    }

    /// The operating system's version alone.
    pub(crate) fn os_version_only(&self, a: &DayArchive, v: u32) -> Option<&'s str> {
        self.attr(a, v, attr::OS_VERSION)
    }

    /// The device's brand, as the visit's first hit with one carried it.
    pub(crate) fn brand(&self, a: &DayArchive, v: u32) -> Option<&'s str> {
        self.attr(a, v, attr::DEVICE_BRAND)
    }

    /// The browser's engine.
    pub(crate) fn engine(&self, a: &DayArchive, v: u32) -> Option<&'s str> {
        self.attr(a, v, attr::BROWSER_ENGINE)
    }

    /// The device's model as Matomo stores it: the model, else `generic
    /// <device type>` for a visit of a known device type (`generic
    /// desktop`), else none.
    pub(crate) fn model(&self, a: &DayArchive, v: u32) -> Option<String> {
        match self.attr(a, v, attr::DEVICE_MODEL) {
            Some(m) => Some(m.to_owned()),
            None => self
                .field(a, v, VField::Device)
                .map(|t| format!("generic {t}")),
        }
    }

    /// The screen resolution (`1920x1080`).
    pub(crate) fn resolution(&self, a: &DayArchive, v: u32) -> Option<&'s str> {
        self.attr(a, v, attr::RESOLUTION)
    }

    /// The browser's plugins (`cookie,flash`), as the visit's first hit
    /// with them carried them.
    pub(crate) fn plugins(&self, a: &DayArchive, v: u32) -> Option<&'s str> {
        self.attr(a, v, attr::PLUGINS)
    }

    /// A part of the visit's location ([`attr::REGION`], [`attr::CITY`],
    /// ...), as its first hit with one carried it.
    pub(crate) fn place(&self, a: &DayArchive, v: u32, part: usize) -> Option<&'s str> {
        self.attr(a, v, part)
    }

    /// The visit's region or city row key (Matomo's `region|country`,
    /// `city|region|country`) and its sub-label (the region's name; for
    /// a city also the coordinates), or `None` without a region (city).
    fn location_key(&self, a: &DayArchive, v: u32, city: bool) -> (String, Option<String>) {
        let place = |i| self.place(a, v, i).unwrap_or("");
        let (region, country) = (
            place(attr::REGION),
            self.field(a, v, VField::Country).unwrap_or(""),
        );
        let key = if city {
            match self.place(a, v, attr::CITY) {
                Some(c) => format!("{c}{SEP}{region}{SEP}{country}"),
                None => return (UNKNOWN.to_owned(), None),
            }
        } else if region.is_empty() {
            return (UNKNOWN.to_owned(), None);
        } else {
            format!("{region}{SEP}{country}")
        };
        let mut sub = place(attr::REGION_NAME).to_owned();
        if city {
            for i in [attr::LATITUDE, attr::LONGITUDE] {
                sub.push(SEP);
                sub.push_str(place(i));
            }
        }
        (key, Some(sub))
    }

    /// The continent code of the visit's country (`eur`, `amc`, ...).
    pub(crate) fn continent(&self, a: &DayArchive, v: u32) -> Option<&'static str> {
        crate::names::country(self.field(a, v, VField::Country)?).map(|(_, c)| c)
    }

    /// The visit's referrer: its type as stored, the name, keyword and
    /// campaign parts as recorded on its hits, else derived from its
    /// landing URL and referrer URL (once per distinct pair).
    pub(crate) fn referrer(&self, a: &DayArchive, v: u32) -> Referrer {
        let kind = ReferrerType::ALL
            .get(usize::from(a.referrer_type[v as usize]))
            .copied()
            .unwrap_or(ReferrerType::Direct);
        if kind == ReferrerType::Direct {
            return Referrer {
                kind,
                name: None,
                keyword: None,
                campaign: None,
            };
        }
        let d = self.dicts;
        // A visit without actions has no landing page.
        let first = a.actions_of(v).next().map_or(NONE, |i| a.a_url[i]);
        let referrer = a.fields[VField::Referrer as usize][v as usize];
        let cache = match &self.referrers {
            Cache::Own(c) => c,
            Cache::Shared(c) => *c,
        };
        let derived = Arc::clone(
            cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry((first, referrer))
                .or_insert_with(|| {
                    Arc::new(describe_referrer(
                        d.urls.opt(first),
                        d.referrers.opt(referrer),
                        self.config,
                    ))
                }),
        );
        let recorded = |i: usize| self.attr(a, v, i).map(str::to_owned);
        let campaign = kind == ReferrerType::Campaign;
        let (name, keyword) = if campaign {
            (attr::CAMPAIGN, attr::CAMPAIGN + 3)
        } else {
            (attr::REFERRER_NAME, attr::REFERRER_KEYWORD)
        };
        // What the URLs say counts only for the type they say: a recorded
        // campaign's keyword is not a search engine's.
        let same = derived.kind == kind;
        let mut out = Referrer {
            kind,
            name: recorded(name).or_else(|| derived.name.clone().filter(|_| same)),
            keyword: recorded(keyword).or_else(|| derived.keyword.clone().filter(|_| same)),
            campaign: None,
        };
        if campaign {
            let mut parts = derived.campaign.clone().unwrap_or_default();
            for (i, slot) in [
                &mut parts.source,
                &mut parts.medium,
                &mut parts.content,
                &mut parts.id,
            ]
            .into_iter()
            .enumerate()
            {
                let index = attr::CAMPAIGN + [1, 2, 4, 5][i];
                if let Some(x) = recorded(index) {
                    *slot = Some(x);
                }
            }
            out.campaign = Some(parts);
        }
        out
    }

    /// Days since the visitor's previous visit: 0 for another visit the
    /// same day, else whole local days back to the latest earlier day
    /// with one; `None` for a first visit.
    pub(crate) fn days_since_last(
        &self,
        a: &DayArchive,
        v: u32,
        day: chrono::NaiveDate,
    ) -> Option<i64> {
        // Read by now: the day's `before` column came from it.
        since_last_with(a, v as usize, day, || {
            self.history?.previous_day(a.visitor[v as usize], day)
        })
    }

    /// [`VisitKeys::days_since_last`] of every visit of `a`, a whole day
    /// `day`, by visit: the history's month page walked once.
    pub(crate) fn days_since_last_of_day(
        &self,
        a: &DayArchive,
        day: chrono::NaiveDate,
    ) -> Vec<Option<i64>> {
        let previous = match self.history {
            Some(h) => h.previous_days(&a.visitor, day),
            None => vec![None; a.visitor.len()],
        };
        previous
            .into_iter()
            .enumerate()
            .map(|(vi, previous)| since_last_with(a, vi, day, || previous))
            .collect()
    }

    /// The visit's days since the last: given, or looked up.
    fn since_last(&self, at: &VisitAt<'_>) -> Option<i64> {
        at.since_last
            .unwrap_or_else(|| self.days_since_last(at.archive, at.visit, at.date))
    }

    /// The label of event action `i` of `a` by one of its parts.
    pub(crate) fn event_label(&self, a: &DayArchive, i: usize, part: EventPart) -> String {
        let e = a.extra(i);
        let id = match part {
            EventPart::Category => e.ev_category,
            EventPart::Action => e.ev_action,
            EventPart::Name => e.ev_name,
        };
        match id {
            NONE => EVENT_NAME_NOT_DEFINED.to_owned(),
            id => self.dicts.events.value(id).to_owned(),
        }
    }

    /// A visit's label and sub-label in the `group` report (`None`: the
    /// report leaves it out): `bounds` are the grouping's [`ranges`], and
    /// `referrer` its referrer once described.
    pub(crate) fn group_key(
        &self,
        group: VisitGroup,
        at: &VisitAt<'_>,
        bounds: &[Range],
        referrer: &OnceCell<Referrer>,
    ) -> Option<(String, Option<String>)> {
        match group {
            VisitGroup::By(g) => self.key_of(g, bounds, at, referrer),
            // A visit has a row in each of its sections: `sections`.
            VisitGroup::Sections => None,
            VisitGroup::Frequency => {
                let new = at.archive.is_new_visit(at.visit);
                Some((if new { "new" } else { "returning" }.to_owned(), None))
            }
        }
    }

    /// What a visit's `group` key derives from, as dictionary ids and
    /// small numbers ([`GroupSource`]): two visits with the same source
    /// have the same key ([`VisitKeys::group_key`]), so a report counts
    /// by source and builds each key's strings once. `None` for the
    /// sections report (a visit has a row in each of its sections).
    ///
    /// `campaign` tells whether a URL (by id) carries campaign parameters
    /// ([`crate::referrer::has_campaign`]): only then does the landing
    /// URL change a visit's referrer, so only then is it in the source.
    pub(crate) fn group_source(
        &self,
        group: VisitGroup,
        at: &VisitAt<'_>,
        bounds: &[Range],
        campaign: impl FnOnce(u32) -> bool,
    ) -> Option<GroupSource> {
        let (a, v) = (at.archive, at.visit);
        let mut out = [NONE; GROUP_SOURCE_LEN];
        let mut put = |xs: &[u32]| out[..xs.len()].copy_from_slice(xs);
        let f = |field: VField| a.fields[field as usize][v as usize];
        let at_ = |i: usize| self.attr_id(a, v, i);
        match group {
            VisitGroup::Sections => return None,
            VisitGroup::Frequency => put(&[u32::from(a.is_new_visit(v))]),
            VisitGroup::By(g) => {
                use Grouping as G;
                let index = |x: u64| range_index(bounds, x).map_or(NONE, |i| i as u32);
                match g {
                    G::BrowserVersion => put(&[f(VField::Browser), at_(attr::BROWSER_VERSION)]),
                    G::OsVersion => put(&[f(VField::Os), at_(attr::OS_VERSION)]),
                    G::OsFamily => put(&[f(VField::Os)]),
                    G::Brand => put(&[at_(attr::DEVICE_BRAND)]),
                    G::Model => put(&[
                        at_(attr::DEVICE_BRAND),
                        at_(attr::DEVICE_MODEL),
                        f(VField::Device),
                    ]),
                    G::Engine => put(&[at_(attr::BROWSER_ENGINE)]),
                    G::Resolution => put(&[at_(attr::RESOLUTION)]),
                    G::Plugins => put(&[
                        at_(attr::PLUGINS),
                        f(VField::Browser),
                        at_(attr::BROWSER_VERSION),
                    ]),
                    G::Configuration => {
                        put(&[f(VField::Os), f(VField::Browser), at_(attr::RESOLUTION)])
                    }
                    G::Continent | G::Country => put(&[f(VField::Country)]),
                    G::Region => put(&[
                        at_(attr::REGION),
                        f(VField::Country),
                        at_(attr::REGION_NAME),
                    ]),
                    G::City => put(&[
                        at_(attr::CITY),
                        at_(attr::REGION),
                        f(VField::Country),
                        at_(attr::REGION_NAME),
                        at_(attr::LATITUDE),
                        at_(attr::LONGITUDE),
                    ]),
                    G::Language | G::LanguageCode => put(&[f(VField::Language)]),
                    G::ServerHour => put(&[self.server_hour(a, v)]),
                    G::LocalHour => put(&[at_(attr::LOCAL_HOUR)]),
                    G::DayOfWeek => put(&[self.weekday(a, v)]),
                    G::Duration => put(&[index(u64::from(at.length))]),
                    G::Pages => put(&[index(at.actions as u64)]),
                    G::VisitCount => put(&[index(u64::from(a.visit_rank(v)))]),
                    G::DaysSinceLast => {
                        put(&[self.since_last(at).map_or(NONE, |d| index(d as u64))])
                    }
                    G::ReferrerType | G::ReferrerAll | G::Referrer(_) => {
                        // `referrer`'s inputs: the type; unless direct, the
                        // landing URL, the referrer URL and the recorded parts.
                        let kind = a.referrer_type[v as usize];
                        out[0] = u32::from(kind);
                        // A report of one type has no row for the others.
                        let other = matches!(g, G::Referrer(part) if part.kind() as u8 != kind);
                        if !other
                            && ReferrerType::ALL.get(usize::from(kind))
                                != Some(&ReferrerType::Direct)
                        {
                            out[1] = a
                                .actions_of(v)
                                .next()
                                .map(|i| a.a_url[i])
                                .filter(|&u| u != NONE && campaign(u))
                                .unwrap_or(NONE);
                            out[2] = f(VField::Referrer);
                            let recorded: &[usize] = if ReferrerType::ALL.get(usize::from(kind))
                                == Some(&ReferrerType::Campaign)
                            {
                                &[0, 1, 2, 3, 4, 5].map(|k| attr::CAMPAIGN + k)
                            } else {
                                &[attr::REFERRER_NAME, attr::REFERRER_KEYWORD]
                            };
                            for (slot, &i) in out[3..].iter_mut().zip(recorded) {
                                *slot = self.attr_id(a, v, i);
                            }
                        }
                    }
                }
            }
        }
        Some(out)
    }

    /// Whether the URL `id` carries campaign parameters.
    pub(crate) fn is_campaign_url(&self, id: u32) -> bool {
        crate::referrer::has_campaign(self.dicts.urls.value(id))
    }

    /// The value id of one of hitmap's visit attributes, or [`NONE`].
    fn attr_id(&self, a: &DayArchive, v: u32, index: usize) -> u32 {
        self.attrs[index]
            .and_then(|name| a.dims.iter().find(|c| c.name == name))
            .map_or(NONE, |c| c.values[v as usize])
    }

    /// The site's named sections, each with its row's key in the
    /// sections report ([`VisitGroup::Sections`]); a section whose
    /// prefixes do not resolve is left out (its questions fail on their
    /// own).
    pub(crate) fn sections(&self) -> Vec<(GroupKey, Arc<SectionSet>)> {
        self.config
            .sections
            .iter()
            .filter_map(|(name, _)| {
                let prefixes = self.config.resolve_section(name).ok()?;
                let set = self.dicts.sections.urls_for(prefixes, &self.dicts.urls);
                Some(((name.clone(), Some(set.key.to_string())), set))
            })
            .collect()
    }

    /// The label and sub-label of a visit in a grouping's report.
    pub(crate) fn key_of(
        &self,
        g: Grouping,
        bounds: &[Range],
        cut: &VisitAt<'_>,
        referrer: &OnceCell<Referrer>,
    ) -> Option<(String, Option<String>)> {
        let keys = self;
        let (a, v) = (cut.archive, cut.visit);
        let described = || referrer.get_or_init(|| keys.referrer(a, v));
        let known = |x: Option<String>| x.unwrap_or_else(|| UNKNOWN.to_owned());
        let one = |label: String| Some((label, None));
        match g {
            Grouping::BrowserVersion => one(known(keys.browser_version(a, v))),
            Grouping::OsVersion => one(known(keys.os_version(a, v))),
            Grouping::OsFamily => one(known(
                keys.field(a, v, VField::Os)
                    .map(|os| crate::device_codes::os_family(os).to_owned()),
            )),
            Grouping::Brand => one(known(keys.brand(a, v).map(str::to_owned))),
            Grouping::Model => one(format!(
                "{}{SEP}{}",
                keys.brand(a, v).unwrap_or(""),
                keys.model(a, v).unwrap_or_default()
            )),
            Grouping::Engine => one(known(keys.engine(a, v).map(str::to_owned))),
            Grouping::Resolution => one(known(keys.resolution(a, v).map(str::to_owned))),
            Grouping::Plugins => one(plugins_key(
                keys.plugins(a, v),
                keys.field(a, v, VField::Browser),
                keys.browser_version_only(a, v),
            )),
            // Matomo's label: the names without versions, `Unknown` for
            // an operating system or browser without one, and the stored
            // resolution or its `unknown`.
            Grouping::Configuration => one(format!(
                "{} / {} / {}",
                keys.field(a, v, VField::Os).unwrap_or(UNKNOWN),
                keys.field(a, v, VField::Browser).unwrap_or(UNKNOWN),
                keys.resolution(a, v).unwrap_or("unknown"),
            )),
            Grouping::Continent => one(keys.continent(a, v).unwrap_or("unk").to_owned()),
            // Stored values as they are, so each row's segment matches them;
            // names are looked up case-insensitively.
            Grouping::Country => one(known(keys.field(a, v, VField::Country).map(str::to_owned))),
            Grouping::Region => Some(keys.location_key(a, v, false)),
            Grouping::City => Some(keys.location_key(a, v, true)),
            Grouping::Language => one(known(
                keys.field(a, v, VField::Language)
                    .map(|l| l.split('-').next().unwrap_or(l).to_owned()),
            )),
            Grouping::LanguageCode => {
                one(known(keys.field(a, v, VField::Language).map(str::to_owned)))
            }
            Grouping::ServerHour => one(keys.server_hour(a, v).to_string()),
            Grouping::LocalHour => one(known(keys.local_hour(a, v).map(|h| h.to_string()))),
            Grouping::DayOfWeek => one(keys.weekday(a, v).to_string()),
            Grouping::Duration
            | Grouping::Pages
            | Grouping::VisitCount
            | Grouping::DaysSinceLast => {
                let x = match g {
                    Grouping::Duration => u64::from(cut.length),
                    Grouping::Pages => cut.actions as u64,
                    Grouping::VisitCount => u64::from(a.visit_rank(v)),
                    _ => keys.since_last(cut)? as u64,
                };
                one(range_index(bounds, x)?.to_string())
            }
            // Matomo's subtable of a referrer type is that type's report:
            // keywords for search engines, names for the others.
            Grouping::ReferrerType => {
                let r = described();
                let sub = match r.kind {
                    ReferrerType::Direct => None,
                    ReferrerType::Search => Some(referrer_label(ReferrerPart::Keyword, r)),
                    _ => Some(referrer_label(ReferrerPart::SearchEngine, r)),
                };
                Some((format!("{}", r.kind as u8), sub))
            }
            Grouping::ReferrerAll => {
                let r = described();
                let name = match r.kind {
                    ReferrerType::Direct => r.kind.label().to_owned(),
                    ReferrerType::Search => referrer_label(ReferrerPart::Keyword, r),
                    _ => referrer_label(ReferrerPart::SearchEngine, r),
                };
                one(format!("{}{SEP}{name}", r.kind as u8))
            }
            Grouping::Referrer(part) => {
                if a.referrer_type[v as usize] != part.kind() as u8 {
                    return None;
                }
                let r = described();
                let label = referrer_label(part, r);
                let referrer_url = || {
                    let id = a.fields[VField::Referrer as usize][v as usize];
                    (id != NONE).then(|| keys.dicts.referrers.value(id).to_owned())
                };
                let sub = match part {
                    ReferrerPart::SearchEngine => Some(referrer_label(ReferrerPart::Keyword, r)),
                    ReferrerPart::Keyword => Some(referrer_label(ReferrerPart::SearchEngine, r)),
                    ReferrerPart::Campaign => r.keyword.clone(),
                    ReferrerPart::Website | ReferrerPart::Social | ReferrerPart::AiAssistant => {
                        referrer_url()
                    }
                };
                Some((label, sub))
            }
        }
    }
}

/// The key of a visit in the plugins grouping: its plugins' stored text
/// (`cookie,flash`, empty without), after a `!` when its browser is
/// Internet Explorer 6 to 10, whose plugins Matomo does not count in the
/// share of visits (its detection fails there; Matomo's browser versions
/// `IE;6.0` to `IE;10.0`).
pub(crate) fn plugins_key(
    plugins: Option<&str>,
    browser: Option<&str>,
    version: Option<&str>,
) -> String {
    let old_ie = browser == Some("Internet Explorer")
        && matches!(version, Some("6.0" | "7.0" | "8.0" | "9.0" | "10.0"));
    format!("{}{}", if old_ie { "!" } else { "" }, plugins.unwrap_or(""))
}

/// A [`plugins_key`] back as (whether the browser is Internet Explorer 6
/// to 10, the plugins' names).
pub(crate) fn plugins_of_key(key: &str) -> (bool, impl Iterator<Item = &str>) {
    let (old_ie, plugins) = match key.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, key),
    };
    (old_ie, plugins.split(',').filter(|p| !p.is_empty()))
}

fn joined(name: Option<&str>, version: Option<&str>) -> Option<String> {
    Some(match (name?, version) {
        (n, Some(v)) => format!("{n} {v}"),
        (n, None) => n.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_interest_ranges_follow_matomo() {
        let d: Vec<String> = ranges(Grouping::Duration)
            .into_iter()
            .map(|r| r.label)
            .collect();
        assert_eq!(d[0], "0\u{2013}10s");
        assert_eq!(d[3], "1-2 min");
        assert_eq!(d[9], "30+ min");
        let p: Vec<String> = ranges(Grouping::Pages)
            .into_iter()
            .map(|r| r.label)
            .collect();
        assert_eq!(
            (p[0].as_str(), p[1].as_str(), p[9].as_str()),
            ("1 page", "2 pages", "21+ pages")
        );
        let r = ranges(Grouping::Duration);
        assert_eq!(range_index(&r, 60), Some(2));
        assert_eq!(range_index(&r, 61), Some(3));
        assert_eq!(range_index(&r, 1800), Some(8));
        assert_eq!(range_index(&r, 1801), Some(9));
    }
}
