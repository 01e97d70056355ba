//! The NDJSON reader's fast path: a byte scanner for the lines nearly every
//! real input is made of (a flat object of the contract's fields, strings
//! without escapes, plain integers, `dims` and `event` objects).
//!
//! It gives up (`None`) on anything else: an escape, an unknown or repeated
//! key, a value of an unexpected type, a float it cannot convert exactly,
//! `visit`, `campaign`, `new_visit`, `local_hour`, a missing required field.
//! The serde reader then reads that line, so a rejected line always gets
//! the reason it had before, and an accepted line is read into the same
//! [`HitView`] either way (a differential test and the `ndjson` fuzz target
//! check that). Measured in BENCHMARKS.md: the serde reader's speed is that
//! of building a `serde_json::Value`; this one skips the tokenizer's
//! generality, and the scan for a string's end runs on whole words.

use std::borrow::Cow;

use crate::hit::{EventView, HitType, HitView, MAX_SITE, attr};

/// The line's hit when the fast path can read it (not yet validated).
pub(super) fn line(src: &str) -> Option<HitView<'_>> {
    let mut s = Scan {
        src,
        rest: src.as_bytes(),
    };
    let mut hit = HitView::default();
    let mut seen = 0u64;
    s.ws();
    s.eat(b'{')?;
    loop {
        s.ws();
        let field = field(s.string()?)?;
        let bit = 1u64.checked_shl(field)?;
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        s.ws();
        s.eat(b':')?;
        s.ws();
        match field {
            SITE => {
                let n = s.uint(10)?;
                hit.site = u32::try_from(n).ok().filter(|n| (1..=MAX_SITE).contains(n))?;
            }
            TS => {
                hit.ts = if s.peek()? == b'"' {
                    let t = s.string()?;
                    match rfc3339(t.as_bytes()) {
                        Some(ts) => ts,
                        None => chrono::DateTime::parse_from_rfc3339(t).ok()?.timestamp(),
                    }
                } else {
                    i64::try_from(s.uint(18)?).ok()?
                };
            }
            VISITOR => hit.visitor = Cow::Borrowed(s.string()?),
            TYPE => {
                if !s.null() {
                    hit.kind = HitType::parse(s.string()?)?;
                }
            }
            DIMS => hit.dims = s.dims()?,
            TIME_NETWORK..=BANDWIDTH => {
                if !s.null() {
                    *hit.perf.get_mut(field.checked_sub(TIME_NETWORK)? as usize)? = Some(s.uint(16)?);
                }
            }
            SEARCH_COUNT => {
                if !s.null() {
                    hit.search_count = Some(s.uint(10)?);
                }
            }
            EVENT => hit.event = s.event()?,
            LATITUDE | LONGITUDE => {
                let i = if field == LATITUDE {
                    attr::LATITUDE
                } else {
                    attr::LONGITUDE
                };
                let slot = hit.attrs.get_mut(i)?;
                if !s.null() {
                    let negative = s.peek()? == b'-';
                    if negative {
                        s.next();
                    }
                    let x = s.number()?;
                    let x = if negative { -x } else { x };
                    *slot = Some(Cow::Owned(attr::coordinate(x)));
                }
            }
            _ => {
                let v = s.text()?;
                let slot = match field {
                    URL => &mut hit.url,
                    TITLE => &mut hit.title,
                    REFERRER => &mut hit.referrer,
                    USER => &mut hit.user,
                    DEVICE => &mut hit.device,
                    BROWSER => &mut hit.browser,
                    OS => &mut hit.os,
                    COUNTRY => &mut hit.country,
                    LANGUAGE => &mut hit.language,
                    SEARCH => &mut hit.search,
                    SEARCH_CATEGORY => &mut hit.search_category,
                    REFERRER_TYPE => hit.attrs.get_mut(attr::REFERRER_TYPE)?,
                    REFERRER_NAME => hit.attrs.get_mut(attr::REFERRER_NAME)?,
                    REFERRER_KEYWORD => hit.attrs.get_mut(attr::REFERRER_KEYWORD)?,
                    BROWSER_VERSION => hit.attrs.get_mut(attr::BROWSER_VERSION)?,
                    OS_VERSION => hit.attrs.get_mut(attr::OS_VERSION)?,
                    RESOLUTION => hit.attrs.get_mut(attr::RESOLUTION)?,
                    REGION => hit.attrs.get_mut(attr::REGION)?,
                    REGION_NAME => hit.attrs.get_mut(attr::REGION_NAME)?,
                    CITY => hit.attrs.get_mut(attr::CITY)?,
                    DEVICE_BRAND => hit.attrs.get_mut(attr::DEVICE_BRAND)?,
                    DEVICE_MODEL => hit.attrs.get_mut(attr::DEVICE_MODEL)?,
                    BROWSER_ENGINE => hit.attrs.get_mut(attr::BROWSER_ENGINE)?,
                    PLUGINS => hit.attrs.get_mut(attr::PLUGINS)?,
                    _ => return None,
                };
                *slot = v;
            }
        }
        s.ws();
        match s.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    s.ws();
    let required = (1 << SITE) | (1 << TS) | (1 << VISITOR);
    (s.rest.is_empty() && seen & required == required).then_some(hit)
}

