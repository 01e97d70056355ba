//! Running sums of a site's goals over visits: each goal's and every
//! goal's conversions, converted visits, converting visitors and
//! revenue, for all, new and returning visits, with the ecommerce orders
//! and abandoned carts. A query adds the visits it selects
//! (`goals.rs`); a goal rollup (`rollup.rs`) keeps the sums of a whole
//! month or year, visitors as bitmaps, so that periods add up with exact
//! distinct converters.
//!
//! A goal rollup stands for the goal definitions it was counted with
//! ([`goals_key`]); a question under other definitions reads the days.

use roaring::RoaringBitmap;

use crate::archive::DayArchive;
use crate::bitset::BitSet;
use crate::conversions::GoalState;
use crate::fsum::ExactSum;
use crate::goal::Goal;
use crate::history::History;
use crate::raw::SiteDicts;
use crate::recorded::Recorded;

/// The identity of a site's goal definitions (and whether it is an
/// ecommerce site): what a goal rollup was counted with.
pub(crate) fn goals_key(goals: &[Goal], ecommerce: bool) -> u64 {
    let json = serde_json::to_vec(&(goals, ecommerce)).unwrap_or_default();
    xxhash_rust::xxh3::xxh3_64(&json)
}

/// Running sums of one goal (or of all) for one visitor type.
#[derive(Debug, Clone)]
pub(crate) struct Acc {
    pub conversions: u64,
    pub visits: u64,
    pub visitors: BitSet,
    pub revenue: ExactSum,
}

/// [`Acc`] as a rollup keeps it: the converting visitors as a bitmap.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StoredAcc {
    pub conversions: u64,
    pub visits: u64,
    pub visitors: RoaringBitmap,
    pub revenue: ExactSum,
}

impl Acc {
    pub(crate) fn new(visitors: usize) -> Acc {
        Acc {
            conversions: 0,
            visits: 0,
            visitors: BitSet::new(visitors),
            revenue: ExactSum::default(),
        }
    }

    /// Counts one converting visit.
    fn add_visit(&mut self, visitor: u32, conversions: u64, revenue: &ExactSum) {
        self.conversions += conversions;
        self.visits += 1;
        self.visitors.insert(visitor);
        self.revenue.add_sum(revenue);
    }

    fn add_stored(&mut self, s: &StoredAcc) {
        self.conversions += s.conversions;
        self.visits += s.visits;
        self.visitors.insert_all(&s.visitors);
        self.revenue.add_sum(&s.revenue);
    }

    fn stored(&self) -> StoredAcc {
        StoredAcc {
            conversions: self.conversions,
            visits: self.visits,
            visitors: self.visitors.to_bitmap(),
            revenue: self.revenue.clone(),
        }
    }
}

impl StoredAcc {
    /// Adds a disjoint period's sums.
    fn add(&mut self, o: &StoredAcc) {
        self.conversions += o.conversions;
        self.visits += o.visits;
        self.visitors |= &o.visitors;
        self.revenue.add_sum(&o.revenue);
    }
}

/// Running sums of orders or abandoned carts for one visitor type.
#[derive(Debug, Clone)]
pub(crate) struct EcomAcc {
    pub acc: Acc,
    /// The items' quantities.
    pub items: u64,
    /// Subtotals, taxes, shipping, discounts.
    pub amounts: [ExactSum; 4],
}

/// [`EcomAcc`] as a rollup keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StoredEcom {
    pub acc: StoredAcc,
    pub items: u64,
    pub amounts: [ExactSum; 4],
}

impl EcomAcc {
    fn new(visitors: usize) -> EcomAcc {
        EcomAcc {
            acc: Acc::new(visitors),
            items: 0,
            amounts: Default::default(),
        }
    }

    /// Adds one visit's orders (or its abandoned cart).
    fn add(&mut self, visitor: u32, records: &[&Recorded]) {
        self.acc.conversions += records.len() as u64;
        self.acc.visits += 1;
        self.acc.visitors.insert(visitor);
        for r in records {
            crate::recorded::add_ecommerce(
                &r.data,
                &mut self.acc.revenue,
                &mut self.items,
                &mut self.amounts,
            );
        }
    }

    fn add_stored(&mut self, s: &StoredEcom) {
        self.acc.add_stored(&s.acc);
        self.items += s.items;
        for (a, b) in self.amounts.iter_mut().zip(&s.amounts) {
            a.add_sum(b);
        }
    }

