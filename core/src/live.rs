//! Live parts of a day: a small batch lands without rebuilding its day.
//!
//! A day is its sealed archive (built from all of its hits at the last
//! seal) plus, while it takes small batches, a few *parts*: archives of
//! some visitors' hits. A visitor's visits of one day are always in
//! exactly one piece. When a batch touches a visitor, that visitor's
//! visits move out of the piece that held them (it masks them) into the
//! batch's new part, which is built from their hits plus the new ones.
//! Visits never span visitors, so the pieces together hold exactly the
//! visits a rebuild of the whole day would give (the property tests
//! compare them), and a commit costs what the batch and its visitors' day
//! hold, not what the day holds.
//!
//! Parts merge in tiers of four (four parts of one size tier become one
//! of the next), so a day keeps a logarithmic number of parts and a hit is
//! rebuilt a logarithmic number of times; sealing ([`SiteState::seal_day`]) folds everything back into
//! one archive.

use std::collections::HashMap;
use std::ops::Range;

use chrono::NaiveDate;
use roaring::RoaringBitmap;

use crate::archive::{Columns, DayArchive, DayTotals};
use crate::dict::NONE;
use crate::engine::SiteState;
use crate::error::Result;
use crate::raw::{RawHit, SideArena, VField};
use crate::history::fill_before;
use crate::store::lazy::DayRef;

/// The visits of a piece that moved to a newer part, and what the others
/// add up to.
#[derive(Debug, Clone)]
pub(crate) struct Mask {
    /// The moved visits (no answer sees them).
    pub visits: RoaringBitmap,
    /// Totals of the visits left.
    pub totals: DayTotals,
    /// Visitors of the visits left.
    pub visitors: RoaringBitmap,
    /// Users of the visits left.
    pub users: RoaringBitmap,
    /// How many visits left have `totals.max_actions` actions (the maximum
    /// is recomputed only when the last of them goes).
    max_count: u64,
}

impl Mask {
    fn new(a: &DayArchive) -> Mask {
        let max = a.totals.max_actions;
        Mask {
            visits: RoaringBitmap::new(),
            totals: a.totals,
            visitors: a.visitors.clone(),
            users: a.users.clone(),
            max_count: (0..a.visit_count())
                .filter(|&v| a.actions_of(v).len() as u64 == max)
                .count() as u64,
        }
    }

    /// Masks the given visitors' visits (each a run of the archive).
    fn exclude(&mut self, a: &DayArchive, moved: &[(u32, Range<u32>)]) {
        let mut users = Vec::new();
        let mut max_gone = false;
        for (visitor, range) in moved {
            self.visits.insert_range(range.clone());
            self.visitors.remove(*visitor);
            for v in range.clone() {
                let n = a.actions_of(v).len() as u64;
                let t = &mut self.totals;
                t.visits -= 1;
                t.actions -= n;
                t.bounces -= u64::from(n == 1);
                t.sum_length -= u64::from(a.length[v as usize]);
                if n == t.max_actions {
                    self.max_count -= 1;
                    max_gone |= self.max_count == 0;
                }
                let u = a.fields[VField::User as usize][v as usize];
                if u != NONE {
                    users.push(u);
                }
            }
        }
        // A user stays while one of the visits left has it.
        let index = a.field_index(VField::User as usize);
        for u in users {
            if index.get(u).is_none_or(|b| b.is_subset(&self.visits)) {
                self.users.remove(u);
            }
        }
        if max_gone {
            let left = (0..a.visit_count())
                .filter(|v| !self.visits.contains(*v))
                .map(|v| a.actions_of(v).len() as u64);
            let (max, count) = left.fold((0, 0), |(m, c), n| match n.cmp(&m) {
                std::cmp::Ordering::Greater => (n, 1),
                std::cmp::Ordering::Equal => (m, c + 1),
                std::cmp::Ordering::Less => (m, c),
            });
            self.totals.max_actions = max;
            self.max_count = count;
        }
    }
}

/// One live part: an archive of some visitors' hits of the day.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub archive: DayArchive,
    pub mask: Option<Mask>,
}

impl Part {
    /// Actions of the visits left.
    fn size(&self) -> u64 {
        self.mask
            .as_ref()
            .map_or(self.archive.totals.actions, |m| m.totals.actions)
    }
}

/// A day's live state: the sealed archive's mask and the parts.
#[derive(Debug, Clone, Default)]
pub(crate) struct LiveDay {
    /// Visits of the sealed archive that moved to a part.
    pub sealed: Option<Mask>,
    pub parts: Vec<Part>,
    /// Visitor → the part that holds their visits of the day (visitors
    /// not here are in the sealed archive, or nowhere).
    pub owner: HashMap<u32, u32>,
}

