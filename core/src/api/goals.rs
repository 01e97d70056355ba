//! `Goals.get`, `Goals.getGoals` and the converted visits of
//! `VisitsSummary.get`, in Matomo's shapes.

use serde_json::{Value, json};

use super::{ApiRequest, bad};
use crate::error::Result;
use crate::goal::{Goal, GoalMatch};
use crate::goals::{GoalMetrics, GoalsSummary};
use crate::table::{self, Row};

/// A revenue as Matomo prints it: rounded to cents, a whole number
/// without decimals.
pub(super) fn money(x: f64) -> Value {
    let cents = (x * 100.0).round() / 100.0;
    if cents.fract() == 0.0 && cents.abs() < 9.0e15 {
        json!(cents as i64)
    } else {
        json!(cents)
    }
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
            "idGoal={given}: ecommerce orders and carts are not recorded yet (issue 34); \
             pattern goals are: {}",
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

/// `Goals.get`'s row: Matomo's columns for all visits, then for new and
/// for returning visits, then hitmap's exact count of converting
/// visitors.
pub(super) fn goals_row(s: &GoalsSummary, goal: Option<u32>, r: &ApiRequest) -> Result<Value> {
    let m = match goal {
        None => s.overall,
        Some(id) => s.goals.get(&id).copied().unwrap_or_default(),
    };
    let mut row = Row::new();
    for (suffix, metrics, visits) in [
        ("", m.all, s.nb_visits.all),
        ("_new_visit", m.new, s.nb_visits.new),
        ("_returning_visit", m.returning, s.nb_visits.returning),
    ] {
        insert(&mut row, suffix, &metrics, visits, r.table.raw_metrics);
    }
    row.insert(
        "nb_uniq_visitors_converted".into(),
        json!(m.all.nb_uniq_visitors_converted),
    );
    table::apply_one(row, &r.table, &[])
}

fn insert(row: &mut Row, suffix: &str, m: &GoalMetrics, visits: u64, raw: bool) {
    row.insert(format!("nb_conversions{suffix}"), json!(m.nb_conversions));
    row.insert(
        format!("nb_visits_converted{suffix}"),
        json!(m.nb_visits_converted),
    );
    row.insert(format!("revenue{suffix}"), money(m.revenue));
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
