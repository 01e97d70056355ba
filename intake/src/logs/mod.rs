//! Web-server access logs: the line formats Matomo's log importer reads,
//! parsed into [`LogLine`]s.
//!
//! This is the format layer of the access-log importer: which fields a
//! line holds, in every format, and nothing about what they mean for
//! analytics (the importer's rules and the request-to-hit enrichment
//! come on top). A line that cannot be read is an error naming why;
//! nothing in a line can panic the parser (fuzzed).
//!
//! Formats are either *layouts* of tokens (the Apache family, S3, ELB,
//! ALB, HAProxy: space-separated words, `"quoted"` strings and
//! `[bracketed]` dates, see [`tokens`]), *W3C extended* logs whose
//! `#Fields:` header names the columns (IIS, Netscaler, Incapsula,
//! CloudFront, SHOUTcast), or *JSON* objects (nginx, Traefik, Caddy);
//! any other is a [`CustomFormat`] regex with named groups.

mod import;
mod line;
mod recognize;
mod rules;
mod w3c;

pub use import::{
    DATE_FILTERED, DEFAULT_BATCH_BYTES, InvalidLine, LogOptions, LogSource, LogSummary, NO_SITE,
    NOT_RECORDED, PING, import, import_files,
};

pub use line::{LogLine, parse_apache_date, parse_iso_date};
pub use recognize::{Joined, Recognizer};
pub use rules::{
    BOT_AGENTS, DOWNLOAD_EXTENSIONS, Decision, Rules, STATIC_EXTENSIONS, STATIC_FILES, Skip, glob,
};
pub use w3c::W3cFields;

use std::borrow::Cow;

/// A format Matomo's importer reads (`--log-format-name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `ip ident user [date] "request" status length`.
    Common,
    /// `host ip ident user [date] "request" status length`.
    CommonVhost,
    /// Apache/nginx "combined": common plus `"referrer" "user agent"`.
    NcsaExtended,
    /// Combined with the virtual host first.
    CommonComplete,
    /// OVH: `ip host user [date] "request" status length "referrer" "agent"`.
    Ovh,
    /// Gandi: `host ip ident user [date] (time) "request" status length "referrer" "agent"`.
    Gandi,
    /// Icecast 2: combined plus the connection's seconds.
    Icecast2,
    /// Amazon S3 server access logs.
    S3,
    /// AWS Classic Load Balancer.
    Elb,
    /// AWS Application Load Balancer.
    Alb,
    /// HAProxy's HTTP log behind a syslog prefix.
    Haproxy,
    /// W3C extended (IIS, Netscaler, Incapsula, CloudFront, SHOUTcast):
    /// columns from the `#Fields:` line.
    W3cExtended,
    /// nginx's JSON log format as Matomo documents it.
    NginxJson,
    /// Traefik's JSON access log.
    TraefikJson,
    /// Caddy's JSON access log.
    CaddyJson,
}

impl Format {
    /// Every format, in detection order.
    pub const ALL: [Format; 15] = [
        Format::W3cExtended,
        Format::NginxJson,
        Format::TraefikJson,
        Format::CaddyJson,
        Format::Alb,
        Format::Elb,
        Format::S3,
        Format::Haproxy,
        Format::Gandi,
        Format::Icecast2,
        Format::CommonComplete,
        Format::NcsaExtended,
        Format::Ovh,
        Format::CommonVhost,
        Format::Common,
    ];

    /// The name Matomo's importer uses.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap_intake::logs::Format::NcsaExtended.name(), "ncsa_extended");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Format::Common => "common",
            Format::CommonVhost => "common_vhost",
            Format::NcsaExtended => "ncsa_extended",
            Format::CommonComplete => "common_complete",
            Format::Ovh => "ovh",
            Format::Gandi => "gandi",
            Format::Icecast2 => "icecast2",
            Format::S3 => "s3",
            Format::Elb => "elb",
            Format::Alb => "alb",
            Format::Haproxy => "haproxy",
            Format::W3cExtended => "w3c_extended",
            Format::NginxJson => "nginx_json",
            Format::TraefikJson => "traefik_json",
            Format::CaddyJson => "caddy_json",
        }
    }

    /// The format of a name (also `combined` for `ncsa_extended`, and
    /// `iis`, `netscaler`, `incapsula_w3c`, `amazon_cloudfront`,
    /// `shoutcast` for `w3c_extended`).
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::logs::Format;
    /// assert_eq!(Format::parse("combined"), Some(Format::NcsaExtended));
    /// assert_eq!(Format::parse("iis"), Some(Format::W3cExtended));
    /// ```
    pub fn parse(name: &str) -> Option<Format> {
        let alias = match name {
            "combined" => Some(Format::NcsaExtended),
            "iis" | "netscaler" | "incapsula_w3c" | "amazon_cloudfront" | "shoutcast" => {
                Some(Format::W3cExtended)
            }
            _ => None,
        };
        alias.or_else(|| Format::ALL.into_iter().find(|f| f.name() == name))
    }
}