const SITE: u32 = 0;
const TS: u32 = 1;
const VISITOR: u32 = 2;
const TYPE: u32 = 3;
const URL: u32 = 4;
const TITLE: u32 = 5;
const REFERRER: u32 = 6;
const USER: u32 = 7;
const DEVICE: u32 = 8;
const BROWSER: u32 = 9;
const OS: u32 = 10;
const COUNTRY: u32 = 11;
const LANGUAGE: u32 = 12;
const SEARCH: u32 = 13;
const EVENT: u32 = 14;
const DIMS: u32 = 15;
const REFERRER_TYPE: u32 = 16;
const REFERRER_NAME: u32 = 17;
const REFERRER_KEYWORD: u32 = 18;
const BROWSER_VERSION: u32 = 19;
const OS_VERSION: u32 = 20;
const RESOLUTION: u32 = 21;
const REGION: u32 = 22;
const REGION_NAME: u32 = 23;
const CITY: u32 = 24;
const LATITUDE: u32 = 25;
const LONGITUDE: u32 = 26;
const DEVICE_BRAND: u32 = 27;
const DEVICE_MODEL: u32 = 28;
const BROWSER_ENGINE: u32 = 29;
/// `time_network` to `time_on_load`, then `bandwidth` (`Perf::FIELDS`).
const TIME_NETWORK: u32 = 30;
const BANDWIDTH: u32 = 36;
const SEARCH_CATEGORY: u32 = 37;
const SEARCH_COUNT: u32 = 38;
const PLUGINS: u32 = 39;

/// The fields the fast path reads, by their bit; `None` for the others.
fn field(key: &str) -> Option<u32> {
    Some(match key {
        "site" => SITE,
        "ts" => TS,
        "visitor" => VISITOR,
        "type" => TYPE,
        "url" => URL,
        "title" => TITLE,
        "referrer" => REFERRER,
        "user" => USER,
        "device" => DEVICE,
        "browser" => BROWSER,
        "os" => OS,
        "country" => COUNTRY,
        "language" => LANGUAGE,
        "search" => SEARCH,
        "event" => EVENT,
        "dims" => DIMS,
        "referrer_type" => REFERRER_TYPE,
        "referrer_name" => REFERRER_NAME,
        "referrer_keyword" => REFERRER_KEYWORD,
        "browser_version" => BROWSER_VERSION,
        "os_version" => OS_VERSION,
        "resolution" => RESOLUTION,
        "region" => REGION,
        "region_name" => REGION_NAME,
        "city" => CITY,
        "latitude" => LATITUDE,
        "longitude" => LONGITUDE,
        "device_brand" => DEVICE_BRAND,
        "device_model" => DEVICE_MODEL,
        "browser_engine" => BROWSER_ENGINE,
        "time_network" => TIME_NETWORK,
        "time_server" => TIME_NETWORK + 1,
        "time_transfer" => TIME_NETWORK + 2,
        "time_dom_processing" => TIME_NETWORK + 3,
        "time_dom_completion" => TIME_NETWORK + 4,
        "time_on_load" => TIME_NETWORK + 5,
        "bandwidth" => BANDWIDTH,
        "search_category" => SEARCH_CATEGORY,
        "search_count" => SEARCH_COUNT,
        "plugins" => PLUGINS,
        _ => return None,
    })
}

