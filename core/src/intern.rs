//! Interning: a hit's strings become its site's dictionary ids.
//!
//! One hit at a time ([`intern_hit`]), or a block of NDJSON lines at a
//! time on a worker thread: the block is read and interned into
//! dictionaries of its own ([`Block`]), and the blocks are then merged
//! into the site's dictionaries in input order ([`Block::merge_into`]).
//! Ids are first-seen, and a block's own ids are first-seen within the
//! block, so interning a block's values in its id order, block after
//! block, assigns every value the id one thread reading the lines in
//! order would: the parallel path and the sequential one build the same
//! dictionaries, archives and files.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::dict::{Dict, NONE};
use crate::error::Error;
use crate::hit::{HitType, HitView, attr};
use crate::raw::{Extra, N_VFIELDS, RawHit, SideArena, SiteDicts};

/// What placing a hit in its site's day needs of the engine, apart from
/// it (so workers read while the calling thread merges): each site's time
/// zone and its name, or why the site cannot take hits.
#[derive(Debug)]
pub(crate) struct Zones(pub(crate) BTreeMap<u32, Result<(Tz, String), String>>);

impl Zones {
    /// The site-local day of a hit, or why the engine cannot take it.
    pub(crate) fn place(&self, view: &HitView) -> Result<NaiveDate, String> {
        match self.0.get(&view.site) {
            Some(Ok((tz, name))) => day_of(view, tz, name),
            Some(Err(why)) => Err(why.clone()),
            None => Err(Error::UnknownSite(view.site).to_string()),
        }
    }
}

/// A hit's day in its site's time zone (`zone` names it), unless that
/// falls after the last day hitmap keeps.
pub(crate) fn day_of(view: &HitView, tz: &Tz, zone: &str) -> Result<NaiveDate, String> {
    let date = crate::site::local_date(tz, view.ts);
    if date > crate::period::LAST_DAY {
        return Err(format!(
            "`ts` {} falls on {date} in the site's time zone ({zone}), after the last day hitmap keeps (9999-12-31)",
            view.ts
        ));
    }
    Ok(date)
}