    fn stored(&self) -> StoredEcom {
        StoredEcom {
            acc: self.acc.stored(),
            items: self.items,
            amounts: self.amounts.clone(),
        }
    }
}

impl StoredEcom {
    fn add(&mut self, o: &StoredEcom) {
        self.acc.add(&o.acc);
        self.items += o.items;
        for (a, b) in self.amounts.iter_mut().zip(&o.amounts) {
            a.add_sum(b);
        }
    }
}

/// The sums a visit of type `t` adds to: every visit's (0), and its
/// type's unless `t` is 0 (types not told apart).
fn types(t: usize) -> impl Iterator<Item = usize> {
    std::iter::once(0).chain((t > 0).then_some(t))
}

/// Running sums of every goal of a site: index 0 of each triple is every
/// visit's, 1 new visits', 2 returning visits' (when told apart).
pub(crate) struct GoalSums<'g> {
    pub goals: &'g [Goal],
    ready: Vec<GoalState<'g>>,
    pub overall: [Acc; 3],
    pub each: Vec<[Acc; 3]>,
    pub orders: [EcomAcc; 3],
    pub carts: [EcomAcc; 3],
    pub visits: [u64; 3],
    /// Whether new and returning visits are told apart.
    by_type: bool,
    /// Whether orders and carts count (an ecommerce site).
    ecommerce: bool,
}

impl<'g> GoalSums<'g> {
    pub(crate) fn new(
        goals: &'g [Goal],
        visitors: usize,
        by_type: bool,
        ecommerce: bool,
    ) -> GoalSums<'g> {
        let three = || std::array::from_fn(|_| Acc::new(visitors));
        GoalSums {
            goals,
            ready: goals.iter().map(GoalState::new).collect(),
            overall: three(),
            each: goals.iter().map(|_| three()).collect(),
            orders: std::array::from_fn(|_| EcomAcc::new(visitors)),
            carts: std::array::from_fn(|_| EcomAcc::new(visitors)),
            visits: [0; 3],
            by_type,
            ecommerce,
        }
    }

    /// Makes room for visitor ids below `visitors`.
    pub(crate) fn grow(&mut self, visitors: usize) {
        let GoalSums {
            overall,
            each,
            orders,
            carts,
            ..
        } = self;
        for acc in overall.iter_mut().chain(each.iter_mut().flatten()).chain(
            orders
                .iter_mut()
                .chain(carts.iter_mut())
                .map(|e| &mut e.acc),
        ) {
            acc.visitors.grow(visitors);
        }
    }

    /// Counts visit `v` of `a` with its `actions` (all of them, or those
    /// inside a section). `history` tells which orders count.
    pub(crate) fn add_visit<I: Iterator<Item = usize>>(
        &mut self,
        a: &DayArchive,
        v: u32,
        actions: impl Fn() -> I,
        d: &SiteDicts,
        history: &History,
    ) {
        // Every visit's sums (0), and its type's (1 new, 2 returning)
        // when they are told apart.
        let t = match (self.by_type, self.by_type && a.is_new_visit(v)) {
            (false, _) => 0,
            (true, true) => 1,
            (true, false) => 2,
        };
        self.visits[0] += 1;
        if t > 0 {
            self.visits[t] += 1;
        }
        let visitor = a.visitor[v as usize];
        let mut any = (0u64, ExactSum::default());
        for (g, acc) in self.ready.iter_mut().zip(self.each.iter_mut()) {
            let Some((conversions, revenue)) = g.convert(a, v, actions(), d) else {
                continue;
            };
            for k in types(t) {
                acc[k].add_visit(visitor, conversions, &revenue);
            }
            any.0 += conversions;
            any.1.add_sum(&revenue);
        }
        let recorded = a.conversions_of(v);
        if self.ecommerce && !recorded.is_empty() {
            let bought: Vec<&Recorded> = history.orders(recorded).collect();
            if !bought.is_empty() {
                for k in types(t) {
                    self.orders[k].add(visitor, &bought);
                }
                any.0 += bought.len() as u64;
                for r in &bought {
                    any.1.add(r.data.revenue.unwrap_or(0.0));
                }
            }
            if let Some(cart) = crate::recorded::abandoned_cart(recorded) {
                for k in types(t) {
                    self.carts[k].add(visitor, &[cart]);
                }
            }
        }
        if any.0 > 0 {
            for k in types(t) {
                self.overall[k].add_visit(visitor, any.0, &any.1);
            }
        }
    }

    /// Adds a goal rollup's sums (a disjoint period, counted with these
    /// goals; new and returning visits only if they are told apart here).
    pub(crate) fn add_rollup(&mut self, r: &GoalRollup) {
        let n = if self.by_type { 3 } else { 1 };
        for k in 0..n {
            self.visits[k] += r.visits[k];
            self.overall[k].add_stored(&r.overall[k]);
            self.orders[k].add_stored(&r.orders[k]);
            self.carts[k].add_stored(&r.carts[k]);
        }
        for (g, acc) in self.goals.iter().zip(self.each.iter_mut()) {
            if let Some((_, theirs)) = r.each.iter().find(|(id, _)| *id == g.id) {
                for (mine, theirs) in acc.iter_mut().zip(theirs).take(n) {
                    mine.add_stored(theirs);
                }
            }
        }
    }

    /// The sums as a goal rollup keeps them, for goal definitions `key`.
    pub(crate) fn rollup(&self, key: u64) -> GoalRollup {
        let three = |acc: &[Acc; 3]| std::array::from_fn(|k| acc[k].stored());
        GoalRollup {
            key,
            visits: self.visits,
            overall: three(&self.overall),
            each: self
                .goals
                .iter()
                .zip(&self.each)
                .map(|(g, acc)| (g.id, three(acc)))
                .collect(),
            orders: std::array::from_fn(|k| self.orders[k].stored()),
            carts: std::array::from_fn(|k| self.carts[k].stored()),
        }
    }
}

