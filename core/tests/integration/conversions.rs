//! Recorded conversions (`goal`, `order` and `cart` hits; `recorded.rs`):
//! for random actions and conversions, ranges, segments and sections, the
//! goals, orders and abandoned carts equal a brute-force model written
//! from docs/hits.md's rules, however the hits arrive (one batch, many
//! small live batches in any order, a store read back by a reader); the
//! API's ecommerce shapes; the contract's reasons.

use std::collections::BTreeMap;

use chrono::DateTime;
use hitmap::{
    ByVisitorType, Conversion, EcommerceMetrics, Engine, Goal, GoalMatch, GoalMetrics,
    GoalsSummary, Hit, HitType, Item, PatternType, SiteConfig,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::props::{
    Case, CaseQuery, build, case, case_query, make_hit, reference_visits, site_config,
};
use crate::reference::{self, Cut, RVisit};

#[derive(Debug, Clone)]
struct ConvSpec {
    visitor: usize,
    slot: u64,
    jitter: i64,
    kind: usize,
    goal: u32,
    revenue: Option<u8>,
    order: usize,
    items: usize,
    key: usize,
}

fn conv_spec() -> impl Strategy<Value = ConvSpec> {
    (
        (
            0..5usize,
            0..16u64,
            prop_oneof![0..2400i64, Just(0i64), Just(1799), Just(-60)],
        ),
        0..3usize,
        1..4u32,
        prop::option::of(0..12u8),
        (0..3usize, 0..3usize, 0..8usize),
    )
        .prop_map(
            |((visitor, slot, jitter), kind, goal, revenue, (order, items, key))| ConvSpec {
                visitor,
                slot,
                jitter,
                kind,
                goal,
                revenue,
                order,
                items,
                key,
            },
        )
}

/// A conversion hit. An order's or cart's content follows its revenue, so
/// that the model's "earliest by time, then content" is by time, then
/// revenue.
fn make_conversion(s: &ConvSpec, base: i64) -> Hit {
    let ts = (base + (s.slot as i64) * 21_600 + s.jitter).max(0);
    let r = s.revenue.map(|r| f64::from(r) / 4.0);
    let kind = [HitType::Goal, HitType::Order, HitType::Cart][s.kind];
    let amount = r.unwrap_or(1.0);
    let items = (0..s.items)
        .map(|i| {
            Item::new(format!("sku{i}"))
                .name(format!("n{i}"))
                .category("c")
                .price(amount)
                .quantity(i as u32 + 1)
        })
        .collect();
    let c = match kind {
        HitType::Goal => Conversion {
            goal: Some(s.goal),
            revenue: r,
            ..Conversion::default()
        },
        HitType::Order => Conversion {
            order_id: Some(format!("o{}", s.order)),
            revenue: Some(amount),
            subtotal: Some(amount * 2.0),
            tax: Some(amount / 2.0),
            shipping: (s.items > 0).then_some(1.0),
            discount: None,
            items,
            ..Conversion::default()
        },
        _ => Conversion {
            revenue: Some(amount),
            items,
            ..Conversion::default()
        },
    };
    let mut h = Hit::new(1, ts, format!("v{}", s.visitor), kind).with_conversion(c);
    h.visit = (s.key >= 6).then(|| format!("k{}", s.key - 5));
    if s.key == 1 {
        h.url = Some("https://x.org/thanks".into());
    }
    h
}

/// Two manual goals and a URL goal (recorded conversions of it count with
/// its matches), with their flags varied.
fn goals() -> impl Strategy<Value = Vec<Goal>> {
    (any::<[bool; 3]>(), 0..9u8).prop_map(|(multiple, revenue)| {
        vec![
            Goal::manual(1, "m1").allow_multiple(multiple[0]),
            Goal::new(2, "news", GoalMatch::Url, PatternType::Contains, "/news")
                .allow_multiple(multiple[1])
                .revenue(f64::from(revenue) / 4.0),
            Goal::manual(3, "m3")
                .allow_multiple(multiple[2])
                .revenue(f64::from(revenue) / 2.0),
        ]
    })
}

/// The model's conversion: its hit and, once attached, its visit.
struct RConv<'a> {
    hit: &'a Hit,
    /// Index into the visits, `None`: attached to none.
    visit: Option<usize>,
    counted: bool,
}

/// docs/hits.md's rules, from the raw hits: the visit of the
/// conversion's stretch of requests (or of its `visit` id), a visit of
/// its own when no action is near; an order id counts once in
/// the site: of the orders attached to a visit, the earliest by time,
/// then visitor id, then content.
fn attach<'a>(visits: &[RVisit], convs: &'a [Hit], case: &Case) -> Vec<RConv<'a>> {
    let tz: chrono_tz::Tz = case.zone.parse().unwrap();
    let local = |ts: i64| {
        DateTime::from_timestamp(ts, 0)
            .unwrap()
            .with_timezone(&tz)
            .date_naive()
    };
    // Each conversion is in the visit of its stretch of requests (or of
    // its `visit` id): the model's visits hold them.
    let _ = local;
    let mut out: Vec<RConv<'a>> = convs
        .iter()
        .map(|h| {
            let visit = visits.iter().position(|v| v.convs.iter().any(|c| c == h));
            RConv {
                hit: h,
                visit,
                counted: true,
            }
        })
        .collect();
    // Orders: per id, the earliest attached one (time, visitor, revenue,
    // visit order) counts.
    let rank = |c: &RConv| {
        c.visit
            .map(|i| (0, visits[i].start, visits[i].key.clone()))
            .unwrap_or((1, 0, None))
    };
    let mut orders: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].hit.kind == HitType::Order && out[i].visit.is_some())
        .collect();
    orders.sort_by(|&i, &j| {
        let (x, y) = (&out[i], &out[j]);
        let cx = x.hit.conversion.as_ref().unwrap();
        let cy = y.hit.conversion.as_ref().unwrap();
        (&cx.order_id, x.hit.ts, &x.hit.visitor)
            .cmp(&(&cy.order_id, y.hit.ts, &y.hit.visitor))
            .then(cx.revenue.unwrap().total_cmp(&cy.revenue.unwrap()))
            .then(cx.items.len().cmp(&cy.items.len()))
            .then_with(|| rank(x).cmp(&rank(y)))
    });
    for w in orders.windows(2) {
        let (x, y) = (&out[w[0]], &out[w[1]]);
        if x.hit.conversion.as_ref().unwrap().order_id
            == y.hit.conversion.as_ref().unwrap().order_id
        {
            out[w[1]].counted = false;
        }
    }
    out
}

