//! One row of `log_link_visit_action` (with its visit and action names)
//! into one hit: the mapping of Matomo's columns onto the hit contract.
//!
//! | Matomo | hit |
//! |---|---|
//! | `server_time` (UTC) | `ts` |
//! | `idvisitor` (8 bytes) | `visitor` (16 hex digits) |
//! | `user_id` | `user` |
//! | `idvisit` | `visit` (with `keep_visits`) |
//! | `idaction_url` of type 1, 2, 3 (with `url_prefix` re-joined) | `url` of a page view, outlink, download |
//! | `idaction_name` of type 4 | `title` |
//! | `idaction_name` of type 8 | `search` (a site search) |
//! | `idaction_event_category`, `idaction_event_action`, `idaction_name` (type 12), `custom_float` | `event` |
//! | `referer_type`, `referer_name`, `referer_keyword`, `referer_url` | `referrer_type`, `referrer_name`, `referrer_keyword`, `referrer` |
//! | `campaign_*` (when the columns exist) | `campaign` |
//! | `config_device_type`, `config_browser_name`, `config_os` | `device`, `browser`, `os` (DeviceDetector's names) |
//! | `location_country`, `location_browser_lang` | `country`, `language` |
//! | `location_region`, `location_city`, `location_latitude`, `location_longitude` (when the columns exist) | `region`, `city`, `latitude`, `longitude` (Matomo keeps no region name) |
//! | `config_cookie`, `config_flash`, ... `config_windowsmedia` (DevicePlugins, when the columns exist) | `plugins` (those at 1) |
//! | `custom_dimension_N` | `dims` by the site's configured name |
//! | `time_network` .. `time_on_load` (PagePerformance), `bandwidth` (Bandwidth), when the columns exist | the same fields (timings on page views only) |
//! | `search_cat`, `search_count` of a site search, when the columns exist | `search_category`, `search_count` |
//! | `idaction_content_name`, `_piece`, `_target`, `_interaction` (Contents) | a `content` hit with its `content` (its URL, `idaction_url` of type 13, as `url`; no visit columns) |
//!
//! Visit columns go on every hit of the visit; hitmap takes each from the
//! visit's first hit, as Matomo recorded them when the visit began.

use std::collections::BTreeSet;

use hitmap::{Campaign, Event, Hit, HitType};

use super::Value;
use hitmap::device_codes::{BROWSERS, OPERATING_SYSTEMS};

/// What one row becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    /// A hit.
    Hit(Box<Hit>),
    /// Not a hit hitmap keeps, with the reason (counted by the importer).
    Skip(String),
}

/// A `log_action` row: name, type and URL prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionName {
    /// The name (a URL without its prefix, a title, a keyword, ...).
    pub name: String,
    /// Matomo's action type (1 page URL, 2 outlink, 3 download, 4 title,
    /// 8 site search, 10-12 event parts, ...).
    pub kind: Option<i64>,
    /// `url_prefix` (0-3) for URLs.
    pub prefix: Option<i64>,
}

/// `log_action` rows by id, filled as batches need them.
pub type Names = std::collections::HashMap<u64, ActionName>;

/// Positions of the fixed columns of an action row.
mod a {
    pub const ID: usize = 0;
    pub const TS: usize = 1;
    pub const VISIT: usize = 2;
    pub const URL: usize = 3;
    pub const NAME: usize = 4;
    pub const EVENT_CATEGORY: usize = 5;
    pub const EVENT_ACTION: usize = 6;
    pub const FLOAT: usize = 7;
    pub const DIMS: usize = 8;
}

/// Positions of the fixed columns of a visit row.
mod v {
    pub const ID: usize = 0;
    pub const VISITOR: usize = 1;
    pub const USER: usize = 2;
    pub const REFERRER_TYPE: usize = 3;
    pub const REFERRER_NAME: usize = 4;
    pub const REFERRER_KEYWORD: usize = 5;
    pub const REFERRER_URL: usize = 6;
    pub const DEVICE: usize = 7;
    pub const BROWSER: usize = 8;
    pub const OS: usize = 9;
    pub const COUNTRY: usize = 10;
    pub const LANGUAGE: usize = 11;
    pub const MORE: usize = 12;
}