/// Interns one hit into `d` and appends it to `hits` (its rare parts to
/// `side`), in bucket `bucket`.
pub(crate) fn intern_hit(
    d: &mut SiteDicts,
    h: &HitView,
    bucket: u32,
    hits: &mut Vec<RawHit>,
    side: &mut SideArena,
) {
    let mut raw = RawHit::new(d.visitors.intern(&h.visitor), h.ts, h.kind);
    raw.bucket = bucket;
    // Matomo's tracker strips a campaign's name and keyword parameters
    // from an action's URL (not a download's or outlink's); an action
    // keeps the campaign they name as its recorded campaign, unless it
    // records one of its own. A visit whose landing action records a
    // campaign is a campaign visit (`DayArchive::push_visit`).
    let mut campaign = None;
    if let Some(u) = &h.url {
        let u = crate::url::action_url(u, h.kind);
        let kept = match h.kind {
            HitType::Download | HitType::Outlink => std::borrow::Cow::Borrowed(u),
            _ => crate::referrer::without_campaign_parameters(u),
        };
        if matches!(kept, std::borrow::Cow::Owned(_))
            && h.kind.is_action()
            && h.attrs[attr::CAMPAIGN..attr::AFTER_CAMPAIGN]
                .iter()
                .all(Option::is_none)
        {
            campaign = Some(crate::referrer::url_campaign(u));
        }
        raw.url = d.intern_url(&kept);
    }
    if let Some(t) = &h.title {
        raw.title = d.titles.intern(t);
    }
    let mut extra = Extra::NONE;
    if h.kind == HitType::Search
        && let Some(k) = &h.search
    {
        extra.keyword = d.keywords.intern(k);
        extra.search_cat = h
            .search_category
            .as_ref()
            .map_or(NONE, |c| d.dim_values.intern(c));
        extra.search_count = h.search_count.and_then(|n| u32::try_from(n).ok());
    }
    if h.kind == HitType::Event
        && let Some(e) = &h.event
    {
        extra.ev_category = d.events.intern(&e.category);
        extra.ev_action = d.events.intern(&e.action);
        extra.ev_name = e.name.as_ref().map_or(NONE, |n| d.events.intern(n));
        extra.ev_value = e.value.unwrap_or(f64::NAN);
    }
    if h.kind.is_action() {
        extra.perf = crate::raw::PerfCells::of(&h.perf);
    }
    side.set_extra(&mut raw, extra);
    if let Some(c) = &h.conversion
        && !h.kind.is_action()
    {
        let mut c = (**c).clone();
        c.content = c.content.map(crate::hit::Content::normalized);
        side.set_conversion(&mut raw, c);
    }
    let visit_fields = [
        &h.user,
        &h.referrer,
        &h.device,
        &h.browser,
        &h.os,
        &h.country,
        &h.language,
    ];
    let mut fields = [NONE; N_VFIELDS];
    for (f, value) in visit_fields.into_iter().enumerate() {
        if let Some(v) = value {
            // Country and language codes are kept in lower case, as
            // Matomo keeps them (`GB` is `gb`), so that their rows and
            // segments (`countryCode==GB`) agree.
            let code = f == crate::raw::VField::Country as usize
                || f == crate::raw::VField::Language as usize;
            fields[f] = if code && v.bytes().any(|b| b.is_ascii_uppercase()) {
                d.field_mut(f).intern(&v.to_ascii_lowercase())
            } else {
                d.field_mut(f).intern(v)
            };
        }
    }
    side.set_fields(&mut raw, fields);
    let has_attrs = campaign.is_some() || h.attrs.iter().any(Option::is_some);
    if !h.dims.is_empty() || has_attrs {
        raw.dims_start = side.dims.len() as u32;
        let sorted_unique = h.dims.windows(2).all(|w| w[0].0 < w[1].0);
        if sorted_unique {
            for (k, v) in &h.dims {
                side.dims
                    .push((d.dim_names.intern(k), d.dim_values.intern(v)));
            }
        } else {
            let mut dims: Vec<(&str, &str)> = h.dims.iter().map(|(k, v)| (&**k, &**v)).collect();
            dims.sort_by(|a, b| a.0.cmp(b.0));
            dims.dedup_by(|a, b| a.0 == b.0);
            for (k, v) in dims {
                side.dims
                    .push((d.dim_names.intern(k), d.dim_values.intern(v)));
            }
        }
        // hitmap's own attributes ride along as `$` dimensions.
        for (i, (name, v)) in attr::NAMES.iter().zip(&h.attrs).enumerate() {
            let v = v
                .as_deref()
                .or_else(|| campaign.as_ref().and_then(|c| campaign_attr(c, i)));
            if let Some(v) = v {
                let value = if i == attr::PLUGINS {
                    // Validated: one stored form for any order and case;
                    // no names (`" , "`) is none.
                    &crate::hit::plugins_text(v).unwrap_or_default()
                } else {
                    v
                };
                if value.is_empty() {
                    continue;
                }
                side.dims
                    .push((d.dim_names.intern(name), d.dim_values.intern(value)));
            }
        }
        raw.dims_len = (side.dims.len() - raw.dims_start as usize) as u16;
    }
    hits.push(raw);
}

/// A hit's attribute `index` (a campaign attribute, in the order of
/// `attr::CAMPAIGN_KEYS`) as campaign `c` gives it.
fn campaign_attr(c: &crate::referrer::Referrer, index: usize) -> Option<&str> {
    let parts = c.campaign.as_ref();
    match index.checked_sub(attr::CAMPAIGN)? {
        0 => c.name.as_deref(),
        1 => parts.and_then(|p| p.source.as_deref()),
        2 => parts.and_then(|p| p.medium.as_deref()),
        3 => c.keyword.as_deref(),
        4 => parts.and_then(|p| p.content.as_deref()),
        5 => parts.and_then(|p| p.id.as_deref()),
        _ => None,
    }
}

/// What became of one line: `None` for a blank line, else whether it was
/// taken (and why not).
pub(crate) type LineOutcome = Option<Result<(), String>>;

/// A block of input read on a worker thread (NDJSON lines, `T = &[u8]`,
/// or typed hits, `T = &Hit`): its hits with ids of the block's own
/// dictionaries and bucket ids of its own buckets, and each item's
/// outcome.
pub(crate) struct Block<T> {
    /// Hits, side arena and (site, day) buckets, all local to the block.
    pub batch: Bucketed,
    /// The block's dictionaries, per site.
    pub dicts: BlockDicts,
    /// Per item, in order, the item and its outcome: `None` for a blank
    /// line, else whether it was taken (and why not).
    pub lines: Vec<(T, LineOutcome)>,
}

