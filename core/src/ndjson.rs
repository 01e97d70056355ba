//! The NDJSON reader: one hit per line, borrowed from the line where the
//! JSON has no escapes, with a reason for every rejected line.
//!
//! The reader is a hand-written serde visitor rather than a derived struct
//! so that (a) strings are borrowed, not copied, (b) a syntax error is told
//! apart from a wrong type, and (c) the reason names the field in the
//! contract's words (`` `site` must be an integer ``) instead of serde's.
//!
//! Before it, [`fast`] reads the common lines with a byte scanner; it
//! gives every line it is unsure of to the serde reader.

mod fast;

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, Deserialize, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::hit::{Conversion, EventView, HitType, HitView, Item, MAX_SITE, attr};

/// A line that was not ingested, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    /// 1-based line number in the input (for typed hits: 1-based position).
    pub line: u64,
    /// What is wrong with the line, in the contract's words.
    pub reason: String,
}

/// Checks one NDJSON line against the input contract without ingesting
/// it: `Ok` if [`crate::Engine::ingest_ndjson`] would accept it (given
/// that its site exists), else the reason it would give.
///
/// # Examples
/// ```
/// assert!(hitmap::check_ndjson_line(r#"{"site":1,"ts":1717200000,"visitor":"a","url":"https://x.org/"}"#).is_ok());
/// assert_eq!(
///     hitmap::check_ndjson_line(r#"{"site":1,"ts":1717200000,"url":"https://x.org/"}"#),
///     Err("missing required field `visitor`".to_string())
/// );
/// ```
pub fn check_ndjson_line(line: &str) -> Result<(), String> {
    parse_line(line).map(|_| ())
}

/// Parses one NDJSON line into a validated hit.
pub(crate) fn parse_line(line: &str) -> Result<HitView<'_>, String> {
    if let Some(hit) = fast::line(line) {
        hit.validate()?;
        return Ok(hit);
    }
    parse_line_serde(line)
}

/// The serde reader: every line, with a reason for each rejected one.
pub(crate) fn parse_line_serde(line: &str) -> Result<HitView<'_>, String> {
    let mut de = serde_json::Deserializer::from_str(line);
    let fields = de
        .deserialize_map(LineVisitor)
        .map_err(|e| json_reason(&e))?;
    de.end()
        .map_err(|_| "not valid JSON: text after the object (one hit per line)".to_string())?;
    let hit = fields?;
    hit.validate()?;
    Ok(hit)
}

fn json_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => format!("not valid JSON: {e}"),
        Category::Data => format!("not a JSON object: {e}"),
        Category::Io => format!("could not read the line: {e}"),
    }
}

/// A JSON value in a field position: strings borrowed where possible.
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    UInt(u64),
    Float(f64),
    Bool(bool),
    Null,
    Object(Vec<(Cow<'a, str>, Scalar<'a>)>),
    Array,
}

impl Scalar<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "a string",
            Scalar::Int(_) | Scalar::UInt(_) | Scalar::Float(_) => "a number",
            Scalar::Bool(_) => "a boolean",
            Scalar::Null => "null",
            Scalar::Object(_) => "an object",
            Scalar::Array => "an array",
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value: Scalar<'de> = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Scalar::Object(entries))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
}

/// Reads an object key, borrowed when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// Reads the top-level object. Syntax errors abort through serde; a field
/// of the wrong type is kept as the line's reason while the rest of the
/// line is still read, so that a broken line reports as broken JSON first.
struct LineVisitor;