/// One visit's conversions of goal `g`: its matching actions (those of
/// the cut) and its recorded conversions of `g`.
fn goal_conversions(c: &Cut, recorded: &[&RConv], g: &Goal) -> Option<(u64, f64)> {
    let mine: Vec<&Hit> = {
        let mut v: Vec<&Hit> = recorded
            .iter()
            .map(|r| r.hit)
            .filter(|h| {
                h.kind == HitType::Goal && h.conversion.as_ref().unwrap().goal == Some(g.id())
            })
            .collect();
        // docs/hits.md: at equal times, by URL, then visit id, then
        // revenue (none first).
        v.sort_by(|a, b| {
            a.ts.cmp(&b.ts)
                .then_with(|| a.url.cmp(&b.url))
                .then_with(|| a.visit.cmp(&b.visit))
                .then(
                    a.conversion
                        .as_ref()
                        .unwrap()
                        .revenue
                        .map(f64::to_bits)
                        .cmp(&b.conversion.as_ref().unwrap().revenue.map(f64::to_bits)),
                )
        });
        v
    };
    let value = |h: &Hit| {
        h.conversion
            .as_ref()
            .unwrap()
            .revenue
            .unwrap_or(g.revenue_per_conversion())
    };
    let matched = reference::goal_conversions(c, g);
    if g.allows_multiple() {
        let (n, r) = matched.unwrap_or((0, 0.0));
        let n = n + mine.len() as u64;
        let r = r + mine.iter().map(|h| value(h)).sum::<f64>();
        return (n > 0).then_some((n, r));
    }
    let first_match = c
        .actions
        .iter()
        .map(|&i| &c.visit.hits[i])
        .find(|h| {
            g.match_attribute() == GoalMatch::Url
                && h.kind == HitType::Pageview
                && reference::no_fragment(h.url.as_deref().unwrap_or(""))
                    .to_ascii_lowercase()
                    .contains(&g.pattern().to_ascii_lowercase())
        })
        .map(|h| h.ts);
    match (mine.first(), first_match) {
        (Some(r), Some(at)) if at < r.ts => matched,
        (Some(r), _) => Some((1, value(r))),
        (None, _) => matched,
    }
}

#[derive(Default)]
struct Acc {
    conversions: u64,
    visits: u64,
    visitors: std::collections::BTreeSet<String>,
    revenue: f64,
    items: u64,
    amounts: [f64; 4],
}

impl Acc {
    fn add(&mut self, visitor: &str, n: u64, revenue: f64) {
        self.conversions += n;
        self.visits += 1;
        self.visitors.insert(visitor.to_string());
        self.revenue += revenue;
    }

    fn add_ecommerce(&mut self, visitor: &str, records: &[&Hit]) {
        self.add(
            visitor,
            records.len() as u64,
            records
                .iter()
                .map(|h| h.conversion.as_ref().unwrap().revenue.unwrap())
                .sum(),
        );
        for h in records {
            let c = h.conversion.as_ref().unwrap();
            self.items += c
                .items
                .iter()
                .map(|i| u64::from(i.quantity.unwrap_or(1)))
                .sum::<u64>();
            for (sum, v) in self
                .amounts
                .iter_mut()
                .zip([c.subtotal, c.tax, c.shipping, c.discount])
            {
                *sum += v.unwrap_or(0.0);
            }
        }
    }

    fn metrics(&self) -> GoalMetrics {
        GoalMetrics {
            nb_conversions: self.conversions,
            nb_visits_converted: self.visits,
            nb_uniq_visitors_converted: self.visitors.len() as u64,
            revenue: self.revenue,
        }
    }

    fn ecommerce(&self) -> EcommerceMetrics {
        EcommerceMetrics {
            goal: self.metrics(),
            items: self.items,
            revenue_subtotal: self.amounts[0],
            revenue_tax: self.amounts[1],
            revenue_shipping: self.amounts[2],
            revenue_discount: self.amounts[3],
        }
    }
}

/// The model's goals summary of the cut visits.
fn model(cuts: &[Cut], visits: &[RVisit], convs: &[RConv], goals: &[Goal]) -> GoalsSummary {
    let mut overall: [Acc; 3] = Default::default();
    let mut each: Vec<[Acc; 3]> = goals.iter().map(|_| Default::default()).collect();
    let mut orders: [Acc; 3] = Default::default();
    let mut carts: [Acc; 3] = Default::default();
    let mut out = GoalsSummary::default();
    for c in cuts {
        let index = visits
            .iter()
            .position(|v| std::ptr::eq(v, c.visit))
            .unwrap();
        let recorded: Vec<&RConv> = convs.iter().filter(|r| r.visit == Some(index)).collect();
        let t = if c.visit.visit_count == 1 { 1 } else { 2 };
        out.nb_visits.all += 1;
        if t == 1 {
            out.nb_visits.new += 1;
        } else {
            out.nb_visits.returning += 1;
        }
        let visitor = &c.visit.visitor;
        let mut any = (0u64, 0.0f64);
        for (g, acc) in goals.iter().zip(&mut each) {
            if let Some((n, r)) = goal_conversions(c, &recorded, g) {
                any.0 += n;
                any.1 += r;
                for k in [0, t] {
                    acc[k].add(visitor, n, r);
                }
            }
        }
        let bought: Vec<&Hit> = recorded
            .iter()
            .filter(|r| r.hit.kind == HitType::Order && r.counted)
            .map(|r| r.hit)
            .collect();
        if !bought.is_empty() {
            any.0 += bought.len() as u64;
            any.1 += bought
                .iter()
                .map(|h| h.conversion.as_ref().unwrap().revenue.unwrap())
                .sum::<f64>();
            for k in [0, t] {
                orders[k].add_ecommerce(visitor, &bought);
            }
        }
        // The last ecommerce conversion (an order wins a tie) is a cart.
        let last = recorded
            .iter()
            .map(|r| r.hit)
            .filter(|h| matches!(h.kind, HitType::Order | HitType::Cart))
            .max_by(|a, b| {
                let key = |h: &Hit| {
                    let c = h.conversion.as_ref().unwrap();
                    (
                        h.ts,
                        h.kind == HitType::Order,
                        c.revenue.map(f64::to_bits),
                        c.order_id.clone(),
                        c.items.len(),
                    )
                };
                key(a).cmp(&key(b))
            });
        if let Some(cart) = last.filter(|h| h.kind == HitType::Cart) {
            for k in [0, t] {
                carts[k].add_ecommerce(visitor, &[cart]);
            }
        }
        // Matomo's converted visits: a conversion, or an order request
        // even when refused (its id was used).
        let requested = recorded.iter().any(|r| r.hit.kind == HitType::Order);
        if any.0 > 0 || requested {
            for k in [0, t] {
                overall[k].add(visitor, any.0, any.1);
            }
        }
    }
    let by = |a: &[Acc; 3]| ByVisitorType {
        all: a[0].metrics(),
        new: a[1].metrics(),
        returning: a[2].metrics(),
    };
    let ecom = |a: &[Acc; 3]| ByVisitorType {
        all: a[0].ecommerce(),
        new: a[1].ecommerce(),
        returning: a[2].ecommerce(),
    };
    out.overall = by(&overall);
    out.goals = goals
        .iter()
        .zip(&each)
        .map(|(g, a)| (g.id(), by(a)))
        .collect();
    out.orders = ecom(&orders);
    out.abandoned_carts = ecom(&carts);
    out
}