const VISIT_COLUMNS: [&str; v::MORE] = [
    "idvisit",
    "LOWER(HEX(idvisitor))",
    "user_id",
    "referer_type",
    "referer_name",
    "referer_keyword",
    "referer_url",
    "config_device_type",
    "config_browser_name",
    "config_os",
    "location_country",
    "location_browser_lang",
];

/// The importer's queries and column layout for one site: which optional
/// columns the database has and which custom dimensions the site
/// configured.
///
/// Three queries per batch, each an index lookup: the actions after the
/// checkpoint by primary key (`log_link_visit_action` alone, so no join
/// order can turn the scan into a sort of the whole site), their visits
/// by primary key, and the `log_action` names not seen yet.
#[derive(Debug, Clone)]
pub struct Columns {
    prefix: String,
    /// `campaign_<part>` columns of `log_visit` that exist.
    campaign: Vec<&'static str>,
    /// `location_<part>` columns of `log_visit` that exist.
    location: Vec<&'static str>,
    /// The plugins whose `config_<plugin>` column of `log_visit` exists.
    plugins: Vec<&'static str>,
    /// (dimension name, column) of visit-scope custom dimensions.
    visit_dims: Vec<(String, String)>,
    /// (dimension name, column) of action-scope custom dimensions.
    action_dims: Vec<(String, String)>,
    /// The [`hitmap::Perf::FIELDS`] positions whose columns of
    /// `log_link_visit_action` exist (PagePerformance's timings,
    /// Bandwidth's bytes), read after the action dimensions.
    perf: Vec<usize>,
    /// Which of `search_cat` and `search_count` (a site search's category
    /// and result count) exist, read after the timings.
    search: [bool; 2],
    /// Whether the content columns (`idaction_content_name`, `_piece`,
    /// `_target`, `_interaction`) exist, read after the search columns.
    contents: bool,
}

/// A content's columns of `log_link_visit_action` (Contents), in the
/// order of [`hitmap::Content`]'s parts.
const CONTENT_COLUMNS: [&str; 4] = [
    "idaction_content_name",
    "idaction_content_piece",
    "idaction_content_target",
    "idaction_content_interaction",
];

/// A site search's columns of `log_link_visit_action`.
const SEARCH_COLUMNS: [&str; 2] = ["search_cat", "search_count"];

/// `campaign_*` columns (MarketingCampaignsReporting) and their part of
/// the hit's campaign.
const CAMPAIGN_COLUMNS: [&str; 6] = ["name", "source", "medium", "keyword", "content", "id"];

/// `location_*` columns (UserCountry) beyond the country.
const LOCATION_COLUMNS: [&str; 4] = ["region", "city", "latitude", "longitude"];

fn int(row: &[Value], i: usize) -> Option<i64> {
    row.get(i).and_then(Value::int)
}

fn text(row: &[Value], i: usize) -> Option<String> {
    row.get(i).and_then(Value::text).map(str::to_owned)
}