impl<'de> Visitor<'de> for LineVisitor {
    type Value = Result<HitView<'de>, String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object with one hit")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut hit = HitView::default();
        let mut problem: Option<String> = None;
        let (mut has_site, mut has_ts, mut has_visitor) = (false, false, false);
        // Fields seen so far (a bit per known field; other keys by name):
        // a repeated key is an error, never "the last one wins".
        let mut seen = 0u64;
        let mut seen_other: Vec<Cow<'de, str>> = Vec::new();
        let note = |p: &mut Option<String>, r: Result<(), String>| {
            if let (None, Err(e)) = (p.as_ref(), r) {
                *p = Some(e);
            }
        };
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let bit = FIELDS.iter().position(|f| *f == &*key);
            let repeated = match bit {
                Some(b) => {
                    let was = seen & (1u64 << b) != 0;
                    seen |= 1u64 << b;
                    was
                }
                None if seen_other.contains(&key) => true,
                None => {
                    seen_other.push(key.clone());
                    false
                }
            };
            if repeated {
                note(&mut problem, Err(format!("the key `{key}` appears twice")));
            }
            let key: &str = &key;
            if key == "site" {
                // Read as raw text, so that a rejected value is echoed as
                // it was written (a huge integer is not rounded).
                let raw: &'de serde_json::value::RawValue = map.next_value()?;
                if raw.get() != "null" {
                    has_site = true;
                    note(&mut problem, site_of(raw.get()).map(|s| hit.site = s));
                }
                continue;
            }
            if key == "items" {
                // A list of objects: read whole (order and cart hits only).
                let v: serde_json::Value = map.next_value()?;
                note(&mut problem, items_of(v).map(|items| {
                    if let Some(items) = items {
                        hit.conversion.get_or_insert_default().items = items;
                    }
                }));
                continue;
            }
            if key == "content" {
                // An object of strings: read whole (content hits only).
                let v: serde_json::Value = map.next_value()?;
                note(&mut problem, content_of(v).map(|content| {
                    if content.is_some() {
                        hit.conversion.get_or_insert_default().content = content;
                    }
                }));
                continue;
            }
            let target = match bit {
                Some(_) => map.next_value::<Scalar<'de>>()?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            let r = match key {
                "ts" => {
                    has_ts = !matches!(target, Scalar::Null);
                    ts_of(&target).map(|t| hit.ts = t)
                }
                "visitor" => {
                    has_visitor = !matches!(target, Scalar::Null);
                    text(key, target).map(|v| hit.visitor = v.unwrap_or_default())
                }
                "type" => type_text(target).and_then(|t| match t {
                    None => Ok(()),
                    Some(t) => HitType::parse(&t).map(|k| hit.kind = k).ok_or_else(|| {
                        format!(
                            "`type` must be pageview, download, outlink, search, event, goal, order, cart, product_view or content, got {t:?}"
                        )
                    }),
                }),
                "url" => text(key, target).map(|v| hit.url = v),
                "title" => text(key, target).map(|v| hit.title = v),
                "referrer" => text(key, target).map(|v| hit.referrer = v),
                "user" => text(key, target).map(|v| hit.user = v),
                "device" => text(key, target).map(|v| hit.device = v),
                "browser" => text(key, target).map(|v| hit.browser = v),
                "os" => text(key, target).map(|v| hit.os = v),
                "country" => text(key, target).map(|v| hit.country = v),
                "language" => text(key, target).map(|v| hit.language = v),
                "search" => text(key, target).map(|v| hit.search = v),
                "search_category" => text(key, target).map(|v| hit.search_category = v),
                "search_count" => perf_of(key, target).map(|v| hit.search_count = v),
                "event" => event_of(target).map(|e| hit.event = e),
                "visit" => visit_of(target).map(|v| hit.attrs[attr::VISIT] = v),
                "referrer_type" => text(key, target).map(|v| hit.attrs[attr::REFERRER_TYPE] = v),
                "referrer_name" => text(key, target).map(|v| hit.attrs[attr::REFERRER_NAME] = v),
                "referrer_keyword" => {
                    text(key, target).map(|v| hit.attrs[attr::REFERRER_KEYWORD] = v)
                }
                "campaign" => campaign_of(
                    target,
                    &mut hit.attrs[attr::CAMPAIGN..attr::AFTER_CAMPAIGN],
                ),
                "browser_version" => {
                    text(key, target).map(|v| hit.attrs[attr::BROWSER_VERSION] = v)
                }
                "os_version" => text(key, target).map(|v| hit.attrs[attr::OS_VERSION] = v),
                "resolution" => text(key, target).map(|v| hit.attrs[attr::RESOLUTION] = v),
                "region" => text(key, target).map(|v| hit.attrs[attr::REGION] = v),
                "region_name" => text(key, target).map(|v| hit.attrs[attr::REGION_NAME] = v),
                "city" => text(key, target).map(|v| hit.attrs[attr::CITY] = v),
                "device_brand" => text(key, target).map(|v| hit.attrs[attr::DEVICE_BRAND] = v),
                "device_model" => text(key, target).map(|v| hit.attrs[attr::DEVICE_MODEL] = v),
                "browser_engine" => {
                    text(key, target).map(|v| hit.attrs[attr::BROWSER_ENGINE] = v)
                }
                "plugins" => text(key, target).map(|v| hit.attrs[attr::PLUGINS] = v),
                "latitude" => number(key, target).map(|x| {
                    hit.attrs[attr::LATITUDE] = x.map(|x| Cow::Owned(attr::coordinate(x)));
                }),
                "longitude" => number(key, target).map(|x| {
                    hit.attrs[attr::LONGITUDE] = x.map(|x| Cow::Owned(attr::coordinate(x)));
                }),
                "new_visit" => match target {
                    Scalar::Bool(b) => {
                        hit.attrs[attr::NEW_VISIT] = b.then_some(Cow::Borrowed("1"));
                        Ok(())
                    }
                    Scalar::Null => Ok(()),
                    other => Err(format!("`new_visit` must be true or false, got {}", other.kind())),
                },
                "local_hour" => visit_of(target)
                    .map_err(|_| "`local_hour` must be an integer from 0 to 23".to_string())
                    .map(|v| hit.attrs[attr::LOCAL_HOUR] = v),
                "time_network" | "time_server" | "time_transfer" | "time_dom_processing"
                | "time_dom_completion" | "time_on_load" | "bandwidth" => {
                    let i = crate::hit::Perf::FIELDS.iter().position(|f| *f == key);
                    perf_of(key, target).map(|v| {
                        if let Some(slot) = i.and_then(|i| hit.perf.get_mut(i)) {
                            *slot = v;
                        }
                    })
                }
                "goal" => goal_of(target).map(|g| {
                    if g.is_some() {
                        hit.conversion.get_or_insert_default().goal = g;
                    }
                }),
                "revenue" => number("revenue", target).map(|r| {
                    if r.is_some() {
                        hit.conversion.get_or_insert_default().revenue = r;
                    }
                }),
                "order" => order_of(target).map(|o| {
                    if let Some(o) = o {
                        let c = hit.conversion.get_or_insert_default();
                        c.order_id = o.order_id;
                        c.subtotal = o.subtotal;
                        c.tax = o.tax;
                        c.shipping = o.shipping;
                        c.discount = o.discount;
                    }
                }),
                _ => dims_of(target).map(|d| hit.dims = d),
            };
            note(&mut problem, r);
        }
        if let Some(p) = problem {
            return Ok(Err(p));
        }
        for (present, name) in [(has_site, "site"), (has_ts, "ts"), (has_visitor, "visitor")] {
            if !present {
                return Ok(Err(format!("missing required field `{name}`")));
            }
        }
        Ok(Ok(hit))
    }
}