fn config(case: &Case, goals: &[Goal]) -> SiteConfig {
    goals
        .iter()
        .fold(site_config(case).ecommerce(true), |c, g| c.goal(g.clone()))
}

fn check(
    case: &Case,
    specs: &[ConvSpec],
    goals: &[Goal],
    order: &[u32],
) -> Result<(), TestCaseError> {
    let actions: Vec<Hit> = case.specs.iter().map(|s| make_hit(s, case.base)).collect();
    let convs: Vec<Hit> = specs
        .iter()
        .map(|s| make_conversion(s, case.base))
        .collect();
    let all: Vec<Hit> = actions.iter().chain(&convs).cloned().collect();
    // Conversions keep visits open: the model sessionizes over all hits.
    let visits = reference_visits(case, &all);
    let attached = attach(&visits, &convs, case);
    // One batch.
    let mut one = build(case, &all, &[]);
    one.add_site(config(case, goals)).unwrap();
    // Small batches in another order: live parts, merged and sealed.
    let mut shuffled: Vec<(u32, Hit)> = order.iter().copied().zip(all.iter().cloned()).collect();
    shuffled.sort_by_key(|(k, _)| *k);
    let shuffled: Vec<Hit> = shuffled.into_iter().map(|(_, h)| h).collect();
    let mut live = Engine::in_memory();
    live.add_site(config(case, goals)).unwrap();
    for (i, chunk) in shuffled.chunks(3).enumerate() {
        let out = live.ingest(chunk).unwrap();
        prop_assert_eq!(out.accepted as usize, chunk.len(), "{:?}", out.rejected);
        // Seals at random moments: later batches then take visitors
        // (and their unattached conversions) back from a sealed day.
        if order[i % order.len()].is_multiple_of(4) {
            live.seal().unwrap();
        }
    }
    // A store, read back by a reader (day files with conversions).
    let dir = crate::store::TempDir::new("conversions");
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(config(case, goals)).unwrap();
    for chunk in shuffled.chunks(shuffled.len().div_ceil(2).max(1)) {
        w.ingest(chunk).unwrap();
    }
    drop(w);
    let reader =
        Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    for query in &case.queries {
        let CaseQuery {
            from,
            to,
            seg,
            section,
            q,
            ctx,
        } = case_query(case, query);
        let cuts = reference::cut_visits(&visits, from, to, seg, section);
        let want = model(&cuts, &visits, &attached, goals);
        let got = one.query(&q).unwrap().goals();
        prop_assert_eq!(&got, &want, "one batch, {}", ctx);
        prop_assert_eq!(
            &live.query(&q).unwrap().goals(),
            &want,
            "live batches, {}",
            ctx
        );
        prop_assert_eq!(&reader.query(&q).unwrap().goals(), &want, "reader, {}", ctx);
        // `visitConverted==1` selects the visits that converted a goal or
        // ordered (whole visits, then the section cuts them).
        let converted: Vec<&RVisit> = reference::cut_visits(&visits, from, to, seg, None)
            .into_iter()
            .filter(|c| {
                model(std::slice::from_ref(c), &visits, &attached, goals)
                    .overall
                    .all
                    .nb_visits_converted
                    > 0
            })
            .map(|c| c.visit)
            .collect();
        let cuts: Vec<Cut> = cuts
            .into_iter()
            .filter(|c| converted.iter().any(|v| std::ptr::eq(*v, c.visit)))
            .collect();
        let mut clauses: Vec<String> = crate::props::segment_text(seg).into_iter().collect();
        clauses.push("visitConverted==1".into());
        let mut sq = hitmap::Query::site(1)
            .range(from, to)
            .segment(&clauses.join(";"))
            .unwrap();
        if let Some(s) = section {
            sq = sq.section(s);
        }
        prop_assert_eq!(
            one.query(&sq).unwrap().visits_summary(),
            reference::summary(&cuts),
            "visitConverted, {}",
            ctx
        );
        // The rows of a report that puts every visit in one row add up to
        // Goals.get: goals, orders and carts.
        let mut api_q =
            format!("idSite=1&period=range&date={from},{to}&format=json&format_metrics=0");
        if let Some(text) = crate::props::segment_text(seg) {
            api_q.push_str(&format!("&segment={}", hitmap::encode_query_value(&text)));
        }
        if let Some(s) = section {
            api_q.push_str(&format!("&section={s}"));
        }
        let rows = api(
            &one,
            &format!("method=DevicesDetection.getType&{api_q}&filter_limit=-1"),
        );
        let sum = |cell: &str, column: &str| -> f64 {
            rows.as_array()
                .unwrap()
                .iter()
                .map(|r| match cell {
                    "" => r[column].as_f64().unwrap_or(0.0),
                    c => r["goals"][format!("idgoal={c}")][column]
                        .as_f64()
                        .unwrap_or(0.0),
                })
                .sum()
        };
        let m = &want;
        prop_assert_eq!(
            sum("", "nb_conversions"),
            m.overall.all.nb_conversions as f64,
            "{}",
            ctx
        );
        prop_assert_eq!(
            sum("", "nb_visits_converted"),
            m.overall.all.nb_visits_converted as f64,
            "{}",
            ctx
        );
        // Revenues are rounded to cents per cell, as Matomo shows them.
        let cents = 0.005 * rows.as_array().unwrap().len() as f64 + 1e-9;
        prop_assert!(
            (sum("ecommerceOrder", "revenue") - m.orders.all.goal.revenue).abs() <= cents,
            "{}",
            ctx
        );
        prop_assert!(
            (sum("ecommerceOrder", "revenue_tax") - m.orders.all.revenue_tax).abs() <= cents,
            "{}",
            ctx
        );
        prop_assert_eq!(
            sum("ecommerceOrder", "nb_conversions"),
            m.orders.all.goal.nb_conversions as f64,
            "{}",
            ctx
        );
        prop_assert_eq!(
            sum("ecommerceOrder", "items"),
            m.orders.all.items as f64,
            "{}",
            ctx
        );
        prop_assert_eq!(
            sum("ecommerceAbandonedCart", "nb_conversions"),
            m.abandoned_carts.all.goal.nb_conversions as f64,
            "{}",
            ctx
        );
        // The products reports hold the orders' and carts' items.
        let sel = one.query(&q).unwrap();
        for (carts, items) in [
            (false, m.orders.all.items),
            (true, m.abandoned_carts.all.items),
        ] {
            let rows = sel.items(hitmap::ItemsBy::Sku, carts);
            prop_assert_eq!(
                rows.iter().map(|r| r.quantity).sum::<u64>(),
                items,
                "{} carts {}",
                ctx,
                carts
            );
        }
        // visitEcommerceStatus splits the visits by their orders and cart.
        let (mut by_status, mut ordered, mut abandoned) = (0, 0, 0);
        for status in [
            "none",
            "ordered",
            "abandonedCart",
            "orderedThenAbandonedCart",
        ] {
            let mut clauses: Vec<String> = crate::props::segment_text(seg).into_iter().collect();
            clauses.push(format!("visitEcommerceStatus=={status}"));
            let mut sq = hitmap::Query::site(1)
                .range(from, to)
                .segment(&clauses.join(";"))
                .unwrap();
            if let Some(s) = section {
                sq = sq.section(s);
            }
            let n = one.query(&sq).unwrap().visits_summary().nb_visits;
            by_status += n;
            if status.starts_with("ordered") {
                ordered += n;
            }
            if status.ends_with("bandonedCart") {
                abandoned += n;
            }
        }
        prop_assert_eq!(by_status, m.nb_visits.all, "{}", ctx);
        // Ordered: a visit with an order request, counted or refused for
        // its used id (Matomo's `visit_goal_buyer`).
        let requested = reference::cut_visits(&visits, from, to, seg, section)
            .iter()
            .filter(|c| {
                let i = visits.iter().position(|v| std::ptr::eq(v, c.visit));
                attached
                    .iter()
                    .any(|r| r.visit == i && r.hit.kind == HitType::Order)
            })
            .count() as u64;
        prop_assert_eq!(ordered, requested, "{}", ctx);
        prop_assert_eq!(
            abandoned,
            m.abandoned_carts.all.goal.nb_visits_converted,
            "{}",
            ctx
        );
        for g in goals {
            prop_assert_eq!(
                sum(&g.id().to_string(), "nb_conversions"),
                m.goals[&g.id()].all.nb_conversions as f64,
                "goal {} {}",
                g.id(),
                ctx
            );
        }
    }
    // Every conversion comes back out, attached or not.
    let exported = |e: &Engine| {
        let mut v: Vec<String> = all_hits(e)
            .into_iter()
            .filter(|h| !h.kind.is_action())
            .map(|h| h.to_ndjson())
            .collect();
        v.sort();
        v
    };
    let mut want: Vec<String> = convs.iter().map(Hit::to_ndjson).collect();
    want.sort();
    prop_assert_eq!(exported(&one), want.clone());
    prop_assert_eq!(exported(&live), want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn conversions_equal_the_model_however_they_arrive(
        case in case(),
        specs in prop::collection::vec(conv_spec(), 0..25),
        goals in goals(),
        order in prop::collection::vec(any::<u32>(), 100),
    ) {
        check(&case, &specs, &goals, &order)?;
    }
}

/// Every stored hit of site 1.
fn all_hits(e: &Engine) -> Vec<Hit> {
    let days = e.site_days(1).unwrap();
    match (days.first(), days.last()) {
        (Some(&from), Some(&to)) => e.export_hits(1, from, to).unwrap(),
        _ => Vec::new(),
    }
}

/// 2024-06-01 00:00 UTC.
const T: i64 = 1_717_200_000;

fn api(e: &Engine, q: &str) -> Value {
    serde_json::from_str(&e.api(q).unwrap()).unwrap()
}

#[test]
fn orders_and_carts_in_matomos_goals_get() {
    let mut e = Engine::in_memory();
    e.add_site(
        SiteConfig::new(1)
            .ecommerce(true)
            .goal(Goal::manual(1, "Called").revenue(10.0)),
    )
    .unwrap();
    let order = |ts, id: &str, revenue| {
        Hit::new(1, ts, "a", HitType::Order).with_conversion(Conversion {
            order_id: Some(id.into()),
            revenue: Some(revenue),
            subtotal: Some(revenue - 11.0),
            tax: Some(5.0),
            shipping: Some(6.0),
            discount: Some(1.0),
            items: vec![Item::new("S1").price(3.0).quantity(2), Item::new("S2")],
            ..Conversion::default()
        })
    };
    let out = e
        .ingest([
            Hit::pageview(1, T, "a", "https://x.org/shop"),
            order(T + 10, "A-1", 100.0),
            // The same order again: counted once.
            order(T + 20, "A-1", 100.0),
            order(T + 30, "A-2", 50.5),
            Hit::pageview(1, T, "b", "https://x.org/"),
            Hit::new(1, T + 5, "b", HitType::Cart).with_conversion(Conversion {
                revenue: Some(30.0),
                items: vec![Item::new("S1").quantity(3)],
                ..Conversion::default()
            }),
            Hit::new(1, T + 6, "b", HitType::Goal).with_conversion(Conversion::goal(1)),
        ])
        .unwrap();
    assert_eq!(out.accepted, 7, "{:?}", out.rejected);
    let q = "method=Goals.get&idSite=1&period=day&date=2024-06-01&format=json";
    let orders = api(&e, &format!("{q}&idGoal=ecommerceOrder"));
    assert_eq!(orders["nb_conversions"], 2);
    assert_eq!(orders["nb_visits_converted"], 1);
    assert_eq!(orders["revenue"], 150.5);
    assert_eq!(orders["revenue_subtotal"], 128.5);
    assert_eq!(orders["revenue_tax"], 10);
    assert_eq!(orders["items"], 6);
    assert_eq!(orders["avg_order_revenue"], 75.25);
    assert_eq!(orders["conversion_rate"], "50%");
    let keys: Vec<&str> = orders
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .take(10)
        .collect();
    assert_eq!(
        keys,
        [
            "nb_conversions",
            "nb_visits_converted",
            "revenue",
            "revenue_subtotal",
            "revenue_tax",
            "revenue_shipping",
            "revenue_discount",
            "items",
            "avg_order_revenue",
            "conversion_rate"
        ]
    );
    let carts = api(&e, &format!("{q}&idGoal=ecommerceAbandonedCart"));
    assert_eq!(
        (
            carts["nb_conversions"].clone(),
            carts["revenue"].clone(),
            carts["items"].clone()
        ),
        (1.into(), 30.into(), 3.into())
    );
    assert!(carts.get("revenue_tax").is_none());
    // Overall: the goal conversion and the orders, not the cart.
    let all = api(&e, q);
    assert_eq!(
        (
            all["nb_conversions"].clone(),
            all["nb_visits_converted"].clone(),
            all["revenue"].clone()
        ),
        (3.into(), 2.into(), 160.5.into())
    );
    let summary = api(
        &e,
        "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&format=json",
    );
    assert_eq!(summary["nb_visits_converted"], 2);
    assert_eq!(summary["nb_actions"], 2, "conversions are not actions");
    // Orders and carts by visits and days until conversion: "a" comes
    // back three days and an hour later and orders again.
    e.ingest([
        Hit::pageview(1, T + 3 * 86_400 + 3_600, "a", "https://x.org/"),
        order(T + 3 * 86_400 + 3_700, "A-3", 20.0),
    ])
    .unwrap();
    let range = "idSite=1&period=range&date=2024-06-01,2024-06-10&format=json";
    let rows = |method: &str, goal: &str| -> Vec<(String, u64)> {
        api(&e, &format!("method=Goals.{method}&{range}&idGoal={goal}"))
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["nb_conversions"] != 0)
            .map(|r| {
                (
                    r["label"].as_str().unwrap().to_string(),
                    r["nb_conversions"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let pair = |label: &str, n| (label.to_string(), n);
    assert_eq!(
        rows("getDaysToConversion", "ecommerceOrder"),
        [pair("0 days", 2), pair("3 days", 1)]
    );
    assert_eq!(
        rows("getVisitsUntilConversion", "ecommerceOrder"),
        [pair("1 visit", 2), pair("2 visits", 1)]
    );
    assert_eq!(
        rows("getDaysToConversion", "ecommerceAbandonedCart"),
        [pair("0 days", 1)]
    );
    assert_eq!(rows("getDaysToConversion", "1"), [pair("0 days", 1)]);
    // A site that is not an ecommerce site says how to make it one.
    e.add_site(SiteConfig::new(2)).unwrap();
    let err = e
        .api("method=Goals.get&idSite=2&period=day&date=2024-06-01&idGoal=ecommerceOrder")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an ecommerce site"), "{err}");
}

#[test]
fn conversion_lines_say_what_is_wrong() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1)).unwrap();
    let lines = [
        (r#"{"site":1,"ts":1,"visitor":"v","type":"goal"}"#, "`goal`"),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"goal","goal":0}"#,
            "integer from 1",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"order","revenue":3}"#,
            "`order.id`",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"order","order":{"id":"A"}}"#,
            "grand total",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"goal","goal":1,"device":"desktop"}"#,
            "`device` on a goal hit",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"pageview","url":"https://x.org/","goal":1}"#,
            "not a pageview hit",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"cart","items":[{"name":"x"}]}"#,
            "`sku`",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"cart","items":[{"sku":"x","quantity":-1}]}"#,
            "quantity",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"cart","items":{"sku":"x"}}"#,
            "list of objects",
        ),
    ];
    for (line, reason) in lines {
        let out = e.ingest_ndjson(line.as_bytes()).unwrap();
        assert_eq!(out.accepted, 0, "{line}");
        assert!(
            out.rejected[0].reason.contains(reason),
            "{line}: {}",
            out.rejected[0].reason
        );
    }
    let good = r#"{"site":1,"ts":1,"visitor":"v","type":"order","url":"https://x.org/thanks","revenue":12.5,"order":{"id":"A-1","tax":2.5},"items":[{"sku":"S","category":["a","b"],"price":6.25,"quantity":2}],"visit":"7"}"#;
    let out = e.ingest_ndjson(good.as_bytes()).unwrap();
    assert_eq!(out.accepted, 1, "{:?}", out.rejected);
    let back = all_hits(&e);
    let mut want: BTreeMap<String, Value> = serde_json::from_str(good).unwrap();
    let got: BTreeMap<String, Value> = serde_json::from_str(&back[0].to_ndjson()).unwrap();
    want.insert("ts".into(), 1.into());
    assert_eq!(got, want);
}