/// A token of a layout line.
#[derive(Debug, Clone, PartialEq)]
pub enum Token<'a> {
    /// A bare word.
    Word(&'a str),
    /// A `"quoted"` string, `\"` and `\\` unescaped.
    Quoted(Cow<'a, str>),
    /// A `[bracketed]` text (a date).
    Bracket(&'a str),
    /// A `(parenthesized)` text (Gandi's request time).
    Paren(&'a str),
}

impl<'a> Token<'a> {
    /// The token's text.
    pub fn text(&self) -> &str {
        match self {
            Token::Word(s) | Token::Bracket(s) | Token::Paren(s) => s,
            Token::Quoted(s) => s,
        }
    }

    fn word(&self) -> Option<&'a str> {
        match self {
            Token::Word(s) => Some(s),
            _ => None,
        }
    }
}

/// Splits a layout line into tokens: words separated by spaces or tabs,
/// `"quoted strings"`, `[brackets]` and `(parentheses)`. An unclosed
/// quote or bracket is an error.
///
/// # Examples
/// ```
/// use hitmap_intake::logs::{Token, tokens};
/// let t = tokens(r#"1.2.3.4 - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200"#).unwrap();
/// assert_eq!(t[2], Token::Bracket("10/Feb/2012:16:42:07 -0500"));
/// assert_eq!(t[3].text(), "GET / HTTP/1.0");
/// ```
pub fn tokens(line: &str) -> Result<Vec<Token<'_>>, String> {
    let mut out = Vec::with_capacity(16);
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i) {
            Some(b' ' | b'\t' | b'\r') => i += 1,
            Some(b'"') => {
                let start = i + 1;
                let mut j = start;
                let mut escaped = false;
                loop {
                    let rest = bytes.get(j..).unwrap_or_default();
                    match memchr::memchr2(b'"', b'\\', rest).map(|p| j + p) {
                        None => return Err("a quoted field is not closed".into()),
                        Some(k) if bytes.get(k) == Some(&b'\\') => {
                            escaped = true;
                            j = k + 2;
                        }
                        Some(k) => {
                            j = k;
                            break;
                        }
                    }
                }
                let raw = line.get(start..j.min(line.len())).unwrap_or("");
                out.push(Token::Quoted(if escaped {
                    Cow::Owned(unescape(raw))
                } else {
                    Cow::Borrowed(raw)
                }));
                i = j + 1;
            }
            Some(&open @ (b'[' | b'(')) => {
                let close = if open == b'[' { b']' } else { b')' };
                let start = i + 1;
                let end = bytes
                    .get(start..)
                    .and_then(|rest| rest.iter().position(|&b| b == close))
                    .map(|p| start + p)
                    .ok_or_else(|| format!("a '{}' is not closed", open as char))?;
                let text = line.get(start..end).unwrap_or("");
                out.push(if open == b'[' {
                    Token::Bracket(text)
                } else {
                    Token::Paren(text)
                });
                i = end + 1;
            }
            Some(_) => {
                let start = i;
                i = memchr::memchr2(b' ', b'\t', bytes.get(i..).unwrap_or_default())
                    .map_or(bytes.len(), |p| i + p);
                out.push(Token::Word(line.get(start..i).unwrap_or("")));
            }
            None => break,
        }
    }
    Ok(out)
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What a line is, beyond a request.
// Returned by value for each line and never stored in bulk: boxing the
// request would cost an allocation per line.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<'a> {
    /// A request.
    Line(LogLine<'a>),
    /// A blank line or a comment (`#...`); W3C headers included.
    Comment,
}

