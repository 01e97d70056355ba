//! Interned hits: what a batch holds between parsing and archiving, and
//! what a day archive turns back into when late hits make it rebuild.

use std::cmp::Ordering;

use crate::dict::{Dict, NONE};
use crate::hit::HitType;

/// Visit-level fields that take the value of the visit's first hit that
/// carries one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VField {
    User = 0,
    Referrer = 1,
    Device = 2,
    Browser = 3,
    Os = 4,
    Country = 5,
    Language = 6,
}

/// Number of [`VField`]s.
pub(crate) const N_VFIELDS: usize = 7;

/// Every dictionary of a site.
#[derive(Debug, Default, Clone)]
pub(crate) struct SiteDicts {
    pub visitors: Dict,
    pub users: Dict,
    pub referrers: Dict,
    /// device, browser, os, country, language
    pub values: [Dict; 5],
    /// Full URLs, fragment dropped.
    pub urls: Dict,
    /// Page labels (path + query) and the label of every URL, derived
    /// from the URLs on first use ([`SiteDicts::pages`]).
    pages: std::sync::OnceLock<Pages>,
    pub titles: Dict,
    pub keywords: Dict,
    pub events: Dict,
    pub dim_names: Dict,
    pub dim_values: Dict,
    /// Sections resolved to URL-id sets over these dictionaries
    /// (`section.rs`); a set goes with the dictionaries
    /// it was computed from, so a rebuilt dictionary starts empty.
    pub sections: crate::section::SectionCache,
}

impl SiteDicts {
    /// Heap bytes of every dictionary, about.
    pub(crate) fn heap_bytes(&self) -> usize {
        [
            &self.visitors,
            &self.users,
            &self.referrers,
            &self.urls,
            &self.titles,
            &self.keywords,
            &self.events,
            &self.dim_names,
            &self.dim_values,
        ]
        .into_iter()
        .chain(&self.values)
        .map(Dict::heap_bytes)
        .sum::<usize>()
            + self
                .pages
                .get()
                .map_or(0, |p| p.labels.heap_bytes() + p.of_url.capacity() * 4)
    }

    pub(crate) fn field(&self, f: usize) -> &Dict {
        match f {
            0 => &self.users,
            1 => &self.referrers,
            i => &self.values[i - 2],
        }
    }

    pub(crate) fn field_mut(&mut self, f: usize) -> &mut Dict {
        match f {
            0 => &mut self.users,
            1 => &mut self.referrers,
            i => &mut self.values[i - 2],
        }
    }

    /// A custom dimension's name id; hitmap's own `$` attributes are not
    /// custom dimensions.
    pub(crate) fn custom_dim(&self, name: &str) -> Option<u32> {
        if name.starts_with('$') {
            return None;
        }
        self.dim_names.get(name)
    }

    /// The names of the custom dimensions, without hitmap's own.
    pub(crate) fn custom_dim_names(&self) -> impl Iterator<Item = &str> {
        self.dim_names
            .iter()
            .map(|(_, n)| n)
            .filter(|n| !n.starts_with('$'))
    }

    /// Appends the next URL as read from a store (each is held once; a
    /// page's without its fragment, a download's or outlink's with it).
    pub(crate) fn push_stored_url(&mut self, url: &str) -> u32 {
        let id = self.urls.push_stored(url);
        if let Some(pages) = self.pages.get_mut() {
            pages.add(&self.urls, id);
        }
        id
    }

    /// Interns a URL as it is: a hit's page URL comes without its fragment
    /// ([`crate::url::action_url`]).
    pub(crate) fn intern_url(&mut self, url: &str) -> u32 {
        let id = self.urls.intern(url);
        if let Some(pages) = self.pages.get_mut() {
            pages.add(&self.urls, id);
        }
        id
    }

    /// The page labels of the URLs, derived on first use: a question
    /// that shows no page label (a summary, most segments) never parses
    /// the site's URLs.
    pub(crate) fn pages(&self) -> &Pages {
        self.pages.get_or_init(|| {
            let mut pages = Pages::default();
            for id in 0..self.urls.len() as u32 {
                pages.add(&self.urls, id);
            }
            pages
        })
    }
}

/// Page labels (path and query, `url::page_label`) and which label each
/// URL id has.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pages {
    /// The labels, a dense id each.
    pub labels: Dict,
    /// Per URL id, its label's id.
    of_url: Vec<u32>,
    /// Per label id, the first URL id with it (the URL its rows show
    /// unless Matomo's rule names another: `rollup::reports::FirstDayUrls`).
    first_url: Vec<u32>,
    /// Whether a label has several URLs (another host or scheme).
    shared: Vec<bool>,
    /// Whether any label has.
    any_shared: bool,
}

impl Pages {
    /// URL `id` of `urls`, if it is the next one without a label.
    fn add(&mut self, urls: &Dict, id: u32) {
        if id as usize == self.of_url.len() {
            let page = self.labels.intern(crate::url::page_label(urls.value(id)));
            self.of_url.push(page);
            if page as usize == self.first_url.len() {
                self.first_url.push(id);
                self.shared.push(false);
            } else {
                self.shared[page as usize] = true;
                self.any_shared = true;
            }
        }
    }

