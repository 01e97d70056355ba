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
//! | `custom_dimension_N` | `dims` by the site's configured name |
//!
//! Visit columns go on every hit of the visit; hitmap takes each from the
//! visit's first hit, as Matomo recorded them when the visit began.

use std::collections::BTreeSet;

use hitmap::{Campaign, Event, Hit, HitType};

use super::Value;
use super::codes::{BROWSERS, OPERATING_SYSTEMS};

/// What one row becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum RowOutcome {
    /// A hit.
    Hit(Box<Hit>),
    /// Not a hit hitmap keeps, with the reason (counted by the importer).
    Skip(String),
}

/// A column of the importer's `SELECT`, in order.
#[derive(Debug, Clone, PartialEq)]
enum Col {
    Id,
    Ts,
    Visit,
    Visitor,
    User,
    Url,
    UrlPrefix,
    UrlType,
    Name,
    NameType,
    EventCategory,
    EventAction,
    Float,
    ReferrerType,
    ReferrerName,
    ReferrerKeyword,
    ReferrerUrl,
    DeviceType,
    Browser,
    Os,
    Country,
    Language,
    /// `campaign_<part>` of `log_visit`.
    Campaign(&'static str),
    /// A custom dimension: its name.
    Dimension(String),
}

/// The importer's column list for one site: which optional columns the
/// database has and which custom dimensions the site configured.
#[derive(Debug, Clone)]
pub struct Columns {
    prefix: String,
    cols: Vec<(Col, String)>,
}

/// `campaign_*` columns (MarketingCampaignsReporting) and their part of
/// the hit's campaign.
const CAMPAIGN_COLUMNS: [&str; 6] = ["name", "source", "medium", "keyword", "content", "id"];

impl Columns {
    /// The columns to read, given the optional columns the tables have and
    /// the site's active custom dimensions as (scope, index, name).
    ///
    /// # Examples
    /// ```
    /// use std::collections::BTreeSet;
    /// use hitmap_intake::matomo::Columns;
    /// let c = Columns::new("matomo_", &BTreeSet::new(), &BTreeSet::new(), &[]);
    /// assert!(c.batch_sql(1, 0, "", 10).starts_with("SELECT a.idlink_va"));
    /// ```
    pub fn new(
        prefix: &str,
        visit_columns: &BTreeSet<String>,
        action_columns: &BTreeSet<String>,
        dimensions: &[(String, u32, String)],
    ) -> Columns {
        let mut cols: Vec<(Col, String)> = vec![
            (Col::Id, "a.idlink_va".into()),
            (
                Col::Ts,
                "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', a.server_time)".into(),
            ),
            (Col::Visit, "a.idvisit".into()),
            (Col::Visitor, "LOWER(HEX(v.idvisitor))".into()),
            (Col::User, "v.user_id".into()),
            (Col::Url, "au.name".into()),
            (Col::UrlPrefix, "au.url_prefix".into()),
            (Col::UrlType, "au.type".into()),
            (Col::Name, "an.name".into()),
            (Col::NameType, "an.type".into()),
            (Col::EventCategory, "ec.name".into()),
            (Col::EventAction, "ea.name".into()),
            (Col::Float, "a.custom_float".into()),
            (Col::ReferrerType, "v.referer_type".into()),
            (Col::ReferrerName, "v.referer_name".into()),
            (Col::ReferrerKeyword, "v.referer_keyword".into()),
            (Col::ReferrerUrl, "v.referer_url".into()),
            (Col::DeviceType, "v.config_device_type".into()),
            (Col::Browser, "v.config_browser_name".into()),
            (Col::Os, "v.config_os".into()),
            (Col::Country, "v.location_country".into()),
            (Col::Language, "v.location_browser_lang".into()),
        ];
        for part in CAMPAIGN_COLUMNS {
            let c = format!("campaign_{part}");
            if visit_columns.contains(&c) {
                cols.push((Col::Campaign(part), format!("v.{c}")));
            }
        }
        for (scope, index, name) in dimensions {
            let c = format!("custom_dimension_{index}");
            let (table, alias) = if scope == "visit" {
                (visit_columns, "v")
            } else {
                (action_columns, "a")
            };
            if table.contains(&c) {
                cols.push((Col::Dimension(name.clone()), format!("{alias}.{c}")));
            }
        }
        Columns {
            prefix: prefix.to_owned(),
            cols,
        }
    }

    /// The query for the next batch of a site: rows after `cursor` in
    /// `idlink_va` order, at most `limit`, within the `window` (extra
    /// `AND` conditions on `a.server_time`).
    pub fn batch_sql(&self, site: u32, cursor: u64, window: &str, limit: usize) -> String {
        let p = &self.prefix;
        let select: Vec<&str> = self.cols.iter().map(|(_, sql)| sql.as_str()).collect();
        format!(
            "SELECT {} FROM {p}log_link_visit_action a \
             JOIN {p}log_visit v ON v.idvisit = a.idvisit \
             LEFT JOIN {p}log_action au ON au.idaction = a.idaction_url \
             LEFT JOIN {p}log_action an ON an.idaction = a.idaction_name \
             LEFT JOIN {p}log_action ec ON ec.idaction = a.idaction_event_category \
             LEFT JOIN {p}log_action ea ON ea.idaction = a.idaction_event_action \
             WHERE a.idsite = {site} AND a.idlink_va > {cursor}{window} \
             ORDER BY a.idlink_va LIMIT {limit}",
            select.join(", ")
        )
    }