/// A whole month's or year's goal sums, by visitor type (every visit,
/// new, returning), with converting visitors as bitmaps.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GoalRollup {
    /// The goal definitions counted ([`goals_key`]).
    pub key: u64,
    pub visits: [u64; 3],
    pub overall: [StoredAcc; 3],
    /// Each goal by id, in the site's order.
    pub each: Vec<(u32, [StoredAcc; 3])>,
    pub orders: [StoredEcom; 3],
    pub carts: [StoredEcom; 3],
}

impl GoalRollup {
    /// Adds a disjoint period's rollup of the same definitions.
    pub(crate) fn add(&mut self, o: &GoalRollup) {
        for (k, visits) in o.visits.iter().enumerate() {
            self.visits[k] += visits;
        }
        for (mine, theirs) in self.overall.iter_mut().zip(&o.overall) {
            mine.add(theirs);
        }
        for (id, theirs) in &o.each {
            match self.each.iter_mut().find(|(mine, _)| mine == id) {
                Some((_, mine)) => mine.iter_mut().zip(theirs).for_each(|(m, t)| m.add(t)),
                None => self.each.push((*id, theirs.clone())),
            }
        }
        for (mine, theirs) in self.orders.iter_mut().zip(&o.orders) {
            mine.add(theirs);
        }
        for (mine, theirs) in self.carts.iter_mut().zip(&o.carts) {
            mine.add(theirs);
        }
    }

    /// Its sums of every visit alone (those of new and returning visits
    /// emptied): what holds whatever the visitor history says.
    pub(crate) fn every_visit(&self) -> GoalRollup {
        let mut out = self.clone();
        for k in 1..3 {
            out.visits[k] = 0;
            out.overall[k] = StoredAcc::default();
            out.orders[k] = StoredEcom::default();
            out.carts[k] = StoredEcom::default();
            for (_, acc) in &mut out.each {
                acc[k] = StoredAcc::default();
            }
        }
        out
    }

    /// Every visitor id it holds, at most (for checking a file against
    /// the site's dictionary).
    pub(crate) fn max_visitor(&self) -> Option<u32> {
        let accs = self
            .overall
            .iter()
            .chain(self.each.iter().flat_map(|(_, a)| a.iter()))
            .chain(self.orders.iter().chain(&self.carts).map(|e| &e.acc));
        accs.filter_map(|a| a.visitors.max()).max()
    }

    /// Heap bytes, about.
    pub(crate) fn heap_bytes(&self) -> usize {
        let accs = self
            .overall
            .iter()
            .chain(self.each.iter().flat_map(|(_, a)| a.iter()))
            .chain(self.orders.iter().chain(&self.carts).map(|e| &e.acc));
        accs.map(|a| a.visitors.serialized_size() + 64)
            .sum::<usize>()
            + std::mem::size_of::<GoalRollup>()
    }
}
