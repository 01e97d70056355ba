//! Ecommerce products (Matomo's `Goals.getItemsSku`, `getItemsName`,
//! `getItemsCategory`): the items of a selection's counted orders, or of
//! its abandoned carts, by SKU, name or category, from the recorded
//! conversions (`recorded.rs`).
//!
//! A row's revenue is the sum of its items' price × quantity, its
//! quantity their quantities' sum (an item without one counts 1); orders
//! counts the orders holding the product (abandoned carts: the visits
//! whose abandoned cart holds it). A product with several categories
//! counts in each; an item without a name or category is Matomo's
//! `Value not defined`.
//!
//! Product page views (`product_view` hits) add a row's views, the
//! visits and distinct visitors that viewed it and the average price
//! the views showed, in both tables (orders and abandoned carts), as
//! Matomo's product reports do.

use std::collections::BTreeMap;

use crate::fsum::ExactSum;
use crate::query::Selection;

/// Which label the rows of a products report group by.
///
/// # Examples
/// ```
/// assert_eq!(hitmap::ItemsBy::Category.segment(), "productCategory");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemsBy {
    /// The SKU (`Goals.getItemsSku`).
    Sku,
    /// The product name (`Goals.getItemsName`).
    Name,
    /// Each category (`Goals.getItemsCategory`).
    Category,
}

impl ItemsBy {
    /// The label Matomo's report gives the row of products without this
    /// value.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap::ItemsBy::Name.not_defined(), "Product Name not defined");
    /// ```
    pub fn not_defined(self) -> &'static str {
        match self {
            ItemsBy::Sku => "Product SKU not defined",
            ItemsBy::Name => "Product Name not defined",
            ItemsBy::Category => "Product Category not defined",
        }
    }

    /// The segment that selects a row's visits.
    pub fn segment(self) -> &'static str {
        match self {
            ItemsBy::Sku => "productSku",
            ItemsBy::Name => "productName",
            ItemsBy::Category => "productCategory",
        }
    }
}

/// One product row.
///
/// # Examples
/// ```
/// let r = hitmap::ItemRow::default();
/// assert_eq!((r.quantity, r.orders), (0, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemRow {
    /// SKU, name or category (`Value not defined` for none).
    pub label: String,
    /// Sum of price × quantity.
    pub revenue: f64,
    /// Sum of quantities.
    pub quantity: u64,
    /// Orders holding the product, or visits whose abandoned cart holds
    /// it.
    pub orders: u64,
    /// Sum of the unit prices of the order (or cart) lines holding it
    /// (Matomo's `price`: its average price is this over `orders`).
    pub price: f64,
    /// Visits that viewed the product's page (`product_view` hits). By
    /// category, counted for each place the category held in the viewed
    /// products' lists and summed, as Matomo's five category columns are.
    pub visits: u64,
    /// Distinct visitors of those visits (exact over any range; by
    /// category summed over places as `visits`).
    pub visitors: u64,
    /// Product page views.
    pub views: u64,
    /// The average price the views showed, over the views with one.
    pub avg_price_viewed: Option<f64>,
}

/// A row's running sums.
#[derive(Default)]
struct Acc {
    revenue: ExactSum,
    price: ExactSum,
    quantity: u64,
    orders: u64,
    visits: u64,
    /// The viewing visitors, by the label's place in the product's
    /// categories (always 0 for a SKU or name).
    visitors: [roaring::RoaringBitmap; 5],
    views: u64,
    viewed_price: ExactSum,
    priced_views: u64,
}

/// PHP's natural order (`strnatcasecmp`, Martin Pool's algorithm):
/// whitespace is skipped, runs of digits compare as numbers, letters
/// without case. Matomo's products rows of equal revenue come in this
/// order of their labels (`SKU2` before `SKU VERY nice indeed`).
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        while a.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        while b.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        match (a.get(i), b.get(j)) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let run = |s: &[u8], mut k: usize| {
                    while s.get(k) == Some(&b'0') && s.get(k + 1).is_some_and(u8::is_ascii_digit) {
                        k += 1;
                    }
                    let from = k;
                    while s.get(k).is_some_and(u8::is_ascii_digit) {
                        k += 1;
                    }
                    (from, k)
                };
                let ((fa, ta), (fb, tb)) = (run(a, i), run(b, j));
                let order = (ta - fa)
                    .cmp(&(tb - fb))
                    .then_with(|| a[fa..ta].cmp(&b[fb..tb]));
                if order != Ordering::Equal {
                    return order;
                }
                (i, j) = (ta, tb);
            }
            (Some(x), Some(y)) => {
                let order = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if order != Ordering::Equal {
                    return order;
                }
                (i, j) = (i + 1, j + 1);
            }
        }
    }
}

/// The labels a viewed product counts under: its SKU, its name, or each
/// of its categories. As Matomo's trackers send them: a product without
/// a name is `Value not defined` by name (a category page, without SKU
/// and name, counts by category only), one without a category `Value
/// not defined` by category.
fn view_labels(item: &crate::hit::Item, by: ItemsBy) -> Vec<&str> {
    match by {
        ItemsBy::Sku if item.sku.is_empty() => Vec::new(),
        ItemsBy::Sku => vec![item.sku.as_str()],
        ItemsBy::Name => match item.name.as_deref() {
            Some(name) => vec![name],
            None if item.sku.is_empty() => Vec::new(),
            None => vec![NOT_DEFINED],
        },
        ItemsBy::Category if item.categories.is_empty() => vec![NOT_DEFINED],
        ItemsBy::Category => item.categories.iter().map(String::as_str).collect(),
    }
}

