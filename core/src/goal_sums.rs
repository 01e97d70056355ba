//! Running sums of a site's goals over visits: each goal's and every
//! goal's conversions, converted visits, converting visitors and
//! revenue, for all, new and returning visits, with the ecommerce orders
//! and abandoned carts. A query adds the visits it selects
//! (`goals.rs`); a goal rollup (`rollup.rs`) keeps the sums of a whole
//! month or year, visitors as bitmaps, so that periods add up with exact
//! distinct converters.
//!
//! A goal rollup (`rollup/goals.rs`) stands for the goal definitions it
//! was counted with ([`goals_key`]); a question under other definitions
//! reads the days.

use std::collections::BTreeMap;

use roaring::RoaringBitmap;

use crate::archive::DayArchive;
use crate::bitset::BitSet;
use crate::conversions::GoalState;
use crate::fsum::ExactSum;
use crate::goal::Goal;
use crate::history::History;
use crate::raw::SiteDicts;

/// How goal rollups count, numbered: a rollup counted by other rules
/// (before the number was kept, or by another number) stands for nothing
/// and is counted again. 2: a visit with an order request its tracker
/// refused is a converted visit.
const COUNTING: u32 = 2;

/// The identity of a site's goal definitions (and whether it is an
/// ecommerce site) and of the counting rules ([`COUNTING`]): what a goal
/// rollup was counted with.
pub(crate) fn goals_key(goals: &[Goal], ecommerce: bool) -> u64 {
    let json = serde_json::to_vec(&(goals, ecommerce, COUNTING)).unwrap_or_default();
    xxhash_rust::xxh3::xxh3_64(&json)
}

/// A row's key: its label (`None`: the row of visits without a value,
/// in a dimension report) and, for a subtable row, its sub-label.
pub(crate) type RowKey = (Option<String>, Option<String>);

/// One goal's conversions in a row.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct GoalCell {
    pub conversions: u64,
    pub visits_converted: u64,
    pub revenue: ExactSum,
    /// Orders and abandoned carts: their products.
    pub items: u64,
    /// Orders: their subtotals, taxes, shipping and discounts.
    pub amounts: [ExactSum; 4],
}

/// The cell key of orders (Matomo's `ecommerceOrder`, `idgoal` 0).
pub(crate) const ORDERS: i64 = 0;
/// The cell key of abandoned carts (`ecommerceAbandonedCart`, -1).
pub(crate) const CARTS: i64 = -1;

/// A row's conversions: visits that converted any goal (or ordered), and
/// each goal's (only goals with conversions), orders' ([`ORDERS`]) and
/// abandoned carts' ([`CARTS`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RowGoals {
    pub visits_converted: u64,
    pub goals: BTreeMap<i64, GoalCell>,
}

impl RowGoals {
    /// Conversions of every goal and order together (carts are not
    /// conversions).
    pub(crate) fn conversions(&self) -> u64 {
        self.goals
            .iter()
            .filter(|(id, _)| **id != CARTS)
            .map(|(_, c)| c.conversions)
            .sum()
    }

    /// Revenue of every goal and order together.
    pub(crate) fn revenue(&self) -> f64 {
        let mut sum = ExactSum::default();
        for (_, c) in self.goals.iter().filter(|(id, _)| **id != CARTS) {
            sum.add_sum(&c.revenue);
        }
        sum.value()
    }
}

