//! W3C extended logs: IIS, Netscaler, Incapsula, Amazon CloudFront,
//! SHOUTcast. The `#Fields:` line names the columns; values are
//! separated by spaces or tabs, and may be quoted (Incapsula).

use std::borrow::Cow;

use super::line::{LogLine, parse_iso_date};
use super::{Parsed, Token, tokens};

/// The columns of a W3C log, from its latest `#Fields:` line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct W3cFields {
    names: Vec<String>,
    map: Vec<(String, String)>,
}

impl W3cFields {
    /// Columns renamed as they are read, Matomo's `--w3c-map-field
    /// custom=standard` (e.g. `date-local` → `date`).
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::logs::{Format, Parsed, W3cFields, parse_line};
    /// let mut f = W3cFields::mapped(vec![("date-local".into(), "date".into())]);
    /// parse_line(Format::W3cExtended, "#Fields: date-local time c-ip cs-uri-stem", &mut f).unwrap();
    /// assert_eq!(f.names(), ["date", "time", "c-ip", "cs-uri-stem"]);
    /// ```
    pub fn mapped(map: Vec<(String, String)>) -> W3cFields {
        W3cFields {
            names: Vec::new(),
            map: map
                .into_iter()
                .map(|(a, b)| (a.to_ascii_lowercase(), b.to_ascii_lowercase()))
                .collect(),
        }
    }

    /// The columns, in order (empty before a `#Fields:` line).
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

pub(crate) fn parse<'a>(line: &'a str, fields: &mut W3cFields) -> Result<Parsed<'a>, String> {
    if let Some(header) = line.strip_prefix('#') {
        if let Some(names) = header.strip_prefix("Fields:") {
            // Some exporters leave zero-width characters in names.
            fields.names = names
                .split_whitespace()
                .map(|n| {
                    let n = n.trim_matches('\u{200b}').to_ascii_lowercase();
                    match fields.map.iter().find(|(from, _)| *from == n) {
                        Some((_, to)) => to.clone(),
                        None => n,
                    }
                })
                .collect();
        }
        return Ok(Parsed::Comment);
    }
    if fields.names.is_empty() {
        return Err("no #Fields: line before the first request".into());
    }
    let values = tokens(line)?;
    if values.len() < fields.names.len() {
        return Err(format!(
            "{} values for {} #Fields: columns",
            values.len(),
            fields.names.len()
        ));
    }
    let get = |name: &str| -> Option<&Token<'a>> {
        fields
            .names
            .iter()
            .position(|n| n == name)
            .and_then(|i| values.get(i))
    };
    let text = |name: &str| -> Option<Cow<'a, str>> {
        get(name).and_then(|t| match t {
            Token::Word(w) => (*w != "-" && !w.is_empty()).then_some(Cow::Borrowed(*w)),
            Token::Quoted(q) => (q != "-" && !q.is_empty()).then(|| q.clone()),
            other => Some(Cow::Owned(other.text().to_owned())),
        })
    };
    let first = |names: &[&str]| names.iter().find_map(|n| text(n));
    let mut l = LogLine::default();
    let date = text("date").ok_or("no date column")?;
    let time = text("time").ok_or("no time column")?;
    l.ts = parse_iso_date(&format!("{date}T{time}"))?;
    l.ip = first(&["c-ip"]);
    l.method = first(&["cs-method"]);
    l.userid = first(&["cs-username"]);
    l.host = first(&["x-host-header", "cs-host", "cs(host)"]);
    let mut path = match (first(&["cs-uri-stem"]), first(&["cs-uri"])) {
        // CloudFront RTMP: the stream's address, `rtmp://host/app`, whose
        // path is what follows `rtmp:/` (as Matomo's importer reads it).
        (Some(stem), _) => match stem.strip_prefix("rtmp:/") {
            Some(rest) if rest.starts_with('/') => rest.to_owned(),
            _ => stem.into_owned(),
        },
        // Incapsula: the host and the path in one column.
        (None, Some(uri)) => {
            let (host, path) = uri.split_once('/').unwrap_or((&uri, ""));
            if l.host.is_none() && !host.is_empty() {
                l.host = Some(Cow::Owned(host.to_owned()));
            }
            format!("/{path}")
        }
        (None, None) => return Err("no cs-uri-stem column".into()),
    };
    if let Some(q) = first(&["cs-uri-query"]) {
        path.push('?');
        path.push_str(&q);
    }
    l.path = Cow::Owned(path);
    l.status = first(&["sc-status", "c-status"])
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..1000).contains(s));
    if l.status.is_none() && get("sc-status").or_else(|| get("c-status")).is_some() {
        return Err("the status column is not an HTTP status".into());
    }
    l.length = first(&["sc-bytes"]).and_then(|s| s.parse().ok());
    l.user_agent = first(&["cs(user-agent)", "c-user-agent"]).map(|a| Cow::Owned(decode_agent(&a)));
    // CloudFront RTMP's `c-referrer` (the player's address) is no page
    // referrer: Matomo's importer reads `cs(Referer)` alone.
    l.referrer = first(&["cs(referer)", "cs(referrer)"]);
    l.generation_ms = first(&["time-taken"]).and_then(|t| {
        let v: f64 = t.parse().ok()?;
        Some(if t.contains('.') { v * 1e3 } else { v })
    });
    l.event_action = first(&["x-event"]);
    l.event_name = first(&["x-sname"]);
    Ok(Parsed::Line(l))
}

/// IIS writes spaces as `+`; CloudFront percent-encodes agents twice.
fn decode_agent(raw: &str) -> String {
    let mut s = if raw.contains(' ') {
        raw.to_owned()
    } else {
        raw.replace('+', " ")
    };
    for _ in 0..2 {
        match percent_decode(&s) {
            Some(d) if d != s => s = d,
            _ => break,
        }
    }
    s
}

/// `%xx` sequences decoded; `None` if the result is not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}
