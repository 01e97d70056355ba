//! The segment grammar: `name OP value` conditions joined by `,` (OR) and
//! `;` (AND), OR binding tighter, no parentheses; `\,` and `\;` escape the
//! delimiters; values are URL-encoded.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::url::percent_decode;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `=@` contains
    Contains,
    /// `!@` does not contain
    NotContains,
    /// `=^` starts with
    StartsWith,
    /// `=$` ends with
    EndsWith,
}

impl Op {
    /// Longest first, so `<=` wins over `<`.
    const ALL: [(&'static str, Op); 10] = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("=@", Op::Contains),
        ("!@", Op::NotContains),
        ("=^", Op::StartsWith),
        ("=$", Op::EndsWith),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    /// The operator's text.
    pub fn symbol(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map(|(s, _)| *s)
            .unwrap_or("")
    }

    /// `!=` and `!@`: they select what the positive form does not.
    pub fn is_negative(self) -> bool {
        matches!(self, Op::Ne | Op::NotContains)
    }

    pub(crate) fn is_ordering(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

/// A field a segment condition can test.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// `visitorId`: the visitor key.
    VisitorId,
    /// `userId`
    UserId,
    /// `deviceType`
    DeviceType,
    /// `browserName`
    BrowserName,
    /// `operatingSystemName`
    OperatingSystemName,
    /// `countryCode`
    CountryCode,
    /// `languageCode`
    LanguageCode,
    /// `referrerUrl`
    ReferrerUrl,
    /// `referrerType`
    ReferrerType,
    /// `entryPageUrl`
    EntryPageUrl,
    /// `exitPageUrl`
    ExitPageUrl,
    /// `actions` (numeric)
    Actions,
    /// `visitDuration` in seconds (numeric)
    VisitDuration,
    /// `visitorType`: `new` or `returning`
    VisitorType,
    /// `visitCount` (numeric)
    VisitCount,
    /// `pageUrl` (action field)
    PageUrl,
    /// `pageTitle` (action field)
    PageTitle,
    /// `downloadUrl` (action field)
    DownloadUrl,
    /// `outlinkUrl` (action field)
    OutlinkUrl,
    /// `siteSearchKeyword` (action field)
    SiteSearchKeyword,
    /// `siteSearchCategory` (action field): a site search's category
    SiteSearchCategory,
    /// `siteSearchCount` (action field, numeric): visits with a site
    /// search whose result count compares so
    SiteSearchCount,
    /// `eventCategory` (action field)
    EventCategory,
    /// `eventAction` (action field)
    EventAction,
    /// `eventName` (action field)
    EventName,
    /// `eventValue` (action field, numeric): visits with an event whose
    /// value compares so
    EventValue,
    /// `referrerName`: search engine, website host, social network, AI
    /// assistant or campaign name
    ReferrerName,
    /// `referrerKeyword`: search or campaign keyword
    ReferrerKeyword,
    /// `campaignName`
    CampaignName,
    /// `campaignSource`
    CampaignSource,
    /// `campaignMedium`
    CampaignMedium,
    /// `campaignKeyword`
    CampaignKeyword,
    /// `campaignContent`
    CampaignContent,
    /// `campaignId`
    CampaignId,
    /// `browserVersion`
    BrowserVersion,
    /// `operatingSystemVersion`
    OperatingSystemVersion,
    /// `resolution` (`1920x1080`)
    Resolution,
    /// `browserCode`: the browser's DeviceDetector code (`FF`)
    BrowserCode,
    /// `operatingSystemCode`: the operating system's DeviceDetector code
    /// (`WIN`)
    OperatingSystemCode,
    /// `continentCode` (`eur`, `amn`, ...)
    ContinentCode,
    /// `regionCode`: the region of the visit's location, its code within
    /// the country (`VA`)
    RegionCode,
    /// `city`: the city of the visit's location
    City,
    /// `deviceBrand`: the device's brand (`Apple`; `Unknown` for none)
    DeviceBrand,
    /// `deviceModel`: the device's model (`iPhone`; `generic desktop` for
    /// a visit of a known device type without a model)
    DeviceModel,
    /// `browserEngine`: the browser's engine (`Blink`)
    BrowserEngine,
    /// `latitude` of the visit's location (numeric)
    Latitude,
    /// `longitude` of the visit's location (numeric)
    Longitude,
    /// `visitStartServerHour`: the hour the visit started on the site's
    /// clock (numeric; Matomo's is UTC: the same on a UTC site), as the
    /// server-time report's rows are labelled, so that a row's segment
    /// selects its visits
    VisitServerHour,
    /// A time of the visit's first or last action, or of any action, in
    /// UTC as Matomo's SQL takes it (numeric): `visitServerHour` (the
    /// last action's hour), `visitEndServerMinute`, ...
    Clock(Clock),
    /// `events`: the visit's events (numeric)
    Events,
    /// `searches`: the visit's site searches (numeric)
    Searches,
    /// `entryPageTitle`: the title of the visit's first page view
    EntryPageTitle,
    /// `exitPageTitle`: the title of the visit's last page view
    ExitPageTitle,
    /// `orderId`: visits with an order (that counts) of this id
    OrderId,
    /// `visitId`: the visit's `idVisit` in Live (numeric)
    VisitId,
    /// `visitLocalHour`: the visitor's local hour (numeric)
    VisitLocalHour,
    /// `daysSinceLastVisit` (numeric; 0 for a second visit the same day,
    /// no value for a first visit)
    DaysSinceLastVisit,
    /// `visitConverted`: `1` for visits that converted a goal, `0` for
    /// the others (the site's goals, evaluated over the visit's actions)
    VisitConverted,
    /// `visitConvertedGoalId`: visits that converted the goal with this
    /// id (`!=`: visits that converted another goal, as Matomo's)
    VisitConvertedGoalId,
    /// `visitEcommerceStatus`: `none`, `ordered`, `abandonedCart` or
    /// `orderedThenAbandonedCart` (the visit's orders and abandoned cart)
    VisitEcommerceStatus,
    /// `revenueOrder` (numeric): visits with an order whose grand total
    /// compares so
    RevenueOrder,
    /// `revenueAbandonedCart` (numeric): visits whose abandoned cart's
    /// total compares so
    RevenueAbandonedCart,
    /// `productPrice` (numeric): visits with an ordered or abandoned
    /// product whose unit price compares so
    ProductPrice,
    /// `productSku`: visits with an ordered or abandoned product of this
    /// SKU
    ProductSku,
    /// `productName`: as `productSku`, by product name
    ProductName,
    /// `productCategory`: as `productSku`, by any of a product's
    /// categories
    ProductCategory,
    /// `contentName`: visits with a content impression or interaction of
    /// this name
    ContentName,
    /// `contentPiece`: as `contentName`, by the content's piece
    ContentPiece,
    /// `contentTarget`: as `contentName`, by the content's target
    ContentTarget,
    /// `contentInteraction`: visits with a content interaction of this
    /// kind (`click`)
    ContentInteraction,
    /// A custom dimension, by name (or `dimensionN`, the site's N-th).
    Dimension(String),
}

const BUILTIN: [(&str, Field); 82] = [
    ("visitorId", Field::VisitorId),
    ("userId", Field::UserId),
    ("deviceType", Field::DeviceType),
    ("browserName", Field::BrowserName),
    ("operatingSystemName", Field::OperatingSystemName),
    ("countryCode", Field::CountryCode),
    ("languageCode", Field::LanguageCode),
    ("referrerUrl", Field::ReferrerUrl),
    ("referrerType", Field::ReferrerType),
    ("entryPageUrl", Field::EntryPageUrl),
    ("exitPageUrl", Field::ExitPageUrl),
    ("actions", Field::Actions),
    ("visitDuration", Field::VisitDuration),
    ("visitorType", Field::VisitorType),
    ("visitCount", Field::VisitCount),
    ("pageUrl", Field::PageUrl),
    ("pageTitle", Field::PageTitle),
    ("downloadUrl", Field::DownloadUrl),
    ("outlinkUrl", Field::OutlinkUrl),
    ("siteSearchKeyword", Field::SiteSearchKeyword),
    ("siteSearchCategory", Field::SiteSearchCategory),
    ("siteSearchCount", Field::SiteSearchCount),
    ("eventCategory", Field::EventCategory),
    ("eventAction", Field::EventAction),
    ("eventName", Field::EventName),
    ("eventValue", Field::EventValue),
    ("referrerName", Field::ReferrerName),
    ("referrerKeyword", Field::ReferrerKeyword),
    ("campaignName", Field::CampaignName),
    ("campaignSource", Field::CampaignSource),
    ("campaignMedium", Field::CampaignMedium),
    ("campaignKeyword", Field::CampaignKeyword),
    ("campaignContent", Field::CampaignContent),
    ("campaignId", Field::CampaignId),
    ("browserVersion", Field::BrowserVersion),
    ("operatingSystemVersion", Field::OperatingSystemVersion),
    ("resolution", Field::Resolution),
    ("continentCode", Field::ContinentCode),
    ("browserCode", Field::BrowserCode),
    ("operatingSystemCode", Field::OperatingSystemCode),
    ("regionCode", Field::RegionCode),
    ("city", Field::City),
    ("deviceBrand", Field::DeviceBrand),
    ("deviceModel", Field::DeviceModel),
    ("browserEngine", Field::BrowserEngine),
    ("latitude", Field::Latitude),
    ("longitude", Field::Longitude),
    ("visitStartServerHour", Field::VisitServerHour),
    ("visitServerHour", Field::Clock(Clock::EndHour)),
    ("visitStartServerMinute", Field::Clock(Clock::StartMinute)),
    ("visitEndServerMinute", Field::Clock(Clock::EndMinute)),
    ("visitEndServerSecond", Field::Clock(Clock::EndSecond)),
    (
        "visitEndServerDayOfMonth",
        Field::Clock(Clock::EndDayOfMonth),
    ),
    ("visitEndServerDayOfWeek", Field::Clock(Clock::EndDayOfWeek)),
    ("visitEndServerDayOfYear", Field::Clock(Clock::EndDayOfYear)),
    ("visitEndServerMonth", Field::Clock(Clock::EndMonth)),
    ("visitEndServerQuarter", Field::Clock(Clock::EndQuarter)),
    (
        "visitEndServerWeekOfYear",
        Field::Clock(Clock::EndWeekOfYear),
    ),
    ("visitEndServerYear", Field::Clock(Clock::EndYear)),
    ("actionServerHour", Field::Clock(Clock::ActionHour)),
    ("actionServerMinute", Field::Clock(Clock::ActionMinute)),
    ("events", Field::Events),
    ("searches", Field::Searches),
    ("entryPageTitle", Field::EntryPageTitle),
    ("exitPageTitle", Field::ExitPageTitle),
    ("orderId", Field::OrderId),
    ("visitId", Field::VisitId),
    ("visitLocalHour", Field::VisitLocalHour),
    ("daysSinceLastVisit", Field::DaysSinceLastVisit),
    ("visitConverted", Field::VisitConverted),
    ("visitConvertedGoalId", Field::VisitConvertedGoalId),
    ("visitEcommerceStatus", Field::VisitEcommerceStatus),
    ("revenueOrder", Field::RevenueOrder),
    ("revenueAbandonedCart", Field::RevenueAbandonedCart),
    ("productPrice", Field::ProductPrice),
    ("productSku", Field::ProductSku),
    ("productName", Field::ProductName),
    ("productCategory", Field::ProductCategory),
    ("contentName", Field::ContentName),
    ("contentPiece", Field::ContentPiece),
    ("contentTarget", Field::ContentTarget),
    ("contentInteraction", Field::ContentInteraction),
];

impl Field {
    /// The segment name of the field.
    pub fn name(&self) -> &str {
        match self {
            Field::Dimension(n) => n,
            f => BUILTIN
                .iter()
                .find(|(_, b)| b == f)
                .map(|(n, _)| *n)
                .unwrap_or(""),
        }
    }

    /// Numeric fields compare as numbers and allow `<`, `<=`, `>`, `>=`.
    pub fn is_numeric(&self) -> bool {
        matches!(
            self,
            Field::Actions
                | Field::VisitDuration
                | Field::VisitCount
                | Field::EventValue
                | Field::SiteSearchCount
                | Field::VisitServerHour
                | Field::Clock(_)
                | Field::Events
                | Field::Searches
                | Field::VisitId
                | Field::VisitLocalHour
                | Field::DaysSinceLastVisit
                | Field::RevenueOrder
                | Field::RevenueAbandonedCart
                | Field::ProductPrice
                | Field::Latitude
                | Field::Longitude
        )
    }

    /// Action fields select visits by their actions.
    pub fn is_action_field(&self) -> bool {
        matches!(
            self,
            Field::PageUrl
                | Field::PageTitle
                | Field::DownloadUrl
                | Field::OutlinkUrl
                | Field::SiteSearchKeyword
                | Field::SiteSearchCategory
                | Field::SiteSearchCount
                | Field::EventCategory
                | Field::EventAction
                | Field::EventName
                | Field::EventValue
                | Field::ContentName
                | Field::ContentPiece
                | Field::ContentTarget
                | Field::ContentInteraction
        )
    }

    /// The built-in field names.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(n, _)| *n)
    }

    /// The built-in fields with their names.
    pub(crate) fn builtin() -> impl Iterator<Item = (&'static str, &'static Field)> {
        BUILTIN.iter().map(|(n, f)| (*n, f))
    }
}

/// Which time of a visit a [`Field::Clock`] condition reads, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clock {
    /// `visitStartServerMinute`: the first action's minute.
    StartMinute,
    /// `visitServerHour`: the last action's hour (Matomo's).
    EndHour,
    /// `visitEndServerMinute`.
    EndMinute,
    /// `visitEndServerSecond`.
    EndSecond,
    /// `visitEndServerDayOfMonth` (1-31).
    EndDayOfMonth,
    /// `visitEndServerDayOfWeek` (MySQL's: 1 Sunday to 7 Saturday).
    EndDayOfWeek,
    /// `visitEndServerDayOfYear` (1-366).
    EndDayOfYear,
    /// `visitEndServerMonth` (1-12).
    EndMonth,
    /// `visitEndServerQuarter` (1-4).
    EndQuarter,
    /// `visitEndServerWeekOfYear` (ISO week, MySQL's `WEEKOFYEAR`).
    EndWeekOfYear,
    /// `visitEndServerYear`.
    EndYear,
    /// `actionServerHour`: the hour of any of the visit's actions.
    ActionHour,
    /// `actionServerMinute`: the minute of any of the visit's actions.
    ActionMinute,
}

impl Clock {
    /// The clock value of a UTC time (unix seconds).
    pub(crate) fn of(self, ts: i64) -> Option<u32> {
        use chrono::{Datelike, Timelike};
        let t = chrono::DateTime::from_timestamp(ts, 0)?;
        Some(match self {
            Clock::EndHour | Clock::ActionHour => t.hour(),
            Clock::StartMinute | Clock::EndMinute | Clock::ActionMinute => t.minute(),
            Clock::EndSecond => t.second(),
            Clock::EndDayOfMonth => t.day(),
            Clock::EndDayOfWeek => t.weekday().number_from_sunday(),
            Clock::EndDayOfYear => t.ordinal(),
            Clock::EndMonth => t.month(),
            Clock::EndQuarter => t.month0() / 3 + 1,
            Clock::EndWeekOfYear => t.iso_week().week(),
            Clock::EndYear => u32::try_from(t.year()).ok()?,
        })
    }
}

/// One `name OP value` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The field.
    pub field: Field,
    /// The operator.
    pub op: Op,
    /// The decoded value (empty: test for a missing / present value).
    pub value: String,
    /// Byte offset of the condition in the segment text.
    pub position: usize,
}

