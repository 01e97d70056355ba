//! Day archives and dictionaries to bytes and back (FORMAT.md). Decoding
//! validates every length and id against the site's dictionaries, so a
//! damaged or crafted file is an error, never a panic at query time.

use crate::archive::{DayArchive, DimColumn};
use crate::dict::{Dict, NONE};
use crate::hit::{HitType, MAX_TS, MIN_TS};
use crate::raw::{Extra, N_VFIELDS, SiteDicts};
use crate::referrer::ReferrerType;

use super::codec::{Kind, ReadResult, Reader, Writer, open, seal};
use chrono::{Datelike, NaiveDate};

const KINDS: [HitType; 5] = [
    HitType::Pageview,
    HitType::Download,
    HitType::Outlink,
    HitType::Search,
    HitType::Event,
];

/// A day archive as a sealed file.
pub(crate) fn encode_day(a: &DayArchive) -> Vec<u8> {
    let mut w = Writer::default();
    // Visit starts and lengths and each action's time spent follow from
    // the action times, so they are not stored.
    w.u32s(&a.visitor);
    w.u32s(&a.action_offsets);
    w.u32s(&a.rank_in_day);
    w.u32s(&a.entry_url);
    w.u32s(&a.exit_url);
    w.u8s(&a.referrer_type);
    for f in 0..N_VFIELDS {
        w.u32s(&a.fields[f]);
        w.u32s(&a.field_carriers[f]);
    }
    w.u32(a.dims.len() as u32);
    for col in &a.dims {
        w.u32(col.name);
        w.u32s(&col.values);
        w.u32s(&col.carriers);
    }
    let kinds: Vec<u8> = a.a_kind.iter().map(|k| *k as u8).collect();
    w.u8s(&kinds);
    // Times as deltas from the previous action: small numbers compress well.
    let mut prev = 0i64;
    let deltas: Vec<i64> = a
        .a_ts
        .iter()
        .map(|&t| {
            let d = t - prev;
            prev = t;
            d
        })
        .collect();
    w.i64s(&deltas);
    w.u32s(&a.a_url);
    w.u32s(&a.a_title);
    // Keywords and events as full columns (mostly missing, which
    // compresses to nearly nothing).
    let (x, n) = (&a.a_extras, a.a_kind.len());
    w.u32s(&x.column(n, NONE, |x| x.keyword));
    w.u32s(&x.column(n, NONE, |x| x.ev_category));
    w.u32s(&x.column(n, NONE, |x| x.ev_action));
    w.u32s(&x.column(n, NONE, |x| x.ev_name));
    w.f64s(&x.column(n, f64::NAN, |x| x.ev_value));
    w.bitmap(&a.visitors);
    w.bitmap(&a.users);
    seal(Kind::Day, &compress(&w.buf))
}

/// Codec byte of a compressed body: zstd.
const ZSTD: u8 = 1;
/// Largest body a day file may unpack to (a day of one site).
const MAX_RAW: u64 = 4 << 30;

/// `codec (1) | raw length (8) | zstd frame`: columns of small integers
/// compress several-fold.
pub(crate) fn compress(raw: &[u8]) -> Vec<u8> {
    let mut out = vec![ZSTD];
    out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    out.extend(zstd::bulk::compress(raw, 3).expect("compressing into memory cannot fail"));
    out
}

fn decompress(body: &[u8]) -> ReadResult<Vec<u8>> {
    use std::io::Read;
    let (Some(&ZSTD), Some(len), Some(frame)) = (body.first(), body.get(1..9), body.get(9..))
    else {
        return Err("unknown body codec (expected zstd)".into());
    };
    let raw_len = u64::from_le_bytes(len.try_into().map_err(|_| "short header".to_string())?);
    if raw_len > MAX_RAW {
        return Err(format!(
            "claims {raw_len} bytes unpacked, more than a day file may hold"
        ));
    }
    // The claimed length is not trusted for an allocation: memory follows
    // what the frame really unpacks to, and reading stops one byte past
    // the claim.
    let mut raw = Vec::with_capacity(usize::try_from(raw_len.min(1 << 20)).unwrap_or(0));
    zstd::stream::read::Decoder::new(frame)
        .and_then(|d| d.take(raw_len.saturating_add(1)).read_to_end(&mut raw))
        .map_err(|e| format!("cannot unpack: {e}"))?;
    if raw.len() as u64 != raw_len {
        return Err(format!(
            "unpacked to {} bytes, expected {raw_len}",
            raw.len()
        ));
    }
    Ok(raw)
}

