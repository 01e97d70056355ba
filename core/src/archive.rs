//! The day archive: every visit of one site on one local day, as columns,
//! plus roaring-bitmap indexes from values to the visits that have them.
//!
//! An archive is self-contained (visits never cross a local day) and holds
//! enough to give its hits back, so late hits rebuild one day from the
//! archive alone. Visits are stored in (visitor, start) order, so the
//! visitor column is sorted and visitor sets build with sorted inserts.

use std::sync::{Arc, Mutex, OnceLock};

use roaring::RoaringBitmap;

use crate::dict::Dict;
use crate::dict::NONE;
use crate::hit::HitType;
use crate::hit::attr;
use crate::raw::{
    Extra, N_VFIELDS, RawHit, SideArena, SiteDicts, VField, same_action, sort_hits, tie_break,
};
use crate::recorded::Recorded;
use crate::referrer::{ReferrerType, classify};
use crate::site::SiteConfig;

/// Values to the visits (or any ids) that have them.
///
/// Most values of a day are rare (one page among thousands, read in a few
/// visits): their visits sit end to end in one sorted list, 4 bytes each,
/// and a query turns a list into a bitmap when it needs one. Values with
/// at least [`BITMAP_FROM`] visits keep a roaring bitmap, ready to combine.
#[derive(Debug, Default, Clone)]
pub(crate) struct ValueIndex {
    /// Rare values' ids, ascending.
    ids: Vec<u32>,
    /// Where each rare value's visits start in `visits`, plus one end.
    starts: Vec<u32>,
    /// Rare values' visits, each value's ascending.
    visits: Vec<u32>,
    /// Frequent values' ids, ascending, with their bitmaps.
    big_ids: Vec<u32>,
    bitmaps: Vec<RoaringBitmap>,
}

/// `pairs` sorted by value, then visit. Pairs that come by visit (a
/// column's values, a day's actions in visit order) are sorted by value
/// alone with a stable radix sort, 11 bits a pass and only as many passes
/// as the largest value needs: a cold query builds an index for each
/// condition of each day, and a comparison sort was most of that.
fn sorted_pairs(mut pairs: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    const BITS: u32 = 11;
    if pairs.len() < 256 || !pairs.windows(2).all(|w| w[0].1 <= w[1].1) {
        pairs.sort_unstable();
        return pairs;
    }
    let max = pairs.iter().map(|p| p.0).max().unwrap_or(0);
    let mut other = vec![(0, 0); pairs.len()];
    let mut shift = 0;
    while shift < 32 && (shift == 0 || max >> shift != 0) {
        let digit = |p: &(u32, u32)| ((p.0 >> shift) & ((1 << BITS) - 1)) as usize;
        let mut starts = [0usize; 1 << BITS];
        for p in &pairs {
            starts[digit(p)] += 1;
        }
        let mut at = 0;
        for s in starts.iter_mut() {
            let n = *s;
            *s = at;
            at += n;
        }
        for p in &pairs {
            let d = digit(p);
            other[starts[d]] = *p;
            starts[d] += 1;
        }
        std::mem::swap(&mut pairs, &mut other);
        shift += BITS;
    }
    pairs
}

/// Visits from which a value keeps a bitmap rather than a list (about
/// where a bitmap's fixed cost is paid back).
pub(crate) const BITMAP_FROM: usize = 64;

impl ValueIndex {
    /// Heap bytes, about: lists, ids, and each bitmap's serialized size
    /// (close to its in-memory size) plus its allocations.
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.ids.capacity()
            + self.starts.capacity()
            + self.visits.capacity()
            + self.big_ids.capacity())
            * 4
            + self
                .bitmaps
                .iter()
                .map(|b| b.serialized_size() + 64)
                .sum::<usize>()
    }

    /// Builds from (value, visit) pairs in any order, duplicates allowed.
    pub(crate) fn from_pairs(pairs: Vec<(u32, u32)>) -> ValueIndex {
        let mut pairs = sorted_pairs(pairs);
        pairs.dedup();
        let mut index = ValueIndex::default();
        let mut i = 0;
        while i < pairs.len() {
            let id = pairs[i].0;
            let j = i + pairs[i..].partition_point(|p| p.0 == id);
            let visits = pairs[i..j].iter().map(|p| p.1);
            if j - i >= BITMAP_FROM {
                let bitmap = RoaringBitmap::from_sorted_iter(visits)
                    .expect("pairs are sorted and deduplicated");
                index.big_ids.push(id);
                index.bitmaps.push(bitmap);
            } else {
                if index.starts.is_empty() {
                    index.starts.push(0);
                }
                index.ids.push(id);
                index.visits.extend(visits);
                index.starts.push(index.visits.len() as u32);
            }
            i = j;
        }
        index.ids.shrink_to_fit();
        index.starts.shrink_to_fit();
        index.visits.shrink_to_fit();
        index
    }

    /// A column's values (one per visit, [`NONE`] for none) to their
    /// visits.
    pub(crate) fn of_column(values: &[u32]) -> ValueIndex {
        ValueIndex::from_pairs(
            values
                .iter()
                .enumerate()
                .filter(|(_, v)| **v != NONE)
                .map(|(i, v)| (*v, i as u32))
                .collect(),
        )
    }

    /// The visits with value `id`, if any.
    pub(crate) fn get(&self, id: u32) -> Option<std::borrow::Cow<'_, RoaringBitmap>> {
        if let Ok(i) = self.big_ids.binary_search(&id) {
            return Some(std::borrow::Cow::Borrowed(&self.bitmaps[i]));
        }
        let i = self.ids.binary_search(&id).ok()?;
        Some(std::borrow::Cow::Owned(
            RoaringBitmap::from_sorted_iter(self.list(i).iter().copied())
                .expect("lists are sorted"),
        ))
    }

    fn list(&self, i: usize) -> &[u32] {
        &self.visits[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    /// The union of the visits whose value id passes `keep`.
    pub(crate) fn union_where(&self, mut keep: impl FnMut(u32) -> bool) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        for (id, b) in self.big_ids.iter().zip(&self.bitmaps) {
            if keep(*id) {
                out |= b;
            }
        }
        let mut rare: Vec<u32> = Vec::new();
        for (i, id) in self.ids.iter().enumerate() {
            if keep(*id) {
                rare.extend_from_slice(self.list(i));
            }
        }
        if !rare.is_empty() {
            rare.sort_unstable();
            rare.dedup();
            out |= RoaringBitmap::from_sorted_iter(rare).expect("sorted and deduplicated");
        }
        out
    }
}

/// Keywords and event attributes of the actions that have any (searches
/// and events, a small share of a day's actions), by action position.
#[derive(Debug, Default, Clone)]
pub(crate) struct ActionExtras {
    /// Positions of the actions with extras, ascending.
    at: Vec<u32>,
    values: Vec<Extra>,
    /// Whether an action has load timings or bandwidth.
    perf: bool,
    /// Whether a site search has a category.
    categories: bool,
}

impl ActionExtras {
    /// Records action `i`'s extras (nothing if it has none). Actions come
    /// in position order.
    pub(crate) fn push(&mut self, i: usize, x: Extra) {
        if !x.is_empty() {
            self.at.push(i as u32);
            self.values.push(x);
            self.perf |= !x.perf.is_none();
            self.categories |= x.search_cat != NONE;
        }
    }

    /// Whether a site search has a category (a day without any counts
    /// no site search category report).
    pub(crate) fn has_search_categories(&self) -> bool {
        self.categories
    }

    /// Whether an action has load timings or bandwidth.
    pub(crate) fn has_perf(&self) -> bool {
        self.perf
    }

    /// Action `i`'s extras ([`Extra::NONE`] if it has none).
    pub(crate) fn get(&self, i: usize) -> Extra {
        match self.at.binary_search(&(i as u32)) {
            Ok(k) => self.values[k],
            Err(_) => Extra::NONE,
        }
    }