fn id_list(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

impl Columns {
    /// The columns to read, given the optional columns the tables have and
    /// the site's active custom dimensions as (scope, index, name).
    ///
    /// # Examples
    /// ```
    /// use std::collections::BTreeSet;
    /// use hitmap_intake::matomo::Columns;
    /// let c = Columns::new("matomo_", &BTreeSet::new(), &BTreeSet::new(), &[]);
    /// assert!(c.actions_sql(1, 0, "", 10).contains("FORCE INDEX (PRIMARY)"));
    /// ```
    pub fn new(
        prefix: &str,
        visit_columns: &BTreeSet<String>,
        action_columns: &BTreeSet<String>,
        dimensions: &[(String, u32, String)],
    ) -> Columns {
        let campaign = CAMPAIGN_COLUMNS
            .into_iter()
            .filter(|part| visit_columns.contains(&format!("campaign_{part}")))
            .collect();
        let location = LOCATION_COLUMNS
            .into_iter()
            .filter(|part| visit_columns.contains(&format!("location_{part}")))
            .collect();
        let plugins = hitmap::PLUGIN_NAMES
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| visit_columns.contains(&format!("config_{name}")))
            .collect();
        let (mut visit_dims, mut action_dims) = (Vec::new(), Vec::new());
        for (scope, index, name) in dimensions {
            let c = format!("custom_dimension_{index}");
            if scope == "visit" && visit_columns.contains(&c) {
                visit_dims.push((name.clone(), c));
            } else if scope != "visit" && action_columns.contains(&c) {
                action_dims.push((name.clone(), c));
            }
        }
        let perf = (0..hitmap::Perf::FIELDS.len())
            .filter(|&f| action_columns.contains(hitmap::Perf::FIELDS[f]))
            .collect();
        Columns {
            prefix: prefix.to_owned(),
            campaign,
            location,
            plugins,
            visit_dims,
            action_dims,
            perf,
            search: SEARCH_COLUMNS.map(|c| action_columns.contains(c)),
            contents: CONTENT_COLUMNS.iter().all(|c| action_columns.contains(*c)),
        }
    }

    /// The next batch of a site's actions: rows after `cursor` in
    /// `idlink_va` order, at most `limit`, within the `window` (extra `AND`
    /// conditions on `server_time`).
    pub fn actions_sql(&self, site: u32, cursor: u64, window: &str, limit: usize) -> String {
        let mut cols = vec![
            "idlink_va".to_string(),
            "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', server_time)".into(),
            "idvisit".into(),
            "idaction_url".into(),
            "idaction_name".into(),
            "idaction_event_category".into(),
            "idaction_event_action".into(),
            "custom_float".into(),
        ];
        cols.extend(self.action_dims.iter().map(|(_, c)| c.clone()));
        cols.extend(
            self.perf
                .iter()
                .map(|&f| hitmap::Perf::FIELDS[f].to_owned()),
        );
        cols.extend(
            SEARCH_COLUMNS
                .iter()
                .zip(self.search)
                .filter(|(_, has)| *has)
                .map(|(c, _)| (*c).to_owned()),
        );
        if self.contents {
            cols.extend(CONTENT_COLUMNS.iter().map(|c| (*c).to_owned()));
        }
        format!(
            "SELECT {} FROM {}log_link_visit_action FORCE INDEX (PRIMARY) \
             WHERE idlink_va > {cursor} AND idsite = {site}{window} ORDER BY idlink_va LIMIT {limit}",
            cols.join(", "),
            self.prefix
        )
    }

    /// The visits of a batch, by id.
    pub fn visits_sql(&self, ids: &[u64]) -> String {
        let mut cols: Vec<String> = VISIT_COLUMNS.iter().map(|c| (*c).to_string()).collect();
        cols.extend(self.campaign.iter().map(|p| format!("campaign_{p}")));
        cols.extend(self.location.iter().map(|p| format!("location_{p}")));
        cols.extend(self.plugins.iter().map(|p| format!("config_{p}")));
        cols.extend(self.visit_dims.iter().map(|(_, c)| c.clone()));
        format!(
            "SELECT {} FROM {}log_visit WHERE idvisit IN ({})",
            cols.join(", "),
            self.prefix,
            id_list(ids)
        )
    }

    /// `log_action` rows by id: (idaction, name, type, url_prefix).
    pub fn names_sql(&self, ids: &[u64]) -> String {
        format!(
            "SELECT idaction, name, type, url_prefix FROM {}log_action WHERE idaction IN ({})",
            self.prefix,
            id_list(ids)
        )
    }

    /// The `log_action` ids an action row refers to.
    pub fn action_ids<'r>(&self, row: &'r [Value]) -> impl Iterator<Item = u64> + 'r {
        let contents = self.content_at();
        [a::URL, a::NAME, a::EVENT_CATEGORY, a::EVENT_ACTION]
            .into_iter()
            .chain(
                contents
                    .into_iter()
                    .flat_map(|at| at..at + CONTENT_COLUMNS.len()),
            )
            .filter_map(|i| int(row, i).and_then(|x| u64::try_from(x).ok()))
            .filter(|&x| x > 0)
    }

    /// Where an action row's content columns start (after the
    /// dimensions, timings and search columns), if the table has them.
    fn content_at(&self) -> Option<usize> {
        let searches = self.search.iter().filter(|s| **s).count();
        self.contents
            .then(|| a::DIMS + self.action_dims.len() + self.perf.len() + searches)
    }

    /// An action row's `idlink_va`.
    pub fn id(row: &[Value]) -> u64 {
        int(row, a::ID)
            .and_then(|i| u64::try_from(i).ok())
            .unwrap_or(0)
    }

    /// An action row's time, Unix seconds.
    pub fn ts(row: &[Value]) -> Option<i64> {
        int(row, a::TS)
    }

    /// An action row's `idvisit` (a visit row's, with [`Columns::visit_id`]).
    pub fn action_visit(row: &[Value]) -> Option<u64> {
        int(row, a::VISIT).and_then(|i| u64::try_from(i).ok())
    }

    /// A visit row's `idvisit`.
    pub fn visit_id(row: &[Value]) -> Option<u64> {
        int(row, v::ID).and_then(|i| u64::try_from(i).ok())
    }

    /// Reads a `log_action` row of [`Columns::names_sql`].
    pub fn name_row(row: &[Value]) -> Option<(u64, ActionName)> {
        let id = int(row, 0).and_then(|i| u64::try_from(i).ok())?;
        Some((
            id,
            ActionName {
                name: text(row, 1).unwrap_or_default(),
                kind: int(row, 2),
                prefix: int(row, 3),
            },
        ))
    }

    /// The hit of one action row, with its visit's row (`None` if the
    /// visit is missing) and the names it refers to. The visit's own
    /// columns (user, referrer, device, location, visit-scope dimensions)
    /// go on the hit when `visit_fields` is set: the importer sets it for
    /// the first row of each visit it meets, which is all hitmap's
    /// first-carrier rule needs (every carrier of a visit holds the same
    /// values), and spares a copy of them per action.
    pub fn hit(
        &self,
        action: &[Value],
        visit: Option<&[Value]>,
        names: &Names,
        site: u32,
        keep_visits: bool,
        visit_fields: bool,
    ) -> RowOutcome {
        let skip = |why: &str| RowOutcome::Skip(why.to_owned());
        let Some(visit) = visit else {
            return skip("its visit is not in log_visit");
        };
        let Some(ts) = Columns::ts(action) else {
            return skip("no server_time");
        };
        let Some(visitor) = text(visit, v::VISITOR) else {
            return skip("no idvisitor");
        };
        let name_of = |i: usize| {
            int(action, i)
                .and_then(|x| u64::try_from(x).ok())
                .and_then(|x| names.get(&x))
        };
        let url_action = name_of(a::URL);
        let url = url_action.map(|n| with_prefix(&n.name, n.prefix));
        let url_type = url_action.and_then(|n| n.kind);
        let name_action = name_of(a::NAME);
        let name = name_action.map(|n| n.name.clone());
        let name_type = name_action.and_then(|n| n.kind);
        if let Some(at) = self.content_at()
            && int(action, at).is_some_and(|id| id > 0)
        {
            // A content impression or interaction: Matomo's content
            // columns, its page URL (a `log_action` of type 13).
            let part = |i: usize| {
                name_of(at + i)
                    .map(|n| n.name.trim().to_owned())
                    .filter(|n| !n.is_empty())
            };
            let Some(content_name) = part(0) else {
                return skip("content without a name");
            };
            let content = hitmap::Content {
                name: content_name,
                piece: part(1),
                target: part(2),
                interaction: part(3),
            };
            let mut h = Hit::new(site, ts, visitor, HitType::Content)
                .with_conversion(hitmap::Conversion::content(content));
            h.url = url;
            if keep_visits {
                h.visit = int(visit, v::ID).map(|v| v.to_string());
            }
            return RowOutcome::Hit(Box::new(h));
        }
        let mut hit = if let Some(category) = name_of(a::EVENT_CATEGORY) {
            let Some(action_name) = name_of(a::EVENT_ACTION) else {
                return skip("event without an action");
            };
            let mut h = Hit::new(site, ts, visitor, HitType::Event).with_event(Event {
                category: category.name.clone(),
                action: action_name.name.clone(),
                name: name.filter(|_| name_type == Some(12)),
                value: action
                    .get(a::FLOAT)
                    .and_then(Value::float)
                    .filter(|v| v.is_finite()),
            });
            h.url = url;
            h
        } else {
            match (url_type, url) {
                (Some(t @ 1..=3), Some(url)) => {
                    let kind = match t {
                        1 => HitType::Pageview,
                        2 => HitType::Outlink,
                        _ => HitType::Download,
                    };
                    let mut h = Hit::new(site, ts, visitor, kind).with_url(url);
                    if kind == HitType::Pageview && name_type == Some(4) {
                        h.title = name;
                    }
                    h
                }
                _ if name_type == Some(8) => match name {
                    Some(keyword) if !keyword.is_empty() => {
                        Hit::new(site, ts, visitor, HitType::Search).with_search(keyword)
                    }
                    _ => return skip("site search without a keyword"),
                },
                (None, _) if name_type == Some(4) => return skip("page view without a URL"),
                (Some(t), _) => return RowOutcome::Skip(format!("action of type {t}")),
                (None, _) => return skip("no page, download, outlink, search or event"),
            }
        };
        if keep_visits {
            hit.visit = int(visit, v::ID).map(|v| v.to_string());
        }
        if visit_fields {
            self.visit_fields(&mut hit, visit);
        }
        for (i, (name, _)) in self.action_dims.iter().enumerate() {
            if let Some(value) = text(action, a::DIMS + i) {
                hit.dims.push((name.clone(), value));
            }
        }
        let at = a::DIMS + self.action_dims.len();
        for (i, &f) in self.perf.iter().enumerate() {
            let value = int(action, at + i).and_then(|v| u64::try_from(v).ok());
            match f {
                6 => hit.perf.bandwidth = value.filter(|v| *v <= hitmap::Perf::MAX_BANDWIDTH),
                _ if hit.kind == HitType::Pageview => {
                    hit.perf.times[f] = value
                        .and_then(|v| u32::try_from(v).ok())
                        .filter(|v| *v <= hitmap::Perf::MAX_TIME_MS);
                }
                _ => {}
            }
        }
        let mut at = at + self.perf.len();
        if self.search[0] {
            if hit.kind == HitType::Search {
                hit.search_category = text(action, at).filter(|c| !c.is_empty());
            }
            at += 1;
        }
        if self.search[1] && hit.kind == HitType::Search {
            hit.search_count = int(action, at).and_then(|n| u32::try_from(n).ok());
        }
        RowOutcome::Hit(Box::new(hit))
    }

    /// Puts the visit's own columns on a hit.
    fn visit_fields(&self, hit: &mut Hit, visit: &[Value]) {
        hit.user = text(visit, v::USER);
        let rtype = int(visit, v::REFERRER_TYPE);
        hit.referrer_type = rtype.and_then(referrer_type).map(str::to_owned);
        hit.referrer = text(visit, v::REFERRER_URL);
        hit.referrer_name = text(visit, v::REFERRER_NAME);
        hit.referrer_keyword = text(visit, v::REFERRER_KEYWORD);
        let mut campaign = Campaign::default();
        if rtype == Some(6) {
            campaign.name = hit.referrer_name.clone();
            campaign.keyword = hit.referrer_keyword.clone();
        }
        for (i, part) in self.campaign.iter().enumerate() {
            if let Some(value) = text(visit, v::MORE + i) {
                let slot = match *part {
                    "name" => &mut campaign.name,
                    "source" => &mut campaign.source,
                    "medium" => &mut campaign.medium,
                    "keyword" => &mut campaign.keyword,
                    "content" => &mut campaign.content,
                    _ => &mut campaign.id,
                };
                *slot = Some(value);
            }
        }
        if campaign != Campaign::default() {
            hit.campaign = Some(campaign);
        }
        hit.device = int(visit, v::DEVICE)
            .and_then(device_type)
            .map(str::to_owned);
        hit.browser = text(visit, v::BROWSER).and_then(|c| browser_name(&c));
        hit.os = text(visit, v::OS).and_then(|c| os_name(&c));
        hit.country = text(visit, v::COUNTRY)
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c != "xx");
        hit.language = text(visit, v::LANGUAGE).and_then(|l| language(&l));
        let location = v::MORE + self.campaign.len();
        for (i, part) in self.location.iter().enumerate() {
            let value = text(visit, location + i).filter(|x| !x.is_empty() && x != "xx");
            let coordinate = |bound: f64| {
                visit
                    .get(location + i)
                    .and_then(Value::float)
                    .filter(|x| x.is_finite() && x.abs() <= bound)
            };
            match *part {
                "region" => hit.region = value,
                "city" => hit.city = value,
                "latitude" => hit.latitude = coordinate(90.0),
                _ => hit.longitude = coordinate(180.0),
            }
        }
        let plugins = location + self.location.len();
        let on: Vec<&str> = (self.plugins.iter().enumerate())
            .filter(|(i, _)| int(visit, plugins + i) == Some(1))
            .map(|(_, p)| *p)
            .collect();
        hit.plugins = (!on.is_empty()).then(|| on.join(","));
        let visit_dims = plugins + self.plugins.len();
        for (i, (name, _)) in self.visit_dims.iter().enumerate() {
            if let Some(value) = text(visit, visit_dims + i) {
                hit.dims.push((name.clone(), value));
            }
        }
    }
}

