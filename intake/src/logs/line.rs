//! One request read from a log line, dates, and the JSON formats.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate};

use super::Format;

/// What a log line says about one request. Text borrows from the line
/// where it can.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogLine<'a> {
    /// The client's address (never stored: the visitor key hashes it).
    pub ip: Option<Cow<'a, str>>,
    /// Unix seconds, UTC.
    pub ts: i64,
    /// The virtual host, when the format logs it.
    pub host: Option<Cow<'a, str>>,
    /// `GET`, `POST`, ...
    pub method: Option<Cow<'a, str>>,
    /// The path with its query string.
    pub path: Cow<'a, str>,
    /// The HTTP status.
    pub status: Option<u16>,
    /// Response bytes.
    pub length: Option<u64>,
    /// The authenticated user.
    pub userid: Option<Cow<'a, str>>,
    /// The `Referer` header.
    pub referrer: Option<Cow<'a, str>>,
    /// The `User-Agent` header.
    pub user_agent: Option<Cow<'a, str>>,
    /// The server's time for the request, milliseconds, when logged.
    pub generation_ms: Option<f64>,
    /// A streaming server's event (CloudFront RTMP's `x-event`, e.g.
    /// `play`), which Matomo's importer records as an event of category
    /// `cloudfront_rtmp` rather than a page view.
    pub event_action: Option<Cow<'a, str>>,
    /// The stream's name (CloudFront RTMP's `x-sname`), the event's name.
    pub event_name: Option<Cow<'a, str>>,
}

impl LogLine<'_> {
    /// Forgets one field read from the line, by the name of Matomo's
    /// regex group (its importer's `--ignore-groups`): `ip`, `userid`,
    /// `host`, `referrer`, `user_agent`, `length`, `method`,
    /// `generation_time_milli` (and `_micro`, `_secs`), `event_action`,
    /// `event_name`.
    ///
    /// # Errors
    /// A group a hit cannot do without (`date`, `path`, `status`) or an
    /// unknown one, naming those it can ignore.
    ///
    /// # Examples
    /// ```
    /// let mut l = hitmap_intake::logs::LogLine::default();
    /// l.userid = Some("user1".into());
    /// l.ignore("userid").unwrap();
    /// assert_eq!(l.userid, None);
    /// assert!(l.ignore("path").is_err());
    /// ```
    pub fn ignore(&mut self, group: &str) -> Result<(), String> {
        match group {
            "ip" => self.ip = None,
            "userid" => self.userid = None,
            "host" => self.host = None,
            "referrer" => self.referrer = None,
            "user_agent" => self.user_agent = None,
            "length" => self.length = None,
            "method" => self.method = None,
            "generation_time_milli" | "generation_time_micro" | "generation_time_secs" => {
                self.generation_ms = None
            }
            "event_action" => self.event_action = None,
            "event_name" => self.event_name = None,
            other => {
                return Err(format!(
                    "{other:?} cannot be ignored (one of: ip, userid, host, referrer, user_agent, \
                     length, method, generation_time_milli, event_action, event_name)"
                ));
            }
        }
        Ok(())
    }
}

/// HTTP methods a web server logs: RFC 9110's, PATCH, and WebDAV's.
const METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "CONNECT",
    "OPTIONS",
    "TRACE",
    "PATCH",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "REPORT",
    "SEARCH",
    "MKCALENDAR",
];

/// A logged client address: IPv4 (octets with leading zeros too, as
/// some servers write them and Matomo reads them) or IPv6, bracketed or
/// with a port.
fn is_address(text: &str) -> bool {
    use std::net::{IpAddr, SocketAddr};
    let ipv4 = |t: &str| {
        let mut n = 0;
        t.split('.').all(|o| {
            n += 1;
            (1..=3).contains(&o.len())
                && o.bytes().all(|b| b.is_ascii_digit())
                && o.parse::<u16>().is_ok_and(|v| v <= 255)
        }) && n == 4
    };
    let t = text.trim();
    let host = match t.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => t,
    };
    ipv4(host)
        || t.parse::<IpAddr>().is_ok()
        || t.parse::<SocketAddr>().is_ok()
        || t.strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .is_some_and(|r| r.parse::<IpAddr>().is_ok())
}

