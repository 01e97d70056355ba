//! `Goals.get`, `Goals.getGoals` and the converted visits of
//! `VisitsSummary.get`, in Matomo's shapes.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::methods::{FieldKind, Kind};
use super::{ApiRequest, bad};
use crate::error::Result;
use crate::goal::{Goal, GoalMatch};
use crate::goal_rows::{CARTS, ORDERS, RowGoals, RowKey, RowsOf};
use crate::goals::{ByVisitorType, GoalMetrics, GoalsSummary};
use crate::page_goals::{PageGoalCell, PageGoals, add_goals};
use crate::query::Resolved;
use crate::rollup::reports::ActionTable;
use crate::table::{self, Row};

/// A revenue as Matomo prints it: rounded to cents, a whole number
/// without decimals.
pub(super) fn money(x: f64) -> Value {
    decimal(x, 2)
}

/// `x` rounded to `places` decimals as PHP rounds, a whole number
/// without decimals.
fn decimal(x: f64, places: i32) -> Value {
    let f = 10f64.powi(places);
    let r = php_round(x * f) / f;
    if r.fract() == 0.0 && r.abs() < 9.0e15 {
        json!(r as i64)
    } else {
        json!(r)
    }
}

/// Rounds half away from zero as PHP's `round` does: the value is first
/// taken to 15 significant digits, so a binary fraction just under a
/// half (`1555.555 * 100` is `155555.49999999999`) rounds up, as the
/// decimal the user wrote would.
pub(super) fn php_round(x: f64) -> f64 {
    if !x.is_finite() || x.abs() >= 1e15 {
        return x.round();
    }
    format!("{x:.14e}").parse::<f64>().unwrap_or(x).round()
}

/// The goal a request's `idGoal` names (`None`: every goal together).
pub(super) fn requested_goal(r: &ApiRequest, goals: &[Goal]) -> Result<Option<u32>> {
    let Some(given) = r.id_goal.as_deref() else {
        return Ok(None);
    };
    if matches!(
        given,
        "ecommerceOrder" | "ecommerceAbandonedCart" | "0" | "-1"
    ) {
        return Err(bad(format!(
            "idGoal={given}: {} answers goals by id ({}); Goals.get, \
             Goals.getVisitsUntilConversion and Goals.getDaysToConversion answer \
             idGoal=ecommerceOrder and idGoal=ecommerceAbandonedCart",
            r.method,
            ids(goals)
        )));
    }
    let id: u32 = given
        .parse()
        .map_err(|_| bad(format!("idGoal must be a goal id, got {given:?}")))?;
    if goals.iter().any(|g| g.id == id) {
        Ok(Some(id))
    } else {
        Err(bad(format!(
            "site {} has no goal {id} (its goals: {}); Goals.getGoals lists them",
            r.site,
            ids(goals)
        )))
    }
}