/// A parsed segment: an AND of ORs of conditions.
///
/// # Examples
/// ```
/// let s: hitmap::Segment = "deviceType==smartphone;department==HR,department==IT".parse()?;
/// assert_eq!(s.clauses().len(), 2);
/// assert_eq!(s.clauses()[1].len(), 2);
/// assert!("deviceType~~x".parse::<hitmap::Segment>().is_err());
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    text: String,
    clauses: Vec<Vec<Condition>>,
}

impl Segment {
    /// The AND-ed clauses, each an OR of conditions.
    pub fn clauses(&self) -> &[Vec<Condition>] {
        &self.clauses
    }

    /// The segment text as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Segment {
    type Err = Error;
    fn from_str(text: &str) -> Result<Segment> {
        parse(text)
    }
}

fn err(position: usize, reason: impl Into<String>) -> Error {
    Error::Segment {
        position,
        reason: reason.into(),
    }
}

/// Splits on an unescaped delimiter, keeping each piece's start offset.
fn split_unescaped(text: &str, base: usize, delim: u8) -> Vec<(usize, &str)> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == delim {
            parts.push((base + start, &text[start..i]));
            start = i + 1;
        }
        i += 1;
    }
    parts.push((base + start, &text[start..]));
    parts
}

/// Parses a segment definition.
pub(crate) fn parse(text: &str) -> Result<Segment> {
    if text.trim().is_empty() {
        return Err(err(
            0,
            "the segment is empty: give conditions such as deviceType==smartphone",
        ));
    }
    let mut clauses = Vec::new();
    for (and_pos, and_part) in split_unescaped(text, 0, b';') {
        let mut clause = Vec::new();
        for (pos, cond) in split_unescaped(and_part, and_pos, b',') {
            clause.push(parse_condition(cond, pos)?);
        }
        clauses.push(clause);
    }
    Ok(Segment {
        text: text.to_owned(),
        clauses,
    })
}