    /// The actions that have extras: position and attributes, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &Extra)> {
        self.at.iter().map(|&i| i as usize).zip(&self.values)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.at.capacity() * 4 + self.values.capacity() * std::mem::size_of::<Extra>()
    }

    /// Sets the load timings and bandwidth of the actions `cells` names
    /// (ascending positions), beside the extras already held.
    pub(crate) fn merge_perf(&mut self, cells: Vec<(usize, crate::raw::PerfCells)>) {
        self.merge(cells, |x, perf| x.perf = perf);
    }

    /// Sets the site search categories and result counts of the actions
    /// `cells` names (ascending positions), beside the extras held.
    pub(crate) fn merge_search(&mut self, cells: Vec<(usize, (u32, Option<u32>))>) {
        self.merge(cells, |x, (cat, count)| {
            x.search_cat = cat;
            x.search_count = count;
        });
    }

    /// Sets a part of the extras of the actions `cells` names (ascending
    /// positions) with `set`, beside the extras already held.
    fn merge<T>(&mut self, cells: Vec<(usize, T)>, set: impl Fn(&mut Extra, T)) {
        if cells.is_empty() {
            return;
        }
        let old = std::mem::take(self);
        let mut held = old.at.into_iter().zip(old.values).peekable();
        let mut cells = cells.into_iter().peekable();
        loop {
            let take_held = match (held.peek(), cells.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((h, _)), Some((c, _))) => (*h as usize) < *c,
            };
            if take_held {
                let (i, x) = held.next().expect("peeked");
                self.perf |= !x.perf.is_none();
                self.categories |= x.search_cat != NONE;
                self.at.push(i);
                self.values.push(x);
                continue;
            }
            let (i, cell) = cells.next().expect("peeked");
            let mut x = match held.peek() {
                Some((h, _)) if *h as usize == i => held.next().expect("peeked").1,
                _ => Extra::NONE,
            };
            set(&mut x, cell);
            self.perf |= !x.perf.is_none();
            self.categories |= x.search_cat != NONE;
            self.at.push(i as u32);
            self.values.push(x);
        }
    }
}

/// A custom dimension's column: value and carrier position per visit.
#[derive(Debug, Clone)]
pub(crate) struct DimColumn {
    pub name: u32,
    pub values: Vec<u32>,
    pub carriers: Vec<u32>,
    /// Built from `values` on first use ([`DimColumn::index`]).
    pub index: OnceLock<ValueIndex>,
}

impl DimColumn {
    /// The column as an index of its values, built on first use.
    pub(crate) fn index(&self) -> &ValueIndex {
        self.index
            .get_or_init(|| ValueIndex::of_column(&self.values))
    }
}

/// Action-level indexes: value id to the visits with such an action.
#[derive(Debug, Default, Clone)]
pub(crate) struct ActionIndexes {
    /// By URL id, for page views, downloads and outlinks.
    pub by_kind_url: [ValueIndex; 3],
    pub titles: ValueIndex,
    pub keywords: ValueIndex,
    pub event_categories: ValueIndex,
    pub event_actions: ValueIndex,
}

/// Sums over all visits of the day, for unsegmented summaries.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DayTotals {
    pub visits: u64,
    pub actions: u64,
    pub max_actions: u64,
    pub bounces: u64,
    pub sum_length: u64,
}

impl DayTotals {
    /// Counts one visit of `n` actions lasting `length` seconds.
    pub(crate) fn add_visit(&mut self, n: u64, length: u32) {
        self.visits += 1;
        self.actions += n;
        self.max_actions = self.max_actions.max(n);
        self.bounces += u64::from(n <= 1);
        self.sum_length += u64::from(length);
    }
}

/// What every visit of one day's build needs.
struct VisitContext<'a> {
    side: &'a SideArena,
    dicts: &'a SiteDicts,
    site: &'a SiteConfig,
    /// The name id of `$referrer_type`, if the site has seen one.
    recorded_type: Option<u32>,
    /// The name ids of `$campaign_name` and `$campaign_keyword`, if the
    /// site has seen them.
    recorded_campaign: [Option<u32>; 2],
    /// Referrer types already derived this build, by (landing URL id,
    /// referrer id): a day's visits repeat few pairs, and the lists are
    /// long.
    referrer_types: std::cell::RefCell<foldhash::HashMap<(u32, u32), ReferrerType>>,
}

/// The column groups of a day archive, as a set: a reader that decodes a
/// day file for one question decodes only the groups it needs (a
/// segmented summary: the visits, their times, the user field and what
/// the segment and section look at). The visitor and action-offset
/// columns are always there; a group left out stays empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Columns(u32);

impl Columns {
    /// Visit field `f`'s values ([`VField`] as `usize`).
    pub(crate) const fn field(f: usize) -> Columns {
        Columns(1 << f)
    }
    /// Every visit field's and custom dimension's carrier (where each
    /// value came from: for giving hits back).
    pub(crate) const CARRIERS: Columns = Columns(1 << 7);
    /// The custom dimensions' values.
    pub(crate) const DIMS: Columns = Columns(1 << 8);
    pub(crate) const REFERRER_TYPE: Columns = Columns(1 << 9);
    pub(crate) const KINDS: Columns = Columns(1 << 10);
    /// Action times (and so visit lengths), with the recorded
    /// conversions: a visit without actions takes its times from them.
    pub(crate) const TIMES: Columns = Columns(1 << 11 | Columns::CONVERSIONS.0);
    pub(crate) const URLS: Columns = Columns(1 << 12);
    /// Page titles (stored against the URLs: they come with them).
    pub(crate) const TITLES: Columns = Columns(1 << 13 | Columns::URLS.0);
    /// Keywords and event attributes.
    pub(crate) const EXTRAS: Columns = Columns(1 << 14);
    /// The visits' visitors' visits on earlier days (`before`, from the
    /// visitor history: for visit counts and new or returning visits).
    pub(crate) const BEFORE: Columns = Columns(1 << 15);
    /// The recorded conversions (`goal`, `order`, `cart` hits).
    pub(crate) const CONVERSIONS: Columns = Columns(1 << 16);
    pub(crate) const ALL: Columns = Columns((1 << 17) - 1);
    /// Everything but `before`: what a report reads (no report's rows
    /// depend on the visitors' earlier days, so the visitor history is
    /// not read for them).
    pub(crate) const REPORTS: Columns = Columns::ALL.without(Columns::BEFORE);
    /// Only the visitor and action-offset columns.
    pub(crate) const NONE: Columns = Columns(0);
    /// What every summary reads: visits, their times (lengths) and users.
    pub(crate) const SUMMARY: Columns = Columns(Columns::TIMES.0 | 1 << VField::User as u32);

    /// The groups whose bits are set in `bits` (the constants' bits;
    /// others are ignored).
    #[cfg(test)]
    pub(crate) const fn from_bits(bits: u32) -> Columns {
        Columns(bits & Columns::ALL.0)
    }

    pub(crate) const fn with(self, other: Columns) -> Columns {
        Columns(self.0 | other.0)
    }

    pub(crate) const fn without(self, other: Columns) -> Columns {
        Columns(self.0 & !other.0)
    }

    pub(crate) const fn has(self, other: Columns) -> bool {
        self.0 & other.0 == other.0
    }
}

impl Default for Columns {
    fn default() -> Columns {
        Columns::ALL
    }
}