#[test]
fn products_reports_and_ecommerce_segments() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).ecommerce(true)).unwrap();
    let order = |visitor: &str, ts, id: &str, items: Vec<Item>| {
        Hit::new(1, ts, visitor, HitType::Order).with_conversion(Conversion {
            order_id: Some(id.into()),
            revenue: Some(
                items
                    .iter()
                    .map(|i| i.price.unwrap_or(0.0) * f64::from(i.quantity.unwrap_or(1)))
                    .sum(),
            ),
            items,
            ..Conversion::default()
        })
    };
    let mug = || {
        Item::new("MUG")
            .name("Mug")
            .category("Kitchen")
            .category("Gifts")
            .price(9.5)
    };
    let pen = || Item::new("PEN").name("Pen").category("Office").price(2.0);
    e.ingest([
        Hit::pageview(1, T, "a", "https://x.org/"),
        order(
            "a",
            T + 10,
            "A-1",
            vec![mug().quantity(2), pen().quantity(3)],
        ),
        Hit::pageview(1, T, "b", "https://x.org/"),
        order("b", T + 20, "B-1", vec![mug()]),
        Hit::pageview(1, T, "c", "https://x.org/"),
        Hit::new(1, T + 30, "c", HitType::Cart).with_conversion(Conversion {
            revenue: Some(4.0),
            items: vec![pen().quantity(2), Item::new("INK")],
            ..Conversion::default()
        }),
        Hit::pageview(1, T, "d", "https://x.org/"),
    ])
    .unwrap();
    let day = "idSite=1&period=day&date=2024-06-01&format=json";
    let sku = api(&e, &format!("method=Goals.getItemsSku&{day}"));
    assert_eq!(sku[0]["label"], "MUG");
    assert_eq!(
        (
            sku[0]["revenue"].clone(),
            sku[0]["quantity"].clone(),
            sku[0]["orders"].clone()
        ),
        (28.5.into(), 3.into(), 2.into())
    );
    assert_eq!(sku[0]["avg_price"], 9.5);
    assert_eq!(sku[0]["avg_quantity"], 1.5);
    assert_eq!(sku[0]["segment"], "productSku==MUG");
    assert_eq!(
        (sku[1]["label"].clone(), sku[1]["revenue"].clone()),
        ("PEN".into(), 6.into())
    );
    let categories = api(&e, &format!("method=Goals.getItemsCategory&{day}"));
    let labels: Vec<&str> = categories
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["Gifts", "Kitchen", "Office"],
        "each of a product's categories"
    );
    let carts = api(
        &e,
        &format!("method=Goals.getItemsName&{day}&abandonedCarts=1"),
    );
    let rows: Vec<(&str, u64)> = carts
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap(),
                r["abandoned_carts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows, [("Pen", 1), ("Product Name not defined", 1)]);
    // Every row's segment selects the visits it counts.
    let visits = |segment: &str| {
        api(
            &e,
            &format!(
                "method=VisitsSummary.get&{day}&segment={}",
                hitmap::encode_query_value(segment)
            ),
        )["nb_visits"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(visits("productSku==MUG"), 2);
    assert_eq!(
        visits("productSku==PEN"),
        2,
        "a's order and c's abandoned cart"
    );
    assert_eq!(visits("productSku!=PEN"), 2, "b and d");
    assert_eq!(visits("productCategory==Gifts"), 2);
    assert_eq!(visits("productName=@e"), 2);
    assert_eq!(visits("visitEcommerceStatus==ordered"), 2);
    assert_eq!(visits("visitEcommerceStatus==abandonedCart"), 1);
    assert_eq!(visits("visitEcommerceStatus==none"), 1);
    assert_eq!(visits("revenueOrder>20"), 1);
    assert_eq!(visits("revenueOrder<=9.5"), 1);
    assert_eq!(visits("orderId==A-1"), 1);
    assert_eq!(visits("orderId=@-1"), 2);
    assert_eq!(visits("orderId!=A-1"), 3, "b, c and d");
    assert_eq!(visits("orderId!="), 2, "the visits with an order");
    assert_eq!(visits("orderId=="), 2, "the visits without one");
    assert_eq!(
        visits("visitConverted==1"),
        2,
        "orders convert a visit on an ecommerce site"
    );
    let err = e
        .api(&format!(
            "method=VisitsSummary.get&{day}&segment=visitEcommerceStatus==paid"
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("orderedThenAbandonedCart"), "{err}");
    // A site that is not an ecommerce site has no products: an empty
    // table, as Matomo's, even with orders sent to it.
    e.add_site(SiteConfig::new(2)).unwrap();
    e.ingest([
        Hit::pageview(2, T, "a", "https://x.org/"),
        Hit::new(2, T + 1, "a", HitType::Order).with_conversion(Conversion {
            order_id: Some("Z".into()),
            revenue: Some(3.0),
            items: vec![mug()],
            ..Conversion::default()
        }),
    ])
    .unwrap();
    assert_eq!(
        api(
            &e,
            "method=Goals.getItemsSku&idSite=2&period=day&date=2024-06-01&format=json"
        ),
        serde_json::json!([])
    );
}

/// An order id counts once in the site, as Matomo's unique key has it:
/// the earliest use, on whatever day, read back from the store by a
/// writer that reopened it and by a reader; a late order on an earlier
/// day takes the id over, in a visit of its own when no page view of its
/// visitor is near.
#[test]
fn an_order_id_counts_once_in_the_site() {
    let dir = crate::store::TempDir::new("order-once");
    let order = |ts, visitor: &str, revenue| {
        Hit::new(1, ts, visitor, HitType::Order).with_conversion(Conversion {
            order_id: Some("X-1".into()),
            revenue: Some(revenue),
            ..Conversion::default()
        })
    };
    let visit = |ts, visitor: &str| Hit::pageview(1, ts, visitor, "https://x.org/shop");
    let day = 86_400;
    let q = "method=Goals.get&idSite=1&period=day&date=2024-06-01,2024-06-04&idGoal=ecommerceOrder&format=json";
    let orders = |e: &Engine| -> Vec<(u64, f64)> {
        let v = api(e, q);
        v.as_object()
            .unwrap()
            .values()
            .map(|d| {
                (
                    d["nb_conversions"].as_u64().unwrap_or(0),
                    d["revenue"].as_f64().unwrap_or(0.0),
                )
            })
            .collect()
    };
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(SiteConfig::new(1).ecommerce(true)).unwrap();
    w.ingest([
        visit(T + day, "a"),
        order(T + day + 10, "a", 10.0),
        visit(T + 2 * day, "b"),
        order(T + 2 * day + 10, "b", 20.0),
    ])
    .unwrap();
    assert_eq!(orders(&w), [(0, 0.0), (1, 10.0), (0, 0.0), (0, 0.0)]);
    drop(w);
    let mut w = Engine::open(&dir.0).unwrap();
    // An order of "c" on the first day arrives late, with no page view:
    // a visit of its own (Matomo's), and now the id's first use.
    w.ingest([order(T + 10, "c", 40.0)]).unwrap();
    assert_eq!(orders(&w), [(1, 40.0), (0, 0.0), (0, 0.0), (0, 0.0)]);
    let visits = api(
        &w,
        "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&format=json",
    );
    assert_eq!(
        (visits["nb_visits"].clone(), visits["nb_actions"].clone()),
        (1.into(), 0.into())
    );
    // "a"'s order on the second day lost its id: no conversion, but its
    // visit stays converted and ordered, as Matomo's tracker marks a visit
    // on an order request it then refuses.
    let day2 = "idSite=1&period=day&date=2024-06-02&format=json";
    let overall = api(&w, &format!("method=Goals.get&{day2}"));
    assert_eq!(
        (
            overall["nb_conversions"].clone(),
            overall["nb_visits_converted"].clone()
        ),
        (0.into(), 1.into())
    );
    let summary = api(&w, &format!("method=VisitsSummary.get&{day2}"));
    assert_eq!(summary["nb_visits_converted"], 1);
    let live = api(&w, &format!("method=Live.getLastVisitsDetails&{day2}"));
    assert_eq!(
        (
            live[0]["visitConverted"].clone(),
            live[0]["visitEcommerceStatus"].clone()
        ),
        (1.into(), "ordered".into())
    );
    for (segment, visits) in [
        ("visitConverted==1", 1),
        ("visitEcommerceStatus==ordered", 1),
        ("visitEcommerceStatus==none", 0),
        // Matomo's conversions table holds no refused order.
        ("visitConvertedGoalId!=1", 0),
    ] {
        let s = api(
            &w,
            &format!("method=VisitsSummary.get&{day2}&segment={segment}"),
        );
        assert_eq!(s["nb_visits"], visits, "{segment}");
    }
    // Its page view arrives later still: the same visit, now with it.
    w.ingest([visit(T + 5, "c")]).unwrap();
    assert_eq!(orders(&w), [(1, 40.0), (0, 0.0), (0, 0.0), (0, 0.0)]);
    let visits = api(
        &w,
        "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&format=json",
    );
    assert_eq!(
        (visits["nb_visits"].clone(), visits["nb_actions"].clone()),
        (1.into(), 1.into())
    );
    drop(w);
    let mut r =
        Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    assert_eq!(r.verify(), Vec::<String>::new());
    assert_eq!(orders(&r), [(1, 40.0), (0, 0.0), (0, 0.0), (0, 0.0)]);
}

/// A product page view (`product_view`): its product by SKU, name and
/// categories.
fn viewed(visitor: &str, ts: i64, sku: &str, name: &str, cats: &[&str], price: Option<f64>) -> Hit {
    let mut item = Item::new(sku);
    if !name.is_empty() {
        item = item.name(name);
    }
    for c in cats {
        item = item.category(*c);
    }
    item.price = price;
    let mut h = Hit::new(1, ts, visitor, HitType::ProductView).with_conversion(Conversion {
        items: vec![item],
        ..Conversion::default()
    });
    h.url = Some("https://x.org/p".into());
    h
}

#[test]
fn product_views_feed_the_products_reports() {
    let dir = crate::store::TempDir::new("product-views");
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(SiteConfig::new(1).ecommerce(true)).unwrap();
    let page = |visitor: &str, ts| Hit::pageview(1, ts, visitor, "https://x.org/p");
    let hits = vec![
        // Visitor a: two views of the mug (9 and 11), then buys one.
        page("a", T),
        viewed("a", T, "MUG", "Mug", &["Kitchen"], Some(9.0)),
        page("a", T + 60),
        viewed("a", T + 60, "MUG", "Mug", &["Kitchen"], Some(11.0)),
        Hit::new(1, T + 120, "a", HitType::Order).with_conversion(Conversion {
            order_id: Some("A-1".into()),
            revenue: Some(10.0),
            items: vec![Item::new("MUG").name("Mug").category("Kitchen").price(10.0)],
            ..Conversion::default()
        }),
        // Visitor b: views the mug without a price, and a category page.
        page("b", T),
        viewed("b", T, "MUG", "Mug", &["Kitchen"], None),
        page("b", T + 30),
        viewed("b", T + 30, "", "", &["Garden"], None),
        // Visitor a again, hours later: a view of a pen left in a cart.
        page("a", T + 20_000),
        viewed("a", T + 20_000, "PEN", "", &[], Some(2.0)),
        Hit::new(1, T + 20_060, "a", HitType::Cart).with_conversion(Conversion {
            revenue: Some(2.0),
            items: vec![Item::new("PEN").price(2.0)],
            ..Conversion::default()
        }),
    ];
    let out = w.ingest(&hits).unwrap();
    assert_eq!(out.accepted as usize, hits.len(), "{:?}", out.rejected);
    drop(w);
    let e = Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    let day = "idSite=1&period=day&date=2024-06-01&format=json";
    let sku = api(&e, &format!("method=Goals.getItemsSku&{day}"));
    let row = |rows: &Value, label: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == label)
            .cloned()
            .unwrap_or_else(|| panic!("no row {label} in {rows}"))
    };
    let mug = row(&sku, "MUG");
    assert_eq!(
        (
            mug["orders"].clone(),
            mug["nb_visits"].clone(),
            mug["nb_uniq_visitors"].clone(),
            mug["nb_actions"].clone()
        ),
        (1.into(), 2.into(), 2.into(), 3.into()),
        "{mug}"
    );
    assert_eq!(mug["avg_price"], 10, "the order lines' price");
    assert_eq!(
        mug["conversion_rate"], "50%",
        "one order over two viewing visits"
    );
    // A product only viewed: no order columns, the views' average price.
    let pen = row(&sku, "PEN");
    assert!(
        pen.get("orders").is_none() && pen.get("revenue").is_none(),
        "{pen}"
    );
    assert_eq!(
        (pen["nb_actions"].clone(), pen["avg_price"].clone()),
        (1.into(), 2.into())
    );
    assert_eq!(pen["conversion_rate"], "0%");
    // Abandoned carts: the pen's cart, and the same views.
    let carts = api(
        &e,
        &format!("method=Goals.getItemsSku&{day}&abandonedCarts=1"),
    );
    let pen = row(&carts, "PEN");
    assert_eq!(
        (
            pen["abandoned_carts"].clone(),
            pen["nb_visits"].clone(),
            pen["conversion_rate"].clone()
        ),
        (1.into(), 1.into(), "100%".into())
    );
    assert_eq!(row(&carts, "MUG")["nb_actions"], 3);
    // Categories: a category page counts there, not under a SKU or name.
    let cats = api(&e, &format!("method=Goals.getItemsCategory&{day}"));
    assert_eq!(row(&cats, "Garden")["nb_visits"], 1);
    let names = api(&e, &format!("method=Goals.getItemsName&{day}"));
    assert!(
        names
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["label"] != "Garden")
    );
    assert_eq!(row(&names, "Mug")["nb_visits"], 2);
    // Views are not actions or conversions.
    let summary = api(&e, &format!("method=VisitsSummary.get&{day}"));
    assert_eq!(
        (summary["nb_visits"].clone(), summary["nb_actions"].clone()),
        (3.into(), 5.into())
    );
    let goals = api(&e, &format!("method=Goals.get&{day}"));
    assert_eq!(goals["nb_conversions"], 1, "{goals}");
    // The abandoned cart's total as a numeric segment.
    // And Matomo's `visitConvertedGoalId!=`: any other conversion, an
    // order or an abandoned cart included.
    for (segment, visits) in [
        ("revenueAbandonedCart>1", 1),
        ("revenueAbandonedCart>2", 0),
        ("revenueAbandonedCart<=2", 1),
        ("visitConvertedGoalId!=1", 2),
        ("visitConvertedGoalId==1", 0),
        // A product's unit price, in an order or the abandoned cart.
        ("productPrice>5", 1),
        ("productPrice<5", 1),
        ("productPrice>=2", 2),
        ("productPrice>100", 0),
    ] {
        let s = api(
            &e,
            &format!("method=VisitsSummary.get&{day}&segment={segment}"),
        );
        assert_eq!(
            s["nb_visits"].as_u64().unwrap_or(0),
            visits,
            "{segment}: {s}"
        );
    }
    // Live shows each page's product, as Matomo's visitor log does.
    let live = api(
        &e,
        &format!("method=Live.getLastVisitsDetails&{day}&filter_limit=-1"),
    );
    let pages: Vec<(Value, Value, Value)> = live
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|v| v["actionDetails"].as_array().unwrap().clone())
        .filter(|x| x["type"] == "action")
        .map(|x| {
            (
                x["productViewSku"].clone(),
                x["productViewPrice"].clone(),
                x["productViewCategories"].clone(),
            )
        })
        .collect();
    assert!(
        pages.contains(&("MUG".into(), 11.0.into(), json!(["Kitchen"]))),
        "{pages:?}"
    );
    assert!(
        pages.contains(&(Value::Null, Value::Null, json!(["Garden"]))),
        "{pages:?}"
    );
    assert_eq!(pages.iter().filter(|p| p.0 == "MUG").count(), 3);
    // They come back out as they went in.
    let mut back: Vec<String> = e
        .export_hits(1, "2024-06-01", "2024-06-01")
        .unwrap()
        .iter()
        .filter(|h| h.kind == HitType::ProductView)
        .map(Hit::to_ndjson)
        .collect();
    let mut sent: Vec<String> = hits
        .iter()
        .filter(|h| h.kind == HitType::ProductView)
        .map(Hit::to_ndjson)
        .collect();
    back.sort();
    sent.sort();
    assert_eq!(back, sent);
}