/// Visit `v`'s conversions by cell, into `out` (emptied first): each
/// goal's (conversions, revenue) and, on an ecommerce site, its counted
/// orders and abandoned cart. `actions` gives its actions (all, or those
/// inside a section). Gives whether the visit converted as Matomo's
/// `visit_goal_converted` says: a goal or an order cell, or an order
/// request that counts nowhere (on an ecommerce site, one its tracker
/// refused because an earlier order took its id; any order on another
/// site): no conversion, but the visit is marked converted.
pub(crate) fn visit_cells<I: Iterator<Item = usize>>(
    states: &mut [GoalState<'_>],
    (a, v): (&DayArchive, u32),
    actions: impl Fn() -> I,
    d: &SiteDicts,
    ecommerce: bool,
    history: &History,
    out: &mut Vec<(i64, GoalCell)>,
) -> bool {
    out.clear();
    for s in states.iter_mut() {
        if let Some((n, revenue)) = s.convert(a, v, actions(), d) {
            let cell = GoalCell {
                conversions: n,
                visits_converted: 1,
                revenue,
                ..GoalCell::default()
            };
            out.push((i64::from(s.goal.id), cell));
        }
    }
    let recorded = a.conversions_of(v);
    if recorded.is_empty() {
        return !out.is_empty();
    }
    if !ecommerce {
        // Another site's order is no conversion, but Matomo's tracker
        // marks its visit converted all the same.
        return !out.is_empty() || crate::recorded::ordered(recorded);
    }
    let cell_of = |records: &[&crate::recorded::Recorded]| {
        let mut cell = GoalCell {
            conversions: records.len() as u64,
            visits_converted: 1,
            ..GoalCell::default()
        };
        for r in records {
            crate::recorded::add_ecommerce(
                &r.data,
                &mut cell.revenue,
                &mut cell.items,
                &mut cell.amounts,
            );
        }
        cell
    };
    if let Some(cart) = crate::recorded::abandoned_cart(recorded) {
        out.push((CARTS, cell_of(&[cart])));
    }
    let bought: Vec<&crate::recorded::Recorded> = history.orders(recorded).collect();
    if !bought.is_empty() {
        out.push((ORDERS, cell_of(&bought)));
    }
    out.iter().any(|(id, _)| *id != CARTS) || crate::recorded::ordered(recorded)
}

impl RowGoals {
    /// Adds a visit's cells and whether it converted ([`visit_cells`]):
    /// Matomo's rows count converted visits by its visits' flag, so a
    /// visit whose only order was refused counts without a cell.
    pub(crate) fn add_cells(&mut self, cells: &[(i64, GoalCell)], converted: bool) {
        if converted {
            self.visits_converted += 1;
        }
        for (id, c) in cells {
            self.goals.entry(*id).or_default().add(c);
        }
    }

    /// Adds a disjoint period's (or run's) row.
    pub(crate) fn add(&mut self, o: &RowGoals) {
        self.visits_converted += o.visits_converted;
        for (id, c) in &o.goals {
            self.goals.entry(*id).or_default().add(c);
        }
    }
}

impl GoalCell {
    /// Adds another visit's (or period's) cell of the same goal.
    pub(crate) fn add(&mut self, c: &GoalCell) {
        self.conversions += c.conversions;
        self.visits_converted += c.visits_converted;
        self.revenue.add_sum(&c.revenue);
        self.items += c.items;
        for (sum, v) in self.amounts.iter_mut().zip(&c.amounts) {
            sum.add_sum(v);
        }
    }
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

    pub(crate) fn add_stored(&mut self, s: &StoredAcc) {
        self.conversions += s.conversions;
        self.visits += s.visits;
        self.visitors.insert_all(&s.visitors);
        self.revenue.add_sum(&s.revenue);
    }

    pub(crate) fn stored(&self) -> StoredAcc {
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
    pub(crate) fn add(&mut self, o: &StoredAcc) {
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

    /// Adds one visit's orders (or its abandoned cart), as a cell.
    fn add_cell(&mut self, visitor: u32, c: &GoalCell) {
        self.acc.add_visit(visitor, c.conversions, &c.revenue);
        self.items += c.items;
        for (a, b) in self.amounts.iter_mut().zip(&c.amounts) {
            a.add_sum(b);
        }
    }

    pub(crate) fn add_stored(&mut self, s: &StoredEcom) {
        self.acc.add_stored(&s.acc);
        self.items += s.items;
        for (a, b) in self.amounts.iter_mut().zip(&s.amounts) {
            a.add_sum(b);
        }
    }

    pub(crate) fn stored(&self) -> StoredEcom {
        StoredEcom {
            acc: self.acc.stored(),
            items: self.items,
            amounts: self.amounts.clone(),
        }
    }
}

impl StoredEcom {
    /// Adds a disjoint period's sums.
    pub(crate) fn add(&mut self, o: &StoredEcom) {
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
    pub by_type: bool,
    /// Whether orders and carts count (an ecommerce site).
    ecommerce: bool,
    /// A visit's cells (kept to reuse their room).
    cells: Vec<(i64, GoalCell)>,
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
            cells: Vec::new(),
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
    /// inside a section), and gives its cells and whether it converted.
    /// `history` tells which orders count.
    pub(crate) fn add_visit<I: Iterator<Item = usize>>(
        &mut self,
        a: &DayArchive,
        v: u32,
        actions: impl Fn() -> I,
        d: &SiteDicts,
        history: &History,
    ) -> (&[(i64, GoalCell)], bool) {
        let mut cells = std::mem::take(&mut self.cells);
        let converted = visit_cells(
            &mut self.ready,
            (a, v),
            actions,
            d,
            self.ecommerce,
            history,
            &mut cells,
        );
        self.add_cells(a, v, &cells, converted);
        self.cells = cells;
        (&self.cells, converted)
    }

    /// Counts visit `v` of `a` by its cells and whether it converted
    /// ([`visit_cells`]).
    pub(crate) fn add_cells(
        &mut self,
        a: &DayArchive,
        v: u32,
        cells: &[(i64, GoalCell)],
        converted: bool,
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
        for (id, c) in cells {
            match *id {
                CARTS => {
                    for k in types(t) {
                        self.carts[k].add_cell(visitor, c);
                    }
                    continue;
                }
                ORDERS => {
                    for k in types(t) {
                        self.orders[k].add_cell(visitor, c);
                    }
                }
                id => {
                    let Some(i) = self.goals.iter().position(|g| i64::from(g.id) == id) else {
                        continue;
                    };
                    for k in types(t) {
                        self.each[i][k].add_visit(visitor, c.conversions, &c.revenue);
                    }
                }
            }
            any.0 += c.conversions;
            any.1.add_sum(&c.revenue);
        }
        // Every goal's together: the visits Matomo marks converted.
        if any.0 > 0 || converted {
            for k in types(t) {
                self.overall[k].add_visit(visitor, any.0, &any.1);
            }
        }
    }
}

/// The ranges of Matomo's `Goals.getVisitsUntilConversion`: a visit's
/// rank among its visitor's visits, from..=to (`None`: and more).
pub(crate) const VISITS_UNTIL: [(u32, Option<u32>); 13] = [
    (1, Some(1)),
    (2, Some(2)),
    (3, Some(3)),
    (4, Some(4)),
    (5, Some(5)),
    (6, Some(6)),
    (7, Some(7)),
    (8, Some(8)),
    (9, Some(14)),
    (15, Some(25)),
    (26, Some(50)),
    (51, Some(100)),
    (101, None),
];

/// The position of the range (from..=to, `None`: and more) that `k`
/// falls in.
pub(crate) fn range_of(ranges: &[(u32, Option<u32>)], k: u32) -> Option<usize> {
    ranges
        .iter()
        .position(|&(from, to)| k >= from && to.is_none_or(|t| k <= t))
}

/// The key of every goal's conversions together in a goal rollup's
/// visits-until-conversion counts (a goal's own is its id, orders' 0,
/// abandoned carts' -1: the cell keys).
pub(crate) const ALL_GOALS: i64 = -2;