/// Matomo's label for an item without a name or category.
pub const NOT_DEFINED: &str = "Value not defined";

impl Selection<'_> {
    /// The products of the selection's orders (or, with `carts`, of its
    /// abandoned carts), by `by`, sorted by revenue (highest first), then
    /// label in PHP's natural order, as Matomo's.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Conversion, Engine, Hit, HitType, Item, ItemsBy, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1).ecommerce(true))?;
    /// let order = Conversion {
    ///     order_id: Some("A-1".into()),
    ///     revenue: Some(23.0),
    ///     items: vec![Item::new("MUG").price(9.0).quantity(2), Item::new("PEN").price(5.0)],
    ///     ..Conversion::default()
    /// };
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/shop"),
    ///     Hit::new(1, 1_717_200_060, "a", HitType::Order).with_conversion(order),
    /// ])?;
    /// let rows = e.query(&Query::site(1))?.items(ItemsBy::Sku, false);
    /// assert_eq!((rows[0].label.as_str(), rows[0].revenue, rows[0].quantity), ("MUG", 18.0, 2));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn items(&self, by: ItemsBy, carts: bool) -> Vec<ItemRow> {
        let mut rows: BTreeMap<String, Acc> = BTreeMap::new();
        self.for_each_visit(|cut| {
            let visitor = cut.archive.visitor[cut.visit as usize];
            // Product views: each viewed label's views, price and visit.
            let mut viewed: Vec<(&str, usize)> = Vec::new();
            for r in cut.archive.views_of(cut.visit) {
                let Some(item) = r
                    .data
                    .items
                    .first()
                    .filter(|_| r.kind == crate::hit::HitType::ProductView)
                else {
                    continue;
                };
                for (place, label) in view_labels(item, by).into_iter().enumerate() {
                    let place = if by == ItemsBy::Category {
                        place.min(4)
                    } else {
                        0
                    };
                    let row = rows.entry(label.to_owned()).or_default();
                    row.views += 1;
                    if let Some(p) = item.price {
                        row.viewed_price.add(p);
                        row.priced_views += 1;
                    }
                    if !viewed.contains(&(label, place)) {
                        viewed.push((label, place));
                        row.visits += 1;
                        row.visitors[place].insert(visitor);
                    }
                }
            }
            let recorded = cut.archive.conversions_of(cut.visit);
            if recorded.is_empty() {
                return;
            }
            let picked: Vec<&crate::recorded::Recorded> = if carts {
                crate::recorded::abandoned_cart(recorded)
                    .into_iter()
                    .collect()
            } else {
                self.site.history().orders(recorded).collect()
            };
            for r in picked {
                // Each order (or cart) counts once per label.
                let mut seen: Vec<&str> = Vec::new();
                for item in &r.data.items {
                    let labels: Vec<&str> = match by {
                        ItemsBy::Sku => vec![item.sku.as_str()],
                        ItemsBy::Name => vec![item.name.as_deref().unwrap_or(NOT_DEFINED)],
                        ItemsBy::Category if item.categories.is_empty() => vec![NOT_DEFINED],
                        ItemsBy::Category => item.categories.iter().map(String::as_str).collect(),
                    };
                    let quantity = u64::from(item.quantity.unwrap_or(1));
                    for label in labels {
                        let row = rows.entry(label.to_owned()).or_default();
                        row.revenue.add(item.price.unwrap_or(0.0) * quantity as f64);
                        row.price.add(item.price.unwrap_or(0.0));
                        row.quantity += quantity;
                        if !seen.contains(&label) {
                            seen.push(label);
                            row.orders += 1;
                        }
                    }
                }
            }
        });
        let mut out: Vec<ItemRow> = rows
            .into_iter()
            .map(|(label, a)| ItemRow {
                label,
                revenue: a.revenue.value(),
                price: a.price.value(),
                quantity: a.quantity,
                orders: a.orders,
                visits: a.visits,
                visitors: a.visitors.iter().map(roaring::RoaringBitmap::len).sum(),
                views: a.views,
                avg_price_viewed: (a.priced_views > 0)
                    .then(|| a.viewed_price.value() / a.priced_views as f64),
            })
            .collect();
        // By the labels Matomo shows (`Product Category not defined`).
        fn shown(l: &str, by: ItemsBy) -> &str {
            if l == NOT_DEFINED {
                by.not_defined()
            } else {
                l
            }
        }
        out.sort_by(|a, b| {
            b.revenue
                .total_cmp(&a.revenue)
                .then_with(|| natural_cmp(shown(&a.label, by), shown(&b.label, by)))
                .then_with(|| a.label.cmp(&b.label))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::natural_cmp;
    use std::cmp::Ordering::*;

    #[test]
    fn labels_in_phps_natural_order() {
        assert_eq!(natural_cmp("SKU2", "SKU VERY nice indeed"), Less);
        assert_eq!(
            natural_cmp("SKU IN ABANDONED CART TWO", "SKU VERY nice indeed"),
            Less
        );
        assert_eq!(natural_cmp("item 9", "item 10"), Less);
        assert_eq!(natural_cmp("Mug", "mug"), Equal);
        assert_eq!(natural_cmp("a007", "a7"), Equal);
        assert_eq!(natural_cmp("", "a"), Less);
        assert_eq!(natural_cmp("PRODUCT THREE", "PRODUCT TWO"), Less);
    }
}