#[test]
fn product_views_are_checked() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).ecommerce(true)).unwrap();
    for (line, why) in [
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"product_view","url":"https://x.org/"}"#,
            "needs its conversion",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"product_view","items":[{"sku":"A"},{"sku":"B"}]}"#,
            "exactly one product",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"product_view","items":[{"price":3}]}"#,
            "needs a `sku`, a `name` or a `category`",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"product_view","items":[{"sku":"A","quantity":2}]}"#,
            "no `quantity`",
        ),
        (
            r#"{"site":1,"ts":1,"visitor":"v","type":"product_view","revenue":3,"items":[{"sku":"A"}]}"#,
            "carries only `items`",
        ),
    ] {
        let out = e.ingest_ndjson(line.as_bytes()).unwrap();
        assert_eq!(out.accepted, 0, "{line}");
        assert!(
            out.rejected.iter().any(|r| r.reason.contains(why)),
            "{line}: {:?}",
            out.rejected
        );
    }
    let ok = r#"{"site":1,"ts":1,"visitor":"v","type":"product_view","items":[{"category":["A","B"],"price":3}]}"#;
    assert_eq!(e.ingest_ndjson(ok.as_bytes()).unwrap().accepted, 1);
}

#[test]
fn conversions_keep_a_visit_open() {
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(1).ecommerce(true)).unwrap();
    let cart = |ts| {
        Hit::new(1, ts, "a", HitType::Cart).with_conversion(Conversion {
            revenue: Some(1.0),
            items: vec![Item::new("X")],
            ..Conversion::default()
        })
    };
    e.ingest([
        // 20 minutes to a cart update, 20 more to the next page: one
        // visit, as Matomo's tracker keeps it open.
        Hit::pageview(1, T, "a", "https://x.org/1"),
        cart(T + 1200),
        Hit::pageview(1, T + 2400, "a", "https://x.org/2"),
        // 40 minutes without anything: a new visit.
        Hit::pageview(1, T + 4800, "a", "https://x.org/3"),
    ])
    .unwrap();
    let day = "idSite=1&period=day&date=2024-06-01&format=json";
    let s = api(&e, &format!("method=VisitsSummary.get&{day}"));
    assert_eq!(
        (s["nb_visits"].clone(), s["nb_actions"].clone()),
        (2.into(), 3.into()),
        "{s}"
    );
}