fn ids(goals: &[Goal]) -> String {
    if goals.is_empty() {
        return "none; add one with `hitmap goals add`".into();
    }
    goals
        .iter()
        .map(|g| g.id.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Orders or abandoned carts, as `idGoal` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ecommerce {
    Order,
    Cart,
}

/// The ecommerce goal `idGoal` names, if it names one (`ecommerceOrder`,
/// `ecommerceAbandonedCart`); an error for a site that is not an
/// ecommerce site.
pub(super) fn requested_ecommerce(
    r: &ApiRequest,
    site: &crate::site::SiteConfig,
) -> Result<Option<Ecommerce>> {
    let e = match r.id_goal.as_deref() {
        Some("ecommerceOrder") => Ecommerce::Order,
        Some("ecommerceAbandonedCart") => Ecommerce::Cart,
        _ => return Ok(None),
    };
    if !site.is_ecommerce() {
        return Err(bad(format!(
            "site {} is not an ecommerce site: make it one (SiteConfig::ecommerce, \
             `hitmap init DIR --site N --ecommerce`) to report its orders and carts",
            site.id()
        )));
    }
    Ok(Some(e))
}

/// A products report's rows in Matomo's shape: revenue, quantity and
/// `orders` (or `abandoned_carts`) for a product that was bought (or left
/// in a cart); `nb_visits`, `nb_uniq_visitors` and `nb_actions` for one
/// whose page was viewed; the average price (of the order lines, else of
/// the views) and quantity, the conversion rate (orders over the visits
/// that viewed it: 0% without views, as Matomo's) and the row's segment.
pub(super) fn item_rows(
    items: &[crate::items::ItemRow],
    by: crate::items::ItemsBy,
    r: &ApiRequest,
) -> Vec<Row> {
    let count = if r.abandoned_carts {
        "abandoned_carts"
    } else {
        "orders"
    };
    items
        .iter()
        .map(|i| {
            let mut row = Row::new();
            // Matomo's label of the row without a name or category.
            let label = if i.label == crate::items::NOT_DEFINED {
                by.not_defined()
            } else {
                &i.label
            };
            row.insert("label".into(), json!(label));
            if i.orders > 0 {
                row.insert("revenue".into(), money(i.revenue));
                row.insert("quantity".into(), json!(i.quantity));
                row.insert(count.into(), json!(i.orders));
            }
            if i.views > 0 {
                row.insert("nb_visits".into(), json!(i.visits));
                row.insert("nb_uniq_visitors".into(), json!(i.visitors));
                row.insert("nb_actions".into(), json!(i.views));
            }
            let avg_price = if i.price == 0.0 {
                i.avg_price_viewed.unwrap_or(0.0)
            } else {
                table::ratio(i.price, i.orders as f64)
            };
            row.insert("avg_price".into(), money(avg_price));
            let avg_quantity = table::ratio(i.quantity as f64, i.orders as f64);
            row.insert(
                "avg_quantity".into(),
                json!((avg_quantity * 100.0).round() / 100.0),
            );
            row.insert(
                "conversion_rate".into(),
                conversion_rate(
                    table::ratio(i.orders as f64, i.visits as f64),
                    r.table.raw_metrics,
                ),
            );
            if i.label != crate::items::NOT_DEFINED {
                row.insert(
                    "segment".into(),
                    json!(format!(
                        "{}=={}",
                        by.segment(),
                        super::encode_segment_value(&i.label)
                    )),
                );
            }
            row
        })
        .collect()
}

/// `Goals.get` for orders or abandoned carts: Matomo's ecommerce columns
/// for all visits, then for new and for returning visits, then hitmap's
/// exact count of converting visitors.
pub(super) fn ecommerce_row(s: &GoalsSummary, which: Ecommerce, r: &ApiRequest) -> Result<Value> {
    let m = match which {
        Ecommerce::Order => s.orders,
        Ecommerce::Cart => s.abandoned_carts,
    };
    let mut row = Row::new();
    for (suffix, e, visits) in [
        ("", m.all, s.nb_visits.all),
        ("_new_visit", m.new, s.nb_visits.new),
        ("_returning_visit", m.returning, s.nb_visits.returning),
    ] {
        let g = &e.goal;
        row.insert(format!("nb_conversions{suffix}"), json!(g.nb_conversions));
        row.insert(
            format!("nb_visits_converted{suffix}"),
            json!(g.nb_visits_converted),
        );
        row.insert(format!("revenue{suffix}"), money(g.revenue));
        if which == Ecommerce::Order {
            for (name, v) in [
                ("revenue_subtotal", e.revenue_subtotal),
                ("revenue_tax", e.revenue_tax),
                ("revenue_shipping", e.revenue_shipping),
                ("revenue_discount", e.revenue_discount),
            ] {
                row.insert(format!("{name}{suffix}"), money(v));
            }
        }
        row.insert(format!("items{suffix}"), json!(e.items));
        let avg = table::ratio(g.revenue, g.nb_conversions as f64);
        row.insert(format!("avg_order_revenue{suffix}"), money(avg));
        let rate = table::ratio(g.nb_visits_converted as f64, visits as f64);
        row.insert(
            format!("conversion_rate{suffix}"),
            conversion_rate(rate, r.table.raw_metrics),
        );
    }
    row.insert(
        "nb_uniq_visitors_converted".into(),
        json!(m.all.goal.nb_uniq_visitors_converted),
    );
    table::apply_one(row, &r.table, &[])
}

/// `Goals.get`'s row: Matomo's columns for all visits, then for new and
/// for returning visits, then hitmap's exact count of converting
/// visitors. `each`: the goals whose own columns come too (Matomo's
/// `showAllGoalSpecificMetrics`: `nb_visits`, then each goal's
/// conversions, converted visits and revenue after the totals, and each
/// goal's conversion rate before the overall one).
pub(super) fn goals_row(
    s: &GoalsSummary,
    goal: Option<u32>,
    each: &[u32],
    r: &ApiRequest,
) -> Result<Value> {
    let m = match goal {
        None => s.overall,
        Some(id) => s.goals.get(&id).copied().unwrap_or_default(),
    };
    let raw = r.table.raw_metrics;
    let mut row = Row::new();
    let of = |id: u32| s.goals.get(&id).copied().unwrap_or_default();
    for (suffix, metrics, visits, pick) in [
        (
            "",
            m.all,
            s.nb_visits.all,
            (|b| b.all) as fn(&ByVisitorType<GoalMetrics>) -> GoalMetrics,
        ),
        ("_new_visit", m.new, s.nb_visits.new, |b| b.new),
        (
            "_returning_visit",
            m.returning,
            s.nb_visits.returning,
            |b| b.returning,
        ),
    ] {
        if each.is_empty() {
            insert(&mut row, suffix, &metrics, visits, raw);
            continue;
        }
        row.insert(format!("nb_visits{suffix}"), json!(visits));
        counts(&mut row, "", suffix, &metrics);
        for &id in each {
            counts(&mut row, &format!("goal_{id}_"), suffix, &pick(&of(id)));
        }
        for &id in each {
            let g = pick(&of(id));
            let rate = table::ratio(g.nb_visits_converted as f64, visits as f64);
            row.insert(
                format!("goal_{id}_conversion_rate{suffix}"),
                conversion_rate(rate, raw),
            );
        }
        let rate = table::ratio(metrics.nb_visits_converted as f64, visits as f64);
        row.insert(
            format!("conversion_rate{suffix}"),
            conversion_rate(rate, raw),
        );
    }
    row.insert(
        "nb_uniq_visitors_converted".into(),
        json!(m.all.nb_uniq_visitors_converted),
    );
    table::apply_one(row, &r.table, &[])
}

/// Conversions, converted visits and revenue as `{prefix}nb_conversions{suffix}`, ...
fn counts(row: &mut Row, prefix: &str, suffix: &str, m: &GoalMetrics) {
    row.insert(
        format!("{prefix}nb_conversions{suffix}"),
        json!(m.nb_conversions),
    );
    row.insert(
        format!("{prefix}nb_visits_converted{suffix}"),
        json!(m.nb_visits_converted),
    );
    row.insert(format!("{prefix}revenue{suffix}"), money(m.revenue));
}

fn insert(row: &mut Row, suffix: &str, m: &GoalMetrics, visits: u64, raw: bool) {
    counts(row, "", suffix, m);
    let rate = table::ratio(m.nb_visits_converted as f64, visits as f64);
    row.insert(
        format!("conversion_rate{suffix}"),
        conversion_rate(rate, raw),
    );
}

/// A conversion rate: Matomo rounds the quotient to four places and
/// shows it as a percentage (`33.33%`).
pub(super) fn conversion_rate(rate: f64, raw: bool) -> Value {
    let rounded = (rate * 10_000.0).round() / 10_000.0;
    if raw {
        json!(rounded)
    } else {
        json!(format!("{}%", (rounded * 10_000.0).round() / 100.0))
    }
}

/// `Goals.getGoals`: the site's goals keyed by id, as Matomo's API lists
/// them (a manual goal without pattern fields).
pub(super) fn definitions(site: u32, goals: &[Goal]) -> Value {
    let mut out = serde_json::Map::new();
    for g in goals {
        let mut m = serde_json::Map::new();
        m.insert("idsite".into(), json!(site));
        m.insert("idgoal".into(), json!(g.id));
        m.insert("name".into(), json!(g.name));
        m.insert("description".into(), json!(g.description));
        m.insert("match_attribute".into(), json!(g.match_attribute.name()));
        if g.match_attribute != GoalMatch::Manually {
            m.insert("pattern".into(), json!(g.pattern));
            m.insert("pattern_type".into(), json!(g.pattern_type.name()));
            m.insert("case_sensitive".into(), json!(u8::from(g.case_sensitive)));
        }
        m.insert("allow_multiple".into(), json!(u8::from(g.allow_multiple)));
        m.insert("revenue".into(), money(g.revenue));
        m.insert("deleted".into(), json!(0));
        m.insert(
            "event_value_as_revenue".into(),
            json!(u8::from(g.event_value_as_revenue)),
        );
        out.insert(g.id.to_string(), Value::Object(m));
    }
    Value::Object(out)
}

/// Which goal columns a visit report's rows take, for a site with goals
/// (Matomo's): every row its `nb_visits_converted`; the referrer,
/// country, continent, device type, brand and model, browser, server
/// time and custom dimension reports also `goals` (`idgoal=N`: conversions, converted
/// visits, revenue), `nb_conversions` and `revenue`, on rows with
/// conversions.
pub(super) fn goal_rows_of(kind: Kind) -> Option<(RowsOf, bool)> {
    use crate::visit_key::Grouping as G;
    Some(match kind {
        Kind::Group(G::Duration | G::Pages | G::VisitCount | G::DaysSinceLast | G::Plugins) => {
            return None;
        }
        Kind::Group(
            g @ (G::ReferrerType
            | G::ReferrerAll
            | G::Referrer(_)
            | G::Country
            | G::Region
            | G::City
            | G::Brand
            | G::Model
            | G::Continent
            | G::ServerHour),
        ) => (RowsOf::Group(g), true),
        Kind::Group(g) => (RowsOf::Group(g), false),
        Kind::Field(f) => (
            RowsOf::Dimension(super::rows::field_dimension(f)),
            f != FieldKind::User,
        ),
        // Its dimension comes with the request: `GoalColumns::of`.
        Kind::Custom => (
            RowsOf::Dimension(crate::report::Dimension::Custom(String::new())),
            true,
        ),
        _ => return None,
    })
}

/// Whether `kind`'s rows are pages that take Matomo's page goal cells
/// (`Some(true)`: page titles).
pub(super) fn page_rows_of(kind: Kind) -> Option<bool> {
    use crate::report::ActionReportKind as A;
    match kind {
        Kind::PageUrls => Some(false),
        Kind::Action(A::PageTitles) => Some(true),
        Kind::Action(A::PageUrls | A::PageUrlTree) => Some(false),
        Kind::OnePage { titles } | Kind::Entry { titles } | Kind::Exit { titles } => Some(titles),
        _ => None,
    }
}

/// The goal columns of a report's rows ([`GoalColumns::put`]).
#[derive(Default)]
pub(crate) struct GoalColumns {
    /// Conversions by row; `None`: the report takes no goal columns.
    rows: Option<HashMap<RowKey, RowGoals>>,
    /// Whether rows take `goals`, `nb_conversions` and `revenue` too.
    full: bool,
    /// `filter_update_columns_when_show_all_goals`: which processed goal
    /// metrics to add (`None`: none).
    processed: Option<Processed>,
    /// The goals whose processed columns every row gets: one goal's, or
    /// those some row converted and those
    /// `filter_show_goal_columns_process_goals` names.
    processed_goals: Vec<i64>,
    /// Page rows' goal cells (page URL and title reports of a site with
    /// goals).
    pages: Option<PageGoalColumns>,
}

/// Matomo's `AddColumnsProcessedMetricsGoal` modes (`idGoal` with
/// `filter_update_columns_when_show_all_goals`).
#[derive(Debug, Clone, PartialEq)]
enum Processed {
    /// `-2`: revenue per visit only.
    Minimal,
    /// `-1` (the default): and each goal's conversion rate.
    Overview,
    /// `0`: and each goal's conversions, revenue and revenue per visit.
    Full,
    /// A goal id: that goal's columns only.
    One(u32),
}

impl GoalColumns {
    /// A report without goal columns.
    pub(crate) fn none() -> GoalColumns {
        GoalColumns::default()
    }

    /// The goal columns of `kind`'s rows over `range` (none for a site
    /// without goals or a report Matomo gives none).
    pub(super) fn of(
        r: &ApiRequest,
        kind: Kind,
        resolved: &Resolved<'_>,
        range: Option<(NaiveDate, NaiveDate)>,
        custom: Option<crate::report::Dimension>,
    ) -> Result<GoalColumns> {
        let goals = &resolved.site.config.goals;
        let processed = processed_mode(r, goals)?;
        let has = resolved.site.config.has_conversions();
        if let Some(titles) = page_rows_of(kind).filter(|_| has) {
            // Processed goal metrics on page rows: those of the goals the
            // rows convert (`put_pages`), and those asked for.
            let processed_goals = match processed {
                Some(Processed::One(id)) => vec![i64::from(id)],
                _ => process_goals(r, goals)?
                    .into_iter()
                    .map(i64::from)
                    .collect(),
            };
            return Ok(GoalColumns {
                pages: Some(PageGoalColumns::of(resolved, range, titles)?),
                processed,
                processed_goals,
                ..GoalColumns::none()
            });
        }
        let Some((of, full)) = goal_rows_of(kind).filter(|_| has) else {
            if processed.is_some() {
                return Err(bad(format!(
                    "filter_update_columns_when_show_all_goals: {} has no goal metrics{}",
                    r.method,
                    if !has {
                        " (the site has no goals; add one with `hitmap goals add`)"
                    } else {
                        ""
                    }
                )));
            }
            // Matomo's rows of such a report carry `nb_visits_converted`,
            // 0 on a site without goals.
            if goal_rows_of(kind).is_some() {
                return Ok(GoalColumns {
                    rows: Some(Default::default()),
                    ..GoalColumns::none()
                });
            }
            return Ok(GoalColumns::none());
        };
        let of = match (of, custom) {
            (RowsOf::Dimension(_), Some(d)) => RowsOf::Dimension(d),
            (of, _) => of,
        };
        let rows = resolved.goal_rows(range, &of)?;
        let asked = process_goals(r, goals)?;
        let processed_goals = match processed {
            None | Some(Processed::Minimal) => Vec::new(),
            Some(Processed::One(id)) => vec![i64::from(id)],
            Some(_) => rows
                .values()
                .flat_map(|r| r.goals.keys().copied())
                .chain(asked.into_iter().map(i64::from))
                .collect::<std::collections::BTreeSet<i64>>()
                .into_iter()
                .collect(),
        };
        Ok(GoalColumns {
            rows: Some(rows),
            full,
            processed: processed.filter(|_| full),
            processed_goals,
            pages: None,
        })
    }

    /// Adds the goal cells of page rows (and of their folders), if the
    /// report takes them.
    pub(crate) fn put_pages(&self, rows: &mut [Row]) {
        let Some(p) = &self.pages else {
            return;
        };
        p.put(rows);
        let Some(mode) = &self.processed else {
            return;
        };
        let mut keys: Vec<i64> = self.processed_goals.clone();
        if !matches!(mode, Processed::One(_)) {
            let named = rows
                .iter()
                .filter_map(|m| m.get("goals").and_then(Value::as_object))
                .flat_map(|g| g.keys())
                .filter_map(|k| cell_key(k.strip_prefix("idgoal=")?));
            keys.extend(named);
            keys.sort_unstable();
            keys.dedup();
        }
        for m in rows.iter_mut() {
            page_processed(m, mode, &keys);
        }
    }

    /// Adds a row's converted visits alone (Matomo's expanded subtables
    /// of the referrer reports), if the report takes goal columns.
    pub(crate) fn put_converted(&self, m: &mut Row, key: &RowKey) {
        if let Some(rows) = &self.rows {
            let converted = rows.get(key).map_or(0, |g| g.visits_converted);
            m.insert("nb_visits_converted".into(), json!(converted));
        }
    }

    /// Adds a row's goal columns (`key`: its raw label, and sub-label
    /// for a subtable row), after the visit metrics `m` has.
    pub(crate) fn put(&self, m: &mut Row, key: &RowKey) {
        let Some(rows) = &self.rows else {
            return;
        };
        let empty = RowGoals::default();
        let g = rows.get(key).unwrap_or(&empty);
        m.insert("nb_visits_converted".into(), json!(g.visits_converted));
        if !self.full {
            return;
        }
        if !g.goals.is_empty() {
            let cells: serde_json::Map<String, Value> = g
                .goals
                .iter()
                .map(|(&id, c)| {
                    let mut cell = json!({
                        "nb_conversions": c.conversions,
                        "nb_visits_converted": c.visits_converted,
                        "revenue": money(c.revenue.value()),
                    });
                    if id == ORDERS {
                        for (name, v) in [
                            "revenue_subtotal",
                            "revenue_tax",
                            "revenue_shipping",
                            "revenue_discount",
                        ]
                        .into_iter()
                        .zip(&c.amounts)
                        {
                            cell[name] = money(v.value());
                        }
                    }
                    if id == ORDERS || id == CARTS {
                        cell["items"] = json!(c.items);
                    }
                    (format!("idgoal={}", cell_name(id)), cell)
                })
                .collect();
            m.insert("goals".into(), Value::Object(cells));
            m.insert("nb_conversions".into(), json!(g.conversions()));
            m.insert("revenue".into(), money(g.revenue()));
        }
        let Some(mode) = &self.processed else {
            return;
        };
        let visits = m.get("nb_visits").and_then(Value::as_u64).unwrap_or(0);
        // Per visit: Matomo divides by the converted visits when the row
        // has none.
        let per = if visits > 0 {
            visits
        } else {
            g.visits_converted
        };
        let raw = false;
        m.insert(
            "conversion_rate".into(),
            conversion_rate(table::ratio(g.visits_converted as f64, visits as f64), raw),
        );
        m.insert(
            "revenue_per_visit".into(),
            money(table::ratio(g.revenue(), per as f64)),
        );
        let cells = self.processed_goals.iter().map(|&key| {
            let c = g.goals.get(&key).cloned().unwrap_or_default();
            (key, c.conversions, c.revenue.value())
        });
        m.extend(goal_specific(mode, visits, cells, |_| per));
    }
}

/// Each goal's processed columns in `mode` (Matomo's goal-specific
/// metrics), from its `(key, conversions, revenue)`: its conversion rate
/// over `visits` and, unless only rates are asked, its conversions,
/// revenue per visit (over `per` of its conversions) and revenue. None
/// for [`Processed::Minimal`].
fn goal_specific(
    mode: &Processed,
    visits: u64,
    cells: impl IntoIterator<Item = (i64, u64, f64)>,
    per: impl Fn(u64) -> u64,
) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if *mode == Processed::Minimal {
        return out;
    }
    for (key, conversions, revenue) in cells {
        let id = cell_name(key);
        out.push((
            format!("goal_{id}_conversion_rate"),
            conversion_rate(table::ratio(conversions as f64, visits as f64), false),
        ));
        if *mode == Processed::Overview {
            continue;
        }
        out.push((format!("goal_{id}_nb_conversions"), json!(conversions)));
        out.push((
            format!("goal_{id}_revenue_per_visit"),
            money(table::ratio(revenue, per(conversions) as f64)),
        ));
        out.push((format!("goal_{id}_revenue"), money(revenue)));
    }
    out
}

/// The goal columns of page rows (Matomo's `goals` on page URL and page
/// title rows: `page_goals.rs` says how conversions are credited).
#[derive(Debug, Default)]
pub(crate) struct PageGoalColumns {
    /// Cells by row label (a URL's path and query, or a title).
    cells: HashMap<String, PageGoals>,
    /// Each goal's conversions in the period, which a row's
    /// `nb_conversions_page_rate` divides by.
    totals: HashMap<i64, u64>,
    /// Rows of titles (else of URLs, keyed by their `url`).
    titles: bool,
}

impl PageGoalColumns {
    /// The page goal columns of `table`'s rows over `range`.
    pub(super) fn of(
        resolved: &Resolved<'_>,
        range: Option<(NaiveDate, NaiveDate)>,
        titles: bool,
    ) -> Result<PageGoalColumns> {
        let table = if titles {
            ActionTable::Titles
        } else {
            ActionTable::Pages
        };
        let cells = resolved.page_goals(range, table)?;
        let mut totals = HashMap::new();
        if !cells.is_empty() {
            let g = resolved.goals(range, false)?;
            for (id, m) in &g.goals {
                totals.insert(i64::from(*id), m.all.nb_conversions);
            }
            totals.insert(ORDERS, g.orders.all.goal.nb_conversions);
            totals.insert(CARTS, g.abandoned_carts.all.goal.nb_conversions);
        }
        Ok(PageGoalColumns {
            cells,
            totals,
            titles,
        })
    }

    /// Adds each row's `goals` (a folder's: its pages' together), and
    /// gives the cells of the rows together.
    pub(crate) fn put(&self, rows: &mut [Row]) -> PageGoals {
        let mut all = PageGoals::new();
        for m in rows {
            add_goals(&mut all, &self.put_row(m));
        }
        all
    }

    fn put_row(&self, m: &mut Row) -> PageGoals {
        let cells = match m.get_mut("subtable") {
            Some(Value::Array(children)) => {
                let mut sum = PageGoals::new();
                for c in children.iter_mut().filter_map(Value::as_object_mut) {
                    add_goals(&mut sum, &self.put_row(c));
                }
                sum
            }
            _ => {
                let label = m.get("label").and_then(Value::as_str).unwrap_or_default();
                let key = match m.get("url").and_then(Value::as_str) {
                    Some(url) if !self.titles => crate::url::page_label(url),
                    // A title tree's row: its whole title.
                    _ => m.get("$title").and_then(Value::as_str).unwrap_or(label),
                };
                match self.cells.get(key) {
                    Some(c) => c.clone(),
                    None => return PageGoals::new(),
                }
            }
        };
        if cells.is_empty() {
            return cells;
        }
        let entries = m
            .get("entry_nb_visits")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let goals: serde_json::Map<String, Value> = cells
            .iter()
            .map(|(&id, c)| {
                (
                    format!("idgoal={}", cell_name(id)),
                    self.cell(id, c, entries),
                )
            })
            .collect();
        // Matomo's place: after the counts, before the averages and
        // the metadata.
        let at = m
            .keys()
            .position(|k| {
                k.starts_with("avg_") || matches!(k.as_str(), "url" | "segment" | "subtable")
            })
            .unwrap_or(m.len());
        m.shift_insert(at, "goals".into(), Value::Object(goals));
        cells
    }

    /// One goal's columns of a row that `entries` visits entered on.
    fn cell(&self, id: i64, c: &PageGoalCell, entries: u64) -> Value {
        let mut m = serde_json::Map::new();
        if c.has_pages() {
            m.insert("nb_conversions".into(), json!(c.conversions));
            m.insert("revenue".into(), money(c.revenue.value()));
            if c.attributed {
                m.insert("nb_conv_pages_before".into(), json!(c.pages_before));
                m.insert(
                    "nb_conversions_attrib".into(),
                    decimal(c.attrib as f64 / 10_000.0, 4),
                );
            }
            // Of the goal's conversions, how many had the page before
            // them (at most all).
            let total = self.totals.get(&id).copied().unwrap_or(0);
            let rate = table::ratio(c.conversions as f64, total as f64).min(1.0);
            m.insert("nb_conversions_page_rate".into(), decimal(rate, 3));
            m.insert("nb_conversions_page_uniq".into(), json!(c.conversions));
            if c.attributed {
                m.insert("revenue_attrib".into(), money(c.revenue_attrib.value()));
            }
        }
        if c.entry_conversions > 0 {
            let revenue = c.entry_revenue.value();
            m.insert("revenue_entry".into(), money(revenue));
            if entries > 0 {
                m.insert(
                    "nb_conversions_entry_rate".into(),
                    decimal(c.entry_conversions as f64 / entries as f64, 3),
                );
                m.insert(
                    "revenue_per_entry".into(),
                    decimal(revenue / entries as f64, 3),
                );
            }
            m.insert("nb_conversions_entry".into(), json!(c.entry_conversions));
        }
        Value::Object(m)
    }
}

/// Matomo's processed goal metrics (`filter_update_columns_when_show_all_goals`)
/// on a page row of the table asked for, from its goal cells: the visit
/// ratios a page row has no parts of (0: `conversion_rate`,
/// `nb_actions_per_visit`, `avg_time_on_site`), `revenue_per_visit`
/// (every goal's and order's revenue over the row's visits), and per
/// goal its conversion rate, conversions, revenue per visit and revenue,
/// placed before the page ratios as Matomo places them. The row's
/// `bounce_rate` stays the page's (its entries that bounced), moved to
/// Matomo's place among them.
fn page_processed(m: &mut Row, mode: &Processed, keys: &[i64]) {
    let visits = m.get("nb_visits").and_then(Value::as_u64).unwrap_or(0);
    let cell = |key: i64| -> (i64, u64, f64) {
        let c = m
            .get("goals")
            .and_then(|g| g.get(format!("idgoal={}", cell_name(key))));
        let num = |name: &str| c.and_then(|c| c.get(name)).and_then(Value::as_f64);
        (
            key,
            num("nb_conversions").unwrap_or(0.0) as u64,
            num("revenue").unwrap_or(0.0),
        )
    };
    let revenue: f64 = m
        .get("goals")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != "idgoal=ecommerceAbandonedCart")
        .filter_map(|(_, c)| c.get("revenue").and_then(Value::as_f64))
        .sum();
    let cells: Vec<(i64, u64, f64)> = keys.iter().map(|&k| cell(k)).collect();
    let mut add: Vec<(String, Value)> = vec![
        ("conversion_rate".into(), conversion_rate(0.0, false)),
        ("nb_actions_per_visit".into(), json!(0)),
        ("avg_time_on_site".into(), json!(0)),
        (
            "bounce_rate".into(),
            m.get("bounce_rate").cloned().unwrap_or(json!(0)),
        ),
        (
            "revenue_per_visit".into(),
            money(table::ratio(revenue, visits as f64)),
        ),
    ];
    // A goal's revenue per visit: over its conversions where the row has
    // no visits, as Matomo's.
    add.extend(goal_specific(mode, visits, cells, |conversions| {
        if visits > 0 { visits } else { conversions }
    }));
    let mut at = m
        .keys()
        .position(|k| {
            matches!(
                k.as_str(),
                "avg_time_on_page" | "exit_rate" | "url" | "segment" | "subtable" | "idsubtable"
            )
        })
        .unwrap_or(m.len());
    for (k, v) in add {
        m.shift_remove(&k);
        at = at.min(m.len());
        m.shift_insert(at, k, v);
        at += 1;
    }
}

