//! Day archives and dictionaries to bytes and back (FORMAT.md). Decoding
//! validates every length and id against the site's dictionaries, so a
//! damaged or crafted file is an error, never a panic at query time.

use crate::archive::{Columns, DayArchive, DayTotals, DimColumn};
use roaring::RoaringBitmap;
use crate::dict::{Dict, NONE};
use crate::hit::{HitType, MAX_TS, MIN_TS};
use crate::raw::{Extra, N_VFIELDS, SiteDicts};
use crate::referrer::ReferrerType;
use crate::fsum::ExactSum;
use crate::rollup::reports::{
    ACTION_TABLES, ActionCounts, EventCounts, GroupKey, Reports, Row, StoredReports, Table,
    VisitTable, Which,
};
use crate::visit_key::{EVENT_TABLES, VisitGroup};

use super::codec::{Kind, ReadResult, Reader, Writer, open, open_versioned, seal};
use chrono::{Datelike, NaiveDate};

const KINDS: [HitType; 5] = [
    HitType::Pageview,
    HitType::Download,
    HitType::Outlink,
    HitType::Search,
    HitType::Event,
];

/// Sections of a version 3 day file, in file order (FORMAT.md): each
/// compressed on its own, so a reader unpacks only the columns its
/// question needs.
mod sec {
    pub(super) const VISITS: usize = 0;
    pub(super) const REFERRER_TYPES: usize = 1;
    /// Visit field `f`'s values at `FIELDS + f`, its carriers at
    /// `CARRIERS + f`.
    pub(super) const FIELDS: usize = 2;
    pub(super) const CARRIERS: usize = 9;
    pub(super) const DIM_VALUES: usize = 16;
    pub(super) const DIM_CARRIERS: usize = 17;
    pub(super) const KINDS: usize = 18;
    pub(super) const TIMES: usize = 19;
    pub(super) const URLS: usize = 20;
    pub(super) const TITLES: usize = 21;
    pub(super) const EXTRAS: usize = 22;
    pub(super) const COUNT: usize = 23;
    /// The recorded conversions: a 24th section, in version 6 files
    /// (written only for days that have conversions).
    pub(super) const CONVERSIONS: usize = 23;
    /// The actions' load timings and bandwidth: a 25th section, in
    /// version 14 files (written only for days that have any).
    pub(super) const PERF: usize = 24;
    /// The site searches' categories and result counts: a 26th section,
    /// in version 15 files (written only for days that have any).
    pub(super) const SEARCH: usize = 25;
}

/// A day archive as a sealed file (format version 3; FORMAT.md).
///
/// Everything that follows from other columns is left out (visit ranks,
/// entry and exit pages, the visitor and user bitmaps, visit starts,
/// lengths and times spent), and what is stored is shaped so that zstd
/// finds little left to squeeze: sorted columns as differences, ids as
/// varints, times as offsets within the day and the visit, each title as
/// "the same as this URL's last one", keywords and events only for the
/// actions that have them. Each column group is a section of its own
/// ([`day_sections`]), so a question reads only the groups it needs.
pub(crate) fn encode_day(a: &DayArchive) -> Vec<u8> {
    let mut sections = day_sections(a);
    // A version 18 file (contents) has every later section, as a version
    // 15 one has the timings' section.
    let contents = a.views.iter().any(|r| r.kind == HitType::Content);
    let perf = contents || a.a_extras.iter().any(|(_, x)| !x.perf.is_none());
    let search = contents || a.a_extras.iter().any(|(_, x)| x.has_search_details());
    if a.conversions.is_empty() && a.views.is_empty() && !perf && !search {
        return seal(Kind::Day, &pack_day(a.visitor.len(), a.a_kind.len(), &sections));
    }
    sections.push(conversions_section(a));
    if perf || search {
        sections.push(perf_section(a));
    }
    if search {
        sections.push(search_section(a));
    }
    let empty_visits = (0..a.visitor.len() as u32).any(|v| a.actions_of(v).is_empty());
    super::codec::seal_in(
        Kind::Day,
        if contents {
            super::codec::CONTENTS_VERSION
        } else if search {
            super::codec::SEARCH_VERSION
        } else if perf {
            super::codec::PERF_VERSION
        } else if empty_visits {
            super::codec::EMPTY_VISITS_VERSION
        } else if a.views.is_empty() {
            super::codec::CONVERSIONS_VERSION
        } else {
            super::codec::VIEWS_VERSION
        },
        &pack_day(a.visitor.len(), a.a_kind.len(), &sections),
    )
}

/// The actions' load timings and bandwidth: how many actions have any,
/// then for each its position (as the difference from the last one's
/// next), a byte of which of the seven values it has
/// ([`crate::hit::Perf::FIELDS`] order, bit 0 first) and those values.
fn perf_section(a: &DayArchive) -> Vec<u8> {
    let mut w = Writer::default();
    let with = || a.a_extras.iter().filter(|(_, x)| !x.perf.is_none());
    w.var(with().count() as u64);
    let mut next = 0;
    for (i, x) in with() {
        w.var((i - next) as u64);
        next = i + 1;
        let values: Vec<(usize, u64)> = (0..7).filter_map(|f| Some((f, x.perf.get(f)?))).collect();
        w.buf.push(values.iter().fold(0u8, |m, (f, _)| m | 1 << f));
        for (_, v) in values {
            w.var(v);
        }
    }
    w.buf
}

/// The site searches' categories and result counts: how many searches
/// have either, then for each its position (as the difference from the
/// last one's next), a byte of which it has (bit 0 a category, bit 1 a
/// count) and those (the category's values dictionary id, the count).
fn search_section(a: &DayArchive) -> Vec<u8> {
    let mut w = Writer::default();
    let with = || a.a_extras.iter().filter(|(_, x)| x.has_search_details());
    w.var(with().count() as u64);
    let mut next = 0;
    for (i, x) in with() {
        w.var((i - next) as u64);
        next = i + 1;
        let cat = (x.search_cat != NONE).then_some(x.search_cat);
        w.buf
            .push(u8::from(cat.is_some()) | u8::from(x.search_count.is_some()) << 1);
        for v in [cat, x.search_count].into_iter().flatten() {
            w.var(u64::from(v));
        }
    }
    w.buf
}

/// [`search_section`] back, into the archive's action extras.
fn read_search(r: &mut Reader<'_>, actions: usize, a: &mut DayArchive) -> ReadResult<()> {
    let n = r.var_count()?;
    let mut cells = Vec::with_capacity(n.min(r.rest_len()));
    let mut next = 0usize;
    for _ in 0..n {
        let at = next_action(r, &mut next, actions, "a site search category belongs to no action")?;
        let mask = r.bytes(1)?[0];
        if mask == 0 || mask & !3 != 0 {
            return Err(format!("bad site search flags {mask:#x}"));
        }
        let cat = if mask & 1 != 0 { r.var_u32()? } else { NONE };
        let count = if mask & 2 != 0 { Some(r.var_u32()?) } else { None };
        cells.push((at, (cat, count)));
    }
    a.a_extras.merge_search(cells);
    Ok(())
}

/// [`perf_section`] back, into the archive's action extras.
fn read_perf(r: &mut Reader<'_>, actions: usize, a: &mut DayArchive) -> ReadResult<()> {
    let n = r.var_count()?;
    let mut cells = Vec::with_capacity(n.min(r.rest_len()));
    let mut next = 0usize;
    for _ in 0..n {
        let at = next_action(r, &mut next, actions, "a load timing belongs to no action")?;
        let mask = r.bytes(1)?[0];
        if mask == 0 || mask & 0x80 != 0 {
            return Err(format!("bad load timing flags {mask:#x}"));
        }
        let mut values = [None; 7];
        for (f, v) in values.iter_mut().enumerate() {
            if mask & 1 << f != 0 {
                let x = r.var()?;
                if x > crate::hit::Perf::max(f) {
                    return Err(format!("a load timing or bandwidth of {x} is out of range"));
                }
                *v = Some(x);
            }
        }
        cells.push((at, crate::raw::PerfCells::of(&values)));
    }
    a.a_extras.merge_perf(cells);
    Ok(())
}

/// An action row's load timings and bandwidth in a report rollup (format
/// version 14): a byte of which of the seven values its actions had (0:
/// none), then for each such value the count, sum, least and most, then
/// (when it had timings) how many page views had any.
fn write_perf_sums(w: &mut Writer, p: Option<&crate::rollup::reports::PerfSums>) {
    let mask = p.map_or(0u8, |p| (0..7).fold(0, |m, f| m | u8::from(p.hits[f] > 0) << f));
    w.buf.push(mask);
    if let Some(p) = p {
        for f in (0..7).filter(|f| mask & 1 << f != 0) {
            for v in [p.hits[f], p.sum[f], p.min[f], p.max[f]] {
                w.var(v);
            }
        }
        if mask & 0x3f != 0 {
            w.var(p.timed);
        }
    }
}

fn read_perf_sums(r: &mut Reader<'_>) -> ReadResult<Option<crate::rollup::reports::PerfSums>> {
    let mask = r.bytes(1)?[0];
    if mask == 0 {
        return Ok(None);
    }
    if mask & 0x80 != 0 {
        return Err(format!("bad load timing flags {mask:#x}"));
    }
    let mut p = crate::rollup::reports::PerfSums::default();
    for f in (0..7).filter(|f| mask & 1 << f != 0) {
        let (hits, sum, min, max) = (r.var()?, r.var()?, r.var()?, r.var()?);
        if hits == 0 || min > max || sum < max {
            return Err("a report row's load timings disagree".into());
        }
        (p.hits[f], p.sum[f], p.min[f], p.max[f]) = (hits, sum, min, max);
    }
    if mask & 0x3f != 0 {
        p.timed = r.var()?;
        let most = (0..6).map(|f| p.hits[f]).max().unwrap_or(0);
        let all: u64 = (0..6).map(|f| p.hits[f]).sum();
        if p.timed < most || p.timed > all {
            return Err("a report row's timed page views disagree".into());
        }
    }
    Ok(Some(p))
}

/// An optional number: a flag byte, then the bits if there is one.
fn opt_f64(w: &mut Writer, v: Option<f64>) {
    match v {
        None => w.buf.push(0),
        Some(x) => {
            w.buf.push(1);
            w.buf.extend_from_slice(&x.to_bits().to_le_bytes());
        }
    }
}

fn read_opt_f64(r: &mut Reader<'_>) -> ReadResult<Option<f64>> {
    match r.bytes(1)?[0] {
        0 => Ok(None),
        1 => Ok(Some(f64::from_bits(r.u64()?))),
        b => Err(format!("bad number flag {b}")),
    }
}

fn opt_str(w: &mut Writer, v: Option<&str>) {
    match v {
        None => w.var(0),
        Some(s) => {
            w.var(s.len() as u64 + 1);
            w.buf.extend_from_slice(s.as_bytes());
        }
    }
}

fn read_opt_str(r: &mut Reader<'_>) -> ReadResult<Option<String>> {
    match r.var_count()? {
        0 => Ok(None),
        n => String::from_utf8(r.bytes(n - 1)?.to_vec())
            .map(Some)
            .map_err(|_| "a conversion's text is not UTF-8".to_string()),
    }
}

/// The recorded conversions: their count, then each one's visit, visitor,
/// time, kind, URL, visit id and data (FORMAT.md).
fn conversions_section(a: &DayArchive) -> Vec<u8> {
    let mut w = Writer::default();
    w.var((a.conversions.len() + a.views.len()) as u64);
    for r in a.conversions.iter().chain(&a.views) {
        w.var(opt_id(r.visit));
        w.var(u64::from(r.visitor));
        w.buf.extend_from_slice(&r.ts.to_le_bytes());
        w.buf.push(r.kind as u8);
        w.var(opt_id(r.url));
        w.var(opt_id(r.key));
        let c = &r.data;
        w.var(c.goal.map_or(0, |g| u64::from(g) + 1));
        opt_f64(&mut w, c.revenue);
        opt_str(&mut w, c.order_id.as_deref());
        for v in [c.subtotal, c.tax, c.shipping, c.discount] {
            opt_f64(&mut w, v);
        }
        w.var(c.items.len() as u64);
        for i in &c.items {
            opt_str(&mut w, Some(&i.sku));
            opt_str(&mut w, i.name.as_deref());
            w.var(i.categories.len() as u64);
            for cat in &i.categories {
                opt_str(&mut w, Some(cat));
            }
            opt_f64(&mut w, i.price);
            w.var(i.quantity.map_or(0, |q| u64::from(q) + 1));
        }
        if r.kind == HitType::Content {
            let content = c.content.clone().unwrap_or_default();
            opt_str(&mut w, Some(&content.name));
            for part in [&content.piece, &content.target, &content.interaction] {
                opt_str(&mut w, part.as_deref());
            }
        }
    }
    w.buf
}