/// Parses one line of `format`. `fields` carries a W3C log's columns from
/// its last `#Fields:` line (the parser updates it when it sees one).
///
/// # Errors
/// Why the line is not a request of this format.
///
/// # Examples
/// ```
/// use hitmap_intake::logs::{Format, Parsed, W3cFields, parse_line};
/// let line = r#"1.2.3.4 - bob [10/Feb/2012:16:42:07 -0500] "GET /a?b=1 HTTP/1.1" 200 368 "-" "curl/8""#;
/// let Parsed::Line(l) = parse_line(Format::NcsaExtended, line, &mut W3cFields::default()).unwrap() else {
///     panic!()
/// };
/// assert_eq!((l.ip.as_deref(), &*l.path, l.status, l.ts), (Some("1.2.3.4"), "/a?b=1", Some(200), 1_328_910_127));
/// assert_eq!((l.userid.as_deref(), l.referrer, l.user_agent.as_deref()), (Some("bob"), None, Some("curl/8")));
/// ```
pub fn parse_line<'a>(
    format: Format,
    line: &'a str,
    fields: &mut W3cFields,
) -> Result<Parsed<'a>, String> {
    let trimmed = line.trim_end_matches(['\n', '\r']);
    if trimmed.trim().is_empty() {
        return Ok(Parsed::Comment);
    }
    if format == Format::W3cExtended {
        return w3c::parse(trimmed, fields);
    }
    if trimmed.starts_with('#') {
        return Ok(Parsed::Comment);
    }
    match format {
        Format::NginxJson | Format::TraefikJson | Format::CaddyJson => {
            line::parse_json(format, trimmed).map(Parsed::Line)
        }
        _ => {
            let t = tokens(trimmed)?;
            layout(format, &t).map(Parsed::Line)
        }
    }
}

/// Reads a layout format's tokens.
fn layout<'a>(format: Format, t: &[Token<'a>]) -> Result<LogLine<'a>, String> {
    let get = |i: usize| {
        t.get(i)
            .ok_or_else(|| format!("the line has only {} fields", t.len()))
    };
    let word = |i: usize| -> Result<&'a str, String> {
        get(i)?
            .word()
            .ok_or_else(|| format!("field {} should be a bare word", i + 1))
    };
    let quoted = |i: usize| -> Result<Cow<'a, str>, String> {
        match get(i)? {
            Token::Quoted(q) => Ok(q.clone()),
            _ => Err(format!("field {} should be quoted", i + 1)),
        }
    };
    let bracket = |i: usize| -> Result<&'a str, String> {
        match get(i)? {
            Token::Bracket(b) => Ok(b),
            _ => Err(format!("field {} should be a [date]", i + 1)),
        }
    };
    let mut l = LogLine::default();
    // (host, ip, user, date, request, status, length, referrer, agent)
    // positions of the Apache family.
    let apache = |l: &mut LogLine<'a>,
                  host: Option<usize>,
                  ip: usize,
                  user: usize,
                  date: usize,
                  rest: usize|
     -> Result<(), String> {
        if let Some(h) = host {
            l.host = dash(word(h)?);
        }
        l.ip = dash(word(ip)?);
        l.userid = dash(word(user)?);
        l.ts = parse_apache_date(bracket(date)?)?;
        l.request(quoted(rest)?)?;
        l.status = Some(status(word(rest + 1)?)?);
        l.length = word(rest + 2)?.parse().ok();
        Ok(())
    };
    let combined = |l: &mut LogLine<'a>, at: usize| -> Result<(), String> {
        l.referrer = dash_cow(quoted(at)?);
        l.user_agent = dash_cow(quoted(at + 1)?);
        Ok(())
    };
    match format {
        Format::Common => apache(&mut l, None, 0, 2, 3, 4)?,
        Format::CommonVhost => apache(&mut l, Some(0), 1, 3, 4, 5)?,
        Format::NcsaExtended => {
            apache(&mut l, None, 0, 2, 3, 4)?;
            combined(&mut l, 7)?;
        }
        Format::CommonComplete => {
            apache(&mut l, Some(0), 1, 3, 4, 5)?;
            combined(&mut l, 8)?;
        }
        Format::Icecast2 => {
            apache(&mut l, None, 0, 2, 3, 4)?;
            combined(&mut l, 7)?;
            word(9)?
                .parse::<u64>()
                .map_err(|_| "field 10 should be the seconds connected".to_string())?;
        }
        Format::Ovh => {
            l.ip = dash(word(0)?);
            l.host = dash(word(1)?);
            l.userid = dash(word(2)?);
            l.ts = parse_apache_date(bracket(3)?)?;
            l.request(quoted(4)?)?;
            l.status = Some(status(word(5)?)?);
            l.length = word(6)?.parse().ok();
            combined(&mut l, 7)?;
        }
        Format::Gandi => {
            match get(5)? {
                Token::Paren(_) => {}
                _ => return Err("field 6 should be the (request time)".into()),
            }
            l.host = dash(word(0)?);
            l.ip = dash(word(1)?);
            l.userid = dash(word(3)?);
            l.ts = parse_apache_date(bracket(4)?)?;
            l.request(quoted(6)?)?;
            l.status = Some(status(word(7)?)?);
            l.length = word(8)?.parse().ok();
            combined(&mut l, 9)?;
        }
        Format::S3 => {
            l.host = dash(word(1)?);
            l.ts = parse_apache_date(bracket(2)?)?;
            l.ip = dash(word(3)?);
            l.request(quoted(8)?)?;
            l.status = Some(status(word(9)?)?);
            l.length = word(11)?.parse().ok();
            combined(&mut l, 15)?;
        }
        Format::Elb | Format::Alb => {
            let o = usize::from(format == Format::Alb);
            l.ts = parse_iso_date(word(o)?)?;
            l.ip = Some(Cow::Borrowed(without_port(word(o + 2)?)));
            l.status = Some(status(word(o + 7)?)?);
            l.length = word(o + 10)?.parse().ok();
            let request = quoted(o + 11)?;
            l.request(request)?;
            l.user_agent = dash_cow(quoted(o + 12)?);
            // ELB logs the full URL, with the port.
            if let Some(h) = l.host.take() {
                l.host = Some(Cow::Owned(without_port(&h).to_owned()));
            }
        }
        Format::Haproxy => {
            // "Mon dd hh:mm:ss host process[pid]: client:port [date] ..."
            let at = t
                .iter()
                .position(|tok| matches!(tok, Token::Bracket(_)))
                .ok_or("no [date] field")?;
            let client = at.checked_sub(1).ok_or("no client before the date")?;
            l.ip = Some(Cow::Borrowed(without_port(word(client)?)));
            l.ts = parse_apache_date(bracket(at)?)?;
            l.status = Some(status(word(at + 4)?)?);
            l.length = word(at + 5)?.parse().ok();
            let request = t
                .iter()
                .skip(at)
                .find_map(|tok| match tok {
                    Token::Quoted(q) => Some(q.clone()),
                    _ => None,
                })
                .ok_or("no \"request\" field")?;
            l.request(request)?;
        }
        Format::W3cExtended | Format::NginxJson | Format::TraefikJson | Format::CaddyJson => {
            return Err("not a layout format".into());
        }
    }
    Ok(l)
}