/// A goal cell's key from its name (`1`, `ecommerceOrder`,
/// `ecommerceAbandonedCart`).
fn cell_key(name: &str) -> Option<i64> {
    match name {
        "ecommerceOrder" => Some(ORDERS),
        "ecommerceAbandonedCart" => Some(CARTS),
        id => id.parse().ok(),
    }
}

/// A goal cell's name as Matomo writes it: the goal id, or
/// `ecommerceOrder` and `ecommerceAbandonedCart`.
fn cell_name(key: i64) -> String {
    match key {
        ORDERS => "ecommerceOrder".into(),
        CARTS => "ecommerceAbandonedCart".into(),
        id => id.to_string(),
    }
}

/// The processed goal metrics a request asks for: Matomo's
/// `filter_update_columns_when_show_all_goals`, with `idGoal` choosing
/// the mode (`-2`, `-1` the default, `0`, or a goal id).
fn processed_mode(r: &ApiRequest, goals: &[Goal]) -> Result<Option<Processed>> {
    let Some(flag) = r.goal_columns.as_deref() else {
        return Ok(None);
    };
    // Matomo takes any value but a non-numeric one other than the
    // ecommerce ids as "off".
    if flag.parse::<i64>().is_err() {
        return Ok(None);
    }
    Ok(Some(match r.id_goal.as_deref() {
        None | Some("-1") => Processed::Overview,
        Some("-2") => Processed::Minimal,
        Some("0") => Processed::Full,
        Some(_) => Processed::One(requested_goal(r, goals)?.unwrap_or_default()),
    }))
}

/// `filter_show_goal_columns_process_goals`: goal ids, comma-separated
/// (`0`, Matomo's "all goals", adds none of its own).
fn process_goals(r: &ApiRequest, goals: &[Goal]) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    for id in r
        .goal_process
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty() && *s != "0")
    {
        let id: u32 = id.parse().map_err(|_| {
            bad(format!(
                "filter_show_goal_columns_process_goals takes goal ids, got {id:?}"
            ))
        })?;
        if !goals.iter().any(|g| g.id == id) {
            return Err(bad(format!(
                "filter_show_goal_columns_process_goals: site {} has no goal {id} (its goals: {})",
                r.site,
                ids(goals)
            )));
        }
        out.push(id);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_rounds_as_php_does() {
        assert_eq!(money((1111.11 + 2000.0) / 2.0), json!(1555.56));
        assert_eq!(money(0.285), json!(0.29));
        assert_eq!(money(-2.675), json!(-2.68));
        assert_eq!(money(10.0), json!(10));
        assert_eq!(money(1.004), json!(1));
    }
}