/// One site's visits on one local day.
#[derive(Debug, Clone, Default)]
pub(crate) struct DayArchive {
    /// The column groups this archive holds (a built archive: all; one
    /// read for a question: what it needs).
    pub cols: Columns,
    // visit columns
    pub visitor: Vec<u32>,
    pub length: Vec<u32>,
    /// Start of each visit's actions, plus one final end: len = visits + 1.
    pub action_offsets: Vec<u32>,
    /// 0-based rank among the same visitor's visits of this day.
    pub rank_in_day: Vec<u32>,
    /// Per visit: the visitor's visits on earlier days of the site. Not
    /// stored; derived from the visitor table and kept current by the
    /// site whenever that table changes, so `visitCount` and new/returning
    /// cost one read instead of a lookup per visit.
    pub before: Vec<u32>,
    pub entry_url: Vec<u32>,
    pub exit_url: Vec<u32>,
    pub referrer_type: Vec<u8>,
    pub fields: [Vec<u32>; N_VFIELDS],
    pub field_carriers: [Vec<u32>; N_VFIELDS],
    pub dims: Vec<DimColumn>,
    // action columns
    pub a_kind: Vec<HitType>,
    pub a_ts: Vec<i64>,
    pub a_url: Vec<u32>,
    pub a_title: Vec<u32>,
    /// Keywords and event attributes, kept for the few actions that have
    /// them ([`DayArchive::extra`]).
    pub a_extras: ActionExtras,
    /// The day's recorded conversions, sorted by visit (those attached to
    /// no visit last), then time (`recorded.rs`).
    pub conversions: Vec<Recorded>,
    /// The day's product views (`product_view` hits) and content
    /// impressions and interactions (`content` hits), attached and
    /// sorted as the conversions are; never counted as conversions.
    pub views: Vec<Recorded>,
    // indexes
    pub visitors: RoaringBitmap,
    pub users: RoaringBitmap,
    /// The value indexes below are built on first use (a query uses the
    /// few its segment names): [`DayArchive::field_index`],
    /// [`DayArchive::referrer_type_index`], [`DayArchive::action_indexes`].
    pub field_index: [OnceLock<ValueIndex>; N_VFIELDS],
    pub referrer_type_index: OnceLock<ValueIndex>,
    pub actions: OnceLock<ActionIndexes>,
    pub totals: DayTotals,
    /// Per-visit counts of the visits cut to the sections asked so far.
    pub section_cuts: SectionCuts,
}

/// Per visit, the number of its actions inside a section and the length
/// of the visit cut to them ((0, 0): none inside).
pub(crate) type SectionCut = Arc<[(u32, u32)]>;

/// The section cuts of one day archive ([`DayArchive::section_cut`]),
/// computed on first use. An archive's columns never change once built
/// (only the derived `before` column is refreshed), and a section's URL
/// set over the archive's URL ids depends only on the section's prefixes,
/// so an entry stays right for the archive's life; a copy starts empty.
#[derive(Default)]
pub(crate) struct SectionCuts(Mutex<Vec<(Arc<str>, SectionCut)>>);

/// Sections whose cuts one archive keeps (the oldest goes first).
const SECTION_CUTS: usize = 8;

impl Clone for SectionCuts {
    fn clone(&self) -> SectionCuts {
        SectionCuts::default()
    }
}

impl std::fmt::Debug for SectionCuts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SectionCuts({})", self.entries().len())
    }
}

impl SectionCuts {
    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<(Arc<str>, SectionCut)>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.entries()
            .iter()
            .map(|(k, c)| k.len() + c.len() * 8)
            .sum()
    }
}