/// Reads and validates a day archive against its site's dictionaries, then
/// rebuilds the derived indexes.
pub(crate) fn decode_day(bytes: &[u8], d: &SiteDicts) -> ReadResult<DayArchive> {
    let raw = decompress(open(Kind::Day, bytes)?)?;
    let mut r = Reader::new(&raw);
    let mut a = DayArchive {
        visitor: r.u32s()?,
        action_offsets: r.u32s()?,
        rank_in_day: r.u32s()?,
        entry_url: r.u32s()?,
        exit_url: r.u32s()?,
        referrer_type: r.u8s()?,
        ..DayArchive::default()
    };
    for f in 0..N_VFIELDS {
        a.fields[f] = r.u32s()?;
        a.field_carriers[f] = r.u32s()?;
    }
    let dims = r.u32()?;
    for _ in 0..dims {
        a.dims.push(DimColumn {
            name: r.u32()?,
            values: r.u32s()?,
            carriers: r.u32s()?,
            index: Default::default(),
        });
    }
    a.a_kind = r
        .u8s()?
        .into_iter()
        .map(|k| {
            KINDS
                .get(usize::from(k))
                .copied()
                .ok_or(format!("unknown action kind {k}"))
        })
        .collect::<ReadResult<_>>()?;
    let mut prev = 0i64;
    a.a_ts = r
        .i64s()?
        .into_iter()
        .map(|d| {
            prev = prev.wrapping_add(d);
            prev
        })
        .collect();
    a.a_url = r.u32s()?;
    a.a_title = r.u32s()?;
    let x = ExtraColumns {
        keyword: r.u32s()?,
        ev_category: r.u32s()?,
        ev_action: r.u32s()?,
        ev_name: r.u32s()?,
        ev_value: r.f64s()?,
    };
    let visitors = r.bitmap()?;
    let users = r.bitmap()?;
    r.finish()?;
    validate(&a, &x, d)?;
    let columns = x.keyword.iter().zip(&x.ev_category).zip(&x.ev_action);
    let columns = columns.zip(&x.ev_name).zip(&x.ev_value);
    for (i, ((((&keyword, &ev_category), &ev_action), &ev_name), &ev_value)) in columns.enumerate() {
        let extra = Extra {
            keyword,
            ev_category,
            ev_action,
            ev_name,
            ev_value,
        };
        a.a_extras.push(i, extra);
    }
    derive_times(&mut a);
    a.rebuild_indexes();
    if a.visitors != visitors || a.users != users {
        return Err("the stored visitor or user bitmap does not match the visit columns".into());
    }
    Ok(a)
}

fn ids_ok(col: &[u32], dict: &Dict, optional: bool, what: &str) -> ReadResult<()> {
    let n = dict.len() as u32;
    match col
        .iter()
        .find(|&&id| !((optional && id == NONE) || id < n))
    {
        None => Ok(()),
        Some(id) => Err(format!(
            "{what} id {id} is not in the site's dictionary of {n}"
        )),
    }
}

fn len_ok(len: usize, want: usize, what: &str) -> ReadResult<()> {
    if len == want {
        Ok(())
    } else {
        Err(format!("{what} has {len} entries, expected {want}"))
    }
}

/// A day file's keyword and event columns, one value per action, as read
/// (checked, then kept for the actions that have any).
struct ExtraColumns {
    keyword: Vec<u32>,
    ev_category: Vec<u32>,
    ev_action: Vec<u32>,
    ev_name: Vec<u32>,
    ev_value: Vec<f64>,
}