impl<'a> LogLine<'a> {
    /// Refuses a line whose fields were read but cannot be a request a
    /// server logged: a client address that is not one, an unknown HTTP
    /// method. (Times with an impossible offset are refused when read.)
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::logs::{Format, Parsed, W3cFields, parse_line};
    /// let read = |l| match parse_line(Format::Common, l, &mut W3cFields::default()) {
    ///     Ok(Parsed::Line(l)) => l.validate(),
    ///     other => panic!("{other:?}"),
    /// };
    /// assert!(read(r#"1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200 9"#).is_ok());
    /// assert!(read(r#"xyz - - [10/Feb/2012:16:42:07 -0500] "GET / HTTP/1.0" 200 9"#).unwrap_err().contains("not an IP address"));
    /// assert!(read(r#"1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "FOO / HTTP/1.0" 200 9"#).unwrap_err().contains("not an HTTP method"));
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        if let Some(ip) = self.ip.as_deref()
            && !ip.is_empty()
            && ip != "-"
            && !is_address(ip)
        {
            return Err(format!("the client address {ip:?} is not an IP address"));
        }
        if let Some(m) = self.method.as_deref()
            && !m.is_empty()
            && !METHODS.contains(&m)
        {
            return Err(format!("{m:?} is not an HTTP method"));
        }
        Ok(())
    }

    /// Reads `METHOD path PROTOCOL` (the protocol may be missing).
    pub(crate) fn request(&mut self, request: Cow<'a, str>) -> Result<(), String> {
        /// The method and the path of a request line: the path runs to
        /// the protocol (`HTTP/1.1`), spaces and all, as Matomo's
        /// importer reads it (an unencoded title in a replayed tracking
        /// request); without a protocol, to the first space.
        fn words(r: &str) -> Option<(&str, &str)> {
            let (method, rest) = r.trim_start_matches(' ').split_once(' ')?;
            let rest = rest.trim_matches(' ');
            let path = match rest.rsplit_once(' ') {
                Some((path, protocol))
                    if protocol
                        .get(..5)
                        .is_some_and(|p| p.eq_ignore_ascii_case("HTTP/")) =>
                {
                    path.trim_end_matches(' ')
                }
                _ => rest.split(' ').next()?,
            };
            (!path.is_empty()).then_some((method, path))
        }
        let Some((method, path)) = words(&request) else {
            return Err(format!("{request:?} is not an HTTP request line"));
        };
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("{method:?} is not an HTTP method"));
        }
        let (method, path) = match &request {
            &Cow::Borrowed(r) => match words(r) {
                Some((m, p)) => (Cow::Borrowed(m), Cow::Borrowed(p)),
                None => return Err(format!("{r:?} is not an HTTP request line")),
            },
            Cow::Owned(_) => (Cow::Owned(method.to_owned()), Cow::Owned(path.to_owned())),
        };
        self.method = Some(method);
        self.path = path;
        // A proxy's absolute URL: the host goes to `host`, the path stays.
        let absolute = ["http://", "https://"]
            .into_iter()
            .find_map(|scheme| self.path.strip_prefix(scheme).map(str::to_owned));
        if let Some(rest) = absolute {
            let (host, path) = rest.split_once('/').unwrap_or((&rest, ""));
            if self.host.is_none() && !host.is_empty() {
                self.host = Some(Cow::Owned(host.to_owned()));
            }
            self.path = Cow::Owned(format!("/{path}"));
        }
        Ok(())
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An Apache date, `10/Feb/2012:16:42:07 -0500` (fractions of a second
/// and a missing offset allowed: HAProxy logs `25/Sep/2018:06:05:27.584`,
/// read as UTC), as Unix seconds.
///
/// # Examples
/// ```
/// use hitmap_intake::logs::parse_apache_date;
/// assert_eq!(parse_apache_date("10/Feb/2012:16:42:07 -0500"), Ok(1_328_910_127));
/// assert!(parse_apache_date("10/Foo/2012:16:42:07 -0500").is_err());
/// ```
pub fn parse_apache_date(s: &str) -> Result<i64, String> {
    if let Some(ts) = apache_date_fast(s.as_bytes()) {
        return Ok(ts);
    }
    let bad = || format!("{s:?} is not a date like 10/Feb/2012:16:42:07 -0500");
    let (stamp, offset) = match s.split_once(' ') {
        Some((stamp, offset)) => (stamp, Some(offset.trim())),
        None => (s, None),
    };
    let mut parts = stamp.splitn(4, [':', '/']);
    let (Some(day), Some(month), Some(year), Some(time)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month))
        .ok_or_else(bad)?;
    let date = NaiveDate::from_ymd_opt(
        year.parse().map_err(|_| bad())?,
        u32::try_from(month + 1).map_err(|_| bad())?,
        day.parse().map_err(|_| bad())?,
    )
    .ok_or_else(bad)?;
    let time = time.split('.').next().unwrap_or(time);
    let time = hms(time).ok_or_else(bad)?;
    let seconds = match offset {
        None => 0,
        Some(o) => {
            let (sign, digits) = match o.as_bytes().first() {
                Some(b'+') => (1, &o[1..]),
                Some(b'-') => (-1, &o[1..]),
                _ => return Err(bad()),
            };
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let h: i64 = digits[..2].parse().map_err(|_| bad())?;
            let m: i64 = digits[2..].parse().map_err(|_| bad())?;
            // Offsets in use run from -12:00 to +14:00.
            if h > 14 || m > 59 {
                return Err(format!(
                    "{s:?} has the time zone offset {o}: offsets run from -1200 to +1400"
                ));
            }
            sign * (h * 3600 + m * 60)
        }
    };
    Ok(date.and_time(time).and_utc().timestamp() - seconds)
}