impl DayArchive {
    /// Heap bytes the archive holds, about (a lazy reader's cache budget
    /// counts these).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.heap_parts().iter().map(|p| p.1).sum::<usize>()
            + self.section_cuts.heap_bytes()
            + std::mem::size_of::<DayArchive>()
    }

    /// [`DayArchive::heap_bytes`] by part, for memory reports.
    pub(crate) fn heap_parts(&self) -> [(&'static str, usize); 6] {
        #[allow(clippy::ptr_arg)] // the capacity, not the length
        fn v<T>(x: &Vec<T>) -> usize {
            x.capacity() * std::mem::size_of::<T>()
        }
        let visits = v(&self.visitor)
            + v(&self.length)
            + v(&self.action_offsets)
            + v(&self.rank_in_day)
            + v(&self.before)
            + v(&self.entry_url)
            + v(&self.exit_url)
            + v(&self.referrer_type)
            + self
                .fields
                .iter()
                .chain(&self.field_carriers)
                .map(v)
                .sum::<usize>();
        let actions = v(&self.a_kind)
            + v(&self.a_ts)
            + v(&self.a_url)
            + v(&self.a_title)
            + self.a_extras.heap_bytes()
            + v(&self.conversions)
            + v(&self.views);
        let dims = self
            .dims
            .iter()
            .map(|d| {
                v(&d.values) + v(&d.carriers) + d.index.get().map_or(0, ValueIndex::heap_bytes)
            })
            .sum::<usize>();
        let visitors = self.visitors.serialized_size() + self.users.serialized_size();
        let built = |i: &OnceLock<ValueIndex>| i.get().map_or(0, ValueIndex::heap_bytes);
        let visit_indexes =
            self.field_index.iter().map(built).sum::<usize>() + built(&self.referrer_type_index);
        let action_indexes = self.actions.get().map_or(0, |x| {
            x.by_kind_url
                .iter()
                .map(ValueIndex::heap_bytes)
                .sum::<usize>()
                + x.titles.heap_bytes()
                + x.keywords.heap_bytes()
                + x.event_categories.heap_bytes()
                + x.event_actions.heap_bytes()
        });
        [
            ("visit columns", visits),
            ("action columns", actions),
            ("custom dimension columns and indexes", dims),
            ("visitor and user bitmaps", visitors),
            ("visit field indexes", visit_indexes),
            ("action indexes", action_indexes),
        ]
    }

    /// Columns sized exactly: growing them would touch (and on some
    /// machines, fault in) twice the memory.
    fn with_capacity(visits: usize, actions: usize) -> DayArchive {
        fn cap<T>(n: usize) -> Vec<T> {
            Vec::with_capacity(n)
        }
        DayArchive {
            visitor: cap(visits),
            action_offsets: Vec::with_capacity(visits + 1),
            referrer_type: cap(visits),
            fields: std::array::from_fn(|_| cap(visits)),
            field_carriers: std::array::from_fn(|_| cap(visits)),
            a_kind: cap(actions),
            a_ts: cap(actions),
            a_url: cap(actions),
            a_title: cap(actions),
            ..DayArchive::default()
        }
    }

    /// 1-based rank of a visit among all of its visitor's visits
    /// (Matomo's `visitCount`).
    pub(crate) fn visit_rank(&self, visit: u32) -> u32 {
        let v = visit as usize;
        self.before[v] + self.rank_in_day[v] + 1
    }

    /// Whether a visit is its visitor's first.
    pub(crate) fn is_new_visit(&self, visit: u32) -> bool {
        let v = visit as usize;
        self.rank_in_day[v] == 0 && self.before[v] == 0
    }

    /// Every visit cut to a section: the number of its actions inside and
    /// the cut visit's length ([`cut_counts`]), computed on
    /// the first query of this section over this day and kept.
    pub(crate) fn section_cut(&self, section: &crate::section::SectionSet) -> SectionCut {
        if let Some((_, cut)) = self
            .section_cuts
            .entries()
            .iter()
            .find(|(k, _)| *k == section.key)
        {
            return cut.clone();
        }
        let cut: SectionCut = (0..self.visit_count())
            .map(|v| {
                cut_counts(self, v, &section.urls).map_or((0, 0), |(n, length)| (n as u32, length))
            })
            .collect();
        let mut entries = self.section_cuts.entries();
        if !entries.iter().any(|(k, _)| *k == section.key) {
            if entries.len() == SECTION_CUTS {
                entries.remove(0);
            }
            entries.push((section.key.clone(), cut.clone()));
        }
        cut
    }

    /// The visit columns that follow from the others, computed here alone
    /// for a build and for a day file read back: each visit's rank among
    /// its visitor's visits that day (visits are sorted by visitor), its
    /// entry and exit page (the first and last page view's URL) and its
    /// length. The action offsets must be valid.
    pub(crate) fn derive_visit_columns(&mut self) {
        let visits = self.visitor.len();
        // A projected read derives what its columns allow: lengths need
        // the times, entry and exit pages the kinds and URLs.
        let times = self.cols.has(Columns::TIMES);
        let pages = self.cols.has(Columns::KINDS.with(Columns::URLS));
        let room = |on: bool| Vec::with_capacity(if on { visits } else { 0 });
        let (mut rank, mut entry, mut exit, mut length) =
            (room(true), room(pages), room(pages), room(times));
        for v in 0..visits {
            rank.push(match v.checked_sub(1) {
                Some(p) if self.visitor[p] == self.visitor[v] => rank[p] + 1,
                _ => 0,
            });
            let r = self.actions_of(v as u32);
            if times {
                length.push(self.span_length(r.len(), r.start, r.end.saturating_sub(1)));
            }
            if pages {
                let mut views = r.filter(|&i| self.a_kind[i] == HitType::Pageview);
                let first = views.next().map_or(NONE, |i| self.a_url[i]);
                entry.push(first);
                exit.push(views.next_back().map_or(first, |i| self.a_url[i]));
            }
        }
        (self.rank_in_day, self.entry_url, self.exit_url, self.length) =
            (rank, entry, exit, length);
    }

    /// The length of a visit, or of a visit cut to a section, of `n`
    /// actions from `first` to `last`: 0 for one action, else the seconds
    /// from the first to the last, plus one.
    pub(crate) fn span_length(&self, n: usize, first: usize, last: usize) -> u32 {
        if n <= 1 {
            0
        } else {
            (1 + self.a_ts[last] - self.a_ts[first]) as u32
        }
    }

    /// When a visit started: its first action's time (Unix seconds), or
    /// for a visit without actions its first conversion's.
    pub(crate) fn visit_start(&self, visit: u32) -> i64 {
        let r = self.actions_of(visit);
        if r.is_empty() {
            self.records_of(visit).map(|c| c.ts).min().unwrap_or(0)
        } else {
            self.a_ts[r.start]
        }
    }

    /// When a visit's last action was (Unix seconds), or for a visit
    /// without actions its last conversion's.
    pub(crate) fn visit_last(&self, visit: u32) -> i64 {
        let r = self.actions_of(visit);
        if r.is_empty() {
            self.records_of(visit).map(|c| c.ts).max().unwrap_or(0)
        } else {
            self.a_ts[r.end - 1]
        }
    }

    /// A visit's conversions, product views and contents.
    fn records_of(&self, visit: u32) -> impl Iterator<Item = &Recorded> {
        self.conversions_of(visit)
            .iter()
            .chain(self.views_of(visit))
    }

    /// The seconds spent on page view `i` of `visit` (Matomo's time spent
    /// on a page, `time_spent_ref_action` summed by the page it refers
    /// to): each later action's seconds since the request before it, up
    /// to and with the next page view (the visit's last action when none
    /// follows); events' seconds count nowhere, and a recorded conversion
    /// (a request of its own) restarts the clock. Without events or
    /// conversions between, the time to the next page view. Derived from
    /// the times, not stored.
    pub(crate) fn time_spent(&self, visit: u32, i: usize) -> u32 {
        let end = self.action_offsets[visit as usize + 1] as usize;
        let convs = self.conversions_of(visit);
        let mut total = 0i64;
        for k in i + 1..end {
            let kind = self.a_kind[k];
            if kind != HitType::Event {
                let (prev, at) = (self.a_ts[k - 1], self.a_ts[k]);
                let since = convs
                    .iter()
                    .map(|c| c.ts)
                    .filter(|&t| t > prev && t < at)
                    .max()
                    .unwrap_or(prev);
                total += at - since;
            }
            if kind == HitType::Pageview {
                break;
            }
        }
        u32::try_from(total.max(0)).unwrap_or(u32::MAX)
    }

    /// Action `i`'s keyword and event attributes.
    pub(crate) fn extra(&self, i: usize) -> Extra {
        self.a_extras.get(i)
    }

    pub(crate) fn visit_count(&self) -> u32 {
        self.visitor.len() as u32
    }

    pub(crate) fn actions_of(&self, visit: u32) -> std::ops::Range<usize> {
        self.action_offsets[visit as usize] as usize
            ..self.action_offsets[visit as usize + 1] as usize
    }

    /// Sessionizes one day's hits and builds the archive. `hits` must hold
    /// every hit of the day (old and new); their custom dimensions point
    /// into `dims`. The recorded conversions among them go into the visits
    /// the actions make (`recorded.rs`).
    pub(crate) fn build(
        hits: &mut [RawHit],
        side: &SideArena,
        dicts: &SiteDicts,
        site: &SiteConfig,
    ) -> DayArchive {
        // Actions first, conversions after.
        let mut actions = hits.len();
        let mut i = 0;
        while i < actions {
            if hits[i].kind.is_action() {
                i += 1;
            } else {
                actions -= 1;
                hits.swap(i, actions);
            }
        }
        let (acts, convs) = hits.split_at_mut(actions);
        let plan = Plan::of(acts, convs, side, dicts, i64::from(site.visit_timeout));
        let (mut a, empty_visits) =
            DayArchive::build_visits(acts, &plan.bridges, &plan.empties, side, dicts, site);
        if !convs.is_empty() {
            a.attach(convs, &plan, &empty_visits, side, dicts);
        }
        a
    }

    /// Attaches recorded conversions to the visits built (the rules of
    /// `recorded.rs`, decided by `plan`; `empty_visits` holds the visit
    /// of each of its visits without actions).
    fn attach(
        &mut self,
        convs: &[RawHit],
        plan: &Plan,
        empty_visits: &[u32],
        side: &SideArena,
        dicts: &SiteDicts,
    ) {
        let key_name = dicts.dim_names.get(attr::NAMES[attr::VISIT]);
        let keys = key_name.and_then(|k| self.dims.iter().find(|c| c.name == k));
        let mut out: Vec<Recorded> = convs
            .iter()
            .zip(plan.assign.iter().zip(&plan.keys))
            .map(|(h, (assign, &key))| {
                let visits = self.visitor_range(h.visitor);
                // The visitor's visit without a `visit` id with an action
                // at or before `t` (else their first).
                let at = |t: i64| {
                    let with_actions = visits.clone().filter(|&v| {
                        !self.actions_of(v).is_empty()
                            && keys.is_none_or(|col| col.values[v as usize] == NONE)
                    });
                    let first = with_actions.clone().next();
                    with_actions
                        .take_while(|&v| self.visit_start(v) <= t)
                        .last()
                        .or(first)
                        .unwrap_or(NONE)
                };
                let visit = match *assign {
                    Assign::Empty(k) => empty_visits.get(k).copied().unwrap_or(NONE),
                    Assign::Anchor(t) => at(t),
                    Assign::Key => keys
                        .and_then(|col| visits.clone().find(|&v| col.values[v as usize] == key))
                        .unwrap_or_else(|| at(h.ts)),
                };
                Recorded {
                    visit,
                    visitor: h.visitor,
                    ts: h.ts,
                    kind: h.kind,
                    url: h.url,
                    key,
                    data: side.conversion(h).cloned().unwrap_or_default(),
                    counted: true,
                }
            })
            .collect();
        out.sort_by(|x, y| {
            x.visit
                .cmp(&y.visit)
                .then_with(|| {
                    // Unattached ones by visitor (a visitor's are a run).
                    dicts
                        .visitors
                        .opt(x.visitor)
                        .cmp(&dicts.visitors.opt(y.visitor))
                })
                .then(x.ts.cmp(&y.ts))
                .then(x.kind.cmp(&y.kind))
                .then_with(|| dicts.urls.opt(x.url).cmp(&dicts.urls.opt(y.url)))
                .then_with(|| {
                    dicts
                        .dim_values
                        .opt(x.key)
                        .cmp(&dicts.dim_values.opt(y.key))
                })
                .then_with(|| crate::recorded::content_cmp(&x.data, &y.data))
        });
        let (views, mut out): (Vec<Recorded>, Vec<Recorded>) = out
            .into_iter()
            .partition(|r| matches!(r.kind, HitType::ProductView | HitType::Content));
        crate::recorded::derive_counted(&mut out);
        self.conversions = out;
        self.views = views;
    }

    /// The visits of `visitor` (its run of the sorted visitor column).
    pub(crate) fn visitor_range(&self, visitor: u32) -> std::ops::Range<u32> {
        let from = self.visitor.partition_point(|&x| x < visitor);
        let to = from + self.visitor[from..].partition_point(|&x| x == visitor);
        from as u32..to as u32
    }

    /// The conversions of visit `v`.
    pub(crate) fn conversions_of(&self, v: u32) -> &[Recorded] {
        crate::recorded::of_visit(&self.conversions, v)
    }

    /// The product views of visit `v`.
    pub(crate) fn views_of(&self, v: u32) -> &[Recorded] {
        crate::recorded::of_visit(&self.views, v)
    }

    /// The conversions and product views attached to no visit.
    pub(crate) fn unattached_records(&self) -> impl Iterator<Item = &Recorded> {
        crate::recorded::unattached(&self.conversions)
            .iter()
            .chain(crate::recorded::unattached(&self.views))
    }

    /// Whether `visitor` has conversions (or product views) attached to
    /// no visit here.
    pub(crate) fn has_unattached(&self, visitor: u32) -> bool {
        self.unattached_records().any(|r| r.visitor == visitor)
    }

    /// The unattached conversions of the visitors `keep` accepts, as hits.
    pub(crate) fn unattached_hits_into(
        &self,
        mut keep: impl FnMut(u32) -> bool,
        hits: &mut Vec<RawHit>,
        side: &mut SideArena,
        dicts: &SiteDicts,
    ) {
        let key_name = dicts.dim_names.get(attr::NAMES[attr::VISIT]);
        for r in self.unattached_records() {
            if keep(r.visitor) {
                conversion_hit_into(r, key_name, hits, side);
            }
        }
    }

    /// Builds the visits of a day's actions; `bridges` (the day's
    /// conversions and product views) keep a visit open as its actions do.
    /// `empties` are the day's visits without actions (a conversion with
    /// no action of its visitor within the timeout), laid out among the
    /// others by visitor and start; the second value is each one's visit.
    fn build_visits(
        hits: &mut [RawHit],
        bridges: &Bridges,
        empties: &[Empty],
        side: &SideArena,
        dicts: &SiteDicts,
        site: &SiteConfig,
    ) -> (DayArchive, Vec<u32>) {
        let timeout = i64::from(site.visit_timeout);
        let ctx = VisitContext {
            side,
            dicts,
            site,
            recorded_type: dicts.dim_names.get(attr::NAMES[attr::REFERRER_TYPE]),
            recorded_campaign: [attr::CAMPAIGN, attr::CAMPAIGN + 3]
                .map(|i| dicts.dim_names.get(attr::NAMES[i])),
            referrer_types: Default::default(),
        };
        let key_name = dicts.dim_names.get(attr::NAMES[attr::VISIT]);
        // A hit marked `new_visit` starts a visit whatever the gap.
        let new_name = dicts.dim_names.get(attr::NAMES[attr::NEW_VISIT]);
        let starts = |h: &RawHit| {
            new_name.is_some_and(|name| h.dims_len > 0 && side.dims(h).iter().any(|d| d.0 == name))
        };
        let Some(key_name) = key_name else {
            // No hit of the site has ever carried a visit id: the timeout rule.
            sort_hits(hits, dicts, side);
            let hits = &*hits;
            let n = hits.len();
            let splits = |i: usize| {
                hits[i].visitor != hits[i - 1].visitor
                    || bridges.gap(hits[i].visitor, hits[i - 1].ts, hits[i].ts, timeout)
                    || starts(&hits[i])
            };
            let visits = 1 + (1..n).filter(|&i| splits(i)).count();
            let mut a =
                DayArchive::with_capacity(if n == 0 { 0 } else { visits } + empties.len(), n);
            let mut dim_cells = Vec::new();
            let mut placed = Vec::with_capacity(empties.len());
            let mut start = 0;
            while start < n {
                let end = (start + 1..n).find(|&i| splits(i)).unwrap_or(n);
                a.push_empties_before(
                    empties,
                    &mut placed,
                    (hits[start].visitor, hits[start].ts, NONE),
                    dicts,
                );
                let visit = a.visitor.len() as u32;
                a.push_visit(&hits[start..end], &ctx, &mut dim_cells, visit);
                start = end;
            }
            a.push_empties_before(empties, &mut placed, (u32::MAX, i64::MAX, NONE), dicts);
            return (a.finish(dim_cells), placed);
        };
        // Explicit visit ids: a visitor's hits group by id (hits without
        // one by the timeout rule), then visits are laid out by (visitor,
        // start, id string) so that ranks follow time and nothing depends
        // on arrival order.
        let key_of = |h: &RawHit| visit_id(h, Some(key_name), side);
        hits.sort_unstable_by(|a, b| {
            a.visitor
                .cmp(&b.visitor)
                .then(key_of(a).cmp(&key_of(b)))
                .then(a.ts.cmp(&b.ts))
                .then_with(|| tie_break(a, b, dicts, side))
        });
        let hits = &*hits;
        let n = hits.len();
        let mut visits: Vec<std::ops::Range<usize>> = Vec::new();
        let mut start = 0;
        while start < n {
            let (visitor, key) = (hits[start].visitor, key_of(&hits[start]));
            let mut end = start + 1;
            while end < n
                && hits[end].visitor == visitor
                && key_of(&hits[end]) == key
                && (key != NONE
                    || (!bridges.gap(visitor, hits[end - 1].ts, hits[end].ts, timeout)
                        && !starts(&hits[end])))
            {
                end += 1;
            }
            visits.push(start..end);
            start = end;
        }
        visits.sort_by(|x, y| {
            let (a, b) = (&hits[x.start], &hits[y.start]);
            a.visitor
                .cmp(&b.visitor)
                .then(a.ts.cmp(&b.ts))
                .then_with(|| {
                    dicts
                        .dim_values
                        .opt(key_of(a))
                        .cmp(&dicts.dim_values.opt(key_of(b)))
                })
                .then_with(|| tie_break(a, b, dicts, side))
        });
        let mut a = DayArchive::with_capacity(visits.len() + empties.len(), n);
        let mut dim_cells = Vec::new();
        let mut placed = Vec::with_capacity(empties.len());
        for range in visits {
            let first = &hits[range.start];
            a.push_empties_before(
                empties,
                &mut placed,
                (first.visitor, first.ts, key_of(first)),
                dicts,
            );
            let visit = a.visitor.len() as u32;
            a.push_visit(&hits[range], &ctx, &mut dim_cells, visit);
        }
        a.push_empties_before(empties, &mut placed, (u32::MAX, i64::MAX, NONE), dicts);
        (a.finish(dim_cells), placed)
    }

    /// Lays out the visits without actions of `empties` (sorted) that come
    /// before a visit of `(visitor, start, visit id)` in the order visits
    /// are ranked (visitor, start, then `visit` id text, none first),
    /// noting each one's visit.
    fn push_empties_before(
        &mut self,
        empties: &[Empty],
        placed: &mut Vec<u32>,
        before: (u32, i64, u32),
        dicts: &SiteDicts,
    ) {
        while let Some(e) = empties.get(placed.len()) {
            let order = (e.visitor, e.start)
                .cmp(&(before.0, before.1))
                .then_with(|| {
                    dicts
                        .dim_values
                        .opt(e.key)
                        .cmp(&dicts.dim_values.opt(before.2))
                });
            if order != std::cmp::Ordering::Less {
                break;
            }
            placed.push(self.visitor.len() as u32);
            self.visitor.push(e.visitor);
            self.action_offsets.push(self.a_kind.len() as u32);
            for f in 0..N_VFIELDS {
                self.fields[f].push(NONE);
                self.field_carriers[f].push(NONE);
            }
            self.referrer_type.push(ReferrerType::Direct as u8);
        }
    }

    fn finish(mut self, dim_cells: Vec<(u32, u32, u32, u32)>) -> DayArchive {
        self.action_offsets.push(self.a_kind.len() as u32);
        self.derive_visit_columns();
        self.finish_dims(dim_cells);
        self.build_indexes();
        self
    }

    fn push_visit(
        &mut self,
        hits: &[RawHit],
        ctx: &VisitContext<'_>,
        dim_cells: &mut Vec<(u32, u32, u32, u32)>,
        visit: u32,
    ) {
        let (side, dicts, site) = (ctx.side, ctx.dicts, ctx.site);
        let first = &hits[0];
        self.visitor.push(first.visitor);
        self.action_offsets.push(self.a_kind.len() as u32);
        for f in 0..N_VFIELDS {
            let field = |h: &RawHit| side.fields(h)[f];
            let carrier = hits.iter().position(|h| field(h) != NONE);
            let value = carrier.map_or(NONE, |c| {
                smallest_in_group(hits, c, field, dicts.field(f), side)
            });
            self.fields[f].push(value);
            self.field_carriers[f].push(carrier.map_or(NONE, |c| c as u32));
        }
        let visit_dims_start = dim_cells.len();
        for (pos, h) in hits.iter().enumerate() {
            for &(name, _) in side.dims(h) {
                if dim_cells[visit_dims_start..].iter().any(|c| c.0 == name) {
                    continue;
                }
                let dim_value = |h: &RawHit| {
                    side.dims(h)
                        .iter()
                        .find(|d| d.0 == name)
                        .map_or(NONE, |d| d.1)
                };
                let value = smallest_in_group(hits, pos, dim_value, &dicts.dim_values, side);
                dim_cells.push((name, visit, value, pos as u32));
            }
        }
        // The referrer type: as recorded (`referrer_type`); else a
        // campaign when the landing action records one (a name or a
        // keyword: the parameters its URL had, `intern.rs`); else derived
        // from the landing URL and the visit's referrer, and a direct
        // entry becomes a campaign when a later action records one (as
        // Matomo's tracker gives a direct entry a later request's
        // referrer). Each reads only the visit's first carriers, which a
        // day archive keeps: a rebuild gives the same type.
        let cells = &dim_cells[visit_dims_start..];
        let recorded = ctx
            .recorded_type
            .and_then(|name| cells.iter().find(|c| c.0 == name))
            .and_then(|c| ReferrerType::parse(dicts.dim_values.value(c.2)));
        let campaign_carriers = || {
            ctx.recorded_campaign
                .iter()
                .flatten()
                .filter_map(|&name| cells.iter().find(|c| c.0 == name))
        };
        let referrer_type = recorded.unwrap_or_else(|| {
            if campaign_carriers().any(|c| same_action(&hits[c.3 as usize], first, side)) {
                return ReferrerType::Campaign;
            }
            let referrer = *self.fields[VField::Referrer as usize].last().unwrap();
            let derived = *ctx
                .referrer_types
                .borrow_mut()
                .entry((first.url, referrer))
                .or_insert_with(|| {
                    classify(
                        dicts.urls.opt(first.url),
                        dicts.referrers.opt(referrer),
                        site,
                    )
                });
            if derived == ReferrerType::Direct && campaign_carriers().next().is_some() {
                ReferrerType::Campaign
            } else {
                derived
            }
        });
        self.referrer_type.push(referrer_type as u8);
        for h in hits {
            self.a_kind.push(h.kind);
            self.a_ts.push(h.ts);
            self.a_url.push(h.url);
            self.a_title.push(h.title);
            let x = side.extra(h);
            self.a_extras.push(self.a_kind.len() - 1, x);
        }
    }

    fn finish_dims(&mut self, mut cells: Vec<(u32, u32, u32, u32)>) {
        cells.sort_unstable();
        let visits = self.visitor.len();
        let mut i = 0;
        while i < cells.len() {
            let name = cells[i].0;
            let j = i + cells[i..].partition_point(|c| c.0 == name);
            let mut col = DimColumn {
                name,
                values: vec![NONE; visits],
                carriers: vec![NONE; visits],
                index: OnceLock::new(),
            };
            for &(_, visit, value, carrier) in &cells[i..j] {
                col.values[visit as usize] = value;
                col.carriers[visit as usize] = carrier;
            }
            self.dims.push(col);
            i = j;
        }
    }

    /// Derives what every query needs from the columns (after a build or
    /// a load): the visitor and user bitmaps and the day's totals. The
    /// value indexes wait for their first use.
    pub(crate) fn build_indexes(&mut self) {
        let mut visitors = self.visitor.clone();
        visitors.dedup();
        self.visitors =
            RoaringBitmap::from_sorted_iter(visitors).expect("visitor column is sorted");
        let mut users: Vec<u32> = self.fields[VField::User as usize]
            .iter()
            .copied()
            .filter(|&u| u != NONE)
            .collect();
        users.sort_unstable();
        users.dedup();
        self.users = RoaringBitmap::from_sorted_iter(users).expect("sorted");
        let mut totals = DayTotals::default();
        if self.cols.has(Columns::TIMES) {
            for v in 0..self.visit_count() {
                totals.add_visit(self.actions_of(v).len() as u64, self.length[v as usize]);
            }
        }
        self.totals = totals;
    }

    /// Visit field `f`'s values to their visits, built on first use.
    pub(crate) fn field_index(&self, f: usize) -> &ValueIndex {
        self.field_index[f].get_or_init(|| ValueIndex::of_column(&self.fields[f]))
    }

    /// Referrer types to their visits, built on first use.
    pub(crate) fn referrer_type_index(&self) -> &ValueIndex {
        self.referrer_type_index.get_or_init(|| {
            ValueIndex::from_pairs(
                self.referrer_type
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (u32::from(*t), i as u32))
                    .collect(),
            )
        })
    }

    /// The action-level indexes, built together on first use.
    pub(crate) fn action_indexes(&self) -> &ActionIndexes {
        self.actions.get_or_init(|| {
            let mut kind_url: [Vec<(u32, u32)>; 3] = Default::default();
            let (mut titles, mut keywords, mut cats, mut acts) = (vec![], vec![], vec![], vec![]);
            for v in 0..self.visit_count() {
                for i in self.actions_of(v) {
                    match self.a_kind[i] {
                        k @ (HitType::Pageview | HitType::Download | HitType::Outlink) => {
                            kind_url[k as usize].push((self.a_url[i], v));
                            if k == HitType::Pageview && self.a_title[i] != NONE {
                                titles.push((self.a_title[i], v));
                            }
                        }
                        HitType::Search => keywords.push((self.extra(i).keyword, v)),
                        HitType::Event => {
                            let x = self.extra(i);
                            cats.push((x.ev_category, v));
                            acts.push((x.ev_action, v));
                        }
                        // Conversions are not actions.
                        HitType::Goal
                        | HitType::Order
                        | HitType::Cart
                        | HitType::ProductView
                        | HitType::Content => {}
                    }
                }
            }
            let [p, d, o] = kind_url;
            ActionIndexes {
                by_kind_url: [
                    ValueIndex::from_pairs(p),
                    ValueIndex::from_pairs(d),
                    ValueIndex::from_pairs(o),
                ],
                titles: ValueIndex::from_pairs(titles),
                keywords: ValueIndex::from_pairs(keywords),
                event_categories: ValueIndex::from_pairs(cats),
                event_actions: ValueIndex::from_pairs(acts),
            }
        })
    }

    /// Gives the archive's hits back (for a rebuild with late hits). Each
    /// visit-level value goes back on the hit that first carried it: hits
    /// only ever merge visits, so the first carrier of a merged visit is
    /// always one of these or a new hit, and nothing else is needed.
    pub(crate) fn hits_into(
        &self,
        hits: &mut Vec<RawHit>,
        side: &mut SideArena,
        dicts: &SiteDicts,
    ) {
        self.piece_hits_into(0..self.visit_count(), |_| true, hits, side, dicts);
    }

    /// [`DayArchive::hits_into`] for some visits only (a live part takes
    /// back the visits of the visitors a new batch touches).
    pub(crate) fn visit_hits_into(
        &self,
        visits: impl IntoIterator<Item = u32>,
        hits: &mut Vec<RawHit>,
        side: &mut SideArena,
        dicts: &SiteDicts,
    ) {
        let visit_key = dicts.dim_names.get(attr::NAMES[attr::VISIT]);
        for v in visits {
            let vi = v as usize;
            let range = self.actions_of(v);
            let first = range.start;
            for i in range {
                let pos = (i - first) as u32;
                let mut h = RawHit::new(self.visitor[vi], self.a_ts[i], self.a_kind[i]);
                h.url = self.a_url[i];
                h.title = self.a_title[i];
                let extra = self.extra(i);
                side.set_extra(&mut h, extra);
                let mut fields = [NONE; N_VFIELDS];
                for (f, value) in fields.iter_mut().enumerate() {
                    if self.field_carriers[f][vi] == pos {
                        *value = self.fields[f][vi];
                    }
                }
                side.set_fields(&mut h, fields);
                h.dims_start = side.dims.len() as u32;
                for col in &self.dims {
                    // A visit id goes back on every hit of its visit: it
                    // is what holds them together.
                    let every_hit = Some(col.name) == visit_key && col.values[vi] != NONE;
                    if col.carriers[vi] == pos || every_hit {
                        side.dims.push((col.name, col.values[vi]));
                    }
                }
                h.dims_len = (side.dims.len() - h.dims_start as usize) as u16;
                hits.push(h);
            }
            for r in self.conversions_of(v).iter().chain(self.views_of(v)) {
                conversion_hit_into(r, visit_key, hits, side);
            }
        }
    }

    /// [`DayArchive::visit_hits_into`] for `visits`, then the unattached
    /// conversions of the visitors `unattached` accepts.
    pub(crate) fn piece_hits_into(
        &self,
        visits: impl IntoIterator<Item = u32>,
        unattached: impl FnMut(u32) -> bool,
        hits: &mut Vec<RawHit>,
        side: &mut SideArena,
        dicts: &SiteDicts,
    ) {
        self.visit_hits_into(visits, hits, side, dicts);
        self.unattached_hits_into(unattached, hits, side, dicts);
    }
}