/// A `log_action` URL with its `url_prefix` put back (Matomo strips
/// `http://`, `http://www.`, `https://`, `https://www.` and stores which).
///
/// # Examples
/// ```
/// use hitmap_intake::matomo::row::with_prefix;
/// assert_eq!(with_prefix("example.org/a", Some(3)), "https://www.example.org/a");
/// assert_eq!(with_prefix("ftp://x.org/f", None), "ftp://x.org/f");
/// ```
pub fn with_prefix(name: &str, prefix: Option<i64>) -> String {
    let p = match prefix {
        Some(0) => "http://",
        Some(1) => "http://www.",
        Some(2) => "https://",
        Some(3) => "https://www.",
        _ => "",
    };
    format!("{p}{name}")
}

/// Matomo's `referer_type` as a hitmap referrer type; AI assistants and
/// later types are left to hitmap's derivation.
///
/// # Examples
/// ```
/// assert_eq!(hitmap_intake::matomo::row::referrer_type(6), Some("campaign"));
/// assert_eq!(hitmap_intake::matomo::row::referrer_type(9), None);
/// ```
pub fn referrer_type(code: i64) -> Option<&'static str> {
    Some(match code {
        1 => "direct",
        2 => "search",
        3 => "website",
        6 => "campaign",
        7 => "social",
        _ => return None,
    })
}