/// The top-level fields of the hit contract (`docs/hits.md`), in its
/// order: what an NDJSON object's keys and a DataFrame's columns may be
/// named. (In the reader, a key's position is its bit in the duplicate
/// check.)
///
/// # Examples
/// ```
/// assert_eq!(&hitmap::HIT_FIELDS[..3], ["site", "ts", "visitor"]);
/// assert!(hitmap::HIT_FIELDS.contains(&"dims"));
/// ```
pub const FIELDS: [&str; 49] = [
    "site",
    "ts",
    "visitor",
    "type",
    "url",
    "title",
    "referrer",
    "user",
    "device",
    "browser",
    "os",
    "country",
    "language",
    "search",
    "search_category",
    "search_count",
    "event",
    "dims",
    "visit",
    "referrer_type",
    "referrer_name",
    "referrer_keyword",
    "campaign",
    "browser_version",
    "os_version",
    "resolution",
    "local_hour",
    "new_visit",
    "region",
    "region_name",
    "city",
    "latitude",
    "longitude",
    "device_brand",
    "device_model",
    "browser_engine",
    "plugins",
    "time_network",
    "time_server",
    "time_transfer",
    "time_dom_processing",
    "time_dom_completion",
    "time_on_load",
    "bandwidth",
    "goal",
    "revenue",
    "order",
    "items",
    "content",
];

// A line's keys seen so far are bits of a `u64`.
const _: () = assert!(FIELDS.len() <= 64);

/// `site` from its raw JSON text.
fn site_of(raw: &str) -> Result<u32, String> {
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_SITE).contains(&n) && !raw.starts_with('+') => Ok(n),
        _ => {
            let got = if raw.starts_with('"') {
                format!("the string {raw}")
            } else if raw.starts_with(['{', '[']) || raw == "true" || raw == "false" {
                serde_json::from_str::<Scalar>(raw)
                    .map_or_else(|_| raw.to_string(), |v| v.kind().to_string())
            } else {
                raw.to_string()
            };
            Err(format!(
                "`site` must be an integer from 1 to {MAX_SITE}, got {got}"
            ))
        }
    }
}