/// A visit without actions: a visitor's conversions (or product views)
/// with no action of theirs within the visit timeout, or with a `visit`
/// id no action carries. Matomo's tracker makes such a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Empty {
    visitor: u32,
    /// Its first conversion's time.
    start: i64,
    /// Its `visit` id (a dimension value id), or [`NONE`].
    key: u32,
}

/// Where a recorded conversion goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Assign {
    /// The visit with its `visit` id.
    Key,
    /// The `n`-th visit without actions of the plan.
    Empty(usize),
    /// The visit of the visitor's action at this time: the last action
    /// at or before the conversion in its stretch of requests, else the
    /// first after it.
    Anchor(i64),
}

/// Where each of a day's recorded conversions goes (docs/hits.md,
/// "Conversions"), decided from the times alone before the visits are
/// laid out: a visitor's actions and conversions without a `visit` id,
/// in time order, make stretches wherever a gap reaches the timeout (as
/// Matomo's tracker keeps a visit open on any request); a conversion
/// goes to the visit of the action before it in its stretch (else the
/// one after), and a stretch without actions is a visit of its own.
/// Conversions with a `visit` id go to that visit, or to a visit of
/// their own when no action carries the id.
pub(crate) struct Plan {
    /// The visits without actions, by visitor, start (then `visit` id).
    pub(crate) empties: Vec<Empty>,
    /// Per conversion, in order.
    pub(crate) assign: Vec<Assign>,
    /// Per conversion, its `visit` id (a dimension value id) or [`NONE`].
    pub(crate) keys: Vec<u32>,
    /// The times of the conversions without a `visit` id.
    pub(crate) bridges: Bridges,
}