fn read_conversions(r: &mut Reader<'_>, a: &mut DayArchive) -> ReadResult<()> {
    use crate::hit::{Conversion, Item};
    let n = r.var_count()?;
    let mut out = Vec::with_capacity(n.min(r.rest_len()));
    for _ in 0..n {
        let visit = read_opt_id(r)?;
        let visitor = r.var_u32()?;
        let ts = i64::from_le_bytes(r.bytes(8)?.try_into().map_err(|_| "short time")?);
        let kind = match r.bytes(1)?[0] {
            5 => HitType::Goal,
            6 => HitType::Order,
            7 => HitType::Cart,
            8 => HitType::ProductView,
            9 => HitType::Content,
            k => return Err(format!("unknown conversion kind {k}")),
        };
        let url = read_opt_id(r)?;
        let key = read_opt_id(r)?;
        let goal = match r.var()? {
            0 => None,
            g => Some(u32::try_from(g - 1).map_err(|_| "goal id out of range")?),
        };
        let mut c = Conversion {
            goal,
            revenue: read_opt_f64(r)?,
            order_id: read_opt_str(r)?,
            ..Conversion::default()
        };
        c.subtotal = read_opt_f64(r)?;
        c.tax = read_opt_f64(r)?;
        c.shipping = read_opt_f64(r)?;
        c.discount = read_opt_f64(r)?;
        let items = r.var_count()?;
        for _ in 0..items.min(crate::hit::MAX_ITEMS + 1) {
            let sku = read_opt_str(r)?.ok_or("an item without a SKU")?;
            let name = read_opt_str(r)?;
            let cats = r.var_count()?;
            let mut categories = Vec::new();
            for _ in 0..cats.min(6) {
                categories.push(read_opt_str(r)?.ok_or("an empty item category")?);
            }
            let price = read_opt_f64(r)?;
            let quantity = match r.var()? {
                0 => None,
                q => Some(u32::try_from(q - 1).map_err(|_| "item quantity out of range")?),
            };
            c.items.push(Item {
                sku,
                name,
                categories,
                price,
                quantity,
            });
        }
        if kind == HitType::Content {
            c.content = Some(crate::hit::Content {
                name: read_opt_str(r)?.ok_or("a content without a name")?,
                piece: read_opt_str(r)?,
                target: read_opt_str(r)?,
                interaction: read_opt_str(r)?,
            });
        }
        c.validate(kind)?;
        if !(MIN_TS..=MAX_TS).contains(&ts) {
            return Err("a conversion's time is outside 1970..9999".into());
        }
        out.push(crate::recorded::Recorded {
            visit,
            visitor,
            ts,
            kind,
            url,
            key,
            data: c,
            counted: true,
        });
    }
    let (views, mut out): (Vec<_>, Vec<_>) = out
        .into_iter()
        .partition(|r| matches!(r.kind, HitType::ProductView | HitType::Content));
    crate::recorded::derive_counted(&mut out);
    a.conversions = out;
    a.views = views;
    Ok(())
}

/// The body of a version 3 day file: the visit and action counts, the
/// packed length of each section, then the sections, each compressed.
fn pack_day(visits: usize, actions: usize, sections: &[Vec<u8>]) -> Vec<u8> {
    let packed: Vec<Vec<u8>> = sections.iter().map(|s| compress(s)).collect();
    let mut w = Writer::default();
    w.var(visits as u64);
    w.var(actions as u64);
    w.vars(packed.iter().map(|p| p.len() as u64));
    for p in &packed {
        w.buf.extend_from_slice(p);
    }
    w.buf
}

/// A day archive's columns, one byte string per section ([`sec`]).
fn day_sections(a: &DayArchive) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(sec::COUNT);
    let mut w = Writer::default();
    let mut next = |w: &mut Writer| out.push(std::mem::take(&mut w.buf));
    let visits = a.visitor.len();
    let mut prev = 0;
    w.vars(a.visitor.iter().map(|&v| {
        let d = v - prev;
        prev = v;
        u64::from(d)
    }));
    w.vars(a.action_offsets.windows(2).map(|o| u64::from(o[1] - o[0])));
    next(&mut w);
    w.buf.extend_from_slice(&a.referrer_type);
    next(&mut w);
    for f in 0..N_VFIELDS {
        opt_ids(&mut w, &a.fields[f]);
        next(&mut w);
    }
    for f in 0..N_VFIELDS {
        opt_ids(&mut w, &a.field_carriers[f]);
        next(&mut w);
    }
    w.var(a.dims.len() as u64);
    for col in &a.dims {
        w.var(u64::from(col.name));
        opt_ids(&mut w, &col.values);
    }
    next(&mut w);
    for col in &a.dims {
        opt_ids(&mut w, &col.carriers);
    }
    next(&mut w);
    w.buf.extend(a.a_kind.iter().map(|k| *k as u8));
    next(&mut w);
    // Times: the day's first visit start in full, each visit's start as
    // seconds after it, each later action as seconds after the one before
    // (a visit without actions has none: its times are its conversions').
    let base = (0..visits as u32)
        .map(|v| a.actions_of(v))
        .filter(|r| !r.is_empty())
        .map(|r| a.a_ts[r.start])
        .min()
        .unwrap_or(0);
    w.buf.extend_from_slice(&base.to_le_bytes());
    for v in 0..visits as u32 {
        let r = a.actions_of(v);
        if r.is_empty() {
            continue;
        }
        w.var((a.a_ts[r.start] - base) as u64);
        for i in r.start + 1..r.end {
            w.var((a.a_ts[i] - a.a_ts[i - 1]) as u64);
        }
    }
    next(&mut w);
    opt_ids(&mut w, &a.a_url);
    next(&mut w);
    // foldhash: filled for every action of every day written or read with
    // titles (SipHash was a tenth of a cold year's goal question).
    let mut last_title: foldhash::HashMap<u32, u32> = foldhash::HashMapExt::new();
    for (&url, &title) in a.a_url.iter().zip(&a.a_title) {
        let predicted = last_title.insert(url, title).unwrap_or(NONE);
        w.var(if title == predicted {
            0
        } else {
            1 + opt_id(title)
        });
    }
    next(&mut w);
    // Load timings and bandwidth, and site search categories and
    // counts, have sections of their own.
    let extras = || {
        a.a_extras.iter().filter(|(_, x)| {
            !Extra {
                perf: crate::raw::PerfCells::NONE,
                search_cat: NONE,
                search_count: None,
                ..**x
            }
            .is_empty()
        })
    };
    w.var(extras().count() as u64);
    let mut at = 0;
    for (i, x) in extras() {
        w.var((i - at) as u64);
        at = i + 1;
        for id in [x.keyword, x.ev_category, x.ev_action, x.ev_name] {
            w.var(opt_id(id));
        }
        w.buf.extend_from_slice(&x.ev_value.to_bits().to_le_bytes());
    }
    next(&mut w);
    debug_assert_eq!(out.len(), sec::COUNT);
    out
}

/// An optional id as a varint: 0 for none, else the id plus one.
fn opt_id(id: u32) -> u64 {
    if id == NONE { 0 } else { u64::from(id) + 1 }
}

fn opt_ids(w: &mut Writer, ids: &[u32]) {
    for &id in ids {
        w.var(opt_id(id));
    }
}

/// The id an [`opt_id`] varint holds.
fn from_opt_id(v: u64) -> ReadResult<u32> {
    match v {
        0 => Ok(NONE),
        v => u32::try_from(v - 1)
            .ok()
            .filter(|&id| id != NONE)
            .ok_or_else(|| format!("id {} is out of range", v - 1)),
    }
}

fn read_opt_id(r: &mut Reader<'_>) -> ReadResult<u32> {
    from_opt_id(r.var()?)
}

fn read_opt_ids(r: &mut Reader<'_>, n: usize) -> ReadResult<Vec<u32>> {
    // Each id takes a byte at least: a claim past the bytes left is not
    // an allocation.
    let mut out = Vec::with_capacity(n.min(r.rest_len()));
    for _ in 0..n {
        out.push(read_opt_id(r)?);
    }
    Ok(out)
}

/// Codec byte of a compressed body: zstd.
const ZSTD: u8 = 1;
/// Largest body a day file may unpack to (a day of one site).
const MAX_RAW: u64 = 4 << 30;
/// Bodies claiming up to this size unpack in one call into a buffer of
/// their claimed size. The claim is trusted for a reservation of address
/// space only: pages are touched as the frame really unpacks, so a false
/// claim costs no memory, and a frame that unpacks past its claim fails.
/// Larger claims stream, with memory following what the frame unpacks to.
const BULK_RAW: u64 = 256 << 20;

/// `codec (1) | raw length (8) | zstd frame`: columns of small integers
/// compress several-fold.
pub(crate) fn compress(raw: &[u8]) -> Vec<u8> {
    compress_at(raw, 3)
}

/// [`compress`] at zstd's fastest level, for bytes written on a commit's
/// path (the write-ahead log's records).
pub(crate) fn compress_fast(raw: &[u8]) -> Vec<u8> {
    compress_at(raw, 1)
}

