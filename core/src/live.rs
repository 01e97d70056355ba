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

use crate::archive::{DayArchive, DayTotals};
use crate::dict::NONE;
use crate::raw::{RawHit, SideArena, VField};
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
    /// The visitors whose visits and unattached conversions moved out.
    pub moved: RoaringBitmap,
}

impl Mask {
    pub(crate) fn new(a: &DayArchive) -> Mask {
        let max = a.totals.max_actions;
        Mask {
            visits: RoaringBitmap::new(),
            totals: a.totals,
            visitors: a.visitors.clone(),
            users: a.users.clone(),
            max_count: (0..a.visit_count())
                .filter(|&v| a.actions_of(v).len() as u64 == max)
                .count() as u64,
            moved: RoaringBitmap::new(),
        }
    }

    /// Masks the given visitors' visits (each a run of the archive).
    pub(crate) fn exclude(&mut self, a: &DayArchive, moved: &[(u32, Range<u32>)]) {
        let mut users = Vec::new();
        let mut max_gone = false;
        for (visitor, range) in moved {
            self.moved.insert(*visitor);
            self.visits.insert_range(range.clone());
            self.visitors.remove(*visitor);
            for v in range.clone() {
                let n = a.actions_of(v).len() as u64;
                let t = &mut self.totals;
                t.visits -= 1;
                t.actions -= n;
                t.bounces -= u64::from(n <= 1);
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
    pub(crate) fn size(&self) -> u64 {
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

pub(crate) fn push_live<'a>(out: &mut Vec<DayPart<'a>>, date: NaiveDate, l: &'a LiveDay) {
    for p in &l.parts {
        out.push(DayPart {
            date,
            archive: DayRef::Borrowed(&p.archive),
            mask: p.mask.as_ref(),
        });
    }
}

/// The visible visits of an archive under a mask.
pub(crate) fn visible_visits<'a>(
    a: &'a DayArchive,
    mask: Option<&'a Mask>,
) -> impl Iterator<Item = u32> + 'a {
    let masked = mask.map(|m| &m.visits);
    (0..a.visit_count()).filter(move |v| masked.is_none_or(|m| !m.contains(*v)))
}

/// The hits of the visible visits of some pieces (and their visible
/// unattached conversions), into `hits`.
pub(crate) fn parts_hits_into(
    parts: &[DayPart<'_>],
    dicts: &crate::raw::SiteDicts,
    hits: &mut Vec<RawHit>,
    side: &mut SideArena,
) {
    for p in parts {
        piece_hits_into(&p.archive, p.mask, hits, side, dicts);
    }
}

/// The hits of one piece's visible visits and visible unattached
/// conversions (those of visitors that did not move out).
pub(crate) fn piece_hits_into(
    a: &DayArchive,
    mask: Option<&Mask>,
    hits: &mut Vec<RawHit>,
    side: &mut SideArena,
    dicts: &crate::raw::SiteDicts,
) {
    a.piece_hits_into(
        visible_visits(a, mask),
        |v| unattached_visible(mask, v),
        hits,
        side,
        dicts,
    );
}

/// Whether a piece under `mask` shows `visitor`'s unattached conversions
/// (they moved out with the visitor's visits otherwise).
pub(crate) fn unattached_visible(mask: Option<&Mask>, visitor: u32) -> bool {
    mask.is_none_or(|m| !m.moved.contains(visitor))
}

/// The visitors with visits or unattached conversions in an archive, each
/// once, ascending.
pub(crate) fn holders(a: &DayArchive) -> Vec<u32> {
    let mut out: Vec<u32> = a.visitor.clone();
    out.extend(
        crate::recorded::unattached(&a.conversions)
            .iter()
            .map(|r| r.visitor),
    );
    out.sort_unstable();
    out.dedup();
    out
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