/// `type`: missing or null is a page view; an empty string is an error.
fn type_text(v: Scalar<'_>) -> Result<Option<Cow<'_, str>>, String> {
    match v {
        Scalar::Str(s) if s.is_empty() => Err(
            "`type` must be pageview, download, outlink, search, event, goal, order, cart, product_view or content, got \"\" (leave it out for a pageview)".into(),
        ),
        other => text("type", other),
    }
}

fn ts_of(v: &Scalar) -> Result<i64, String> {
    match v {
        Scalar::Int(i) => Ok(*i),
        Scalar::UInt(u) => i64::try_from(*u).map_err(|_| format!("`ts` {u} is too large")),
        Scalar::Str(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp())
            .map_err(|e| {
                format!("`ts` {s:?} is not an RFC 3339 time ({e}); write e.g. 2026-03-01T12:34:56Z")
            }),
        other => Err(format!(
            "`ts` must be an RFC 3339 string or integer Unix seconds, got {}",
            other.kind()
        )),
    }
}

/// An optional text field: null and "" are missing.
fn text<'a>(name: &str, v: Scalar<'a>) -> Result<Option<Cow<'a, str>>, String> {
    match v {
        Scalar::Str(s) if s.is_empty() => Ok(None),
        Scalar::Str(s) => Ok(Some(s)),
        Scalar::Null => Ok(None),
        other => Err(format!("`{name}` must be a string, got {}", other.kind())),
    }
}