/// The exact shape every web server writes, `10/Feb/2012:16:42:07 -0500`,
/// read by position (it is on every line); `None` sends anything else
/// (and any impossible date) to the general reader.
fn apache_date_fast(b: &[u8]) -> Option<i64> {
    if b.len() != 26
        || b[2] != b'/'
        || b[6] != b'/'
        || b[11] != b':'
        || b[14] != b':'
        || b[17] != b':'
        || b[20] != b' '
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b.get(r)?.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    };
    let month = MONTHS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(&b[3..6]))?;
    let (day, year) = (num(0..2)?, num(7..11)?);
    let (h, m, sec) = (num(12..14)?, num(15..17)?, num(18..20)?);
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let sign = match b[21] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (oh, om) = (num(22..24)?, num(24..26)?);
    if oh > 14 || om > 59 {
        return None; // the general reader says why
    }
    let offset = sign * (oh * 3600 + om * 60);
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        u32::try_from(month + 1).ok()?,
        u32::try_from(day).ok()?,
    )?;
    let days = i64::from(date.num_days_from_ce()) - 719_163; // 1970-01-01
    Some(days * 86_400 + h * 3600 + m * 60 + sec - offset)
}

/// `HH:MM:SS` (one or two digits each, as chrono's `%H:%M:%S`; `:60` is
/// a leap second), read by hand: it is on every line of a log.
fn hms(t: &str) -> Option<chrono::NaiveTime> {
    let mut parts = t.split(':');
    let mut next = || -> Option<u32> {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let (h, m, s) = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return None;
    }
    match s {
        60 => chrono::NaiveTime::from_hms_milli_opt(h, m, 59, 1_000),
        s => chrono::NaiveTime::from_hms_opt(h, m, s),
    }
}

/// An ISO 8601 / RFC 3339 time (`2015-05-13T23:39:43.945958Z`,
/// `2013-10-10T16:52:00+02:00`; without an offset, UTC), as Unix seconds.
///
/// # Examples
/// ```
/// use hitmap_intake::logs::parse_iso_date;
/// assert_eq!(parse_iso_date("2013-10-10T16:52:00+02:00"), Ok(1_381_416_720));
/// assert_eq!(parse_iso_date("2023-08-11T11:41:25"), Ok(1_691_754_085));
/// ```
pub fn parse_iso_date(s: &str) -> Result<i64, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .map(|t| t.and_utc().timestamp())
        .map_err(|_| format!("{s:?} is not an ISO 8601 time"))
}

fn json_text(v: &serde_json::Value) -> Option<Cow<'static, str>> {
    match v {
        serde_json::Value::String(s) if !s.is_empty() && s != "-" => Some(Cow::Owned(s.clone())),
        serde_json::Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// An HTTP status from a JSON field: a number (or a string of digits)
/// from 100 to 999; anything else is no status.
fn json_status(v: &serde_json::Value) -> Option<u16> {
    json_u64(v)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..1000).contains(s))
}