/// The Unix second of the common RFC 3339 form,
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, read without
/// chrono's general parser; `None` for anything else (another form, a
/// leap second, a date that does not exist), which chrono then reads or
/// refuses as before. Equal to chrono's `timestamp()` wherever it answers
/// (a proptest below checks).
fn rfc3339(b: &[u8]) -> Option<i64> {
    // Every value below has at most four digits and every index is
    // within the line: the wrapping operations cannot wrap.
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        b.get(r)?.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit()
                .then(|| n.wrapping_mul(10).wrapping_add(i64::from(c.wrapping_sub(b'0'))))
        })
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':')) {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut i = 19usize;
    if at(i, b'.') {
        let fraction = b.get(20..)?.iter().take_while(|c| c.is_ascii_digit()).count();
        if fraction == 0 {
            return None;
        }
        i = 20usize.wrapping_add(fraction);
    }
    let rest = b.get(i..)?;
    let offset = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |x: u8, y: u8| -> Option<i64> {
                (x.is_ascii_digit() && y.is_ascii_digit()).then(|| {
                    i64::from(x.wrapping_sub(b'0'))
                        .wrapping_mul(10)
                        .wrapping_add(i64::from(y.wrapping_sub(b'0')))
                })
            };
            let (h, m) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let o = h.wrapping_mul(3600).wrapping_add(m.wrapping_mul(60));
            if *sign == b'-' { o.wrapping_neg() } else { o }
        }
        _ => return None,
    };
    // Days from 1970-01-01 of a proleptic Gregorian date (Howard
    // Hinnant's `days_from_civil`).
    let y = if month <= 2 { year.wrapping_sub(1) } else { year };
    let era = y.div_euclid(400);
    let yoe = y.wrapping_sub(era.wrapping_mul(400));
    let mp = month.wrapping_add(9) % 12;
    let doy = (mp.wrapping_mul(153).wrapping_add(2) / 5)
        .wrapping_add(day)
        .wrapping_sub(1);
    let doe = yoe
        .wrapping_mul(365)
        .wrapping_add(yoe / 4)
        .wrapping_sub(yoe / 100)
        .wrapping_add(doy);
    let days = era
        .wrapping_mul(146_097)
        .wrapping_add(doe)
        .wrapping_sub(719_468);
    Some(
        days.wrapping_mul(86_400)
            .wrapping_add(hour.wrapping_mul(3600))
            .wrapping_add(minute.wrapping_mul(60))
            .wrapping_add(second)
            .wrapping_sub(offset),
    )
}