impl<T> Default for Block<T> {
    fn default() -> Block<T> {
        Block {
            batch: Bucketed::default(),
            dicts: BlockDicts::default(),
            lines: Vec::new(),
        }
    }
}

/// A block's own dictionaries, per site (a block rarely holds more than
/// one site).
#[derive(Default)]
pub(crate) struct BlockDicts(Vec<(u32, SiteDicts)>);

impl BlockDicts {
    /// The block's dictionaries of `site`.
    pub(crate) fn site(&mut self, site: u32) -> &mut SiteDicts {
        let i = match self.0.iter().position(|(s, _)| *s == site) {
            Some(i) => i,
            None => {
                self.0.push((site, SiteDicts::default()));
                self.0.len() - 1
            }
        };
        &mut self.0[i].1
    }
}

impl<T> Block<T> {
    /// Places a hit in its site's day and interns it into the block.
    pub(crate) fn add(&mut self, zones: &Zones, view: &HitView) -> Result<(), String> {
        let date = zones.place(view)?;
        let bucket = self.batch.bucket((view.site, date));
        let d = self.dicts.site(view.site);
        intern_hit(d, view, bucket, &mut self.batch.hits, &mut self.batch.side);
        Ok(())
    }

    /// Adds the block's hits to `batch`: its values are interned into the
    /// sites' dictionaries in the block's id order, and every id, bucket
    /// and side-arena position of its hits is rewritten to the batch's.
    pub(crate) fn merge_into(self, batch: &mut Bucketed, sites: &mut impl SitesDicts) {
        let Block {
            batch: mut local,
            dicts,
            ..
        } = self;
        let remaps: Vec<(u32, Remap)> = dicts
            .0
            .iter()
            .map(|(site, d)| {
                let global = sites
                    .dicts_mut(*site)
                    .expect("a block interns only known sites");
                (*site, Remap::new(global, d))
            })
            .collect();
        let buckets: Vec<u32> = local.buckets.iter().map(|&k| batch.bucket(k)).collect();
        let base_fields = batch.side.fields.len() as u32;
        let base_extras = batch.side.extras.len() as u32;
        let base_conversions = batch.side.conversions.len() as u32;
        let base_dims = batch.side.dims.len() as u32;
        let side = &mut local.side;
        batch.hits.reserve(local.hits.len());
        for mut h in local.hits {
            let site = local.buckets[h.bucket as usize].0;
            let r = match remaps.iter().find(|(s, _)| *s == site) {
                Some((_, r)) => r,
                None => unreachable!("every bucket's site has dictionaries"),
            };
            h.bucket = buckets[h.bucket as usize];
            h.visitor = r.visitors[h.visitor as usize];
            h.url = map(&r.urls, h.url);
            h.title = map(&r.titles, h.title);
            if h.fields_at != NONE {
                let fields = &mut side.fields[h.fields_at as usize];
                for (f, id) in fields.iter_mut().enumerate() {
                    *id = map(&r.fields[f], *id);
                }
                h.fields_at += base_fields;
            }
            if h.extra_at != NONE && !h.kind.is_action() {
                h.extra_at += base_conversions;
            } else if h.extra_at != NONE {
                let e = &mut side.extras[h.extra_at as usize];
                e.keyword = map(&r.keywords, e.keyword);
                e.ev_category = map(&r.events, e.ev_category);
                e.ev_action = map(&r.events, e.ev_action);
                e.ev_name = map(&r.events, e.ev_name);
                e.search_cat = map(&r.dim_values, e.search_cat);
                h.extra_at += base_extras;
            }
            if h.dims_len > 0 {
                let from = h.dims_start as usize;
                for (name, value) in &mut side.dims[from..from + usize::from(h.dims_len)] {
                    *name = r.dim_names[*name as usize];
                    *value = r.dim_values[*value as usize];
                }
                h.dims_start += base_dims;
            }
            batch.hits.push(h);
        }
        batch.side.fields.append(&mut side.fields);
        batch.side.extras.append(&mut side.extras);
        batch.side.conversions.append(&mut side.conversions);
        batch.side.dims.append(&mut side.dims);
    }
}