    /// Whether label `page` has several URLs.
    pub(crate) fn shared(&self, page: u32) -> bool {
        self.shared.get(page as usize).copied().unwrap_or(false)
    }

    /// Whether any label has several URLs.
    pub(crate) fn any_shared(&self) -> bool {
        self.any_shared
    }

    /// The label id of URL `url`.
    pub(crate) fn of(&self, url: u32) -> u32 {
        self.of_url[url as usize]
    }

    /// The first URL id with label `page`.
    pub(crate) fn url_of(&self, page: u32) -> u32 {
        self.first_url[page as usize]
    }
}

/// One hit with every string replaced by its dictionary id ([`NONE`] for
/// missing). What most hits lack (visit-level fields, search and event
/// attributes, custom dimensions) lives in a [`SideArena`], so a hit is a
/// small fixed-size `Copy` value: batches of millions of hits touch less
/// memory and sort faster.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawHit {
    pub visitor: u32,
    pub ts: i64,
    pub kind: HitType,
    pub url: u32,
    pub title: u32,
    /// Index into [`SideArena::fields`], or [`NONE`].
    pub fields_at: u32,
    /// Index into [`SideArena::extras`] (an action) or
    /// [`SideArena::conversions`] (a conversion: `goal`, `order`, `cart`),
    /// or [`NONE`].
    pub extra_at: u32,
    pub dims_start: u32,
    pub dims_len: u16,
    /// The batch's (site, day) bucket of the hit.
    pub bucket: u32,
}

impl RawHit {
    pub(crate) fn new(visitor: u32, ts: i64, kind: HitType) -> RawHit {
        RawHit {
            visitor,
            ts,
            kind,
            url: NONE,
            title: NONE,
            fields_at: NONE,
            extra_at: NONE,
            dims_start: 0,
            dims_len: 0,
            bucket: 0,
        }
    }
}

/// Search and event attributes of a hit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extra {
    pub keyword: u32,
    pub ev_category: u32,
    pub ev_action: u32,
    pub ev_name: u32,
    /// NaN when the event has no value (JSON cannot carry NaN).
    pub ev_value: f64,
    /// The action's load timings and bandwidth.
    pub perf: PerfCells,
    /// A site search's category (an id of the values dictionary,
    /// `dim_values`, which holds custom dimension values, visit ids and
    /// search categories; [`NONE`] without one).
    pub search_cat: u32,
    /// How many results a site search found.
    pub search_count: Option<u32>,
}

/// An action's load timings in milliseconds ([`NONE`] where missing: no
/// timing reaches it) and bandwidth in bytes (`u64::MAX` where missing),
/// by [`crate::hit::Perf::FIELDS`] position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PerfCells {
    pub ms: [u32; 6],
    pub bytes: u64,
}

impl PerfCells {
    pub(crate) const NONE: PerfCells = PerfCells {
        ms: [NONE; 6],
        bytes: u64::MAX,
    };

    /// From a hit's checked values (in range: see `HitView::validate`).
    pub(crate) fn of(values: &[Option<u64>; 7]) -> PerfCells {
        let mut out = PerfCells::NONE;
        for (cell, v) in out.ms.iter_mut().zip(values) {
            if let Some(v) = v {
                *cell = u32::try_from(*v).unwrap_or(NONE);
            }
        }
        if let Some(b) = values[6] {
            out.bytes = b;
        }
        out
    }

    /// Field `i` ([`crate::hit::Perf::FIELDS`] position), if set.
    pub(crate) fn get(&self, i: usize) -> Option<u64> {
        match i {
            6 => (self.bytes != u64::MAX).then_some(self.bytes),
            _ => (self.ms[i] != NONE).then_some(u64::from(self.ms[i])),
        }
    }

    pub(crate) fn is_none(&self) -> bool {
        *self == PerfCells::NONE
    }

    /// As the public type.
    pub(crate) fn to_perf(self) -> crate::hit::Perf {
        crate::hit::Perf {
            times: std::array::from_fn(|i| (self.ms[i] != NONE).then_some(self.ms[i])),
            bandwidth: self.get(6),
        }
    }
}

impl Extra {
    pub(crate) const NONE: Extra = Extra {
        keyword: NONE,
        ev_category: NONE,
        ev_action: NONE,
        ev_name: NONE,
        ev_value: f64::NAN,
        perf: PerfCells::NONE,
        search_cat: NONE,
        search_count: None,
    };

    /// No attribute at all (an event's value included).
    pub(crate) fn is_empty(&self) -> bool {
        self.is_none()
            && self.ev_action == NONE
            && self.ev_name == NONE
            && self.ev_value.is_nan()
            && self.perf.is_none()
            && !self.has_search_details()
    }

    /// Whether it has a site search's category or result count.
    pub(crate) fn has_search_details(&self) -> bool {
        self.search_cat != NONE || self.search_count.is_some()
    }

    pub(crate) fn is_none(&self) -> bool {
        self.keyword == NONE && self.ev_category == NONE
    }
}