fn json_u64(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A JSON number, or a string of one (Python's `float()` of it).
fn json_f64(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok().filter(|x: &f64| x.is_finite()),
        _ => None,
    }
}

/// nginx (Matomo's documented `log_format`), Traefik and Caddy JSON lines.
/// `\xNN` escapes (an escaping backslash, not an escaped one, before two
/// hex digits) as JSON's `\u00NN`.
fn hex_escapes_as_unicode(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len() + 16);
    let mut i = 0;
    let mut from = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if b.get(i + 1) == Some(&b'x') && hex(i + 2) && hex(i + 3) {
                out.push_str(&line[from..i]);
                out.push_str("\\u00");
                i += 2;
                from = i;
            } else {
                // An escape of two characters (`\\`, `\"`, ...).
                i += 2;
            }
        } else {
            i += 1;
        }
    }
    out.push_str(&line[from.min(line.len())..]);
    out
}

pub(crate) fn parse_json(format: Format, line: &str) -> Result<LogLine<'static>, String> {
    // nginx escapes bytes it will not log as `\xNN`, which JSON does not
    // know; read as Matomo's importer reads them, as `\u00NN`.
    let escaped;
    let line = if line.contains("\\x") {
        escaped = hex_escapes_as_unicode(line);
        escaped.as_str()
    } else {
        line
    };
    let v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let field = |k: &str| obj.get(k).unwrap_or(&serde_json::Value::Null);
    let mut l = LogLine::default();
    match format {
        Format::NginxJson => {
            l.ip = json_text(field("ip"));
            l.host = json_text(field("host"));
            l.path = json_text(field("path")).ok_or("no \"path\"")?;
            l.status = json_status(field("status"));
            l.length = json_u64(field("length"));
            l.referrer = json_text(field("referrer"));
            l.user_agent = json_text(field("user_agent"));
            l.userid = json_text(field("userid"));
            l.method = json_text(field("method"));
            // Despite its name, nginx's `$request_time`: seconds, which
            // Matomo's importer multiplies by 1000.
            l.generation_ms = json_f64(field("generation_time_milli")).map(|s| s * 1e3);
            let date = field("date").as_str().ok_or("no \"date\"")?;
            l.ts = parse_iso_date(date)?;
        }
        Format::TraefikJson => {
            l.ip = json_text(field("ClientHost"));
            l.host = json_text(field("RequestHost"));
            l.method = json_text(field("RequestMethod"));
            l.path = json_text(field("RequestPath")).ok_or("no \"RequestPath\"")?;
            l.status = json_status(field("DownstreamStatus"))
                .or_else(|| json_status(field("OriginStatus")));
            l.length = json_u64(field("DownstreamContentSize"));
            l.referrer = json_text(field("request_Referer"));
            l.user_agent = json_text(field("request_User-Agent"));
            l.userid = json_text(field("ClientUsername"));
            l.generation_ms = field("Duration").as_f64().map(|ns| ns / 1e6);
            let date = field("StartUTC")
                .as_str()
                .or_else(|| field("time").as_str())
                .ok_or("no \"StartUTC\"")?;
            l.ts = parse_iso_date(date)?;
        }
        Format::CaddyJson => {
            let request = field("request");
            let r = |k: &str| request.get(k).unwrap_or(&serde_json::Value::Null);
            let header = |k: &str| {
                r("headers")
                    .get(k)
                    .and_then(|h| h.get(0))
                    .and_then(json_text)
            };
            l.ip = json_text(r("client_ip")).or_else(|| json_text(r("remote_ip")));
            l.host = json_text(r("host"));
            l.method = json_text(r("method"));
            l.path = json_text(r("uri")).ok_or("no \"request.uri\"")?;
            l.status = json_status(field("status"));
            l.length = json_u64(field("size"));
            l.referrer = header("Referer");
            l.user_agent = header("User-Agent");
            l.userid = json_text(field("user_id"));
            l.generation_ms = field("duration").as_f64().map(|s| s * 1e3);
            let ts = field("ts").as_f64().ok_or("no \"ts\"")?;
            if !ts.is_finite() || !(0.0..253_402_300_800.0).contains(&ts) {
                return Err(format!("\"ts\" {ts} is not a time"));
            }
            l.ts = ts as i64;
        }
        _ => return Err("not a JSON format".into()),
    }
    Ok(l)
}