/// Each site's dictionaries, by site id (the engine's sites), for merging
/// blocks into.
pub(crate) trait SitesDicts {
    fn dicts_mut(&mut self, site: u32) -> Option<&mut SiteDicts>;
}

/// Interns every value of `local` into `global`, in local id order (a
/// distributed build's dictionaries merged in input order).
pub(crate) fn merge_dicts(global: &mut SiteDicts, local: &SiteDicts) {
    Remap::new(global, local);
}

/// A block-local id (or [`NONE`]) as the site's id.
fn map(remap: &[u32], id: u32) -> u32 {
    if id == NONE { NONE } else { remap[id as usize] }
}

/// Block-local id → site id, per dictionary.
struct Remap {
    visitors: Vec<u32>,
    urls: Vec<u32>,
    titles: Vec<u32>,
    keywords: Vec<u32>,
    events: Vec<u32>,
    fields: [Vec<u32>; N_VFIELDS],
    dim_names: Vec<u32>,
    dim_values: Vec<u32>,
}

impl Remap {
    /// Interns every value of `local` into `global`, in local id order.
    fn new(global: &mut SiteDicts, local: &SiteDicts) -> Remap {
        fn all(global: &mut Dict, local: &Dict) -> Vec<u32> {
            local.iter().map(|(_, v)| global.intern(v)).collect()
        }
        Remap {
            visitors: all(&mut global.visitors, &local.visitors),
            urls: local
                .urls
                .iter()
                .map(|(_, u)| global.intern_url(u))
                .collect(),
            titles: all(&mut global.titles, &local.titles),
            keywords: all(&mut global.keywords, &local.keywords),
            events: all(&mut global.events, &local.events),
            fields: std::array::from_fn(|f| all(global.field_mut(f), local.field(f))),
            dim_names: all(&mut global.dim_names, &local.dim_names),
            dim_values: all(&mut global.dim_values, &local.dim_values),
        }
    }
}

/// Hits of one ingest call (or one block of it), in one contiguous buffer
/// with a (site, local day) bucket id on each hit, grouped once at commit
/// by an in-place counting sort: no vector per day and no second copy of
/// the batch, which matters to the allocator and the page cache at
/// millions of hits.
#[derive(Default)]
pub(crate) struct Bucketed {
    pub(crate) hits: Vec<RawHit>,
    pub(crate) side: SideArena,
    pub(crate) buckets: Vec<(u32, NaiveDate)>,
    bucket_ids: foldhash::HashMap<(u32, NaiveDate), u32>,
}

impl Bucketed {
    /// Room for `hits` hits.
    pub(crate) fn with_capacity(hits: usize) -> Bucketed {
        Bucketed {
            hits: Vec::with_capacity(hits),
            ..Bucketed::default()
        }
    }

    /// The id of a (site, day) bucket, assigning the next one if new.
    pub(crate) fn bucket(&mut self, key: (u32, NaiveDate)) -> u32 {
        if let Some(last) = self.hits.last()
            && self.buckets[last.bucket as usize] == key
        {
            return last.bucket;
        }
        let next = self.buckets.len() as u32;
        let id = *self.bucket_ids.entry(key).or_insert(next);
        if id == next {
            self.buckets.push(key);
        }
        id
    }

    /// Groups the hits by bucket in place (American flag sort: each hit
    /// moves at most once) and returns each bucket's range.
    pub(crate) fn group(&mut self) -> Vec<std::ops::Range<usize>> {
        let mut ends = vec![0usize; self.buckets.len()];
        for h in &self.hits {
            ends[h.bucket as usize] += 1;
        }
        let mut start = 0;
        let mut ranges = Vec::with_capacity(ends.len());
        for end in &mut ends {
            *end += start;
            ranges.push(start..*end);
            start = *end;
        }
        let mut next: Vec<usize> = ranges.iter().map(|r| r.start).collect();
        for b in 0..ranges.len() {
            while next[b] < ends[b] {
                let i = next[b];
                let target = self.hits[i].bucket as usize;
                if target == b {
                    next[b] += 1;
                } else {
                    self.hits.swap(i, next[target]);
                    next[target] += 1;
                }
            }
        }
        ranges
    }
}