impl LiveDay {
    /// Actions the parts hold (what a seal would fold in).
    pub(crate) fn actions(&self) -> u64 {
        self.parts.iter().map(Part::size).sum()
    }
}

/// One piece of a day as queries see it: an archive, minus its masked
/// visits.
#[derive(Debug, Clone)]
pub(crate) struct DayPart<'a> {
    pub date: NaiveDate,
    pub archive: DayRef<'a>,
    pub mask: Option<&'a Mask>,
}

impl DayPart<'_> {
    pub(crate) fn totals(&self) -> DayTotals {
        self.mask.map_or(self.archive.totals, |m| m.totals)
    }

    pub(crate) fn visitors(&self) -> &RoaringBitmap {
        self.mask.map_or(&self.archive.visitors, |m| &m.visitors)
    }

    pub(crate) fn users(&self) -> &RoaringBitmap {
        self.mask.map_or(&self.archive.users, |m| &m.users)
    }

    /// The visits left, if any are masked (`None`: all of them).
    pub(crate) fn visible(&self) -> Option<RoaringBitmap> {
        self.mask.map(|m| {
            let mut all = RoaringBitmap::new();
            all.insert_range(0..self.archive.visit_count());
            all - &m.visits
        })
    }

    /// Removes masked visits from a set of this piece's visits.
    pub(crate) fn restrict(&self, visits: &mut RoaringBitmap) {
        if let Some(m) = self.mask {
            *visits -= &m.visits;
        }
    }
}

fn push_live<'a>(out: &mut Vec<DayPart<'a>>, date: NaiveDate, l: &'a LiveDay) {
    for p in &l.parts {
        out.push(DayPart {
            date,
            archive: DayRef::Borrowed(&p.archive),
            mask: p.mask.as_ref(),
        });
    }
}

/// The visits of `visitor` in an archive (its run of the sorted column).
fn visitor_range(a: &DayArchive, visitor: u32) -> Range<u32> {
    let from = a.visitor.partition_point(|&x| x < visitor);
    let to = from + a.visitor[from..].partition_point(|&x| x == visitor);
    from as u32..to as u32
}

/// The visible visits of an archive under a mask.
fn visible_visits<'a>(a: &'a DayArchive, mask: Option<&'a Mask>) -> impl Iterator<Item = u32> + 'a {
    let masked = mask.map(|m| &m.visits);
    (0..a.visit_count()).filter(move |v| masked.is_none_or(|m| !m.contains(*v)))
}