impl Plan {
    fn of(
        acts: &[RawHit],
        convs: &[RawHit],
        side: &SideArena,
        dicts: &SiteDicts,
        timeout: i64,
    ) -> Plan {
        let key_name = dicts.dim_names.get(attr::NAMES[attr::VISIT]);
        let key_of = |h: &RawHit| visit_id(h, key_name, side);
        let conv_keys: Vec<u32> = convs.iter().map(key_of).collect();
        // Unkeyed ones, by visitor and time: they bridge gaps between
        // actions, and make the stretches below.
        let mut unkeyed: Vec<usize> = (0..convs.len()).filter(|&i| conv_keys[i] == NONE).collect();
        unkeyed.sort_by_key(|&i| (convs[i].visitor, convs[i].ts));
        let bridges = Bridges(
            unkeyed
                .iter()
                .map(|&i| (convs[i].visitor, convs[i].ts))
                .collect(),
        );
        let mut assign = vec![Assign::Key; convs.len()];
        if convs.is_empty() {
            return Plan {
                empties: Vec::new(),
                assign,
                keys: conv_keys,
                bridges,
            };
        }
        let mut visitors: Vec<u32> = convs.iter().map(|h| h.visitor).collect();
        visitors.sort_unstable();
        visitors.dedup();
        // The actions of those visitors: times (unkeyed conversions) and
        // the visit ids they carry (keyed ones).
        let mut times: Vec<(u32, i64)> = Vec::new();
        let mut act_keys: Vec<(u32, u32)> = Vec::new();
        for h in acts {
            if visitors.binary_search(&h.visitor).is_ok() {
                // Hits without a visit id follow the timeout rule among
                // themselves.
                match key_of(h) {
                    NONE => times.push((h.visitor, h.ts)),
                    k => act_keys.push((h.visitor, k)),
                }
            }
        }
        times.sort_unstable();
        act_keys.sort_unstable();
        act_keys.dedup();
        // (visitor, start, key) of each visit without actions, with the
        // conversions that make it.
        let mut empties: Vec<(u32, i64, u32, Vec<usize>)> = Vec::new();
        // Keyed conversions.
        let mut keyed: Vec<usize> = (0..convs.len()).filter(|&i| conv_keys[i] != NONE).collect();
        keyed.sort_by_key(|&i| (convs[i].visitor, conv_keys[i], convs[i].ts));
        for group in keyed
            .chunk_by(|&i, &j| (convs[i].visitor, conv_keys[i]) == (convs[j].visitor, conv_keys[j]))
        {
            let (u, k) = (convs[group[0]].visitor, conv_keys[group[0]]);
            if act_keys.binary_search(&(u, k)).is_err() {
                empties.push((u, convs[group[0]].ts, k, group.to_vec()));
            }
        }
        // Unkeyed ones: each visitor's stretches.
        for group in unkeyed.chunk_by(|&i, &j| convs[i].visitor == convs[j].visitor) {
            let u = convs[group[0]].visitor;
            let lo = times.partition_point(|&(v, _)| v < u);
            let hi = times.partition_point(|&(v, _)| v <= u);
            let acts_ts = &times[lo..hi];
            let (mut a, mut c) = (0, 0);
            let mut last: Option<i64> = None;
            let mut last_action: Option<i64> = None;
            let mut waiting: Vec<usize> = Vec::new();
            let close = |waiting: &mut Vec<usize>,
                         empties: &mut Vec<(u32, i64, u32, Vec<usize>)>| {
                if let Some(&first) = waiting.first() {
                    empties.push((u, convs[first].ts, NONE, std::mem::take(waiting)));
                }
            };
            while a < acts_ts.len() || c < group.len() {
                // Actions first at equal times.
                let action =
                    c >= group.len() || (a < acts_ts.len() && acts_ts[a].1 <= convs[group[c]].ts);
                let ts = if action {
                    acts_ts[a].1
                } else {
                    convs[group[c]].ts
                };
                if last.is_some_and(|l| ts - l >= timeout) {
                    close(&mut waiting, &mut empties);
                    last_action = None;
                }
                last = Some(last.map_or(ts, |l| l.max(ts)));
                if action {
                    for i in waiting.drain(..) {
                        assign[i] = Assign::Anchor(ts);
                    }
                    last_action = Some(ts);
                    a += 1;
                } else {
                    let i = group[c];
                    match last_action {
                        Some(t) => assign[i] = Assign::Anchor(t),
                        None => waiting.push(i),
                    }
                    c += 1;
                }
            }
            close(&mut waiting, &mut empties);
        }
        // Laid out by visitor, start, then `visit` id text.
        empties.sort_by(|x, y| {
            (x.0, x.1)
                .cmp(&(y.0, y.1))
                .then_with(|| dicts.dim_values.opt(x.2).cmp(&dicts.dim_values.opt(y.2)))
        });
        let mut out = Vec::with_capacity(empties.len());
        for (n, (visitor, start, key, members)) in empties.into_iter().enumerate() {
            for i in members {
                assign[i] = Assign::Empty(n);
            }
            out.push(Empty {
                visitor,
                start,
                key,
            });
        }
        Plan {
            empties: out,
            assign,
            keys: conv_keys,
            bridges,
        }
    }
}