/// `-` is a missing value.
fn dash(s: &str) -> Option<Cow<'_, str>> {
    (s != "-" && !s.is_empty()).then_some(Cow::Borrowed(s))
}

fn dash_cow(s: Cow<'_, str>) -> Option<Cow<'_, str>> {
    (s != "-" && !s.is_empty()).then_some(s)
}

fn status(s: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .ok()
        .filter(|c| (100..1000).contains(c))
        .ok_or_else(|| format!("{s:?} is not an HTTP status"))
}

/// `1.2.3.4:2817` → `1.2.3.4`; `[::1]:80` → `::1`; a bare address stays.
fn without_port(s: &str) -> &str {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => s,
    }
}

/// Guesses a file's format from its first lines: the format that reads
/// the most of them (at least half of the requests, comments aside),
/// the most specific first on a tie ([`Format::ALL`] order).
///
/// # Examples
/// ```
/// use hitmap_intake::logs::{Format, detect};
/// let lines = [r#"1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 301 368"#];
/// assert_eq!(detect(&lines), Some(Format::Common));
/// ```
pub fn detect(lines: &[&str]) -> Option<Format> {
    detect_with(lines, &W3cFields::default())
}

/// [`detect`] with W3C columns renamed as `template` says
/// ([`W3cFields::mapped`]).
pub fn detect_with(lines: &[&str], template: &W3cFields) -> Option<Format> {
    let mut best: Option<(Format, usize)> = None;
    for f in Format::ALL {
        let mut fields = template.clone();
        let (mut read, mut tried) = (0, 0);
        for l in lines {
            match parse_line(f, l, &mut fields) {
                Ok(Parsed::Line(_)) => {
                    read += 1;
                    tried += 1;
                }
                Ok(Parsed::Comment) => {}
                Err(_) => tried += 1,
            }
        }
        if read > 0 && read * 2 >= tried && best.is_none_or(|(_, n)| read > n) {
            best = Some((f, read));
        }
    }
    best.map(|(f, _)| f)
}