/// Powers of ten that are exact in an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The length of a string's body: the position of its closing quote,
/// `None` if an escape or a raw control byte comes first (or no quote).
/// One pass, eight bytes at a time: the strings of a hit are short, so a
/// word at a time beats a vector search set up for each of them.
fn string_end(b: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte of `x` below `n` (n <= 128), and maybe of
    // some bytes above such a byte: the lowest one set is always exact.
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS;
    let is_end = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
    let mut words = b.chunks_exact(8);
    let mut at = 0usize;
    for chunk in words.by_ref() {
        let x = u64::from_le_bytes(chunk.try_into().ok()?);
        let hits = below(x ^ (ONES * u64::from(b'"')), 1)
            | below(x ^ (ONES * u64::from(b'\\')), 1)
            | below(x, 0x20);
        if hits != 0 {
            let i = (hits.trailing_zeros() / 8) as usize;
            return (*chunk.get(i)? == b'"').then_some(at.checked_add(i)?);
        }
        at = at.checked_add(8)?;
    }
    let rest = words.remainder();
    let i = rest.iter().position(|&c| is_end(c))?;
    (*rest.get(i)? == b'"').then_some(at.checked_add(i)?)
}

struct Scan<'a> {
    src: &'a str,
    /// What is left of `src` to read.
    rest: &'a [u8],
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn next(&mut self) -> Option<u8> {
        let (&c, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// JSON's whitespace.
    fn ws(&mut self) {
        while let Some((b' ' | b'\t' | b'\n' | b'\r', rest)) = self.rest.split_first() {
            self.rest = rest;
        }
    }

    /// `null`, consumed if it is there.
    fn null(&mut self) -> bool {
        match self.rest.strip_prefix(b"null") {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    /// A string without escapes or control characters, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let len = string_end(self.rest)?;
        let start = self.src.len().checked_sub(self.rest.len())?;
        self.rest = self.rest.get(len.checked_add(1)?..)?;
        // A quote is ASCII, so both ends are character boundaries.
        self.src.get(start..start.checked_add(len)?)
    }

    /// An optional text value: `null` and `""` are missing.
    fn text(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.null() {
            return Some(None);
        }
        let s = self.string()?;
        Some((!s.is_empty()).then_some(Cow::Borrowed(s)))
    }

    /// The digits of a non-negative integer in JSON's form (no sign, no
    /// leading zero), at most `max_digits` of them.
    fn digits(&mut self, max_digits: usize) -> Option<u64> {
        let first = self.peek()?;
        let (mut n, mut count) = (0u64, 0usize);
        while let Some(c @ b'0'..=b'9') = self.peek() {
            if count == max_digits {
                return None;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(c.wrapping_sub(b'0')))?;
            count = count.checked_add(1)?;
            self.next();
        }
        (count == 1 || (count > 1 && first != b'0')).then_some(n)
    }

    fn exponent_or_fraction(&self) -> bool {
        matches!(self.peek(), Some(b'.' | b'e' | b'E'))
    }

    /// A non-negative integer of at most `max_digits` digits, not followed
    /// by a fraction or an exponent.
    fn uint(&mut self, max_digits: usize) -> Option<u64> {
        let n = self.digits(max_digits)?;
        (!self.exponent_or_fraction()).then_some(n)
    }

    /// A non-negative number read exactly: an integer, or a decimal
    /// fraction whose digits fit 2^53, so that `digits / 10^k` is one
    /// correctly rounded division (what serde_json computes for it too).
    fn number(&mut self) -> Option<f64> {
        let int = self.digits(15)?;
        if self.peek() != Some(b'.') {
            return (!self.exponent_or_fraction()).then_some(int as f64);
        }
        self.next();
        let (mut m, mut k) = (int, 0usize);
        while let Some(c @ b'0'..=b'9') = self.peek() {
            m = m.checked_mul(10)?.checked_add(u64::from(c.wrapping_sub(b'0')))?;
            k = k.checked_add(1)?;
            self.next();
        }
        if k == 0 || m >= 1 << 53 || self.exponent_or_fraction() {
            return None;
        }
        Some(m as f64 / *POW10.get(k)?)
    }

    /// `dims`: `null` or an object of strings (or nulls), keys distinct
    /// and non-empty; empty and null values are left out.
    fn dims(&mut self) -> Option<Vec<(Cow<'a, str>, Cow<'a, str>)>> {
        let mut dims = Vec::new();
        if self.null() {
            return Some(dims);
        }
        let mut keys: Vec<&str> = Vec::new();
        self.object(|s, key| {
            if key.is_empty() || keys.contains(&key) {
                return None;
            }
            keys.push(key);
            if let Some(v) = s.text()? {
                dims.push((Cow::Borrowed(key), v));
            }
            Some(())
        })?;
        Some(dims)
    }

    /// `event`: `null` or an object of category, action, name and value.
    fn event(&mut self) -> Option<Option<EventView<'a>>> {
        if self.null() {
            return Some(None);
        }
        let mut e = EventView::default();
        let mut seen = 0u8;
        self.object(|s, key| {
            let bit = match key {
                "category" => 1,
                "action" => 2,
                "name" => 4,
                "value" => 8,
                _ => return None,
            };
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            match bit {
                1 => e.category = s.text()?.unwrap_or_default(),
                2 => e.action = s.text()?.unwrap_or_default(),
                4 => e.name = s.text()?,
                _ if s.null() => e.value = None,
                _ => e.value = Some(s.number()?),
            }
            Some(())
        })?;
        Some(Some(e))
    }

    /// An object: `each` reads the value of every key.
    fn object(&mut self, mut each: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.next();
            return Some(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            each(self, key)?;
            self.ws();
            match self.next()? {
                b',' => {}
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{rfc3339, string_end};
    use proptest::prelude::*;

    fn chrono(s: &str) -> Option<i64> {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp())
    }

    #[test]
    fn the_common_forms_read_as_chrono_reads_them() {
        for s in [
            "2025-01-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59.123456789+01:00",
            "2025-06-11T09:12:33+01:00",
            "1969-12-31T23:59:59-00:30",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            assert_eq!(rfc3339(s.as_bytes()), chrono(s), "{s}");
            assert!(rfc3339(s.as_bytes()).is_some(), "{s}");
        }
        // Left to chrono: other forms, leap seconds, impossible dates.
        for s in [
            "2025-02-29T00:00:00Z",
            "2025-01-01t00:00:00z",
            "2025-01-01 00:00:00Z",
            "2016-12-31T23:59:60Z",
            "2025-01-01T00:00:00",
            "2025-01-01T00:00:00.Z",
            "2025-01-01T00:00:00+0100",
            "2025-13-01T00:00:00Z",
        ] {
            assert_eq!(rfc3339(s.as_bytes()), None, "{s}");
        }
    }

    proptest! {
        /// A string ends at its first quote unless an escape or a control
        /// byte comes before it, as a byte-by-byte reading finds.
        #[test]
        fn a_string_ends_where_a_byte_by_byte_reading_ends_it(
            bytes in prop::collection::vec(prop_oneof![
                Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..0x80, 0x80u8..=0xff, Just(b'a'),
            ], 0..40),
            plain in 0usize..24,
        ) {
            let mut b = vec![b'a'; plain];
            b.extend(bytes);
            let want = b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .filter(|&i| b[i] == b'"');
            prop_assert_eq!(string_end(&b), want);
        }
    }

    proptest! {
        /// Wherever the fast reader answers, chrono gives the same second.
        #[test]
        fn equals_chrono(
            y in 0u32..10_000, mo in 0u32..14, d in 0u32..33, h in 0u32..26, mi in 0u32..62,
            se in 0u32..62, frac in proptest::option::of("[0-9]{0,10}"),
            zone in prop_oneof![Just("Z".to_owned()), "[+-][0-2][0-9]:[0-6][0-9]", "[+-Zz][0-9:]{0,6}"],
            sep in prop_oneof![Just('T'), Just('t'), Just(' ')],
        ) {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            let s = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{se:02}{frac}{zone}");
            if let Some(t) = rfc3339(s.as_bytes()) {
                prop_assert_eq!(Some(t), chrono(&s), "{}", s);
            }
        }
    }
}