/// The hits of the visible visits of some pieces, into `hits`.
pub(crate) fn parts_hits_into(
    parts: &[DayPart<'_>],
    dicts: &crate::raw::SiteDicts,
    hits: &mut Vec<RawHit>,
    side: &mut SideArena,
) {
    for p in parts {
        p.archive
            .visit_hits_into(visible_visits(&p.archive, p.mask), hits, side, dicts);
    }
}

/// Every visible visit of some pieces as (piece, visit), ordered by date,
/// then visitor, then the visitor's order: the order one archive per day
/// would give, whatever the pieces.
pub(crate) fn visits_in_order(parts: &[DayPart<'_>]) -> Vec<(usize, u32)> {
    let mut out: Vec<(usize, u32)> = Vec::new();
    let mut i = 0;
    while i < parts.len() {
        let j = i + parts[i..].partition_point(|p| p.date == parts[i].date);
        let start = out.len();
        for (k, p) in parts.iter().enumerate().take(j).skip(i) {
            out.extend(visible_visits(&p.archive, p.mask).map(|v| (k, v)));
        }
        if j - i > 1 {
            // A visitor's visits are all in one piece, in order: a stable
            // sort by visitor keeps them so.
            out[start..].sort_by_key(|&(k, v)| parts[k].archive.visitor[v as usize]);
        }
        i = j;
    }
    out
}

impl SiteState {
    /// The pieces of the days `first..=last`, in date order. A lazy
    /// reader reads the days it has not loaded (`store/lazy.rs`); a day
    /// that cannot be read is the error.
    pub(crate) fn parts(&self, first: NaiveDate, last: NaiveDate) -> Result<Vec<DayPart<'_>>> {
        self.parts_on(first, last, 1, Columns::ALL)
    }

    /// [`SiteState::parts`], the days to read decoded on up to `threads`
    /// threads, holding at least the column groups `cols` (a day held in
    /// memory or live holds all).
    pub(crate) fn parts_on(
        &self,
        first: NaiveDate,
        last: NaiveDate,
        threads: usize,
        cols: Columns,
    ) -> Result<Vec<DayPart<'_>>> {
        let mut dates: Vec<NaiveDate> = self
            .days
            .range(first..=last)
            .map(|(d, _)| *d)
            .chain(self.live.range(first..=last).map(|(d, _)| *d))
            .collect();
        if let Some(lazy) = &self.lazy {
            dates.extend(lazy.files.range(first..=last).map(|(d, _)| *d));
        }
        dates.sort_unstable();
        dates.dedup();
        let mut loaded = match &self.lazy {
            Some(lazy) => lazy.days(self, first, last, threads, cols)?,
            None => Default::default(),
        };
        let mut out = Vec::with_capacity(dates.len());
        for date in dates {
            let l = self.live.get(&date);
            let sealed = match self.days.get(&date) {
                Some(a) => Some(DayRef::Borrowed(a)),
                None => loaded.remove(&date).map(DayRef::Shared),
            };
            if let Some(archive) = sealed {
                out.push(DayPart {
                    date,
                    archive,
                    mask: l.and_then(|l| l.sealed.as_ref()),
                });
            }
            if let Some(l) = l {
                push_live(&mut out, date, l);
            }
        }
        Ok(out)
    }

    /// Every date with data: sealed (loaded or not) or live.
    pub(crate) fn dates(&self) -> std::collections::BTreeSet<NaiveDate> {
        let mut out: std::collections::BTreeSet<NaiveDate> =
            self.days.keys().chain(self.live.keys()).copied().collect();
        if let Some(lazy) = &self.lazy {
            out.extend(lazy.files.keys().copied());
        }
        out
    }

    /// Adds a small batch of one day's hits as a new live part, and
    /// brings the visitor table up to date.
    pub(crate) fn add_live(&mut self, date: NaiveDate, new_hits: &[RawHit], side: &mut SideArena) {
        let mut visitors: Vec<u32> = new_hits.iter().map(|h| h.visitor).collect();
        visitors.sort_unstable();
        visitors.dedup();
        let SiteState {
            live,
            days,
            dicts,
            config,
            ..
        } = self;
        let live = live.entry(date).or_default();
        let sealed = days.get(&date);
        let mut hits = new_hits.to_vec();
        let mut from_sealed: Vec<(u32, Range<u32>)> = Vec::new();
        let mut from_parts: Vec<(u32, u32, Range<u32>)> = Vec::new();
        for &v in &visitors {
            match live.owner.get(&v) {
                Some(&p) => {
                    let r = visitor_range(&live.parts[p as usize].archive, v);
                    from_parts.push((p, v, r));
                }
                None => {
                    if let Some(a) = sealed {
                        let r = visitor_range(a, v);
                        if !r.is_empty() {
                            from_sealed.push((v, r));
                        }
                    }
                }
            }
        }
        if let Some(a) = sealed
            && !from_sealed.is_empty()
        {
            a.visit_hits_into(
                from_sealed.iter().flat_map(|(_, r)| r.clone()),
                &mut hits,
                side,
                dicts,
            );
            live.sealed
                .get_or_insert_with(|| Mask::new(a))
                .exclude(a, &from_sealed);
        }
        from_parts.sort_unstable_by_key(|m| m.0);
        for group in from_parts.chunk_by(|x, y| x.0 == y.0) {
            let part = &mut live.parts[group[0].0 as usize];
            let moved: Vec<(u32, Range<u32>)> =
                group.iter().map(|(_, v, r)| (*v, r.clone())).collect();
            part.archive.visit_hits_into(
                moved.iter().flat_map(|(_, r)| r.clone()),
                &mut hits,
                side,
                dicts,
            );
            part.mask
                .get_or_insert_with(|| Mask::new(&part.archive))
                .exclude(&part.archive, &moved);
        }
        let archive = DayArchive::build(&mut hits, side, dicts, config);
        let index = live.parts.len() as u32;
        let mut updates = Vec::new();
        crate::history::runs(&archive.visitor, |v, n| {
            live.owner.insert(v, index);
            updates.push((v, date, 1u8, n));
        });
        let mut archive = archive;
        archive.before = vec![0; archive.visitor.len()];
        live.parts.push(Part {
            archive,
            mask: None,
        });
        self.apply_visitor_updates(updates);
        self.merge_tail(date, side);
    }

    /// Merges parts in tiers: four parts of the same size tier (powers of
    /// four) merge into one of the next tier, and a newest part of a
    /// higher tier than the one before it merges into it. A day keeps at
    /// most three parts per tier, and a hit is rebuilt once per tier it
    /// climbs (half as often as merging pairs would).
    fn merge_tail(&mut self, date: NaiveDate, side: &mut SideArena) {
        const FANOUT: usize = 4;
        fn tier(p: &Part) -> u32 {
            (64 - p.size().max(1).leading_zeros()) / 2
        }
        loop {
            let Some(live) = self.live.get_mut(&date) else {
                return;
            };
            let n = live.parts.len();
            let take = if n >= 2 && tier(&live.parts[n - 1]) > tier(&live.parts[n - 2]) {
                2
            } else if n >= FANOUT && tier(&live.parts[n - 1]) >= tier(&live.parts[n - FANOUT]) {
                FANOUT
            } else {
                return;
            };
            let merged = live.parts.split_off(n - take);
            let mut hits = Vec::new();
            for p in &merged {
                p.archive.visit_hits_into(
                    visible_visits(&p.archive, p.mask.as_ref()),
                    &mut hits,
                    side,
                    &self.dicts,
                );
            }
            drop(merged);
            let mut archive = DayArchive::build(&mut hits, side, &self.dicts, &self.config);
            let index = live.parts.len() as u32;
            crate::history::runs(&archive.visitor, |v, _| {
                live.owner.insert(v, index);
            });
            fill_before(&self.visitor_days, date, &mut archive);
            live.parts.push(Part {
                archive,
                mask: None,
            });
        }
    }

    /// Folds a day's live parts into its sealed archive (one rebuild of
    /// the day). Returns whether there was anything to fold.
    pub(crate) fn seal_day(&mut self, date: NaiveDate, side: &mut SideArena) -> bool {
        if !self.live.contains_key(&date) {
            return false;
        }
        self.rebuild(vec![(date, &mut [])], side, 1);
        true
    }

    /// The hits of a day's visible visits, sealed and live, into `hits`.
    pub(crate) fn day_hits_into(
        &self,
        date: NaiveDate,
        hits: &mut Vec<RawHit>,
        side: &mut SideArena,
    ) {
        let live = self.live.get(&date);
        if let Some(old) = self.days.get(&date) {
            let mask = live.and_then(|l| l.sealed.as_ref());
            old.visit_hits_into(visible_visits(old, mask), hits, side, &self.dicts);
        }
        for p in live.iter().flat_map(|l| &l.parts) {
            p.archive.visit_hits_into(
                visible_visits(&p.archive, p.mask.as_ref()),
                hits,
                side,
                &self.dicts,
            );
        }
    }

    /// [`SiteState::day_hits_into`], taking the day away (for a rebuild).
    /// Returns the visitors whose visits were there.
    pub(crate) fn take_day_hits(
        &mut self,
        date: NaiveDate,
        hits: &mut Vec<RawHit>,
        side: &mut SideArena,
    ) -> Vec<u32> {
        self.day_hits_into(date, hits, side);
        let live = self.live.remove(&date);
        let mut visitors = Vec::new();
        if let Some(old) = self.days.remove(&date) {
            crate::history::runs(&old.visitor, |v, _| visitors.push(v));
        }
        for p in live.iter().flat_map(|l| &l.parts) {
            crate::history::runs(&p.archive.visitor, |v, _| visitors.push(v));
        }
        visitors
    }

    /// Whether a day's live parts are due for sealing: they hold at least
    /// [`SEAL_MIN_ACTIONS`](crate::engine) actions and half as many as
    /// the sealed archive, so a seal's cost (a rebuild of the day) is paid
    /// once per that many live actions.
    pub(crate) fn live_is_large(&self, date: NaiveDate) -> bool {
        let live = self.live.get(&date).map_or(0, LiveDay::actions);
        let sealed = self.days.get(&date).map_or(0, |a| a.totals.actions);
        live >= crate::engine::SEAL_MIN_ACTIONS.max(sealed / 2)
    }

    /// The archive that holds `visitor`'s visits of `day`, if any.
    pub(crate) fn holder_mut(&mut self, day: NaiveDate, visitor: u32) -> Option<&mut DayArchive> {
        if let Some(live) = self.live.get_mut(&day)
            && let Some(&p) = live.owner.get(&visitor)
        {
            return Some(&mut live.parts[p as usize].archive);
        }
        self.days.get_mut(&day)
    }
}