fn validate(a: &DayArchive, x: &ExtraColumns, d: &SiteDicts) -> ReadResult<()> {
    let v = a.visitor.len();
    for (len, what) in [
        (a.rank_in_day.len(), "visit ranks"),
        (a.entry_url.len(), "entry pages"),
        (a.exit_url.len(), "exit pages"),
        (a.referrer_type.len(), "referrer types"),
    ] {
        len_ok(len, v, what)?;
    }
    len_ok(a.action_offsets.len(), v + 1, "action offsets")?;
    let n = a.a_kind.len();
    if a.action_offsets.first() != Some(&0)
        || a.action_offsets.last() != Some(&(n as u32))
        || a.action_offsets.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(
            "action offsets must rise from 0 to the action count, one or more per visit".into(),
        );
    }
    for (len, what) in [
        (a.a_ts.len(), "action times"),
        (a.a_url.len(), "action URLs"),
        (a.a_title.len(), "action titles"),
        (x.keyword.len(), "keywords"),
        (x.ev_category.len(), "event categories"),
        (x.ev_action.len(), "event actions"),
        (x.ev_name.len(), "event names"),
        (x.ev_value.len(), "event values"),
    ] {
        len_ok(len, n, what)?;
    }
    if a.visitor.windows(2).any(|w| w[0] > w[1]) {
        return Err("visits must be sorted by visitor".into());
    }
    ids_ok(&a.visitor, &d.visitors, false, "visitor")?;
    if a.rank_in_day.iter().any(|&r| r as usize >= v.max(1)) {
        return Err("a visit rank is larger than the day's visit count".into());
    }
    if a.referrer_type
        .iter()
        .any(|&t| usize::from(t) >= ReferrerType::ALL.len())
    {
        return Err("unknown referrer type".into());
    }
    ids_ok(&a.entry_url, &d.urls, true, "entry URL")?;
    ids_ok(&a.exit_url, &d.urls, true, "exit URL")?;
    for f in 0..N_VFIELDS {
        len_ok(a.fields[f].len(), v, "visit field")?;
        len_ok(a.field_carriers[f].len(), v, "visit field carriers")?;
        ids_ok(&a.fields[f], d.field(f), true, "visit field value")?;
        carriers_ok(a, &a.fields[f], &a.field_carriers[f])?;
    }
    let mut last_name = None;
    for col in &a.dims {
        if last_name.is_some_and(|l| l >= col.name) {
            return Err("dimension columns must be sorted by name, each once".into());
        }
        last_name = Some(col.name);
        ids_ok(&[col.name], &d.dim_names, false, "dimension name")?;
        len_ok(col.values.len(), v, "dimension values")?;
        len_ok(col.carriers.len(), v, "dimension carriers")?;
        ids_ok(&col.values, &d.dim_values, true, "dimension value")?;
        carriers_ok(a, &col.values, &col.carriers)?;
    }
    ids_ok(&a.a_url, &d.urls, true, "action URL")?;
    ids_ok(&a.a_title, &d.titles, true, "title")?;
    ids_ok(&x.keyword, &d.keywords, true, "keyword")?;
    ids_ok(&x.ev_category, &d.events, true, "event category")?;
    ids_ok(&x.ev_action, &d.events, true, "event action")?;
    ids_ok(&x.ev_name, &d.events, true, "event name")?;
    for i in 0..n {
        let needs = match a.a_kind[i] {
            HitType::Pageview | HitType::Download | HitType::Outlink => a.a_url[i] != NONE,
            HitType::Search => x.keyword[i] != NONE,
            HitType::Event => x.ev_category[i] != NONE && x.ev_action[i] != NONE,
        };
        if !needs {
            return Err(format!("action {i} lacks the field its kind requires"));
        }
        if !(MIN_TS..=MAX_TS).contains(&a.a_ts[i]) {
            return Err(format!("action {i} has a time outside 1970..9999"));
        }
    }
    for visit in 0..v as u32 {
        let r = a.actions_of(visit);
        if a.a_ts[r].windows(2).any(|w| w[0] > w[1]) {
            return Err(format!("visit {visit}'s actions are not in time order"));
        }
    }
    Ok(())
}

/// Visit starts, lengths and times spent, from the (validated) action times.
fn derive_times(a: &mut DayArchive) {
    let visits = a.visitor.len() as u32;
    a.start = Vec::with_capacity(visits as usize);
    a.length = Vec::with_capacity(visits as usize);
    a.a_time_spent = vec![0; a.a_ts.len()];
    for v in 0..visits {
        let r = a.actions_of(v);
        let (first, last) = (a.a_ts[r.start], a.a_ts[r.end - 1]);
        a.start.push(first);
        a.length.push(if r.len() == 1 {
            0
        } else {
            (1 + last - first) as u32
        });
        for i in r.start..r.end - 1 {
            a.a_time_spent[i] = (a.a_ts[i + 1] - a.a_ts[i]) as u32;
        }
    }
}

/// A value and its carrier are both set or both missing, and the carrier
/// is one of the visit's actions.
fn carriers_ok(a: &DayArchive, values: &[u32], carriers: &[u32]) -> ReadResult<()> {
    for (visit, (&value, &carrier)) in values.iter().zip(carriers).enumerate() {
        let actions = a.actions_of(visit as u32).len() as u32;
        let ok = if value == NONE {
            carrier == NONE
        } else {
            carrier < actions
        };
        if !ok {
            return Err(format!(
                "visit {visit} has a value without a carrying action"
            ));
        }
    }
    Ok(())
}