    fn get<'r>(&self, row: &'r [Value], col: &Col) -> &'r Value {
        self.cols
            .iter()
            .position(|(c, _)| c == col)
            .and_then(|i| row.get(i))
            .unwrap_or(&Value::Null)
    }

    fn text(&self, row: &[Value], col: &Col) -> Option<String> {
        self.get(row, col).text().map(str::to_owned)
    }

    /// The row's `idlink_va`.
    pub fn id(&self, row: &[Value]) -> u64 {
        self.get(row, &Col::Id)
            .int()
            .and_then(|i| u64::try_from(i).ok())
            .unwrap_or(0)
    }

    /// The row's time, Unix seconds.
    pub fn ts(&self, row: &[Value]) -> Option<i64> {
        self.get(row, &Col::Ts).int()
    }

    /// The hit of one row.
    pub fn hit(&self, row: &[Value], site: u32, keep_visits: bool) -> RowOutcome {
        let skip = |why: &str| RowOutcome::Skip(why.to_owned());
        let Some(ts) = self.ts(row) else {
            return skip("no server_time");
        };
        let Some(visitor) = self.text(row, &Col::Visitor) else {
            return skip("no idvisitor");
        };
        let url = self.text(row, &Col::Url).map(|name| {
            let prefix = self.get(row, &Col::UrlPrefix).int();
            with_prefix(&name, prefix)
        });
        let url_type = self.get(row, &Col::UrlType).int();
        let name = self.text(row, &Col::Name);
        let name_type = self.get(row, &Col::NameType).int();
        let mut hit = if let Some(category) = self.text(row, &Col::EventCategory) {
            let Some(action) = self.text(row, &Col::EventAction) else {
                return skip("event without an action");
            };
            let mut h = Hit::new(site, ts, visitor, HitType::Event).with_event(Event {
                category,
                action,
                name: name.filter(|_| name_type == Some(12)),
                value: self.get(row, &Col::Float).float().filter(|v| v.is_finite()),
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
                    Some(keyword) => {
                        Hit::new(site, ts, visitor, HitType::Search).with_search(keyword)
                    }
                    None => return skip("site search without a keyword"),
                },
                (None, _) if name_type == Some(4) => return skip("page view without a URL"),
                (Some(t), _) => return RowOutcome::Skip(format!("action of type {t}")),
                (None, _) => return skip("no page, download, outlink, search or event"),
            }
        };
        hit.user = self.text(row, &Col::User);
        if keep_visits {
            hit.visit = self.get(row, &Col::Visit).int().map(|v| v.to_string());
        }
        let rtype = self.get(row, &Col::ReferrerType).int();
        hit.referrer_type = rtype.and_then(referrer_type).map(str::to_owned);
        hit.referrer = self.text(row, &Col::ReferrerUrl);
        hit.referrer_name = self.text(row, &Col::ReferrerName);
        hit.referrer_keyword = self.text(row, &Col::ReferrerKeyword);
        let mut campaign = Campaign::default();
        if rtype == Some(6) {
            campaign.name = hit.referrer_name.clone();
            campaign.keyword = hit.referrer_keyword.clone();
        }
        for (col, _) in &self.cols {
            if let Col::Campaign(part) = col
                && let Some(v) = self.text(row, col)
            {
                let slot = match *part {
                    "name" => &mut campaign.name,
                    "source" => &mut campaign.source,
                    "medium" => &mut campaign.medium,
                    "keyword" => &mut campaign.keyword,
                    "content" => &mut campaign.content,
                    _ => &mut campaign.id,
                };
                *slot = Some(v);
            }
        }
        if campaign != Campaign::default() {
            hit.campaign = Some(campaign);
        }
        hit.device = self
            .get(row, &Col::DeviceType)
            .int()
            .and_then(device_type)
            .map(str::to_owned);
        hit.browser = self.text(row, &Col::Browser).and_then(|c| browser_name(&c));
        hit.os = self.text(row, &Col::Os).and_then(|c| os_name(&c));
        hit.country = self
            .text(row, &Col::Country)
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c != "xx");
        hit.language = self.text(row, &Col::Language).and_then(|l| language(&l));
        for (col, _) in &self.cols {
            if let Col::Dimension(name) = col
                && let Some(v) = self.text(row, col)
            {
                hit.dims.push((name.clone(), v));
            }
        }
        RowOutcome::Hit(Box::new(hit))
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
    const TYPES: [&str; 14] = [
        "desktop",
        "smartphone",
        "tablet",
        "feature phone",
        "console",
        "tv",
        "car browser",
        "smart display",
        "camera",
        "portable media player",
        "phablet",
        "smart speaker",
        "wearable",
        "peripheral",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|i| TYPES.get(i))
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