/// The rarely-set parts of a batch's hits.
#[derive(Debug, Default)]
pub(crate) struct SideArena {
    /// (dimension name id, value id) pairs.
    pub dims: Vec<(u32, u32)>,
    pub fields: Vec<[u32; N_VFIELDS]>,
    pub extras: Vec<Extra>,
    /// The recorded conversions' data (text owned: such hits are few).
    pub conversions: Vec<crate::hit::Conversion>,
}

impl SideArena {
    pub(crate) fn dims(&self, h: &RawHit) -> &[(u32, u32)] {
        &self.dims[h.dims_start as usize..h.dims_start as usize + usize::from(h.dims_len)]
    }

    pub(crate) fn fields(&self, h: &RawHit) -> [u32; N_VFIELDS] {
        if h.fields_at == NONE {
            [NONE; N_VFIELDS]
        } else {
            self.fields[h.fields_at as usize]
        }
    }

    pub(crate) fn extra(&self, h: &RawHit) -> Extra {
        if h.extra_at == NONE || !h.kind.is_action() {
            Extra::NONE
        } else {
            self.extras[h.extra_at as usize]
        }
    }

    /// Stores a hit's visit-level fields, unless it has none.
    pub(crate) fn set_fields(&mut self, h: &mut RawHit, fields: [u32; N_VFIELDS]) {
        if fields.iter().any(|&f| f != NONE) {
            h.fields_at = self.fields.len() as u32;
            self.fields.push(fields);
        }
    }

    /// A conversion hit's data.
    pub(crate) fn conversion(&self, h: &RawHit) -> Option<&crate::hit::Conversion> {
        if h.kind.is_action() || h.extra_at == NONE {
            return None;
        }
        self.conversions.get(h.extra_at as usize)
    }

    /// Stores a conversion hit's data.
    pub(crate) fn set_conversion(&mut self, h: &mut RawHit, c: crate::hit::Conversion) {
        h.extra_at = self.conversions.len() as u32;
        self.conversions.push(c);
    }

    /// Stores a hit's search and event attributes, unless it has none.
    pub(crate) fn set_extra(&mut self, h: &mut RawHit, extra: Extra) {
        if !extra.is_empty() {
            h.extra_at = self.extras.len() as u32;
            self.extras.push(extra);
        }
    }
}

/// Sorts one day's hits into visit order: by visitor, then time; equal
/// times by the strings of URL, type and the other action attributes, so
/// that no result can depend on arrival order (ids are first-seen, strings
/// are not). Hits equal in all of these are interchangeable as actions; the
/// visit-level values among them are settled by [`same_action`] groups.
pub(crate) fn sort_hits(hits: &mut [RawHit], d: &SiteDicts, side: &SideArena) {
    hits.sort_unstable_by(|a, b| {
        a.visitor
            .cmp(&b.visitor)
            .then(a.ts.cmp(&b.ts))
            .then_with(|| tie_break(a, b, d, side))
    });
}

fn by_str(dict: &Dict, a: u32, b: u32) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    dict.opt(a).cmp(&dict.opt(b))
}

pub(crate) fn tie_break(a: &RawHit, b: &RawHit, d: &SiteDicts, side: &SideArena) -> Ordering {
    let (x, y) = (side.extra(a), side.extra(b));
    by_str(&d.urls, a.url, b.url)
        .then(a.kind.cmp(&b.kind))
        .then_with(|| by_str(&d.titles, a.title, b.title))
        .then_with(|| by_str(&d.keywords, x.keyword, y.keyword))
        .then_with(|| by_str(&d.events, x.ev_category, y.ev_category))
        .then_with(|| by_str(&d.events, x.ev_action, y.ev_action))
        .then_with(|| by_str(&d.events, x.ev_name, y.ev_name))
        .then_with(|| x.ev_value.total_cmp(&y.ev_value))
        .then_with(|| x.perf.ms.cmp(&y.perf.ms))
        .then_with(|| x.perf.bytes.cmp(&y.perf.bytes))
        .then_with(|| by_str(&d.dim_values, x.search_cat, y.search_cat))
        .then_with(|| x.search_count.cmp(&y.search_count))
}

/// Whether two hits are the same action (time and every action attribute):
/// such hits sort next to each other in any order, so a visit-level value
/// is taken as the smallest string within the first group that carries one.
pub(crate) fn same_action(a: &RawHit, b: &RawHit, side: &SideArena) -> bool {
    if a.ts != b.ts || a.url != b.url || a.kind != b.kind || a.title != b.title {
        return false;
    }
    let (x, y) = (side.extra(a), side.extra(b));
    x.keyword == y.keyword
        && x.ev_category == y.ev_category
        && x.ev_action == y.ev_action
        && x.ev_name == y.ev_name
        && x.ev_value.total_cmp(&y.ev_value).is_eq()
        && x.perf == y.perf
        && x.search_cat == y.search_cat
        && x.search_count == y.search_count
}

// A batch buffers millions of these: keep them small.
const _: () = assert!(std::mem::size_of::<RawHit>() <= 40);