/// A conversion with no action of its visitor within the visit timeout is
/// a visit of its own, without actions, as Matomo's tracker makes it: it
/// counts as a visit (a bounce), converted, with its order, in every
/// report, Live and the export, read back from the store.
#[test]
fn a_conversion_alone_is_a_visit_without_actions() {
    let dir = crate::store::TempDir::new("conversion-alone");
    let mut w = Engine::open(&dir.0).unwrap();
    w.add_site(SiteConfig::new(1).ecommerce(true)).unwrap();
    let order = |visitor: &str, ts, id: &str, revenue| {
        Hit::new(1, ts, visitor, HitType::Order).with_conversion(Conversion {
            order_id: Some(id.into()),
            revenue: Some(revenue),
            items: vec![Item::new("MUG").price(revenue)],
            ..Conversion::default()
        })
    };
    let hits = vec![
        Hit::pageview(1, T, "a", "https://x.org/shop"),
        // Four hours later, from the back office: a visit of its own.
        order("a", T + 4 * 3600, "A-1", 10.0),
        order("a", T + 4 * 3600 + 60, "A-2", 5.0),
        // A visitor with no page view that day at all.
        order("b", T + 100, "B-1", 7.0),
    ];
    w.ingest(&hits).unwrap();
    drop(w);
    let mut e =
        Engine::open_reader(dir.0.to_str().unwrap(), hitmap::ReaderOptions::default()).unwrap();
    assert_eq!(e.verify(), Vec::<String>::new());
    let day = "idSite=1&period=day&date=2024-06-01&format=json";
    let s = api(&e, &format!("method=VisitsSummary.get&{day}"));
    assert_eq!(
        (
            s["nb_visits"].clone(),
            s["nb_actions"].clone(),
            s["bounce_count"].clone(),
            s["nb_visits_converted"].clone()
        ),
        (3.into(), 1.into(), 3.into(), 2.into()),
        "{s}"
    );
    let g = api(&e, &format!("method=Goals.get&{day}&idGoal=ecommerceOrder"));
    assert_eq!(
        (g["nb_conversions"].clone(), g["revenue"].clone()),
        (3.into(), 22.into()),
        "{g}"
    );
    // Live: the visits without actions show their orders.
    let live = api(&e, &format!("method=Live.getLastVisitsDetails&{day}"));
    let rows: Vec<(u64, Vec<String>)> = live
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["actions"].as_u64().unwrap(),
                v["actionDetails"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x["type"].as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                0,
                vec!["ecommerceOrder".to_owned(), "ecommerceOrder".to_owned()]
            ),
            (0, vec!["ecommerceOrder".to_owned()]),
            (1, vec!["action".to_owned()]),
        ]
    );
    assert_eq!(live[0]["firstActionTimestamp"], T + 4 * 3600);
    assert_eq!(live[0]["lastActionTimestamp"], T + 4 * 3600 + 60);
    // The export gives every hit back.
    let mut back: Vec<String> = e
        .export_hits(1, "2024-06-01", "2024-06-01")
        .unwrap()
        .iter()
        .map(Hit::to_ndjson)
        .collect();
    let mut sent: Vec<String> = hits.iter().map(Hit::to_ndjson).collect();
    back.sort();
    sent.sort();
    assert_eq!(back, sent);
    // With a segment on actions, the visits without actions are out.
    let s = api(
        &e,
        &format!("method=VisitsSummary.get&{day}&segment=actions>=1"),
    );
    assert_eq!(s["nb_visits"], 1);
}

