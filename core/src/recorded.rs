//! A day's recorded conversions: the `goal`, `order` and `cart` hits of
//! the input contract. They are not actions: a day archive keeps them
//! beside its visits ([`DayArchive::conversions`]), each in the visit it
//! falls in (`archive.rs` attaches them), and `conversions.rs` counts
//! them with the goals evaluated over the actions.
//!
//! Rules (docs/hits.md, "Conversions"):
//! - a conversion belongs to the visit of its stretch of requests, or of
//!   its `visit` id; with no action near, to a visit without actions of
//!   its own (`archive.rs`, `Plan`). Day files written before that rule
//!   may hold conversions attached to no visit: they count nowhere and
//!   are given back on rebuilds, which attaches them;
//! - an order id counts once in the site (the site's order index,
//!   `history.rs`, holds each id's first use); within a visitor's day
//!   (what a day archive decides alone) the earliest order with
//!   that id (by time, then content) counts, later ones do not;
//! - a visit's cart is abandoned when its last ecommerce conversion (by
//!   time) is a cart update: the abandoned cart is that update.
//!
//! [`DayArchive::conversions`]: crate::archive::DayArchive

use std::cmp::Ordering;

use crate::dict::NONE;
use crate::hit::{Conversion, HitType, Item};

/// One recorded conversion of a day.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recorded {
    /// The visit it belongs to, or [`NONE`]: its visitor has no visit
    /// that day.
    pub visit: u32,
    pub visitor: u32,
    pub ts: i64,
    /// [`HitType::Goal`], [`HitType::Order`] or [`HitType::Cart`].
    pub kind: HitType,
    /// Where it happened (a URL id), or [`NONE`].
    pub url: u32,
    /// The `visit` id the hit carried (a dimension value id), or [`NONE`].
    pub key: u32,
    pub data: Conversion,
    /// Whether it counts: `false` for an order whose id an earlier order
    /// of the same visitor and day already used (derived, not stored).
    pub counted: bool,
}

fn opt_f64(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (x, y) => x.is_some().cmp(&y.is_some()),
    }
}

fn item_cmp(a: &Item, b: &Item) -> Ordering {
    a.sku
        .cmp(&b.sku)
        .then_with(|| a.name.cmp(&b.name))
        .then_with(|| a.categories.cmp(&b.categories))
        .then_with(|| opt_f64(a.price, b.price))
        .then_with(|| a.quantity.cmp(&b.quantity))
}