/// The site's dictionaries, in the order FORMAT.md gives.
fn dicts_in_order(d: &SiteDicts) -> [&Dict; 15] {
    [
        &d.visitors,
        &d.users,
        &d.referrers,
        &d.values[0],
        &d.values[1],
        &d.values[2],
        &d.values[3],
        &d.values[4],
        &d.urls,
        &d.titles,
        &d.keywords,
        &d.events,
        &d.dim_names,
        &d.dim_values,
        &d.pages,
    ]
}

/// The dictionaries as a sealed file.
pub(crate) fn encode_dicts(d: &SiteDicts) -> Vec<u8> {
    let mut w = Writer::default();
    // Page labels are derived from URLs on load; everything else is stored.
    for dict in &dicts_in_order(d)[..14] {
        w.u64(dict.len() as u64);
        for (_, s) in dict.iter() {
            w.str(s);
        }
    }
    seal(Kind::Dicts, &w.buf)
}

/// Reads dictionaries; ids come back as they were (first-seen order).
pub(crate) fn decode_dicts(bytes: &[u8]) -> ReadResult<SiteDicts> {
    let mut r = Reader::new(open(Kind::Dicts, bytes)?);
    let mut d = SiteDicts::default();
    for which in 0..14 {
        let n = r.u64()?;
        for i in 0..n {
            let s = r.str()?;
            let id = match which {
                0 => d.visitors.intern(&s),
                1 => d.users.intern(&s),
                2 => d.referrers.intern(&s),
                3..=7 => d.values[which - 3].intern(&s),
                8 => d.intern_url(&s),
                9 => d.titles.intern(&s),
                10 => d.keywords.intern(&s),
                11 => d.events.intern(&s),
                12 => d.dim_names.intern(&s),
                _ => d.dim_values.intern(&s),
            };
            if u64::from(id) != i {
                return Err(format!("dictionary {which} repeats the value {s:?}"));
            }
        }
    }
    r.finish()?;
    Ok(d)
}

/// The visitor table (`SiteState::visitor_days`) as a sealed file, so a
/// lazy reader knows every visitor's earlier visits without loading
/// earlier days: per visitor (id order) the number of days with visits,
/// then every entry's day (days since 0001-01-01) and visit count, as
/// three zstd-packed `u32` columns.
pub(crate) fn encode_history(table: &[Vec<crate::engine::VisitorDay>]) -> Vec<u8> {
    let mut w = Writer::default();
    let counts: Vec<u32> = table.iter().map(|e| e.len() as u32).collect();
    let days: Vec<u32> = table
        .iter()
        .flatten()
        .map(|e| e.day.num_days_from_ce() as u32)
        .collect();
    let visits: Vec<u32> = table.iter().flatten().map(|e| e.visits).collect();
    w.u32s(&counts);
    w.u32s(&days);
    w.u32s(&visits);
    seal(Kind::History, &compress(&w.buf))
}

/// Reads a visitor table for `visitors` visitor ids, with each entry's
/// `before` (visits on earlier days) summed again.
pub(crate) fn decode_history(
    bytes: &[u8],
    visitors: usize,
) -> ReadResult<Vec<Vec<crate::engine::VisitorDay>>> {
    let raw = decompress(open(Kind::History, bytes)?)?;
    let mut r = Reader::new(&raw);
    let (counts, days, visits) = (r.u32s()?, r.u32s()?, r.u32s()?);
    r.finish()?;
    if counts.len() > visitors {
        return Err(format!(
            "holds {} visitors, the dictionaries {visitors}",
            counts.len()
        ));
    }
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    if total != days.len() as u64 || days.len() != visits.len() {
        return Err("column lengths disagree".into());
    }
    let mut table = Vec::with_capacity(visitors);
    let mut at = 0usize;
    for &c in &counts {
        let mut entries = Vec::with_capacity(c as usize);
        let mut before = 0u32;
        for (&d, &n) in days[at..at + c as usize].iter().zip(&visits[at..]) {
            let day = i32::try_from(d)
                .ok()
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .ok_or_else(|| format!("day number {d} is not a date"))?;
            if entries
                .last()
                .is_some_and(|e: &crate::engine::VisitorDay| e.day >= day)
            {
                return Err("a visitor's days are not in order".into());
            }
            entries.push(crate::engine::VisitorDay {
                day,
                visits: n,
                before,
            });
            before = before.saturating_add(n);
        }
        at += c as usize;
        table.push(entries);
    }
    table.resize(visitors, Vec::new());
    Ok(table)
}