#[test]
fn an_order_on_a_site_without_ecommerce_converts_its_visit_only() {
    // Matomo's TwoSitesEcommerceOrderWithItems: site 2 (no ecommerce)
    // records an order; Goals.get counts no conversion, but the visit is
    // converted (Matomo's tracker marks it), in every report that counts
    // converted visits.
    let mut e = Engine::in_memory();
    e.add_site(SiteConfig::new(2)).unwrap();
    let order = Hit::new(2, T + 60, "a", HitType::Order).with_conversion(Conversion {
        order_id: Some("777".into()),
        revenue: Some(250.0),
        ..Conversion::default()
    });
    e.ingest([
        Hit::pageview(2, T, "a", "https://x.org/"),
        order,
        Hit::pageview(2, T + 100, "b", "https://x.org/"),
    ])
    .unwrap();
    let q = "idSite=2&period=day&date=2024-06-01&format=json";
    let goals = api(&e, &format!("method=Goals.get&{q}"));
    assert_eq!(
        (
            goals["nb_conversions"].as_u64(),
            goals["nb_visits_converted"].as_u64(),
            goals["revenue"].as_f64()
        ),
        (Some(0), Some(1), Some(0.0))
    );
    assert_eq!(goals["conversion_rate"], "50%");
    let summary = api(
        &e,
        &format!("method=VisitsSummary.get&{q}&segment=visitConverted==1"),
    );
    assert_eq!(summary["nb_visits"], 1);
    // No products report on such a site.
    let items = api(&e, &format!("method=Goals.getItemsSku&{q}"));
    assert_eq!(items, serde_json::json!([]));
}