/// A format given as a regular expression with named groups, as
/// Matomo's `--log-format-regex`: `ip`, `date`, `timezone`, `path`,
/// `query_string`, `status`, `length`, `userid`, `user_agent`,
/// `referrer`, `host`, `method`, `generation_time_micro`,
/// `generation_time_milli`, `generation_time_secs`. `date` is read with
/// a strftime pattern (`%d/%b/%Y:%H:%M:%S` by default, Matomo's
/// `--log-date-format`), then `timezone` (`+0200`) applies.
#[derive(Debug, Clone)]
pub struct CustomFormat {
    regex: regex::Regex,
    date_format: String,
}

impl CustomFormat {
    /// Compiles a format.
    ///
    /// # Errors
    /// The regex does not compile or has no `date` or `path` group.
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::logs::CustomFormat;
    /// let f = CustomFormat::new(
    ///     r#"(?P<ip>\S+) - - \[(?P<date>.*?) (?P<timezone>.*?)\] (?P<status>\d+) \"\S+ (?P<path>.*?) \S+\" (?P<generation_time_micro>\S+)"#,
    ///     None,
    /// ).unwrap();
    /// let l = f.parse(r#"175.41.192.40 - - [30/Sep/2012:10:10:38 +0200] 200 "GET /faq/ HTTP/1.1" 123002"#).unwrap();
    /// assert_eq!((&*l.path, l.status, l.ts, l.generation_ms), ("/faq/", Some(200), 1_348_992_638, Some(123.002)));
    /// ```
    pub fn new(pattern: &str, date_format: Option<&str>) -> Result<CustomFormat, String> {
        let regex = regex::Regex::new(pattern).map_err(|e| format!("--log-format-regex: {e}"))?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        for needed in ["date", "path"] {
            if !names.contains(&needed) {
                return Err(format!(
                    "--log-format-regex needs a (?P<{needed}>...) group"
                ));
            }
        }
        Ok(CustomFormat {
            regex,
            date_format: date_format.unwrap_or("%d/%b/%Y:%H:%M:%S").to_owned(),
        })
    }

    /// Reads one line.
    ///
    /// # Errors
    /// The line does not match, or its date, status or numbers do not read.
    pub fn parse<'a>(&self, line: &'a str) -> Result<LogLine<'a>, String> {
        let line = line.trim_end_matches(['\n', '\r']);
        let c = self
            .regex
            .captures(line)
            .ok_or("the line does not match --log-format-regex")?;
        let group = |n: &str| {
            c.name(n)
                .map(|m| m.as_str())
                .filter(|s| !s.is_empty() && *s != "-")
                .map(Cow::Borrowed)
        };
        let mut l = LogLine {
            ip: group("ip"),
            host: group("host"),
            method: group("method"),
            userid: group("userid"),
            referrer: group("referrer"),
            user_agent: group("user_agent"),
            ..LogLine::default()
        };
        let path = group("path").ok_or("no path")?;
        l.path = match group("query_string") {
            Some(q) => Cow::Owned(format!("{path}?{q}")),
            None => path,
        };
        l.status = group("status").map(|s| status(&s)).transpose()?;
        l.length = group("length").and_then(|s| s.parse().ok());
        l.generation_ms = [
            ("generation_time_micro", 1e-3),
            ("generation_time_milli", 1.0),
            ("generation_time_secs", 1e3),
        ]
        .into_iter()
        .find_map(|(n, scale): (&str, f64)| {
            let v = group(n)?.parse::<f64>().ok()?;
            // Divide for microseconds: 123002 µs is exactly 123.002 ms.
            Some(if scale < 1.0 { v / 1e3 } else { v * scale })
        });
        let date = group("date").ok_or("no date")?;
        let naive = chrono::NaiveDateTime::parse_from_str(&date, &self.date_format)
            .map_err(|e| format!("date {date:?} does not read as {}: {e}", self.date_format))?;
        let offset = match group("timezone") {
            Some(tz) => {
                let whole = format!("01/Jan/2000:00:00:00 {tz}");
                946_684_800 - parse_apache_date(&whole)?
            }
            None => 0,
        };
        l.ts = naive.and_utc().timestamp() - offset;
        Ok(l)
    }
}