/// A total order on conversions' contents (no ids), so that equal times
/// never leave the order to arrival.
pub(crate) fn content_cmp(a: &Conversion, b: &Conversion) -> Ordering {
    a.goal
        .cmp(&b.goal)
        .then_with(|| opt_f64(a.revenue, b.revenue))
        .then_with(|| a.order_id.cmp(&b.order_id))
        .then_with(|| opt_f64(a.subtotal, b.subtotal))
        .then_with(|| opt_f64(a.tax, b.tax))
        .then_with(|| opt_f64(a.shipping, b.shipping))
        .then_with(|| opt_f64(a.discount, b.discount))
        .then_with(|| a.items.len().cmp(&b.items.len()))
        .then_with(|| {
            a.items
                .iter()
                .zip(&b.items)
                .map(|(x, y)| item_cmp(x, y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
        .then_with(|| a.content.cmp(&b.content))
}

/// Sets [`Recorded::counted`]: within each visitor's conversions, an
/// order counts unless an earlier one (by time, then content) has its id.
pub(crate) fn derive_counted(all: &mut [Recorded]) {
    for r in all.iter_mut() {
        r.counted = true;
    }
    let mut orders: Vec<usize> = (0..all.len())
        .filter(|&i| all[i].kind == HitType::Order)
        .collect();
    orders.sort_by(|&i, &j| {
        let (x, y) = (&all[i], &all[j]);
        x.visitor
            .cmp(&y.visitor)
            .then_with(|| x.data.order_id.cmp(&y.data.order_id))
            .then(x.ts.cmp(&y.ts))
            .then_with(|| content_cmp(&x.data, &y.data))
            .then(i.cmp(&j))
    });
    for w in orders.windows(2) {
        let (x, y) = (&all[w[0]], &all[w[1]]);
        if x.visitor == y.visitor && x.data.order_id == y.data.order_id {
            all[w[1]].counted = false;
        }
    }
}

/// The conversions of visit `v` (a run of the list, which is sorted by
/// visit).
pub(crate) fn of_visit(all: &[Recorded], v: u32) -> &[Recorded] {
    let from = all.partition_point(|r| r.visit < v);
    let to = from + all[from..].partition_point(|r| r.visit == v);
    &all[from..to]
}

/// The conversions attached to no visit (at the end of the list).
pub(crate) fn unattached(all: &[Recorded]) -> &[Recorded] {
    &all[all.partition_point(|r| r.visit != NONE)..]
}

/// The orders of a visit's conversions that count (an order id's first
/// use by the visitor that day).
pub(crate) fn orders(visit: &[Recorded]) -> impl Iterator<Item = &Recorded> {
    visit
        .iter()
        .filter(|r| r.kind == HitType::Order && r.counted)
}

/// Whether a visit holds an order request, counted or not: Matomo's
/// tracker marks a visit converted and ordered on every order request,
/// also on one it then refuses because an earlier order took its id.
pub(crate) fn ordered(visit: &[Recorded]) -> bool {
    visit.iter().any(|r| r.kind == HitType::Order)
}

/// A visit's abandoned cart: its last ecommerce conversion by time, if
/// that is a cart update (ties: an order wins, the cart was bought).
pub(crate) fn abandoned_cart(visit: &[Recorded]) -> Option<&Recorded> {
    visit
        .iter()
        .filter(|r| matches!(r.kind, HitType::Order | HitType::Cart))
        .max_by(|x, y| {
            x.ts.cmp(&y.ts)
                .then_with(|| (x.kind == HitType::Order).cmp(&(y.kind == HitType::Order)))
                .then_with(|| content_cmp(&x.data, &y.data))
        })
        .filter(|r| r.kind == HitType::Cart)
}

/// Adds an order's or cart's grand total, products ([`item_count`]) and
/// amounts (subtotal, tax, shipping, discount) to running sums.
pub(crate) fn add_ecommerce(
    c: &Conversion,
    revenue: &mut crate::fsum::ExactSum,
    items: &mut u64,
    amounts: &mut [crate::fsum::ExactSum; 4],
) {
    revenue.add(c.revenue.unwrap_or(0.0));
    *items += item_count(c);
    for (sum, v) in amounts
        .iter_mut()
        .zip([c.subtotal, c.tax, c.shipping, c.discount])
    {
        sum.add(v.unwrap_or(0.0));
    }
}

/// The number of products of an order or cart (the sum of quantities; an
/// item without one counts 1), Matomo's `items`.
pub(crate) fn item_count(c: &Conversion) -> u64 {
    c.items
        .iter()
        .map(|i| u64::from(i.quantity.unwrap_or(1)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(visitor: u32, ts: i64, id: &str) -> Recorded {
        Recorded {
            visit: 0,
            visitor,
            ts,
            kind: HitType::Order,
            url: NONE,
            key: NONE,
            data: Conversion {
                order_id: Some(id.into()),
                revenue: Some(1.0),
                ..Conversion::default()
            },
            counted: true,
        }
    }

    #[test]
    fn an_order_id_counts_once_per_visitor() {
        let mut all = vec![
            order(0, 20, "A"),
            order(0, 10, "A"),
            order(1, 30, "A"),
            order(0, 5, "B"),
        ];
        derive_counted(&mut all);
        let counted: Vec<bool> = all.iter().map(|r| r.counted).collect();
        assert_eq!(counted, [false, true, true, true]);
    }

    #[test]
    fn a_cart_after_the_last_order_is_abandoned() {
        let mut cart = order(0, 40, "");
        cart.kind = HitType::Cart;
        cart.data.order_id = None;
        let visit = [order(0, 10, "A"), cart.clone()];
        assert_eq!(abandoned_cart(&visit).map(|r| r.ts), Some(40));
        let bought = [cart, order(0, 50, "A")];
        assert!(abandoned_cart(&bought).is_none());
    }
}