fn parse_condition(text: &str, position: usize) -> Result<Condition> {
    if text.is_empty() {
        return Err(err(
            position,
            "empty condition: remove the extra ',' or ';'",
        ));
    }
    let name_len = text
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'))
        .unwrap_or(text.len());
    if name_len == 0 {
        return Err(err(position, format!("expected a field name at {text:?}")));
    }
    let name = &text[..name_len];
    let rest = &text[name_len..];
    let Some((symbol, op)) = Op::ALL.iter().find(|(s, _)| rest.starts_with(s)) else {
        return Err(err(
            position + name_len,
            format!("expected an operator after '{name}' (one of == != < <= > >= =@ !@ =^ =$)"),
        ));
    };
    let raw = &rest[symbol.len()..];
    // Matomo url-decodes a value: `+` is a space (`%2B` a plus).
    let mut value = percent_decode(&unescape(raw), true);
    let field = BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| f.clone())
        .unwrap_or_else(|| Field::Dimension(name.to_owned()));
    if matches!(
        field,
        Field::EventCategory
            | Field::EventAction
            | Field::EventName
            | Field::DownloadUrl
            | Field::OutlinkUrl
    ) {
        // Matomo stores an event's parts and a clicked link's URL
        // HTML-escaped and its event and link rows' segments name them so
        // (`eventName==l%26%23039%3Beau`, `outlinkUrl==...%26amp%3B...`).
        value = crate::url::html_unescape(&value);
    }
    let cond = Condition {
        field,
        op: *op,
        value,
        position,
    };
    check(&cond)?;
    Ok(cond)
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ (',' | ';' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Rules that do not need the site: operator fits the field, values parse.
fn check(c: &Condition) -> Result<()> {
    let name = c.field.name();
    if c.field.is_numeric() {
        if matches!(
            c.op,
            Op::Contains | Op::NotContains | Op::StartsWith | Op::EndsWith
        ) {
            return Err(err(
                c.position,
                format!(
                    "'{name}' is numeric: use == != < <= > >=, not {}",
                    c.op.symbol()
                ),
            ));
        }
        if c.value.parse::<f64>().map_or(true, |v| !v.is_finite()) {
            return Err(err(
                c.position,
                format!("'{name}' needs a number, got {:?}", c.value),
            ));
        }
    } else if c.op.is_ordering() {
        return Err(err(
            c.position,
            format!(
                "operator {} needs a numeric field (actions, visitDuration, visitCount), not '{name}'",
                c.op.symbol()
            ),
        ));
    }
    if c.field == Field::VisitConverted
        && (!matches!(c.op, Op::Eq | Op::Ne) || !matches!(c.value.as_str(), "0" | "1"))
    {
        return Err(err(c.position, "visitConverted takes == or != with 0 or 1"));
    }
    if c.field == Field::VisitConvertedGoalId
        && (!matches!(c.op, Op::Eq | Op::Ne) || c.value.parse::<u32>().is_err())
    {
        return Err(err(
            c.position,
            "visitConvertedGoalId takes == or != with a goal id (Goals.getGoals lists them)",
        ));
    }
    if c.field == Field::VisitEcommerceStatus
        && (!matches!(c.op, Op::Eq | Op::Ne)
            || !matches!(
                c.value.as_str(),
                "none" | "ordered" | "abandonedCart" | "orderedThenAbandonedCart"
            ))
    {
        return Err(err(
            c.position,
            "visitEcommerceStatus takes == or != with none, ordered, abandonedCart or orderedThenAbandonedCart",
        ));
    }
    if c.field == Field::VisitorType
        && (!matches!(c.op, Op::Eq | Op::Ne) || !matches!(c.value.as_str(), "new" | "returning"))
    {
        return Err(err(
            c.position,
            "visitorType takes == or != with 'new' or 'returning'",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn or_binds_tighter_and_escapes_work() {
        let s = parse("pageUrl=@/news,deviceType==desktop;countryCode==g\\,b%20x").unwrap();
        assert_eq!(s.clauses.len(), 2);
        assert_eq!(s.clauses[0].len(), 2);
        assert_eq!(s.clauses[1][0].value, "g,b x");
        assert_eq!(s.clauses[1][0].position, 35);
    }

    #[test]
    fn errors_have_positions() {
        let e = |t: &str| match parse(t).unwrap_err() {
            Error::Segment { position, reason } => (position, reason),
            _ => unreachable!(),
        };
        assert_eq!(e("deviceType==a;;x==1").0, 14);
        assert_eq!(e("deviceType~a").0, 10);
        assert!(e("actions=@3").1.contains("numeric"));
        assert!(e("deviceType>a").1.contains("numeric field"));
        assert!(e("visitorType==old").1.contains("returning"));
        assert!(e("actions>x").1.contains("number"));
        assert_eq!(e("").0, 0);
    }
}