fn event_of(v: Scalar<'_>) -> Result<Option<EventView<'_>>, String> {
    let entries = match v {
        Scalar::Null => return Ok(None),
        Scalar::Object(entries) => entries,
        other => {
            return Err(format!(
                "`event` must be an object {{category, action, name?, value?}}, got {}",
                other.kind()
            ));
        }
    };
    no_repeats(&entries, "event")?;
    let mut e = EventView::default();
    for (k, v) in entries {
        match &*k {
            "category" => e.category = text("event.category", v)?.unwrap_or_default(),
            "action" => e.action = text("event.action", v)?.unwrap_or_default(),
            "name" => e.name = text("event.name", v)?,
            "value" => {
                e.value = match v {
                    Scalar::Null => None,
                    Scalar::Int(i) => Some(i as f64),
                    Scalar::UInt(u) => Some(u as f64),
                    Scalar::Float(f) => Some(f),
                    other => {
                        return Err(format!(
                            "`event.value` must be a number, got {}",
                            other.kind()
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(Some(e))
}

/// An optional number.
fn number(name: &str, v: Scalar<'_>) -> Result<Option<f64>, String> {
    match v {
        Scalar::Null => Ok(None),
        Scalar::Int(i) => Ok(Some(i as f64)),
        Scalar::UInt(u) => Ok(Some(u as f64)),
        Scalar::Float(f) => Ok(Some(f)),
        other => Err(format!("`{name}` must be a number, got {}", other.kind())),
    }
}

/// A load timing or bandwidth: a whole number from 0 (its upper bound is
/// checked with the hit's other rules).
fn perf_of(name: &str, v: Scalar<'_>) -> Result<Option<u64>, String> {
    match v {
        Scalar::Null => Ok(None),
        Scalar::UInt(u) => Ok(Some(u)),
        Scalar::Int(i) if i >= 0 => Ok(Some(i as u64)),
        other => Err(format!(
            "`{name}` must be a whole number from 0, got {}",
            match other {
                Scalar::Int(i) => i.to_string(),
                Scalar::Float(f) => f.to_string(),
                o => o.kind().to_string(),
            }
        )),
    }
}

/// `goal`: a goal id, an integer from 1.
fn goal_of(v: Scalar<'_>) -> Result<Option<u32>, String> {
    match v {
        Scalar::Null => Ok(None),
        Scalar::Int(i) if (1..=i64::from(i32::MAX)).contains(&i) => Ok(Some(i as u32)),
        Scalar::UInt(u) if (1..=i32::MAX as u64).contains(&u) => Ok(Some(u as u32)),
        _ => Err("`goal` must be a goal id, an integer from 1".into()),
    }
}

/// `order`: `{id, subtotal?, tax?, shipping?, discount?}` (the grand
/// total is the hit's `revenue`).
fn order_of(v: Scalar<'_>) -> Result<Option<Conversion>, String> {
    let entries = match v {
        Scalar::Null => return Ok(None),
        Scalar::Object(entries) => entries,
        other => {
            return Err(format!(
                "`order` must be an object {{id, subtotal?, tax?, shipping?, discount?}}, got {}",
                other.kind()
            ));
        }
    };
    no_repeats(&entries, "order")?;
    let mut c = Conversion::default();
    for (k, v) in entries {
        match &*k {
            "id" => c.order_id = visit_of(v).map_err(|_| "`order.id` must be a string".to_string())?.map(Cow::into_owned),
            "subtotal" => c.subtotal = number("order.subtotal", v)?,
            "tax" => c.tax = number("order.tax", v)?,
            "shipping" => c.shipping = number("order.shipping", v)?,
            "discount" => c.discount = number("order.discount", v)?,
            _ => {}
        }
    }
    Ok(Some(c))
}

/// The contract's `items` from JSON text (a DataFrame column of JSON, a
/// tracker's parameter), with NDJSON's reasons.
///
/// # Examples
/// ```
/// let items = hitmap::items_from_json(r#"[{"sku":"MUG","category":["Kitchen","Gifts"],"quantity":2}]"#)?;
/// assert_eq!((items[0].sku.as_str(), items[0].categories.len()), ("MUG", 2));
/// assert!(hitmap::items_from_json("{}").is_err());
/// # Ok::<(), String>(())
/// ```
pub fn items_from_json(text: &str) -> Result<Vec<Item>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("`items` is not JSON: {e}"))?;
    Ok(items_of(v)?.unwrap_or_default())
}

/// `items`: `[{sku, name?, category?, price?, quantity?}]`, `category` a
/// string or a list of up to five.
/// A content hit's `content`: `{name, piece?, target?, interaction?}`,
/// strings (an empty one as missing: [`crate::hit::Content`]).
fn content_of(v: serde_json::Value) -> Result<Option<crate::hit::Content>, String> {
    use serde_json::Value;
    const SHAPE: &str = "`content` must be an object {name, piece?, target?, interaction?} of strings";
    let o = match v {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(SHAPE.into()),
    };
    let mut c = crate::hit::Content::default();
    for (k, v) in o {
        let v = match v {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(s),
            _ => return Err(format!("`content.{k}` must be a string")),
        };
        match k.as_str() {
            "name" => c.name = v.unwrap_or_default(),
            "piece" => c.piece = v,
            "target" => c.target = v,
            "interaction" => c.interaction = v,
            _ => return Err(format!("{SHAPE}, got a key `{k}`")),
        }
    }
    Ok(Some(c))
}

fn items_of(v: serde_json::Value) -> Result<Option<Vec<Item>>, String> {
    use serde_json::Value;
    let list = match v {
        Value::Null => return Ok(None),
        Value::Array(list) => list,
        _ => return Err("`items` must be a list of objects {sku, name?, category?, price?, quantity?}".into()),
    };
    let text = |name: &str, v: &Value| match v {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(format!("`items[].{name}` must be a string")),
    };
    let mut items = Vec::with_capacity(list.len().min(crate::hit::MAX_ITEMS + 1));
    for v in list {
        let Value::Object(o) = v else {
            return Err("every entry of `items` must be an object {sku, name?, category?, price?, quantity?}".into());
        };
        let mut item = Item::default();
        for (k, v) in &o {
            match k.as_str() {
                "sku" => item.sku = text("sku", v)?.unwrap_or_default(),
                "name" => item.name = text("name", v)?,
                "category" => {
                    item.categories = match v {
                        Value::Array(c) => c
                            .iter()
                            .filter_map(|c| text("category", c).transpose())
                            .collect::<Result<_, _>>()?,
                        v => text("category", v)?.into_iter().collect(),
                    }
                }
                "price" => {
                    item.price = match v {
                        Value::Null => None,
                        Value::Number(n) => n.as_f64(),
                        _ => return Err("`items[].price` must be a number".into()),
                    }
                }
                "quantity" => {
                    item.quantity = match v {
                        Value::Null => None,
                        Value::Number(n) => Some(
                            n.as_u64()
                                .and_then(|q| u32::try_from(q).ok())
                                .ok_or("`items[].quantity` must be a whole number from 0")?,
                        ),
                        _ => return Err("`items[].quantity` must be a whole number from 0".into()),
                    }
                }
                _ => {}
            }
        }
        items.push(item);
    }
    Ok(Some(items))
}

/// `visit`: a string, or an integer (Matomo's `idvisit`) kept as its text.
fn visit_of(v: Scalar<'_>) -> Result<Option<Cow<'_, str>>, String> {
    match v {
        Scalar::Int(i) => Ok(Some(Cow::Owned(i.to_string()))),
        Scalar::UInt(u) => Ok(Some(Cow::Owned(u.to_string()))),
        Scalar::Str(s) if s.is_empty() => Ok(None),
        Scalar::Str(s) => Ok(Some(s)),
        Scalar::Null => Ok(None),
        other => Err(format!(
            "`visit` must be a string or an integer, got {}",
            other.kind()
        )),
    }
}

/// `campaign`: an object of optional strings, by [`attr::CAMPAIGN_KEYS`].
fn campaign_of<'a>(v: Scalar<'a>, slots: &mut [Option<Cow<'a, str>>]) -> Result<(), String> {
    let entries = match v {
        Scalar::Null => return Ok(()),
        Scalar::Object(entries) => entries,
        other => {
            return Err(format!(
                "`campaign` must be an object {{name?, source?, medium?, keyword?, content?, id?}}, got {}",
                other.kind()
            ));
        }
    };
    no_repeats(&entries, "campaign")?;
    for (k, v) in entries {
        if let Some(i) = attr::CAMPAIGN_KEYS.iter().position(|c| *c == &*k)
            && let Some(slot) = slots.get_mut(i)
        {
            *slot = text(&format!("campaign.{k}"), v)?;
        }
    }
    Ok(())
}

/// An object's keys must be distinct: `what.key` names a repeated one.
fn no_repeats(entries: &[(Cow<'_, str>, Scalar<'_>)], what: &str) -> Result<(), String> {
    for (i, (k, _)) in entries.iter().enumerate() {
        if entries.iter().take(i).any(|(seen, _)| seen == k) {
            return Err(format!("the key `{what}.{k}` appears twice"));
        }
    }
    Ok(())
}

/// Custom dimensions as (name, value) pairs.
type Dims<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

fn dims_of(v: Scalar<'_>) -> Result<Dims<'_>, String> {
    match v {
        Scalar::Null => Ok(Vec::new()),
        Scalar::Object(entries) => {
            no_repeats(&entries, "dims")?;
            let mut dims = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                if k.is_empty() {
                    return Err("`dims` names must be non-empty".into());
                }
                let label = format!("dims.{k}");
                if let Some(v) = text(&label, v)? {
                    dims.push((k, v));
                }
            }
            Ok(dims)
        }
        other => Err(format!(
            "`dims` must be an object of strings, got {}",
            other.kind()
        )),
    }
}

/// Panics unless the reader as used and the serde reader alone give
/// `line` the same hit or the same reason (for tests and the fuzzer).
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn assert_paths_agree(line: &str) {
    let shown = |r: Result<HitView<'_>, String>| r.map(|h| format!("{h:?}"));
    assert_eq!(
        shown(parse_line(line)),
        shown(parse_line_serde(line)),
        "the fast path reads {line:?} differently"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Lines the fast path reads itself: the shapes of real inputs.
    #[test]
    fn common_lines_take_the_fast_path() {
        for line in [
            r#"{"site":1,"ts":1735749350,"visitor":"581ce1ff0e4ae394","type":"pageview","url":"https://intranet.example.org/docs/3/item-10","title":"docs item 10"}"#,
            r#"{"site":1,"ts":1735749337,"visitor":"v","type":"pageview","url":"https://x.org/a","user":"u1","device":"desktop","browser":"Chrome","os":"Windows","country":"gb","language":"en-gb","dims":{"department":"Operations","office":"Edinburgh","role":"staff"}}"#,
            r#"{"site":1,"ts":"2025-01-01T10:00:00+01:00","visitor":"v","type":"event","event":{"category":"video","action":"play","name":"intro","value":41.0}}"#,
            r#" { "site" : 7 , "ts" : 0 , "visitor" : "é" , "url" : "https://x.org/é" , "title" : null , "dims" : { "a" : null , "b" : "" } } "#,
            r#"{"site":2147483647,"ts":1,"visitor":"v","type":"search","search":"q","url":"https://x.org/s","referrer_type":"search","referrer_name":"Google","resolution":"1920x1080"}"#,
        ] {
            assert!(fast::line(line).is_some(), "{line}");
            assert_paths_agree(line);
        }
        // And the ones it leaves to serde, with serde's reasons.
        for line in [
            r#"{"site":1,"ts":1,"visitor":"a\"b","url":"u"}"#,
            r#"{"site":1,"ts":1,"visitor":"v","url":"u","visit":12}"#,
            r#"{"site":1,"ts":1,"visitor":"v","url":"u","url":"w"}"#,
            r#"{"site":01,"ts":1,"visitor":"v","url":"u"}"#,
            r#"{"site":1,"ts":-0,"visitor":"v","url":"u"}"#,
            r#"{"site":1,"ts":1e3,"visitor":"v","url":"u"}"#,
            r#"{"site":1,"ts":1,"visitor":"v","type":"event","event":{"category":"c","action":"a","value":1.5e1}}"#,
            r#"{"site":1,"ts":1,"visitor":"v","url":"u"} x"#,
        ] {
            assert!(fast::line(line).is_none(), "{line}");
            assert_paths_agree(line);
        }
    }

    /// A value of some JSON type for a field, often of the right one.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => "[a-z0-9/:.é ]{0,12}".prop_map(|s| format!("{s:?}")),
            1 => Just(r#""a\"b""#.to_string()),
            1 => Just(r#""tab\there""#.to_string()),
            1 => Just("\"raw\tcontrol\"".to_string()),
            2 => (0u64..3_000_000_000).prop_map(|n| n.to_string()),
            1 => Just("0".to_string()),
            1 => Just("00".to_string()),
            1 => Just("-5".to_string()),
            1 => Just("-0".to_string()),
            1 => (0u64..200, 0u32..10_000).prop_map(|(a, b)| format!("-{a}.{b}")),
            1 => Just("-".to_string()),
            1 => (0u64..100_000, 0u32..10_000).prop_map(|(a, b)| format!("{a}.{b}")),
            1 => Just("4.0e2".to_string()),
            1 => Just("12345678901234567890".to_string()),
            1 => Just("0.1234567890123456789".to_string()),
            1 => Just("null".to_string()),
            1 => Just("nullx".to_string()),
            1 => Just("true".to_string()),
            1 => Just("[]".to_string()),
            1 => Just(r#""2025-03-01T12:34:56Z""#.to_string()),
            1 => Just(r#""2025-03-01T12:34:56+02:00""#.to_string()),
            1 => Just(r#""pageview""#.to_string()),
            1 => Just(r#""event""#.to_string()),
            1 => Just(r#""search""#.to_string()),
            1 => Just(r#""website""#.to_string()),
        ]
    }

    /// An object for `dims` or `event`, or some other value.
    fn nested() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("category"), Just("action"), Just("name"), Just("value"),
            Just("department"), Just(""), Just("$x"),
        ];
        prop_oneof![
            3 => proptest::collection::vec((key, value()), 0..4).prop_map(|kv| {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                format!("{{{}}}", body.join(","))
            }),
            1 => value(),
        ]
    }

    fn pair() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("site"), Just("ts"), Just("visitor"), Just("type"), Just("url"),
            Just("title"), Just("referrer"), Just("user"), Just("device"), Just("search"),
            Just("country"), Just("referrer_type"), Just("resolution"), Just("visit"),
            Just("local_hour"), Just("new_visit"), Just("campaign"), Just("other"),
            Just("latitude"), Just("longitude"), Just("city"), Just("region_name"),
            Just("time_server"), Just("time_on_load"), Just("bandwidth"),
            Just("search_category"), Just("search_count"),
        ];
        let ws = prop_oneof![4 => Just(""), 1 => Just(" "), 1 => Just("\t\r ")];
        prop_oneof![
            4 => (key, value(), ws.clone()).prop_map(|(k, v, w)| format!("{w}{k:?}{w}:{w}{v}{w}")),
            1 => (prop_oneof![Just("dims"), Just("event"), Just("campaign")], nested())
                .prop_map(|(k, v)| format!("{k:?}:{v}")),
        ]
    }

    /// Lines that start as valid hits, with fields of every shape added,
    /// and sometimes cut or with something after them.
    fn lines() -> impl Strategy<Value = String> {
        (
            proptest::collection::vec(pair(), 0..6),
            any::<bool>(),
            prop_oneof![8 => Just(""), 1 => Just(" x"), 1 => Just("}"), 1 => Just("\r")],
            0usize..400,
        )
            .prop_map(|(extra, base, tail, cut)| {
                let mut fields = Vec::new();
                if base {
                    fields.extend([
                        r#""site":1"#.to_string(),
                        r#""ts":1735749350"#.to_string(),
                        r#""visitor":"v""#.to_string(),
                        r#""url":"https://x.org/a""#.to_string(),
                    ]);
                }
                fields.extend(extra);
                let mut line = format!("{{{}}}{tail}", fields.join(","));
                if cut < line.len() && cut % 7 == 0 {
                    let at = (0..=cut).rev().find(|&i| line.is_char_boundary(i)).unwrap_or(0);
                    line.truncate(at);
                }
                line
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        /// The fast path never changes what a line reads as.
        #[test]
        fn fast_path_agrees_with_serde(line in lines()) {
            assert_paths_agree(&line);
        }
    }

    #[test]
    fn parses_a_full_line() {
        let h = parse_line(r#"{"site":1,"ts":"2024-06-01T22:50:00+01:00","visitor":"a","type":"event","event":{"category":"c","action":"a","value":2},"dims":{"department":"HR"},"extra":[1,{"x":2}]}"#).unwrap();
        assert_eq!(h.ts, 1_717_278_600);
        assert_eq!(h.kind, HitType::Event);
        assert_eq!(h.event.unwrap().value, Some(2.0));
        assert_eq!(h.dims[0].1, "HR");
    }

    #[test]
    fn reasons_name_the_field() {
        let r = |l: &str| parse_line(l).unwrap_err();
        assert!(r(r#"{"site":1,"visitor":"f","ts":"#).starts_with("not valid JSON"));
        assert_eq!(
            r(r#"{"site":1,"ts":1,"url":"u"}"#),
            "missing required field `visitor`"
        );
        assert!(
            r(r#"{"site":"one","visitor":"f","ts":1,"url":"u"}"#)
                .starts_with("`site` must be an integer")
        );
        assert!(r(r#"{"site":1,"visitor":"f","ts":1}"#).contains("`url` is required"));
        assert!(r(r#"[1,2]"#).starts_with("not a JSON object"));
        assert!(r(r#"{"site":1,"visitor":"f","ts":1,"url":"u"} x"#).contains("text after"));
        assert!(r(r#"{"site":1,"visitor":"f","ts":"yesterday","url":"u"}"#).contains("RFC 3339"));
    }

    #[test]
    fn loose_input_is_refused_with_the_reason() {
        let r = |l: &str| parse_line(l).unwrap_err();
        assert!(
            r(r#"{"site":1,"visitor":"f","ts":1,"type":"","url":"u"}"#).contains("`type` must be")
        );
        assert_eq!(
            r(r#"{"site":1,"visitor":"f","ts":1,"url":"u","visitor":"g"}"#),
            "the key `visitor` appears twice"
        );
        assert_eq!(
            r(r#"{"site":1,"visitor":"f","ts":1,"url":"u","x":1,"x":2}"#),
            "the key `x` appears twice"
        );
        assert_eq!(
            r(r#"{"site":1,"visitor":"f","ts":1,"url":"u","dims":{"a":"1","a":"2"}}"#),
            "the key `dims.a` appears twice"
        );
        assert!(
            r(r#"{"site":1,"visitor":"f","ts":1,"type":"event","event":{"category":"c","action":"a","action":"b"}}"#)
                .contains("`event.action` appears twice")
        );
        assert_eq!(
            r(r#"{"site":18446744073709551616,"visitor":"f","ts":1,"url":"u"}"#),
            "`site` must be an integer from 1 to 2147483647, got 18446744073709551616"
        );
        assert!(
            r(r#"{"site":"1","visitor":"f","ts":1,"url":"u"}"#).ends_with(r#"got the string "1""#)
        );
        assert!(r(r#"{"site":1.5,"visitor":"f","ts":1,"url":"u"}"#).ends_with("got 1.5"));
        assert!(r(r#"{"site":[1],"visitor":"f","ts":1,"url":"u"}"#).ends_with("got an array"));
        assert_eq!(
            r(r#"{"site":null,"visitor":"f","ts":1,"url":"u"}"#),
            "missing required field `site`"
        );
        // A type of null is a page view, as a missing one.
        assert!(parse_line(r#"{"site":1,"visitor":"f","ts":1,"type":null,"url":"u"}"#).is_ok());
        assert_eq!(
            parse_line(r#"{ "site" : 7 ,"visitor":"f","ts":1,"url":"u"}"#)
                .unwrap()
                .site,
            7
        );
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let h = parse_line(r#"{"site":1,"ts":5,"visitor":"a\"b","url":"https://x.org/\u00e9"}"#)
            .unwrap();
        assert_eq!(h.visitor, "a\"b");
        assert_eq!(h.url.as_deref(), Some("https://x.org/é"));
    }
}