/// A hit's `visit` id (a dimension value id), or [`NONE`]; `key_name` is
/// the id of the `$visit` dimension name, if the site has seen one.
fn visit_id(h: &RawHit, key_name: Option<u32>, side: &SideArena) -> u32 {
    key_name.map_or(NONE, |k| {
        side.dims(h).iter().find(|d| d.0 == k).map_or(NONE, |d| d.1)
    })
}

/// The times of the day's conversions and product views that carry no
/// visit id, by visitor: Matomo's tracker keeps a visit open while any
/// request of it comes within the timeout, an order or a cart update as
/// much as a page view, so the gap that ends a visit is measured over
/// them too. They add no action (docs/hits.md, "Visits").
pub(crate) struct Bridges(Vec<(u32, i64)>);

impl Bridges {
    /// Whether `visitor`'s actions at `from` and then `to` (`from <= to`)
    /// are in different visits: some stretch of `from`, the conversions
    /// between and `to` lasts `timeout` or more.
    fn gap(&self, visitor: u32, from: i64, to: i64, timeout: i64) -> bool {
        if to - from < timeout {
            return false;
        }
        let lo = self.0.partition_point(|&x| x < (visitor, from));
        let hi = self.0.partition_point(|&x| x < (visitor, to));
        let mut last = from;
        for &(_, t) in &self.0[lo..hi] {
            if t - last >= timeout {
                return true;
            }
            last = t;
        }
        to - last >= timeout
    }
}