/// A site configuration as a sealed file (JSON body).
pub(crate) fn encode_config(c: &crate::site::SiteConfig) -> Vec<u8> {
    seal(
        Kind::Config,
        &serde_json::to_vec(c).expect("config serializes"),
    )
}

/// Reads a site configuration.
pub(crate) fn decode_config(bytes: &[u8]) -> ReadResult<crate::site::SiteConfig> {
    serde_json::from_slice(open(Kind::Config, bytes)?)
        .map_err(|e| format!("unreadable site configuration: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `store` fuzz target: a day claiming ~4 GB unpacked
    /// made the decoder allocate it up front.
    #[test]
    fn a_claimed_length_is_not_an_allocation() {
        let mut body = vec![ZSTD];
        body.extend_from_slice(&0xF500_01D5u64.to_le_bytes());
        body.extend(zstd::bulk::compress(b"tiny", 3).unwrap());
        let err = decompress(&body).unwrap_err();
        assert!(err.contains("unpacked to 4 bytes"), "{err}");
        assert!(decode_day(&seal(Kind::Day, &body), &SiteDicts::default()).is_err());
    }
    use proptest::prelude::*;

    /// The raw (uncompressed) body of a small but varied day archive, and
    /// the dictionaries it refers to.
    fn sample() -> (Vec<u8>, SiteDicts) {
        let mut e = crate::Engine::in_memory();
        let cfg = crate::sample::SampleConfig {
            days: 1,
            visitors: 30,
            ..Default::default()
        };
        e.add_site(crate::sample::site_config(&cfg)).unwrap();
        e.ingest(crate::sample::generate(&cfg)).unwrap();
        e.seal().unwrap();
        let site = &e.sites[&1];
        let archive = site.days.values().next().unwrap();
        let sealed = encode_day(archive);
        let body = open(Kind::Day, &sealed).unwrap();
        (decompress(body).unwrap(), site.dicts.clone())
    }

    /// Looks up every id the way queries do: any id a query could trip
    /// over panics here instead.
    fn touch_everything(a: &DayArchive, d: &SiteDicts) {
        for v in 0..a.visit_count() {
            let _ = d.visitors.value(a.visitor[v as usize]);
            let _ = (
                d.urls.opt(a.entry_url[v as usize]),
                d.urls.opt(a.exit_url[v as usize]),
            );
            for f in 0..N_VFIELDS {
                let _ = d.field(f).opt(a.fields[f][v as usize]);
            }
            for col in &a.dims {
                let _ = (
                    d.dim_names.value(col.name),
                    d.dim_values.opt(col.values[v as usize]),
                );
            }
            let _ = ReferrerType::ALL[usize::from(a.referrer_type[v as usize])];
            for i in a.actions_of(v) {
                if a.a_url[i] != NONE {
                    let u = a.a_url[i];
                    let _ = (d.urls.value(u), d.pages.value(d.page_of_url[u as usize]));
                }
                let x = a.extra(i);
                let _ = (d.titles.opt(a.a_title[i]), d.keywords.opt(x.keyword));
                let _ = (
                    d.events.opt(x.ev_category),
                    d.events.opt(x.ev_action),
                    d.events.opt(x.ev_name),
                );
            }
        }
    }

    #[test]
    fn day_round_trips() {
        let (raw, dicts) = sample();
        let a = decode_day(&seal(Kind::Day, &compress(&raw)), &dicts).unwrap();
        assert_eq!(encode_day(&a), seal(Kind::Day, &compress(&raw)));
    }

    proptest! {
        /// A body that passes the checksum but was changed anywhere is an
        /// error or a valid archive, never a panic.
        #[test]
        fn mutated_bodies_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
            let (mut raw, dicts) = sample();
            for (at, byte) in edits {
                let i = at.index(raw.len());
                raw[i] = byte;
            }
            if let Ok(a) = decode_day(&seal(Kind::Day, &compress(&raw)), &dicts) {
                touch_everything(&a, &dicts);
            }
            let short = &raw[..cut.index(raw.len())];
            prop_assert!(decode_day(&seal(Kind::Day, &compress(short)), &dicts).is_err() || short.len() == raw.len());
        }
    }
}