/// DeviceDetector's device type codes, as Matomo's `deviceType` segment
/// names them.
///
/// # Examples
/// ```
/// assert_eq!(hitmap_intake::matomo::row::device_type(1), Some("smartphone"));
/// ```
pub fn device_type(code: i64) -> Option<&'static str> {
    usize::try_from(code)
        .ok()
        .and_then(|i| hitmap::DEVICE_TYPES.get(i))
        .copied()
}

fn lookup(table: &[(&str, &'static str)], code: &str) -> Option<String> {
    if code.eq_ignore_ascii_case("UNK") || code.is_empty() {
        return None;
    }
    Some(match table.binary_search_by(|(c, _)| (*c).cmp(code)) {
        Ok(i) => table.get(i).map_or(code, |(_, name)| name).to_owned(),
        // A code newer than this table: kept as stored.
        Err(_) => code.to_owned(),
    })
}

/// A browser code's name (`FF` → `Firefox`); unknown codes stay as they
/// are, `UNK` is no browser.
///
/// # Examples
/// ```
/// assert_eq!(hitmap_intake::matomo::row::browser_name("FF").as_deref(), Some("Firefox"));
/// assert_eq!(hitmap_intake::matomo::row::browser_name("UNK"), None);
/// ```
pub fn browser_name(code: &str) -> Option<String> {
    lookup(BROWSERS, code)
}

/// An operating-system code's name (`WIN` → `Windows`).
///
/// # Examples
/// ```
/// assert_eq!(hitmap_intake::matomo::row::os_name("AND").as_deref(), Some("Android"));
/// ```
pub fn os_name(code: &str) -> Option<String> {
    lookup(OPERATING_SYSTEMS, code)
}

/// The first language of Matomo's `location_browser_lang` (an
/// Accept-Language value), lower case.
///
/// # Examples
/// ```
/// assert_eq!(hitmap_intake::matomo::row::language("en-US,en;q=0.8").as_deref(), Some("en-us"));
/// assert_eq!(hitmap_intake::matomo::row::language("xx"), None);
/// ```
pub fn language(raw: &str) -> Option<String> {
    let first = raw.split([',', ';']).next()?.trim().to_ascii_lowercase();
    (!first.is_empty() && first != "xx").then_some(first)
}