/// A recorded conversion back as the hit it came from.
fn conversion_hit_into(
    r: &Recorded,
    key_name: Option<u32>,
    hits: &mut Vec<RawHit>,
    side: &mut SideArena,
) {
    let mut h = RawHit::new(r.visitor, r.ts, r.kind);
    h.url = r.url;
    side.set_conversion(&mut h, r.data.clone());
    if let (Some(name), true) = (key_name, r.key != NONE) {
        h.dims_start = side.dims.len() as u32;
        side.dims.push((name, r.key));
        h.dims_len = 1;
    }
    hits.push(h);
}

/// The smallest value (by string) that the hits of `hits[first]`'s
/// [`same_action`] group carry; `hits[first]` must carry one.
fn smallest_in_group(
    hits: &[RawHit],
    first: usize,
    value_of: impl Fn(&RawHit) -> u32,
    dict: &Dict,
    side: &SideArena,
) -> u32 {
    let mut best = value_of(&hits[first]);
    for h in hits[first + 1..]
        .iter()
        .take_while(|h| same_action(h, &hits[first], side))
    {
        let v = value_of(h);
        if v != NONE && dict.value(v) < dict.value(best) {
            best = v;
        }
    }
    best
}

/// Visit `v` cut to a section, counted without listing its actions: the
/// number of its actions inside and the cut length, or `None` when no
/// action is inside (the same numbers [`Selection::cut`] gives).
pub(crate) fn cut_counts(
    a: &DayArchive,
    v: u32,
    inside: &crate::bitset::BitSet,
) -> Option<(u64, u32)> {
    let range = a.actions_of(v);
    let urls = &a.a_url[range.clone()];
    let mut n = 0usize;
    let (mut first, mut last) = (usize::MAX, 0);
    for (k, &url) in urls.iter().enumerate() {
        if inside.contains(url) {
            n += 1;
            first = first.min(k);
            last = k;
        }
    }
    (n > 0).then(|| {
        let at = range.start;
        (n as u64, a.span_length(n, at + first, at + last))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    proptest! {
        /// The radix sort of pairs that come by visit orders them as a
        /// comparison sort does, for values of any width (one pass to
        /// three) and pairs in any order.
        #[test]
        fn sorted_pairs_equal_a_comparison_sort(
            mut pairs in prop::collection::vec((any::<u32>(), 0..3000u32), 0..3000),
            width in 0..33u32,
            by_visit in any::<bool>(),
        ) {
            for p in &mut pairs {
                p.0 = p.0.checked_shr(32 - width).unwrap_or(0);
            }
            if by_visit {
                pairs.sort_by_key(|p| p.1);
            }
            let mut want = pairs.clone();
            want.sort_unstable();
            prop_assert_eq!(sorted_pairs(pairs), want);
        }

        /// Lists and bitmaps answer alike: every value's visits and every
        /// union equal a plain map's, on either side of `BITMAP_FROM`.
        #[test]
        fn value_index_equals_a_map(
            pairs in prop::collection::vec((0..12u32, 0..400u32), 0..1500),
            keep in prop::collection::vec(any::<bool>(), 12),
        ) {
            let mut model: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
            for &(value, visit) in &pairs {
                model.entry(value).or_default().insert(visit);
            }
            let index = ValueIndex::from_pairs(pairs);
            for value in 0..13 {
                let got = index.get(value).map(|b| b.iter().collect::<BTreeSet<u32>>());
                prop_assert_eq!(got, model.get(&value).cloned());
            }
            let union: BTreeSet<u32> = index.union_where(|v| keep[v as usize]).iter().collect();
            let want: BTreeSet<u32> = model
                .iter()
                .filter(|(v, _)| keep[**v as usize])
                .flat_map(|(_, s)| s.iter().copied())
                .collect();
            prop_assert_eq!(union, want);
        }

        /// Extras kept sparse give back every action's full attributes.
        #[test]
        fn action_extras_equal_full_columns(
            cells in prop::collection::vec(prop::option::of((0..5u32, any::<bool>())), 0..300),
        ) {
            let full: Vec<Extra> = cells
                .iter()
                .map(|c| match *c {
                    None => Extra::NONE,
                    Some((k, true)) => Extra { keyword: k, ..Extra::NONE },
                    Some((k, false)) => Extra {
                        ev_category: k,
                        ev_action: k + 1,
                        ev_value: f64::from(k),
                        ..Extra::NONE
                    },
                })
                .collect();
            let mut x = ActionExtras::default();
            for (i, e) in full.iter().enumerate() {
                x.push(i, *e);
            }
            for (i, e) in full.iter().enumerate() {
                let got = x.get(i);
                prop_assert_eq!(
                    (got.keyword, got.ev_category, got.ev_action, got.ev_name, got.ev_value.to_bits()),
                    (e.keyword, e.ev_category, e.ev_action, e.ev_name, e.ev_value.to_bits())
                );
            }
            let listed: Vec<usize> = x.iter().map(|(i, _)| i).collect();
            let set: Vec<usize> = (0..full.len()).filter(|&i| !full[i].is_empty()).collect();
            prop_assert_eq!(listed, set);
        }
    }
}