fn compress_at(raw: &[u8], level: i32) -> Vec<u8> {
    // This thread's context, reused: a new one for every call allocated
    // and cleared its tables each time (the commit of a batch of days
    // packs hundreds of files).
    thread_local! {
        static PACK: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let packed = PACK
        .with(|cell| {
            let mut cell = cell.borrow_mut();
            let c = match &mut *cell {
                Some(c) => c,
                None => cell.insert(zstd::bulk::Compressor::new(level)?),
            };
            c.set_compression_level(level)?;
            c.compress(raw)
        })
        .expect("compressing into memory cannot fail");
    let mut out = Vec::with_capacity(9 + packed.len());
    out.push(ZSTD);
    out.extend_from_slice(&(raw.len() as u64).to_le_bytes());
    out.extend_from_slice(&packed);
    out
}

/// A file's body unpacked, if it is a hitmap file with a packed body
/// (checksums and kinds not checked: for [`super::files_holding`]).
pub(crate) fn unpacked_body(bytes: &[u8]) -> Option<Vec<u8>> {
    let body = bytes.get(super::codec::HEADER..bytes.len().checked_sub(4)?)?;
    (bytes.starts_with(super::codec::MAGIC) && body.first() == Some(&ZSTD))
        .then(|| decompress(body).ok())
        .flatten()
}

pub(crate) fn decompress(body: &[u8]) -> ReadResult<Vec<u8>> {
    use std::io::Read;
    let (Some(&ZSTD), Some(len), Some(frame)) = (body.first(), body.get(1..9), body.get(9..))
    else {
        return Err("unknown body codec (expected zstd)".into());
    };
    let raw_len = u64::from_le_bytes(len.try_into().map_err(|_| "short header".to_string())?);
    if raw_len > MAX_RAW {
        return Err(format!(
            "claims {raw_len} bytes unpacked, more than a store file may hold"
        ));
    }
    if raw_len <= BULK_RAW {
        // One call with this thread's reused context, into at most the
        // claim (no copies of a growing buffer).
        thread_local! {
            static UNPACK: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
                const { std::cell::RefCell::new(None) };
        }
        let mut raw = Vec::with_capacity(raw_len as usize);
        let n = UNPACK.with(|cell| {
            let mut cell = cell.borrow_mut();
            let d = match &mut *cell {
                Some(d) => d,
                None => cell.insert(zstd::bulk::Decompressor::new().map_err(|e| e.to_string())?),
            };
            d.decompress_to_buffer(frame, &mut raw)
                .map_err(|e| format!("cannot unpack: {e}"))
        })?;
        if n as u64 != raw_len {
            return Err(format!("unpacked to {n} bytes, expected {raw_len}"));
        }
        return Ok(raw);
    }
    // Reading stops one byte past the claim.
    let mut raw = Vec::with_capacity(1 << 20);
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

/// Reads and validates a day archive against its site's dictionaries (any
/// format version this build knows), then rebuilds what is derived.
pub(crate) fn decode_day(bytes: &[u8], d: &SiteDicts) -> ReadResult<DayArchive> {
    decode_day_columns(bytes, d, Columns::ALL)
}

/// [`decode_day`] for the column groups `cols` (a version 3 file unpacks
/// only those sections; older versions are read whole).
pub(crate) fn decode_day_columns(
    bytes: &[u8],
    d: &SiteDicts,
    cols: Columns,
) -> ReadResult<DayArchive> {
    let (version, body) = open_versioned(Kind::Day, bytes)?;
    let (mut a, claims) = match version {
        1 => {
            let (a, claims) = decode_day_v1(&decompress(body)?)?;
            (a, Some(claims))
        }
        2 => (decode_day_v2(&decompress(body)?)?, None),
        v => (decode_day_v3(body, cols, v)?, None),
    };
    validate(&a, d)?;
    a.derive_visit_columns();
    a.build_indexes();
    if let Some(c) = claims {
        // Version 1 stored what version 2 derives: it must agree.
        if c.rank_in_day != a.rank_in_day || c.entry_url != a.entry_url || c.exit_url != a.exit_url
        {
            return Err(
                "the stored visit ranks or entry and exit pages do not match the actions".into(),
            );
        }
        if a.visitors != c.visitors || a.users != c.users {
            return Err("the stored visitor or user bitmap does not match the visit columns".into());
        }
    }
    Ok(a)
}

/// What a version 1 day file stored besides the columns, all of it
/// derivable: checked against what the columns give.
struct V1Claims {
    rank_in_day: Vec<u32>,
    entry_url: Vec<u32>,
    exit_url: Vec<u32>,
    visitors: roaring::RoaringBitmap,
    users: roaring::RoaringBitmap,
}

/// The version 2 body: version 3's sections end to end, uncompressed,
/// each field's carriers after its values and each dimension's name,
/// values and carriers together.
fn decode_day_v2(raw: &[u8]) -> ReadResult<DayArchive> {
    let mut r = Reader::new(raw);
    let visits = r.var_count()?;
    let actions = r.var()?;
    let actions = usize::try_from(actions)
        .ok()
        .filter(|&n| n <= raw.len())
        .ok_or_else(|| format!("claims {actions} actions, more than the body holds"))?;
    let mut a = DayArchive::default();
    read_visits(&mut r, visits, &mut a)?;
    a.referrer_type = r.bytes(visits)?.to_vec();
    for f in 0..N_VFIELDS {
        a.fields[f] = read_opt_ids(&mut r, visits)?;
        a.field_carriers[f] = read_opt_ids(&mut r, visits)?;
    }
    let dims = r.var_count()?;
    for _ in 0..dims {
        a.dims.push(DimColumn {
            name: r.var_u32()?,
            values: read_opt_ids(&mut r, visits)?,
            carriers: read_opt_ids(&mut r, visits)?,
            index: Default::default(),
        });
    }
    a.a_kind = kinds(r.bytes(actions)?)?;
    // Offsets are checked before the times are spread over the visits.
    offsets_ok(&a, actions, false)?;
    read_times(&mut r, &mut a)?;
    a.a_url = read_opt_ids(&mut r, actions)?;
    read_titles(&mut r, &mut a)?;
    read_extras(&mut r, actions, &mut a)?;
    r.finish()?;
    Ok(a)
}

/// The version 3 body ([`pack_day`]), unpacking the sections `cols` needs.
fn decode_day_v3(body: &[u8], cols: Columns, version: u16) -> ReadResult<DayArchive> {
    let mut r = Reader::new(body);
    // Bounded once the visits' section is unpacked: the packed sections
    // of a day of many alike visits take fewer bytes than it has visits.
    let visits = r.var()?;
    let actions = r.var()?;
    let lens = r.vars_u32()?;
    let with_conversions = version >= super::codec::CONVERSIONS_VERSION;
    let with_perf = version >= super::codec::PERF_VERSION;
    let with_search = version >= super::codec::SEARCH_VERSION;
    len_ok(
        lens.len(),
        sec::COUNT
            + usize::from(with_conversions)
            + usize::from(with_perf)
            + usize::from(with_search),
        "day sections",
    )?;
    let mut packed = Vec::with_capacity(sec::COUNT);
    for &len in &lens {
        packed.push(r.bytes(len as usize)?);
    }
    r.finish()?;
    let section = |i: usize| decompress(packed[i]);
    let mut a = DayArchive {
        cols,
        ..DayArchive::default()
    };
    let raw = section(sec::VISITS)?;
    // Each visit takes a byte at least of its section.
    let visits = usize::try_from(visits)
        .ok()
        .filter(|&n| n <= raw.len())
        .ok_or_else(|| format!("claims {visits} visits, more than their section holds"))?;
    let mut r = Reader::new(&raw);
    read_visits(&mut r, visits, &mut a)?;
    r.finish()?;
    // The action count is trusted only once the offsets end on it.
    let actions = a
        .action_offsets
        .last()
        .filter(|&&n| u64::from(n) == actions)
        .map(|&n| n as usize)
        .ok_or_else(|| format!("claims {actions} actions, the visits hold another number"))?;
    offsets_ok(
        &a,
        actions,
        version >= super::codec::EMPTY_VISITS_VERSION,
    )?;
    // Each wanted section, read whole by `read`.
    let read = |i: usize, read: &mut dyn FnMut(&mut Reader<'_>) -> ReadResult<()>| {
        let raw = section(i)?;
        let mut r = Reader::new(&raw);
        read(&mut r)?;
        r.finish()
    };
    if cols.has(Columns::REFERRER_TYPE) {
        read(sec::REFERRER_TYPES, &mut |r| {
            a.referrer_type = r.bytes(visits)?.to_vec();
            Ok(())
        })?;
    }
    for f in 0..N_VFIELDS {
        if !cols.has(Columns::field(f)) {
            continue;
        }
        read(sec::FIELDS + f, &mut |r| {
            a.fields[f] = read_opt_ids(r, visits)?;
            Ok(())
        })?;
        if cols.has(Columns::CARRIERS) {
            read(sec::CARRIERS + f, &mut |r| {
                a.field_carriers[f] = read_opt_ids(r, visits)?;
                Ok(())
            })?;
        }
    }
    if cols.has(Columns::DIMS) {
        read(sec::DIM_VALUES, &mut |r| {
            for _ in 0..r.var_count()? {
                a.dims.push(DimColumn {
                    name: r.var_u32()?,
                    values: read_opt_ids(r, visits)?,
                    carriers: Vec::new(),
                    index: Default::default(),
                });
            }
            Ok(())
        })?;
        if cols.has(Columns::CARRIERS) {
            read(sec::DIM_CARRIERS, &mut |r| {
                for col in &mut a.dims {
                    col.carriers = read_opt_ids(r, visits)?;
                }
                Ok(())
            })?;
        }
    }
    if cols.has(Columns::KINDS) {
        read(sec::KINDS, &mut |r| {
            a.a_kind = kinds(r.bytes(actions)?)?;
            Ok(())
        })?;
    }
    if cols.has(Columns::TIMES) {
        read(sec::TIMES, &mut |r| read_times(r, &mut a))?;
    }
    if cols.has(Columns::URLS) {
        read(sec::URLS, &mut |r| {
            a.a_url = read_opt_ids(r, actions)?;
            Ok(())
        })?;
    }
    if cols.has(Columns::TITLES) {
        read(sec::TITLES, &mut |r| read_titles(r, &mut a))?;
    }
    if cols.has(Columns::EXTRAS) {
        read(sec::EXTRAS, &mut |r| read_extras(r, actions, &mut a))?;
        if with_perf {
            read(sec::PERF, &mut |r| read_perf(r, actions, &mut a))?;
        }
        if with_search {
            read(sec::SEARCH, &mut |r| read_search(r, actions, &mut a))?;
        }
    }
    if with_conversions && cols.has(Columns::CONVERSIONS) {
        read(sec::CONVERSIONS, &mut |r| read_conversions(r, &mut a))?;
    }
    Ok(a)
}

/// The visitor column (differences) and the action offsets (counts).
fn read_visits(r: &mut Reader<'_>, visits: usize, a: &mut DayArchive) -> ReadResult<()> {
    let mut prev = 0u32;
    a.visitor = visit_column(r, visits, "visitor ids")?
        .into_iter()
        .map(|d| {
            prev = prev.checked_add(d).ok_or("visitor ids overflow")?;
            Ok(prev)
        })
        .collect::<ReadResult<_>>()?;
    let mut end = 0u32;
    a.action_offsets = std::iter::once(Ok(0))
        .chain(visit_column(r, visits, "action counts")?.into_iter().map(|n| {
            end = end.checked_add(n).ok_or("action offsets overflow")?;
            Ok(end)
        }))
        .collect::<ReadResult<_>>()?;
    Ok(())
}

/// The action times, spread over the visits (whose offsets are checked).
fn read_times(r: &mut Reader<'_>, a: &mut DayArchive) -> ReadResult<()> {
    let base = i64::from_le_bytes(r.bytes(8)?.try_into().map_err(|_| "short time base")?);
    let visits = a.visitor.len() as u32;
    let actions = a.action_offsets.last().map_or(0, |&n| n as usize);
    // Each action takes a byte at least: a claim past the bytes left is
    // not an allocation.
    a.a_ts = Vec::with_capacity(actions.min(r.rest_len()));
    let add = |t: i64, d: u64| {
        i64::try_from(d)
            .ok()
            .and_then(|d| t.checked_add(d))
            .filter(|t| (MIN_TS..=MAX_TS).contains(t))
            .ok_or_else(|| "an action time is outside 1970..9999".to_string())
    };
    for v in 0..visits {
        let r2 = a.actions_of(v);
        if r2.is_empty() {
            continue;
        }
        let mut t = add(base, r.var()?)?;
        a.a_ts.push(t);
        for _ in r2.start + 1..r2.end {
            t = add(t, r.var()?)?;
            a.a_ts.push(t);
        }
    }
    Ok(())
}

/// The titles, each "as this URL's last one" or its own (after the URLs).
fn read_titles(r: &mut Reader<'_>, a: &mut DayArchive) -> ReadResult<()> {
    a.a_title = Vec::with_capacity(a.a_url.len());
    // foldhash: filled for every action of every day written or read with
    // titles (SipHash was a tenth of a cold year's goal question).
    let mut last_title: foldhash::HashMap<u32, u32> = foldhash::HashMapExt::new();
    for &url in &a.a_url {
        let predicted = last_title.get(&url).copied().unwrap_or(NONE);
        let title = match r.var()? {
            0 => predicted,
            v => from_opt_id(v - 1)?,
        };
        last_title.insert(url, title);
        a.a_title.push(title);
    }
    Ok(())
}

/// The next action position of a sparse column: a varint difference from
/// `next` (the previous position plus one), below `actions`; `what` says
/// what belongs to no action otherwise.
fn next_action(
    r: &mut Reader<'_>,
    next: &mut usize,
    actions: usize,
    what: &'static str,
) -> ReadResult<usize> {
    let at = usize::try_from(r.var()?)
        .ok()
        .and_then(|d| next.checked_add(d))
        .filter(|&i| i < actions)
        .ok_or(what)?;
    *next = at + 1;
    Ok(at)
}

/// The keywords and event attributes of the actions that have any.
fn read_extras(r: &mut Reader<'_>, actions: usize, a: &mut DayArchive) -> ReadResult<()> {
    let n = r.var_count()?;
    let mut next = 0usize;
    for _ in 0..n {
        let at = next_action(r, &mut next, actions, "an event or keyword belongs to no action")?;
        let [keyword, ev_category, ev_action, ev_name] = [
            read_opt_id(r)?,
            read_opt_id(r)?,
            read_opt_id(r)?,
            read_opt_id(r)?,
        ];
        let bits = r.bytes(8)?.try_into().map_err(|_| "short event value")?;
        let x = Extra {
            keyword,
            ev_category,
            ev_action,
            ev_name,
            ev_value: f64::from_bits(u64::from_le_bytes(bits)),
            perf: crate::raw::PerfCells::NONE,
            search_cat: NONE,
            search_count: None,
        };
        a.a_extras.push(at, x);
    }
    Ok(())
}

/// A counted varint column that must hold one value per visit.
fn visit_column(r: &mut Reader<'_>, visits: usize, what: &str) -> ReadResult<Vec<u32>> {
    let col = r.vars_u32()?;
    len_ok(col.len(), visits, what)?;
    Ok(col)
}

fn kinds(bytes: &[u8]) -> ReadResult<Vec<HitType>> {
    bytes
        .iter()
        .map(|&k| {
            KINDS
                .get(usize::from(k))
                .copied()
                .ok_or_else(|| format!("unknown action kind {k}"))
        })
        .collect()
}

/// The version 1 body: every column in full, then the visitor and user
/// bitmaps, which must equal the ones rebuilt from the columns.
fn decode_day_v1(raw: &[u8]) -> ReadResult<(DayArchive, V1Claims)> {
    let mut r = Reader::new(raw);
    let mut a = DayArchive {
        visitor: r.u32s()?,
        action_offsets: r.u32s()?,
        ..DayArchive::default()
    };
    let (rank_in_day, entry_url, exit_url) = (r.u32s()?, r.u32s()?, r.u32s()?);
    a.referrer_type = r.u8s()?;
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
    a.a_kind = kinds(&r.u8s()?)?;
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
    let n = a.a_kind.len();
    for (len, what) in [
        (x.keyword.len(), "keywords"),
        (x.ev_category.len(), "event categories"),
        (x.ev_action.len(), "event actions"),
        (x.ev_name.len(), "event names"),
        (x.ev_value.len(), "event values"),
    ] {
        len_ok(len, n, what)?;
    }
    let columns = x.keyword.iter().zip(&x.ev_category).zip(&x.ev_action);
    let columns = columns.zip(&x.ev_name).zip(&x.ev_value);
    for (i, ((((&keyword, &ev_category), &ev_action), &ev_name), &ev_value)) in columns.enumerate() {
        let extra = Extra {
            keyword,
            ev_category,
            ev_action,
            ev_name,
            ev_value,
            perf: crate::raw::PerfCells::NONE,
            search_cat: NONE,
            search_count: None,
        };
        a.a_extras.push(i, extra);
    }
    let claims = V1Claims {
        rank_in_day,
        entry_url,
        exit_url,
        visitors,
        users,
    };
    Ok((a, claims))
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

/// The action offsets rise from 0 to the `n` actions, one or more per
/// visit (none allowed, with `empty_ok`, in files that may hold visits
/// of conversions alone).
fn offsets_ok(a: &DayArchive, n: usize, empty_ok: bool) -> ReadResult<()> {
    len_ok(a.action_offsets.len(), a.visitor.len() + 1, "action offsets")?;
    if a.action_offsets.first() != Some(&0)
        || a.action_offsets.last() != Some(&(n as u32))
        || a.action_offsets
            .windows(2)
            .any(|w| w[0] > w[1] || (w[0] == w[1] && !empty_ok))
    {
        return Err(
            "action offsets must rise from 0 to the action count, one or more per visit".into(),
        );
    }
    Ok(())
}

/// Everything a query relies on: lengths, ids, order, carriers, times
/// (the stored columns the archive holds; derived ones are built after).
fn validate(a: &DayArchive, d: &SiteDicts) -> ReadResult<()> {
    let cols = a.cols;
    let v = a.visitor.len();
    let n = a.action_offsets.last().map_or(0, |&n| n as usize);
    // The decoder checked empty visits against the file's version.
    offsets_ok(a, n, true)?;
    if cols.has(Columns::CONVERSIONS)
        && let Some(v) =
            (0..v as u32).find(|&v| a.actions_of(v).is_empty() && a.conversions_of(v).is_empty() && a.views_of(v).is_empty())
    {
        return Err(format!("visit {v} has neither actions nor conversions"));
    }
    for (len, what, held) in [
        (a.a_kind.len(), "action kinds", Columns::KINDS),
        (a.a_ts.len(), "action times", Columns::TIMES),
        (a.a_url.len(), "action URLs", Columns::URLS),
        (a.a_title.len(), "action titles", Columns::TITLES),
    ] {
        if cols.has(held) {
            len_ok(len, n, what)?;
        }
    }
    if a.visitor.windows(2).any(|w| w[0] > w[1]) {
        return Err("visits must be sorted by visitor".into());
    }
    for c in a.conversions.iter().chain(&a.views) {
        if c.visit != NONE && c.visit as usize >= v {
            return Err(format!("a conversion names visit {} of {v}", c.visit));
        }
        if c.visit != NONE && a.visitor[c.visit as usize] != c.visitor {
            return Err("a conversion's visitor is not its visit's".into());
        }
        if c.visitor as usize >= d.visitors.len()
            || (c.url != NONE && c.url as usize >= d.urls.len())
            || (c.key != NONE && c.key as usize >= d.dim_values.len())
        {
            return Err("a conversion's id is out of range".into());
        }
    }
    if a.conversions.windows(2).any(|w| w[0].visit > w[1].visit)
        || a.views.windows(2).any(|w| w[0].visit > w[1].visit)
    {
        return Err("conversions must be sorted by visit".into());
    }
    ids_ok(&a.visitor, &d.visitors, false, "visitor")?;
    if cols.has(Columns::REFERRER_TYPE) {
        len_ok(a.referrer_type.len(), v, "referrer types")?;
        if a.referrer_type
            .iter()
            .any(|&t| usize::from(t) >= ReferrerType::ALL.len())
        {
            return Err("unknown referrer type".into());
        }
    }
    let carriers = cols.has(Columns::CARRIERS);
    for f in (0..N_VFIELDS).filter(|&f| cols.has(Columns::field(f))) {
        len_ok(a.fields[f].len(), v, "visit field")?;
        ids_ok(&a.fields[f], d.field(f), true, "visit field value")?;
        if carriers {
            len_ok(a.field_carriers[f].len(), v, "visit field carriers")?;
            carriers_ok(a, &a.fields[f], &a.field_carriers[f])?;
        }
    }
    if cols.has(Columns::DIMS) {
        let mut last_name = None;
        for col in &a.dims {
            if last_name.is_some_and(|l| l >= col.name) {
                return Err("dimension columns must be sorted by name, each once".into());
            }
            last_name = Some(col.name);
            ids_ok(&[col.name], &d.dim_names, false, "dimension name")?;
            len_ok(col.values.len(), v, "dimension values")?;
            ids_ok(&col.values, &d.dim_values, true, "dimension value")?;
            if carriers {
                len_ok(col.carriers.len(), v, "dimension carriers")?;
                carriers_ok(a, &col.values, &col.carriers)?;
            }
        }
    }
    if cols.has(Columns::URLS) {
        ids_ok(&a.a_url, &d.urls, true, "action URL")?;
    }
    if cols.has(Columns::TITLES) {
        ids_ok(&a.a_title, &d.titles, true, "title")?;
    }
    let extras = cols.has(Columns::EXTRAS);
    if extras {
        for (_, x) in a.a_extras.iter() {
            ids_ok(&[x.keyword], &d.keywords, true, "keyword")?;
            ids_ok(&[x.ev_category, x.ev_action, x.ev_name], &d.events, true, "event string")?;
            ids_ok(&[x.search_cat], &d.dim_values, true, "search category")?;
        }
    }
    if cols.has(Columns::KINDS) {
        // What each kind requires, as far as the archive holds it.
        let urls = cols.has(Columns::URLS);
        let mut held = a.a_extras.iter().peekable();
        for i in 0..n {
            let x = match held.next_if(|(at, _)| *at == i) {
                Some((_, x)) => *x,
                None => Extra::NONE,
            };
            let needs = match a.a_kind[i] {
                HitType::Pageview | HitType::Download | HitType::Outlink => {
                    !urls || a.a_url[i] != NONE
                }
                HitType::Search => !extras || x.keyword != NONE,
                HitType::Event => !extras || (x.ev_category != NONE && x.ev_action != NONE),
                // Never an action (`kinds` reads only actions' kinds).
                HitType::Goal | HitType::Order | HitType::Cart | HitType::ProductView | HitType::Content => false,
            };
            if !needs {
                return Err(format!("action {i} lacks the field its kind requires"));
            }
            if a.a_kind[i] != HitType::Search && x.has_search_details() {
                return Err(format!(
                    "action {i} has a site search category or count but is not a search"
                ));
            }
            if a.a_kind[i] != HitType::Pageview && x.perf.ms.iter().any(|&m| m != NONE) {
                return Err(format!("action {i} has load timings but is not a page view"));
            }
        }
    }
    if cols.has(Columns::TIMES) {
        if let Some(i) = a.a_ts.iter().position(|t| !(MIN_TS..=MAX_TS).contains(t)) {
            return Err(format!("action {i} has a time outside 1970..9999"));
        }
        for visit in 0..v as u32 {
            let r = a.actions_of(visit);
            if a.a_ts[r].windows(2).any(|w| w[0] > w[1]) {
                return Err(format!("visit {visit}'s actions are not in time order"));
            }
        }
    }
    Ok(())
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
pub(crate) fn dicts_in_order(d: &SiteDicts) -> [&Dict; 14] {
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
    ]
}

/// The dictionaries as a sealed file.
pub(crate) fn encode_dicts(d: &SiteDicts) -> Vec<u8> {
    let mut w = Writer::default();
    // Page labels are derived from the URLs when first needed.
    for dict in &dicts_in_order(d) {
        w.u64(dict.len() as u64);
        for (_, s) in dict.iter() {
            w.str(s);
        }
    }
    // Version 2 packs the lists with zstd (URLs and visitor ids share
    // long prefixes).
    seal(Kind::Dicts, &compress(&w.buf))
}

/// Reads dictionaries; ids come back as they were (first-seen order).
pub(crate) fn decode_dicts(bytes: &[u8]) -> ReadResult<SiteDicts> {
    let (version, body) = open_versioned(Kind::Dicts, bytes)?;
    let unpacked;
    let body = if version == 1 {
        body
    } else {
        unpacked = decompress(body)?;
        &unpacked
    };
    let mut d = SiteDicts::default();
    // Each dictionary's room first, in one pass over the lengths: its
    // text is then written once, not copied as it grows (a cold question
    // reading ten years' URLs spent a quarter of its time there).
    let mut r = Reader::new(body);
    for which in 0..14 {
        let n = r.u64()?;
        // Each value takes eight bytes at least: a claim past the bytes
        // left is not an allocation.
        let claim = usize::try_from(n).unwrap_or(usize::MAX).min(r.rest_len() / 8);
        let mut text = 0usize;
        for _ in 0..n {
            text = text.saturating_add(r.bytes_ref()?.len());
        }
        stored_dict(&mut d, which).reserve(claim, text);
    }
    let mut r = Reader::new(body);
    // Values are appended as stored; each dictionary hashes them on its
    // first lookup (most questions never look a string up).
    for which in 0..14 {
        let n = r.u64()?;
        for _ in 0..n {
            let s = r.str_ref()?;
            match which {
                8 => d.push_stored_url(s),
                _ => stored_dict(&mut d, which).push_stored(s),
            };
        }
    }
    r.finish()?;
    Ok(d)
}

/// Dictionary `which` of a dictionaries file (FORMAT.md's order).
fn stored_dict(d: &mut SiteDicts, which: usize) -> &mut Dict {
    match which {
        0 => &mut d.visitors,
        1 => &mut d.users,
        2 => &mut d.referrers,
        3..=7 => &mut d.values[which - 3],
        8 => &mut d.urls,
        9 => &mut d.titles,
        10 => &mut d.keywords,
        11 => &mut d.events,
        12 => &mut d.dim_names,
        _ => &mut d.dim_values,
    }
}

/// Reads a visitor table (one file per site, before format version 4)
/// for `visitors` visitor ids, with each entry's
/// `before` (visits on earlier days) summed again.
pub(crate) fn decode_history(
    bytes: &[u8],
    visitors: usize,
) -> ReadResult<Vec<Vec<crate::history::VisitorDay>>> {
    let raw = decompress(open(Kind::History, bytes)?)?;
    let mut r = Reader::new(&raw);
    // The columns are read in place (a writer reads them on every open).
    let (counts, mut days, mut visits) = (r.u32s_iter()?, r.u32s_iter()?, r.u32s_iter()?);
    r.finish()?;
    if counts.len() > visitors {
        return Err(format!(
            "holds {} visitors, the dictionaries {visitors}",
            counts.len()
        ));
    }
    let total: u64 = counts.clone().map(u64::from).sum();
    if total != days.len() as u64 || days.len() != visits.len() {
        return Err("column lengths disagree".into());
    }
    let mut table = Vec::with_capacity(visitors);
    for c in counts {
        let mut entries = Vec::with_capacity(c as usize);
        let mut before = 0u32;
        for (d, n) in days.by_ref().zip(visits.by_ref()).take(c as usize) {
            let day = i32::try_from(d)
                .ok()
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .ok_or_else(|| format!("day number {d} is not a date"))?;
            if entries
                .last()
                .is_some_and(|e: &crate::history::VisitorDay| e.day >= day)
            {
                return Err("a visitor's days are not in order".into());
            }
            entries.push(crate::history::VisitorDay {
                day,
                visits: n,
                before,
            });
            before = before.saturating_add(n);
        }
        table.push(entries);
    }
    table.resize(visitors, Vec::new());
    Ok(table)
}

/// Day numbers as a page and the totals store them (0: none).
fn day_number(day: Option<NaiveDate>) -> u32 {
    day.map_or(0, |d| d.num_days_from_ce() as u32)
}

fn day_of_number(n: u32) -> ReadResult<Option<NaiveDate>> {
    if n == 0 {
        return Ok(None);
    }
    i32::try_from(n)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .map(Some)
        .ok_or_else(|| format!("day number {n} is not a date"))
}

/// One month's page of the visitor history as a sealed file (`P`,
/// FORMAT.md): the month's first day, then by visitor (ascending): the
/// visitor ids, each one's last earlier day with visits, visits before
/// the month and number of days; then per day its day of the month and
/// visits.
pub(crate) fn encode_page(month: NaiveDate, page: &crate::history::Page) -> Vec<u8> {
    let days: usize = page.values().map(|r| r.days.len()).sum();
    let mut w = Writer {
        buf: Vec::with_capacity(64 + 16 * page.len() + 8 * days),
    };
    w.var(u64::from(day_number(Some(month))));
    w.u32s_of(page.len(), page.keys().copied());
    w.u32s_of(page.len(), page.values().map(|r| day_number(r.prev)));
    w.u32s_of(
        page.len(),
        page.values().map(|r| r.days.first().map_or(0, |d| d.before)),
    );
    w.u32s_of(page.len(), page.values().map(|r| r.days.len() as u32));
    w.u32s_of(
        days,
        page.values().flat_map(|r| r.days.iter().map(|d| d.day.day())),
    );
    w.u32s_of(
        days,
        page.values().flat_map(|r| r.days.iter().map(|d| d.visits)),
    );
    seal(Kind::Page, &compress(&w.buf))
}

/// Reads a page of month `month` for `visitors` visitor ids.
pub(crate) fn decode_page(
    bytes: &[u8],
    month: NaiveDate,
    visitors: usize,
) -> ReadResult<crate::history::Page> {
    use crate::history::{Row, VisitorDay};
    let raw = decompress(open(Kind::Page, bytes)?)?;
    let mut r = Reader::new(&raw);
    let first = day_of_number(r.var_u32()?)?;
    if first != Some(month) {
        return Err(format!("holds the month of {first:?}, its name says {month}"));
    }
    let (ids, prev, start, counts) = (r.u32s_iter()?, r.u32s_iter()?, r.u32s_iter()?, r.u32s_iter()?);
    let (mut days, mut visits) = (r.u32s_iter()?, r.u32s_iter()?);
    r.finish()?;
    if prev.len() != ids.len() || start.len() != ids.len() || counts.len() != ids.len() {
        return Err("column lengths disagree".into());
    }
    let total: u64 = counts.clone().map(u64::from).sum();
    if total != days.len() as u64 || days.len() != visits.len() {
        return Err("column lengths disagree".into());
    }
    let mut page = crate::history::Page::new();
    let mut last_id = None;
    for (((v, p), s), c) in ids.zip(prev).zip(start).zip(counts) {
        if v as usize >= visitors || last_id.is_some_and(|l| l >= v) {
            return Err(format!("visitor {v} is out of order or unknown"));
        }
        last_id = Some(v);
        let prev = day_of_number(p)?;
        if prev.is_some_and(|p| p >= month) || c == 0 {
            return Err(format!("visitor {v}'s row is not a month's"));
        }
        let mut row = Row {
            prev,
            days: Vec::with_capacity(c as usize),
        };
        let mut before = s;
        for (d, n) in days.by_ref().zip(visits.by_ref()).take(c as usize) {
            let day = month
                .with_day(d)
                .filter(|_| n > 0)
                .ok_or_else(|| format!("day {d} ({n} visits) is not one of the month's"))?;
            if row.days.last().is_some_and(|e: &VisitorDay| e.day >= day) {
                return Err("a visitor's days are not in order".into());
            }
            row.days.push(VisitorDay {
                day,
                visits: n,
                before,
            });
            before = before.saturating_add(n);
        }
        page.insert(v, row);
    }
    Ok(page)
}

/// Each visitor's visits on all days, last day with visits and first
/// visit's start, and the site's order index, as a sealed file (`N`,
/// FORMAT.md). The starts are left out when not every visitor has one,
/// and the index when it is not known (totals of an older store not
/// upgraded yet); a flags varint says which follow.
pub(crate) fn encode_totals(t: &crate::history::Totals) -> Vec<u8> {
    let mut w = Writer::default();
    w.u32s_of(t.visits.len(), t.visits.iter().copied());
    w.u32s_of(t.last.len(), t.last.iter().map(|d| day_number(*d)));
    let firsts = t.has_firsts();
    w.var(u64::from(firsts) | (u64::from(!t.orders_unknown) << 1));
    if firsts {
        // Zigzag deltas from the previous visitor's, plus 1 (0: no visits).
        let mut prev = 0i64;
        w.vars((0..t.visits.len()).map(|i| match t.first.get(i).copied().flatten() {
            Some(ts) if t.visits[i] > 0 => {
                let d = ts.wrapping_sub(prev);
                prev = ts;
                zigzag(d).wrapping_add(1)
            }
            _ => 0,
        }));
    }
    if !t.orders_unknown {
        w.var(t.orders.len() as u64);
        for (id, &(ts, visitor)) in &t.orders {
            w.str(id);
            w.var(zigzag(ts));
            w.var(u64::from(visitor));
        }
    }
    seal(Kind::Totals, &compress(&w.buf))
}

fn zigzag(d: i64) -> u64 {
    ((d << 1) ^ (d >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Reads the totals for `visitors` visitor ids.
pub(crate) fn decode_totals(bytes: &[u8], visitors: usize) -> ReadResult<crate::history::Totals> {
    let (version, body) = open_versioned(Kind::Totals, bytes)?;
    let raw = decompress(body)?;
    let mut r = Reader::new(&raw);
    let (visits, last) = (r.u32s()?, r.u32s()?);
    if visits.len() != last.len() || visits.len() > visitors {
        return Err(format!(
            "holds {} visitors ({} last days), the dictionaries {visitors}",
            visits.len(),
            last.len()
        ));
    }
    let mut first = Vec::new();
    let mut orders = std::collections::BTreeMap::new();
    // Version 7 says what follows: first visit starts, the order index.
    let flags = if version >= super::codec::TOTALS_VERSION {
        r.var()?
    } else {
        0
    };
    if flags > 3 {
        return Err(format!("unknown flags {flags}"));
    }
    let in_range = |ts: &i64| (crate::hit::MIN_TS..=crate::hit::MAX_TS).contains(ts);
    if flags & 1 == 1 {
        let coded = r.vars_u64()?;
        if coded.len() != visits.len() {
            return Err(format!(
                "holds {} first visits for {} visitors",
                coded.len(),
                visits.len()
            ));
        }
        let mut prev = 0i64;
        for (c, &n) in coded.into_iter().zip(&visits) {
            if (c == 0) != (n == 0) {
                return Err("a visitor's first visit disagrees with its visits".into());
            }
            first.push(c.checked_sub(1).map(|z| {
                prev = prev.wrapping_add(unzigzag(z));
                prev
            }));
        }
        if !first.iter().flatten().all(in_range) {
            return Err("a first visit's time is outside 1970..9999".into());
        }
    }
    if flags & 2 == 2 {
        let n = r.var_count()?;
        let mut prev: Option<String> = None;
        for _ in 0..n {
            let id = r.str()?;
            let ts = unzigzag(r.var()?);
            let visitor = r.var_u32()?;
            if prev.as_ref().is_some_and(|p| *p >= id) {
                return Err("the order ids are not in order".into());
            }
            if !in_range(&ts) || visitor as usize >= visitors {
                return Err(format!("order {id:?}: time {ts} or visitor {visitor} is out of range"));
            }
            prev = Some(id.clone());
            orders.insert(id, (ts, visitor));
        }
    }
    r.finish()?;
    let last = last
        .into_iter()
        .map(day_of_number)
        .collect::<ReadResult<Vec<_>>>()?;
    Ok(crate::history::Totals {
        visits,
        last,
        first,
        orders,
        orders_unknown: flags & 2 == 0,
    })
}

/// A rollup as a sealed file (`R`, FORMAT.md): the first day of its
/// period, the days it was built from (as days after the first), the
/// totals, then the visitor and user bitmaps. Whether it is a month's or a
/// year's, its name says.
pub(crate) fn encode_rollup(r: &crate::rollup::Rollup) -> Vec<u8> {
    let mut w = Writer::default();
    w.var(r.start.num_days_from_ce() as u64);
    w.vars(
        r.dates
            .iter()
            .map(|d| (*d - r.start).num_days().unsigned_abs()),
    );
    if let Some(g) = &r.goals {
        encode_goal_rollup(&mut w, g);
        return super::codec::seal_in(Kind::Rollup, super::codec::GOALS_VERSION, &w.buf);
    }
    let t = &r.totals;
    for v in [t.visits, t.actions, t.max_actions, t.bounces, t.sum_length] {
        w.var(v);
    }
    w.bitmap(&r.visitors);
    w.bitmap(&r.users);
    match &r.reports {
        Some(reports) => {
            encode_reports(&mut w, reports);
            // Its grouped reports are new in version 5.
            super::codec::seal_in(Kind::Rollup, super::codec::REPORTS_VERSION, &w.buf)
        }
        None => seal(Kind::Rollup, &w.buf),
    }
}

/// Reads a rollup of a `span` (month or year), checking its ids against
/// a site's dictionary sizes (`visitors`, `users`) and its days against
/// its period.
pub(crate) fn decode_rollup(
    bytes: &[u8],
    span: crate::rollup::Span,
    visitors: usize,
    users: usize,
) -> ReadResult<crate::rollup::Rollup> {
    let (version, body) = super::codec::open_versioned(Kind::Rollup, bytes)?;
    let mut r = Reader::new(body);
    let day = r.var()?;
    let start = i32::try_from(day)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .filter(|m| span.start_of(*m) == *m)
        .ok_or_else(|| format!("day number {day} does not start a {span:?}"))?;
    let last = span.end(start);
    let mut dates: Vec<NaiveDate> = Vec::new();
    for offset in r.vars_u32()? {
        let date = start
            .checked_add_days(chrono::Days::new(u64::from(offset)))
            .filter(|d| *d <= last && dates.last().is_none_or(|p| p < d))
            .ok_or_else(|| format!("day {offset} of the period is out of order or range"))?;
        dates.push(date);
    }
    if span.goals() {
        let goals = read_goal_rollup(&mut r)?;
        r.finish()?;
        if goals.max_visitor().is_some_and(|m| m as usize >= visitors) {
            return Err("an id is beyond the dictionaries".into());
        }
        return Ok(crate::rollup::Rollup {
            start,
            span,
            dates,
            goals: Some(std::sync::Arc::new(goals)),
            ..crate::rollup::Rollup::default()
        });
    }
    let mut totals = crate::archive::DayTotals::default();
    for v in [
        &mut totals.visits,
        &mut totals.actions,
        &mut totals.max_actions,
        &mut totals.bounces,
        &mut totals.sum_length,
    ] {
        *v = r.var()?;
    }
    let (v, u) = (r.bitmap()?, r.bitmap()?);
    let stored = if span.reports() {
        let mut stored = read_reports(&mut r)?;
        stored.current = version >= super::codec::REPORTS_CURRENT_FROM;
        stored.version = version;
        Some(std::sync::Arc::new(stored))
    } else {
        None
    };
    r.finish()?;
    if v.max().is_some_and(|m| m as usize >= visitors)
        || u.max().is_some_and(|m| m as usize >= users)
    {
        return Err("an id is beyond the dictionaries".into());
    }
    if (v.len() > totals.visits) || totals.max_actions > totals.actions {
        return Err("the totals disagree with the visitors".into());
    }
    Ok(crate::rollup::Rollup {
        start,
        span,
        dates,
        totals,
        visitors: v,
        users: u,
        reports: None,
        stored,
        goals: None,
    })
}

/// An exact sum: its partials and overflow (f64 bits).
fn write_sum(w: &mut Writer, sum: &ExactSum) {
    let (partials, overflow) = sum.parts();
    w.var(partials.len() as u64);
    for p in partials {
        w.u64(p.to_bits());
    }
    w.u64(overflow.to_bits());
}

fn read_sum(r: &mut Reader<'_>) -> ReadResult<ExactSum> {
    let n = r.var_count()?;
    let mut partials = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        partials.push(f64::from_bits(r.u64()?));
    }
    let overflow = f64::from_bits(r.u64()?);
    Ok(ExactSum::from_parts(partials, overflow).ok_or("a stored sum is unreadable")?)
}

/// A goal rollup's sums (after the period and its days): the goal
/// definitions' key (u64), the visits of each visitor type (every, new,
/// returning), the three sums of every goal together, the number of
/// goals and each one's id and three sums, then orders' and abandoned
/// carts' three sums each. A sum: conversions, visits, the converting
/// visitors' bitmap, the revenue (exact sum); orders and carts add the
/// items' quantity and the subtotal, tax, shipping and discount sums.
fn encode_goal_rollup(w: &mut Writer, g: &crate::rollup::goals::GoalRollup) {
    use crate::goal_sums::{StoredAcc, StoredEcom};
    let acc = |w: &mut Writer, a: &StoredAcc| {
        w.var(a.conversions);
        w.var(a.visits);
        w.bitmap(&a.visitors);
        write_sum(w, &a.revenue);
    };
    let ecom = |w: &mut Writer, e: &StoredEcom| {
        acc(w, &e.acc);
        w.var(e.items);
        for a in &e.amounts {
            write_sum(w, a);
        }
    };
    w.u64(g.key);
    for v in g.visits {
        w.var(v);
    }
    g.overall.iter().for_each(|a| acc(w, a));
    w.var(g.each.len() as u64);
    for (id, accs) in &g.each {
        w.var(u64::from(*id));
        accs.iter().for_each(|a| acc(w, a));
    }
    g.orders.iter().chain(&g.carts).for_each(|e| ecom(w, e));
    encode_goal_rows(w, &g.rows);
    // Visits until conversion: a counted list by rising key, each its
    // key + 2 and the ranges' counts (a counted varint array).
    w.var(g.until.len() as u64);
    for (k, counts) in &g.until {
        w.var(k.wrapping_add(2) as u64);
        w.vars(counts.iter().copied());
    }
}

/// A goal rollup's report rows (after its sums): every converting
/// visit's cells; a counted list of grouped reports, each its number
/// (`GOAL_GROUPINGS` position) and a counted list of rows by rising
/// (label, sub-label): the label (string), 0 or 1 and the sub-label, the
/// cells; a counted list of visit reports, each its tag and number (as a
/// report rollup's) and a counted list of rows by rising value id
/// (`u32::MAX`: no value): the id (varint), the cells. Cells: converted
/// visits, then a counted list of goals by rising id, each its id + 1
/// (orders 0 + 1, abandoned carts -1 + 1), conversions, converted
/// visits, revenue (an exact sum), items, and the subtotal, tax,
/// shipping and discount sums.
fn encode_goal_rows(w: &mut Writer, rows: &crate::rollup::goals::GoalRows) {
    use crate::goal_sums::RowGoals;
    fn cells(w: &mut Writer, r: &RowGoals) {
        w.var(r.visits_converted);
        w.var(r.goals.len() as u64);
        for (id, c) in &r.goals {
            w.var(id.wrapping_add(1) as u64);
            w.var(c.conversions);
            w.var(c.visits_converted);
            write_sum(w, &c.revenue);
            w.var(c.items);
            for a in &c.amounts {
                write_sum(w, a);
            }
        }
    }
    cells(w, &rows.all);
    w.var(rows.groups.len() as u64);
    for (g, table) in &rows.groups {
        w.var(u64::from(*g));
        let mut keys: Vec<_> = table.iter().collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
        w.var(keys.len() as u64);
        for ((label, sub), r) in keys {
            w.str(label);
            match sub {
                None => w.var(0),
                Some(s) => {
                    w.var(1);
                    w.str(s);
                }
            }
            cells(w, r);
        }
    }
    w.var(rows.tables.len() as u64);
    for ((tag, n), table) in &rows.tables {
        w.var(u64::from(*tag));
        w.var(u64::from(*n));
        let mut keys: Vec<_> = table.iter().collect();
        keys.sort_unstable_by_key(|(k, _)| **k);
        w.var(keys.len() as u64);
        for (k, r) in keys {
            w.var(u64::from(*k));
            cells(w, r);
        }
    }
}

fn read_goal_rows(r: &mut Reader<'_>) -> ReadResult<crate::rollup::goals::GoalRows> {
    use crate::goal_sums::{GoalCell, RowGoals};
    use crate::rollup::goals::{GOAL_GROUPINGS, GoalRows};
    fn cells(r: &mut Reader<'_>) -> ReadResult<RowGoals> {
        let visits_converted = r.var()?;
        let n = r.var_count()?;
        let mut goals = std::collections::BTreeMap::new();
        for _ in 0..n {
            let id = i64::try_from(r.var()?).map_err(|_| "a goal cell's id is out of range")? - 1;
            let cell = GoalCell {
                conversions: r.var()?,
                visits_converted: r.var()?,
                revenue: read_sum(r)?,
                items: r.var()?,
                amounts: [read_sum(r)?, read_sum(r)?, read_sum(r)?, read_sum(r)?],
            };
            if i32::try_from(id).is_err() || goals.insert(id, cell).is_some() {
                return Err("a goal cell's id is out of range or repeated".into());
            }
        }
        Ok(RowGoals {
            visits_converted,
            goals,
        })
    }
    let mut out = GoalRows {
        all: cells(r)?,
        ..GoalRows::default()
    };
    for _ in 0..r.var_count()? {
        let g = u32::try_from(r.var()?)
            .ok()
            .filter(|g| (*g as usize) < GOAL_GROUPINGS.len())
            .ok_or("unknown grouped report in a goal rollup")?;
        let mut table = foldhash::HashMap::default();
        for _ in 0..r.var_count()? {
            let label = r.str()?;
            let sub = match r.var()? {
                0 => None,
                1 => Some(r.str()?),
                _ => return Err("a goal row's sub-label is unreadable".into()),
            };
            table.insert((label, sub), cells(r)?);
        }
        if out.groups.insert(g, table).is_some() {
            return Err("a goal rollup names a report twice".into());
        }
    }
    for _ in 0..r.var_count()? {
        let tag = u8::try_from(r.var()?).map_err(|_| "unknown visit report in a goal rollup")?;
        let n = u32::try_from(r.var()?).map_err(|_| "unknown visit report in a goal rollup")?;
        if VisitTable::from_code(tag, n).is_none() {
            return Err("unknown visit report in a goal rollup".into());
        }
        let mut table = foldhash::HashMap::default();
        for _ in 0..r.var_count()? {
            let k = u32::try_from(r.var()?).map_err(|_| "a goal row's value is out of range")?;
            table.insert(k, cells(r)?);
        }
        if out.tables.insert((tag, n), table).is_some() {
            return Err("a goal rollup names a report twice".into());
        }
    }
    Ok(out)
}

fn read_goal_rollup(r: &mut Reader<'_>) -> ReadResult<crate::rollup::goals::GoalRollup> {
    use crate::goal_sums::{StoredAcc, StoredEcom};
    use crate::rollup::goals::GoalRollup;
    // `overall`: every goal's together, whose converted visits include
    // visits without a conversion (an order request refused for its used
    // id converts the visit: `goal_sums::visit_cells`).
    fn acc_of(r: &mut Reader<'_>, overall: bool) -> ReadResult<StoredAcc> {
        let (conversions, visits) = (r.var()?, r.var()?);
        let visitors = r.bitmap()?;
        if visitors.len() > visits || (!overall && visits > conversions) {
            return Err("a goal rollup's counts disagree".into());
        }
        Ok(StoredAcc {
            conversions,
            visits,
            visitors,
            revenue: read_sum(r)?,
        })
    }
    fn acc(r: &mut Reader<'_>) -> ReadResult<StoredAcc> {
        acc_of(r, false)
    }
    fn three(r: &mut Reader<'_>) -> ReadResult<[StoredAcc; 3]> {
        Ok([acc(r)?, acc(r)?, acc(r)?])
    }
    fn ecom(r: &mut Reader<'_>) -> ReadResult<StoredEcom> {
        Ok(StoredEcom {
            acc: acc(r)?,
            items: r.var()?,
            amounts: [read_sum(r)?, read_sum(r)?, read_sum(r)?, read_sum(r)?],
        })
    }
    let key = r.u64()?;
    let visits = [r.var()?, r.var()?, r.var()?];
    let overall = [acc_of(r, true)?, acc_of(r, true)?, acc_of(r, true)?];
    let n = r.var_count()?;
    let mut each = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let id = u32::try_from(r.var()?).map_err(|_| "a goal id is out of range")?;
        if each.iter().any(|(g, _)| *g == id) {
            return Err("a goal rollup names a goal twice".into());
        }
        each.push((id, three(r)?));
    }
    Ok(GoalRollup {
        key,
        visits,
        overall,
        each,
        orders: [ecom(r)?, ecom(r)?, ecom(r)?],
        carts: [ecom(r)?, ecom(r)?, ecom(r)?],
        rows: read_goal_rows(r)?,
        until: {
            let mut until = std::collections::BTreeMap::new();
            for _ in 0..r.var_count()? {
                let k = i64::try_from(r.var()?).map_err(|_| "a goal key is out of range")? - 2;
                let counts = r.vars_u64()?;
                if counts.len() != crate::goal_sums::VISITS_UNTIL.len()
                    || i32::try_from(k).is_err()
                    || until.insert(k, counts).is_some()
                {
                    return Err("a goal rollup's visits until conversion are unreadable".into());
                }
            }
            until
        },
    })
}

/// Writes a rollup's reports (after its summary): whether rows keep
/// bitmaps (`bitmaps`), then each report as `which` and a packed section
/// of rows (key, counts, distinct visitors and users, bitmaps).
fn encode_reports(w: &mut Writer, reports: &Reports) {
    /// A report's two sections: its rows' keys and counts, and its rows'
    /// ids (a question about the period alone reads only the first).
    fn sections<C, K>(
        t: &Table<C, K>,
        key: impl Fn(&mut Writer, &K),
        counts: impl Fn(&mut Writer, &C),
        users: bool,
        more_ids: impl Fn(&mut Writer, &C),
    ) -> (Vec<u8>, Vec<u8>) {
        let (mut w, mut ids_w) = (Writer::default(), Writer::default());
        w.var(t.len() as u64);
        for (k, r) in t {
            key(&mut w, k);
            counts(&mut w, &r.counts);
            w.var(r.distinct[0]);
            if users {
                w.var(r.distinct[1]);
            }
            ids(&mut ids_w, &r.visitors);
            if users {
                ids(&mut ids_w, &r.users);
            }
            more_ids(&mut ids_w, &r.counts);
        }
        // zstd's fastest level: a late batch rewrites a month's and a
        // year's report rollup in its commit.
        (compress_fast(&w.buf), compress_fast(&ids_w.buf))
    }
    /// A row's ids (as many as its distinct count says) as gaps: small
    /// varints where a roaring bitmap spends a header on each short row.
    fn ids(w: &mut Writer, b: &RoaringBitmap) {
        let mut last = 0u32;
        for (i, id) in b.iter().enumerate() {
            w.var(u64::from(if i == 0 { id } else { id - last }));
            last = id;
        }
    }
    // Flags: 1, rows keep their ids.
    w.var(1);
    let tables: Vec<Which> = reports.tables().collect();
    w.var(tables.len() as u64);
    for which in tables {
        let (tag, n) = which_code(which);
        w.var(tag);
        w.var(u64::from(n));
        let id = |w: &mut Writer, k: &u32| w.var(u64::from(*k));
        let vars = |w: &mut Writer, v: &[u64]| v.iter().for_each(|x| w.var(*x));
        let visit = |w: &mut Writer, c: &DayTotals| {
            vars(w, &[c.visits, c.actions, c.max_actions, c.bounces, c.sum_length])
        };
        // The label, then 0 (a top row) or 1 and the sub-label.
        let label = |w: &mut Writer, (label, sub): &GroupKey| {
            w.str(label);
            match sub {
                None => w.var(0),
                Some(sub) => {
                    w.var(1);
                    w.str(sub);
                }
            }
        };
        fn none<C>(_: &mut Writer, _: &C) {}
        let (counts, ids) = match which {
            // Its entering and leaving visitors: their counts with the
            // counts, their ids after the row's visitors.
            Which::Action(t) => sections(
                &reports.actions[t as usize],
                id,
                |w, c| {
                    vars(w, &[c.hits, c.visits, c.entries, c.exits, c.entry_bounces, c.time]);
                    vars(w, &[c.entry_actions, c.entry_length]);
                    write_perf_sums(w, c.perf.as_deref());
                    vars(w, &c.bound_visitors);
                    w.var(c.most_results.map_or(0, |n| u64::from(n) + 1));
                    // A page row's URL when not its label's first (0).
                    if t == crate::rollup::reports::ActionTable::Pages {
                        w.var(c.url.map_or(0, |u| u64::from(u) + 1));
                    }
                },
                false,
                |w, c| {
                    debug_assert_eq!(
                        c.bound_ids.as_deref().map_or([0, 0], |[e, l]| [e.len(), l.len()]),
                        c.bound_visitors,
                        "a rolled-up row keeps the ids of its entering and leaving visitors"
                    );
                    if let Some([e, l]) = c.bound_ids.as_deref() {
                        ids(w, e);
                        ids(w, l);
                    }
                },
            ),
            Which::Visit(t) => sections(&reports.visits[&t], id, visit, true, none),
            Which::Group(g) => sections(&reports.groups[&g], label, visit, true, none),
            // Events, visits, events with a value; the exact sum's
            // partials and overflow (f64 bits); the smallest and largest
            // value (0, or 1 and the f64 bits).
            Which::Event(by, sub) => sections(
                &reports.events[&(by, sub)],
                label,
                |w, c| {
                    vars(w, &[c.events, c.visits, c.with_value]);
                    write_sum(w, &c.sum);
                    for m in [c.min, c.max] {
                        match m {
                            None => w.var(0),
                            Some(m) => {
                                w.var(1);
                                w.u64(m.to_bits());
                            }
                        }
                    }
                },
                false,
                none,
            ),
        };
        w.u8s(&counts);
        w.u8s(&ids);
    }
}

/// The tag of a visits-grouped report in a rollup file.
const GROUP_TAG: u64 = 9;

/// The tag of an event report in a rollup file.
const EVENT_TAG: u64 = 10;

/// A report's tag and number in a rollup file.
fn which_code(which: Which) -> (u64, u32) {
    match which {
        Which::Action(t) => (0, t as u32),
        Which::Visit(t) => {
            let (tag, n) = t.code();
            (1 + u64::from(tag), n)
        }
        // Only rolled groups are built into rollups.
        Which::Group(g) => (GROUP_TAG, g.code().unwrap_or(u32::MAX)),
        Which::Event(by, sub) => (
            EVENT_TAG,
            EVENT_TABLES
                .iter()
                .position(|e| *e == (by, sub))
                .map_or(u32::MAX, |i| i as u32),
        ),
    }
}

fn which_of(tag: u64, n: u32) -> Option<Which> {
    match tag {
        0 => ACTION_TABLES.get(n as usize).map(|t| Which::Action(*t)),
        GROUP_TAG => VisitGroup::from_code(n).flatten().map(Which::Group),
        EVENT_TAG => EVENT_TABLES
            .get(n as usize)
            .map(|(by, sub)| Which::Event(*by, *sub)),
        t => VisitTable::from_code(u8::try_from(t - 1).ok()?, n).map(Which::Visit),
    }
}

/// Reads the sections [`encode_reports`] wrote (each unpacked and
/// checked when [`decode_report`] reads it).
fn read_reports(r: &mut Reader<'_>) -> ReadResult<StoredReports> {
    let bitmaps = match r.var()? {
        0 => false,
        1 => true,
        _ => return Err("unknown report rollup flags".into()),
    };
    let n = r.var_count()?;
    let mut sections = std::collections::BTreeMap::new();
    for _ in 0..n {
        let (tag, num) = (r.var()?, r.var_u32()?);
        let retired = tag == GROUP_TAG && VisitGroup::from_code(num) == Some(None);
        let which = which_of(tag, num);
        let (counts, ids) = (r.u8s()?, r.u8s()?);
        // A report kept under a retired number (built by an older rule):
        // its periods read it from their days.
        if retired {
            continue;
        }
        let which = which.ok_or("unknown report in a rollup")?;
        if sections.insert(which, (counts, ids)).is_some() {
            return Err("a report is stored twice".into());
        }
    }
    // Site search categories are kept since format 15 (an older rollup is
    // not used: its periods read their days).
    if ACTION_TABLES
        .iter()
        .filter(|t| **t != crate::rollup::reports::ActionTable::Categories)
        .any(|t| !sections.contains_key(&Which::Action(*t)))
    {
        return Err("a report rollup lacks an action report".into());
    }
    Ok(StoredReports {
        bitmaps,
        sections,
        current: true,
        version: super::codec::REPORTS_VERSION,
    })
}

/// One report of a stored rollup, unpacked and checked against the
/// site's dictionary sizes (`visitors`, `users`); with its rows' bitmaps
/// if `bitmaps` (an error if the file kept none). `Ok(None)` when the
/// period has no such custom dimension.
pub(crate) fn decode_report(
    stored: &StoredReports,
    which: Which,
    bitmaps: bool,
    visitors: usize,
    users: usize,
) -> ReadResult<Option<Reports>> {
    fn table<C: Default, K: Ord + Clone>(
        r: &mut Reader<'_>,
        mut key: impl FnMut(&mut Reader<'_>) -> ReadResult<K>,
        mut counts: impl FnMut(&mut Reader<'_>) -> ReadResult<C>,
        with_users: bool,
        ids_of: Option<&mut Reader<'_>>,
        (check, mut more_ids): (
            impl Fn(&C, u64) -> bool,
            impl FnMut(&mut Reader<'_>, &mut C, usize) -> ReadResult<()>,
        ),
        (visitors, users): (usize, usize),
    ) -> ReadResult<Table<C, K>> {
        let n = r.var_count()?;
        let mut t = Table::new();
        let mut last: Option<K> = None;
        let mut ids_of = ids_of;
        for _ in 0..n {
            let k = key(r)?;
            if last.as_ref().is_some_and(|l| *l >= k) {
                return Err("report rows are out of order".into());
            }
            last = Some(k.clone());
            let c = counts(r)?;
            let distinct = [r.var()?, if with_users { r.var()? } else { 0 }];
            let mut row = Row {
                counts: c,
                distinct,
                ..Row::default()
            };
            if let Some(i) = ids_of.as_deref_mut() {
                row.visitors = ids(i, distinct[0], visitors)?;
                row.users = ids(i, distinct[1], users)?;
                more_ids(i, &mut row.counts, visitors)?;
            }
            if !check(&row.counts, distinct[0]) {
                return Err("a report row's counts disagree with its visitors".into());
            }
            t.insert(k, row);
        }
        r.finish()?;
        if let Some(i) = ids_of {
            i.finish()?;
        }
        Ok(t)
    }
    /// `n` ids written as gaps, each below `limit`, as a bitmap.
    fn ids(r: &mut Reader<'_>, n: u64, limit: usize) -> ReadResult<RoaringBitmap> {
        let mut out = Vec::new();
        let mut last: Option<u64> = None;
        for _ in 0..n {
            let gap = r.var()?;
            let id = match last {
                None => gap,
                Some(_) if gap == 0 => return Err("a report row repeats an id".into()),
                Some(l) => l.checked_add(gap).ok_or("an id overflows")?,
            };
            if id >= limit as u64 {
                return Err("a report row's id is beyond the dictionaries".into());
            }
            last = Some(id);
            out.push(id as u32);
        }
        RoaringBitmap::from_sorted_iter(out).map_err(|e| e.to_string())
    }
    if bitmaps && !stored.bitmaps {
        return Err("this rollup keeps no bitmaps".into());
    }
    let Some((counts, id_bytes)) = stored.sections.get(&which) else {
        return match which {
            Which::Visit(VisitTable::Dimension(_)) => Ok(None),
            // Written before rollups kept grouped (or event) reports.
            Which::Group(_) | Which::Event(..) => {
                Err("this rollup keeps no grouped reports".into())
            }
            _ => Err("a report rollup lacks a report".into()),
        };
    };
    let id = |r: &mut Reader<'_>| r.var_u32();
    let visit = |r: &mut Reader<'_>| {
        Ok(DayTotals {
            visits: r.var()?,
            actions: r.var()?,
            max_actions: r.var()?,
            bounces: r.var()?,
            sum_length: r.var()?,
        })
    };
    let visit_check = |c: &DayTotals, v: u64| v <= c.visits && c.max_actions <= c.actions;
    // Rows of reports that keep no more ids than their visitors' (and users').
    fn no_ids<C>(_: &mut Reader<'_>, _: &mut C, _: usize) -> ReadResult<()> {
        Ok(())
    }
    let group_key = |r: &mut Reader<'_>| -> ReadResult<GroupKey> {
        let label = r.str()?;
        let sub = match r.var()? {
            0 => None,
            1 => Some(r.str()?),
            _ => return Err("a grouped report row's key is unreadable".into()),
        };
        Ok((label, sub))
    };
    let raw = decompress(counts)?;
    let mut r = Reader::new(&raw);
    let raw_ids = if bitmaps { decompress(id_bytes)? } else { Vec::new() };
    let mut id_reader = Reader::new(&raw_ids);
    let modes = bitmaps.then_some(&mut id_reader);
    let sizes = (visitors, users);
    let mut out = Reports::default();
    match which {
        Which::Action(t) => {
            out.actions[t as usize] = table(
                &mut r,
                id,
                |r| {
                    Ok(ActionCounts {
                        hits: r.var()?,
                        visits: r.var()?,
                        entries: r.var()?,
                        exits: r.var()?,
                        entry_bounces: r.var()?,
                        time: r.var()?,
                        entry_actions: r.var()?,
                        entry_length: r.var()?,
                        perf: read_perf_sums(r)?.map(Box::new),
                        bound_visitors: [r.var()?, r.var()?],
                        bound_ids: None,
                        most_results: match r.var()? {
                            0 => None,
                            n => Some(
                                u32::try_from(n - 1)
                                    .map_err(|_| "a keyword's result count is out of range")?,
                            ),
                        },
                        url: match t {
                            crate::rollup::reports::ActionTable::Pages
                                if stored.version >= super::codec::PAGE_URLS_VERSION =>
                            {
                                match r.var()? {
                                    0 => None,
                                    n => Some(
                                        u32::try_from(n - 1)
                                            .map_err(|_| "a page row's URL is out of range")?,
                                    ),
                                }
                            }
                            _ => None,
                        },
                    })
                },
                false,
                modes,
                (
                    |c: &ActionCounts, v| {
                        v <= c.visits
                            && c.visits <= c.hits
                            && c.entries <= c.visits
                            && c.entries <= c.entry_actions
                            && c.bound_visitors[0] <= c.entries.min(v)
                            && c.bound_visitors[1] <= c.exits.min(v)
                            && c.perf.as_ref().is_none_or(|p| p.hits.iter().all(|&n| n <= c.hits))
                    },
                    |i: &mut Reader<'_>, c: &mut ActionCounts, limit| {
                        if c.bound_visitors != [0, 0] {
                            let e = ids(i, c.bound_visitors[0], limit)?;
                            let l = ids(i, c.bound_visitors[1], limit)?;
                            c.bound_ids = Some(Box::new([e, l]));
                        }
                        Ok(())
                    },
                ),
                sizes,
            )?;
        }
        Which::Visit(t) => {
            let table = table(&mut r, id, visit, true, modes, (visit_check, no_ids), sizes)?;
            out.visits.insert(t, table);
        }
        Which::Group(g) => {
            let checks = (visit_check, no_ids);
            let table = table(&mut r, group_key, visit, true, modes, checks, sizes)?;
            out.groups.insert(g, table);
        }
        Which::Event(by, sub) => {
            let counts = |r: &mut Reader<'_>| -> ReadResult<EventCounts> {
                let (events, visits, with_value) = (r.var()?, r.var()?, r.var()?);
                let sum = read_sum(r)?;
                let mut extreme = || -> ReadResult<Option<f64>> {
                    Ok(match r.var()? {
                        0 => None,
                        1 => Some(f64::from_bits(r.u64()?)).filter(|x| x.is_finite()),
                        _ => return Err("an event report's value is unreadable".into()),
                    })
                };
                let (min, max) = (extreme()?, extreme()?);
                Ok(EventCounts {
                    events,
                    visits,
                    with_value,
                    sum,
                    min,
                    max,
                })
            };
            let check = |c: &EventCounts, v: u64| {
                v <= c.visits
                    && c.visits <= c.events
                    && c.with_value <= c.events
                    && (c.with_value > 0) == c.min.is_some()
                    && (c.with_value > 0) == c.max.is_some()
            };
            let table = table(&mut r, group_key, counts, false, modes, (check, no_ids), sizes)?;
            out.events.insert((by, sub), table);
        }
    }
    Ok(Some(out))
}

/// Every report of a stored rollup with its bitmaps (a writer updating
/// a period, or building a year from its months).
pub(crate) fn decode_reports(
    stored: &StoredReports,
    visitors: usize,
    users: usize,
) -> ReadResult<Reports> {
    let mut out = Reports::default();
    for which in stored.sections.keys() {
        let Some(one) = decode_report(stored, *which, true, visitors, users)? else {
            continue;
        };
        out.take(*which, one);
    }
    Ok(out)
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
    use crate::store::codec::seal_in;

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

    /// A small but varied day archive's sections, unpacked, with its
    /// visit and action counts, and the dictionaries it refers to.
    fn sample() -> (Vec<Vec<u8>>, (usize, usize), SiteDicts) {
        let (archive, dicts) = sample_archive();
        let counts = (archive.visit_count() as usize, archive.a_kind.len());
        (day_sections(&archive), counts, dicts)
    }

    /// The golden version 2 day file (2025-01-01 of `tests/golden/store-v2`),
    /// unpacked, and its dictionaries.
    fn v2_sample() -> (Vec<u8>, SiteDicts) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/store-v2/site-1/");
        let day = std::fs::read(format!("{dir}days/2025-01-01-3.day")).unwrap();
        let dicts = decode_dicts(&std::fs::read(format!("{dir}dicts-3.bin")).unwrap()).unwrap();
        (decompress(open(Kind::Day, &day).unwrap()).unwrap(), dicts)
    }

    fn sample_archive() -> (DayArchive, SiteDicts) {
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
        let archive = site.days.values().next().unwrap().clone();
        (archive, site.dicts.clone())
    }

    /// Every column of an archive, stored or derived, with the indexes'
    /// contents (what a query can see), as text to compare.
    fn everything(a: &DayArchive) -> String {
        let extras: Vec<_> = a
            .a_extras
            .iter()
            .map(|(i, x)| (i, x.keyword, x.ev_category, x.ev_action, x.ev_name, x.ev_value.to_bits()))
            .collect();
        let dims: Vec<_> = a.dims.iter().map(|c| (c.name, &c.values, &c.carriers)).collect();
        let fields: Vec<_> = (0..N_VFIELDS)
            .map(|f| (&a.fields[f], &a.field_carriers[f], a.field_index(f).union_where(|_| true)))
            .collect();
        format!(
            "{:?}",
            (
                (&a.visitor, &a.length, &a.action_offsets, &a.rank_in_day),
                (&a.entry_url, &a.exit_url, &a.referrer_type, fields, dims),
                (&a.a_kind, &a.a_ts, &a.a_url, &a.a_title, extras),
                (&a.visitors, &a.users, &a.totals),
            )
        )
    }

    /// The golden version 1 day file (2025-01-01 of `tests/golden/store-v1`)
    /// and its dictionaries.
    fn v1_sample() -> (Vec<u8>, SiteDicts) {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/store-v1/site-1/");
        let day = std::fs::read(format!("{dir}days/2025-01-01-3.day")).unwrap();
        let dicts = decode_dicts(&std::fs::read(format!("{dir}dicts-3.bin")).unwrap()).unwrap();
        (decompress(open(Kind::Day, &day).unwrap()).unwrap(), dicts)
    }

    /// Looks up every id the archive holds the way queries do: any id a
    /// query could trip over panics here instead.
    fn touch_everything(a: &DayArchive, d: &SiteDicts) {
        let has = |c| a.cols.has(c);
        let _ = (a.visitors.len(), a.users.len(), a.totals);
        for v in 0..a.visit_count() {
            let _ = d.visitors.value(a.visitor[v as usize]);
            let _ = a.rank_in_day[v as usize];
            if has(Columns::KINDS.with(Columns::URLS).with(Columns::TIMES)) {
                let _ = (
                    d.urls.opt(a.entry_url[v as usize]),
                    d.urls.opt(a.exit_url[v as usize]),
                );
            }
            if has(Columns::TIMES) {
                let _ = (a.length[v as usize], a.visit_start(v));
            }
            for f in (0..N_VFIELDS).filter(|&f| has(Columns::field(f))) {
                let _ = d.field(f).opt(a.fields[f][v as usize]);
            }
            if has(Columns::DIMS) {
                for col in &a.dims {
                    let _ = (
                        d.dim_names.value(col.name),
                        d.dim_values.opt(col.values[v as usize]),
                    );
                }
            }
            if has(Columns::REFERRER_TYPE) {
                let _ = ReferrerType::ALL[usize::from(a.referrer_type[v as usize])];
            }
            for i in a.actions_of(v) {
                if has(Columns::URLS) && a.a_url[i] != NONE {
                    let u = a.a_url[i];
                    let _ = (d.urls.value(u), d.pages().labels.value(d.pages().of(u)));
                }
                if has(Columns::TITLES) {
                    let _ = d.titles.opt(a.a_title[i]);
                }
                if has(Columns::EXTRAS) {
                    let x = a.extra(i);
                    let _ = (
                        d.keywords.opt(x.keyword),
                        d.events.opt(x.ev_category),
                        d.events.opt(x.ev_action),
                        d.events.opt(x.ev_name),
                    );
                }
            }
        }
    }

    /// Column groups as a proptest picks them.
    fn columns_of(bits: u32) -> Columns {
        Columns::from_bits(bits)
    }

    /// A day read for some column groups holds exactly what the whole day
    /// holds in those groups, and what every summary needs is right.
    #[test]
    fn projected_reads_equal_the_whole_day() {
        let (archive, dicts) = sample_archive();
        let bytes = encode_day(&archive);
        for bits in [0, 1 << 2, 1 << 8, 1 << 12, 0b111_1111, (1 << 15) - 1, 0x5a5a, 0x2a5] {
            let cols = columns_of(bits).with(Columns::SUMMARY);
            let a = decode_day_columns(&bytes, &dicts, cols).unwrap();
            assert_eq!(a.cols, cols);
            touch_everything(&a, &dicts);
            let same = |held: Columns, x: &dyn std::fmt::Debug, y: &dyn std::fmt::Debug| {
                let (x, y) = (format!("{x:?}"), format!("{y:?}"));
                if cols.has(held) {
                    assert_eq!(x, y, "{cols:?}");
                } else {
                    let no_extras = format!("{:?}", crate::archive::ActionExtras::default());
                    assert!(x == "[]" || x == no_extras, "{cols:?}: {x}");
                }
            };
            assert_eq!(
                (&a.visitor, &a.action_offsets, &a.rank_in_day, &a.length),
                (&archive.visitor, &archive.action_offsets, &archive.rank_in_day, &archive.length)
            );
            assert_eq!((&a.visitors, &a.users, a.totals), (&archive.visitors, &archive.users, archive.totals));
            for f in 0..N_VFIELDS {
                same(Columns::field(f), &a.fields[f], &archive.fields[f]);
                let both = Columns::field(f).with(Columns::CARRIERS);
                same(both, &a.field_carriers[f], &archive.field_carriers[f]);
            }
            let dims = |x: &DayArchive| x.dims.iter().map(|c| (c.name, c.values.clone())).collect::<Vec<_>>();
            same(Columns::DIMS, &dims(&a), &dims(&archive));
            if cols.has(Columns::DIMS.with(Columns::CARRIERS)) {
                assert!(a.dims.iter().zip(&archive.dims).all(|(x, y)| x.carriers == y.carriers));
            }
            same(Columns::REFERRER_TYPE, &a.referrer_type, &archive.referrer_type);
            same(Columns::KINDS, &a.a_kind, &archive.a_kind);
            same(Columns::URLS, &a.a_url, &archive.a_url);
            same(Columns::TITLES, &a.a_title, &archive.a_title);
            same(Columns::EXTRAS, &a.a_extras, &archive.a_extras);
        }
    }

    #[test]
    fn day_round_trips() {
        let (archive, dicts) = sample_archive();
        let a = decode_day(&encode_day(&archive), &dicts).unwrap();
        assert_eq!(everything(&a), everything(&archive));
        assert_eq!(encode_day(&a), encode_day(&archive));
    }

    /// A version 1 file reads into the same archive as its version 2
    /// rewrite, and a version 1 file whose derivable parts disagree with
    /// its columns is refused.
    #[test]
    fn version_1_days_read_like_version_2() {
        let (raw, dicts) = v1_sample();
        let a = decode_day(&seal_in(Kind::Day, 1, &compress(&raw)), &dicts).unwrap();
        assert!(a.visit_count() > 1 && !a.visitors.is_empty());
        let b = decode_day(&encode_day(&a), &dicts).unwrap();
        assert_eq!(everything(&a), everything(&b));
        // The v1 body as version 2 is garbage, not a panic.
        assert!(decode_day(&seal(Kind::Day, &compress(&raw)), &dicts).is_err());
        // Rank of the first visit (third array: after visitors and offsets).
        let mut r = Reader::new(&raw);
        let (_, _) = (r.u32s().unwrap(), r.u32s().unwrap());
        let rank_at = raw.len() - r.rest_len() + 8;
        let mut bad = raw.clone();
        bad[rank_at] = 1;
        let err = decode_day(&seal_in(Kind::Day, 1, &compress(&bad)), &dicts).unwrap_err();
        assert!(err.contains("visit ranks"), "{err}");
    }

    /// A version 1 dictionary file (no zstd) reads; version 2 packs it.
    #[test]
    fn version_1_dictionaries_read() {
        let (_, dicts) = v1_sample();
        let packed = encode_dicts(&dicts);
        let plain = open(Kind::Dicts, &packed).map(decompress).unwrap().unwrap();
        let v1 = decode_dicts(&seal_in(Kind::Dicts, 1, &plain)).unwrap();
        assert_eq!(encode_dicts(&v1), packed);
        assert!(decode_dicts(&seal(Kind::Dicts, &plain)).is_err());
    }

    /// Changes a day body at `edits` and cuts it at `cut`: made a file by
    /// `sealed`, each is an error or an archive whose every id looks up,
    /// read whole or for the column groups `cols`.
    fn mutations_never_panic(
        sealed: &dyn Fn(&[u8]) -> Vec<u8>,
        (mut raw, dicts): (Vec<u8>, SiteDicts),
        edits: Vec<(prop::sample::Index, u8)>,
        cut: prop::sample::Index,
        cols: Columns,
    ) -> Result<(), TestCaseError> {
        for (at, byte) in edits {
            let i = at.index(raw.len());
            raw[i] = byte;
        }
        for cols in [Columns::ALL, cols] {
            if let Ok(a) = decode_day_columns(&sealed(&raw), &dicts, cols) {
                touch_everything(&a, &dicts);
            }
        }
        let short = &raw[..cut.index(raw.len())];
        prop_assert!(decode_day(&sealed(short), &dicts).is_err() || short.len() == raw.len());
        Ok(())
    }

    /// A version 3 file of `sections` as they were cut from `raw`, the
    /// sections end to end (a shorter `raw` empties the last ones).
    fn v3_sealed(sizes: &[usize], (visits, actions): (usize, usize), raw: &[u8]) -> Vec<u8> {
        let mut at = 0;
        let sections: Vec<Vec<u8>> = sizes
            .iter()
            .map(|&n| {
                let s = raw[at.min(raw.len())..(at + n).min(raw.len())].to_vec();
                at += n;
                s
            })
            .collect();
        seal_in(Kind::Day, 3, &pack_day(visits, actions, &sections))
    }

    proptest! {
        /// A body that passes the checksum but was changed anywhere is an
        /// error or a valid archive, never a panic.
        #[test]
        fn mutated_bodies_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>(), bits in any::<u32>()) {
            let (sections, counts, dicts) = sample();
            let sizes: Vec<usize> = sections.iter().map(Vec::len).collect();
            let sealed = |raw: &[u8]| v3_sealed(&sizes, counts, raw);
            mutations_never_panic(&sealed, (sections.concat(), dicts), edits, cut, columns_of(bits))?;
        }

        /// The same for version 1 and 2 bodies, which this build still reads.
        #[test]
        fn mutated_version_1_bodies_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
            let sealed = |raw: &[u8]| seal_in(Kind::Day, 1, &compress(raw));
            mutations_never_panic(&sealed, v1_sample(), edits, cut, Columns::ALL)?;
        }

        #[test]
        fn mutated_version_2_bodies_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6), cut in any::<prop::sample::Index>()) {
            let sealed = |raw: &[u8]| seal_in(Kind::Day, 2, &compress(raw));
            mutations_never_panic(&sealed, v2_sample(), edits, cut, Columns::ALL)?;
        }
    }
}
