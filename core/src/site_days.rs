//! A site's days as queries and batches see them (`impl SiteState`):
//! the pieces of a range (sealed days, held or read through the lazy
//! reader's cache, and live parts), and small batches added as live
//! parts, merged and sealed (`live.rs` holds the parts themselves).

use std::ops::Range;

use chrono::NaiveDate;

use crate::archive::{Columns, DayArchive};
use crate::engine::SiteState;
use crate::error::Result;
use crate::live::{DayPart, LiveDay, Mask, Part, push_live};
use crate::raw::{RawHit, SideArena};
use crate::store::lazy::DayRef;

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
                    let r = live.parts[p as usize].archive.visitor_range(v);
                    from_parts.push((p, v, r));
                }
                None => {
                    if let Some(a) = sealed {
                        let r = a.visitor_range(v);
                        if !r.is_empty() || a.has_unattached(v) {
                            from_sealed.push((v, r));
                        }
                    }
                }
            }
        }
        if let Some(a) = sealed
            && !from_sealed.is_empty()
        {
            a.piece_hits_into(
                from_sealed.iter().flat_map(|(_, r)| r.clone()),
                |v| from_sealed.iter().any(|m| m.0 == v),
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
            part.archive.piece_hits_into(
                moved.iter().flat_map(|(_, r)| r.clone()),
                |v| moved.iter().any(|m| m.0 == v),
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
            updates.push((v, date, 1u8, n));
        });
        self.history.note_day(
            &archive,
            &crate::history::by_visitor_string(&self.dicts.visitors),
        );
        for v in crate::live::holders(&archive) {
            live.owner.insert(v, index);
        }
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
                crate::live::piece_hits_into(
                    &p.archive,
                    p.mask.as_ref(),
                    &mut hits,
                    side,
                    &self.dicts,
                );
            }
            drop(merged);
            let mut archive = DayArchive::build(&mut hits, side, &self.dicts, &self.config);
            let index = live.parts.len() as u32;
            for v in crate::live::holders(&archive) {
                live.owner.insert(v, index);
            }
            // Live days' pages are held: nothing to read or fail.
            let _ = self.history.fill_before(date, &mut archive);
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
            crate::live::piece_hits_into(old, mask, hits, side, &self.dicts);
        }
        for p in live.iter().flat_map(|l| &l.parts) {
            crate::live::piece_hits_into(&p.archive, p.mask.as_ref(), hits, side, &self.dicts);
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
