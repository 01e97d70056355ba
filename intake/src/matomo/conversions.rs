//! Matomo's goals and recorded conversions: goal definitions (`goal`),
//! the ecommerce flag (`site.ecommerce`), and the conversions Matomo's
//! tracker recorded that hitmap cannot recompute from the actions
//! (`log_conversion` rows of manual goals, ecommerce orders and abandoned
//! carts, with their `log_conversion_item` products).
//!
//! Conversions of pattern goals (URL, title, file, ...) are not imported:
//! hitmap evaluates those goals over the imported actions at query time,
//! so importing Matomo's rows too would count them twice.
//!
//! Conversions are read in (`server_time`, `idvisit`, `idgoal`, `buster`)
//! order: with each batch of actions, those up to the batch's last
//! action time go into the same commit (so the days a batch writes are
//! written once, not again for their conversions), and after a site's
//! actions the rest. Their checkpoint is part of the actions' one
//! (`matomo:<site>`), so a repeated run reads only newer rows.

use std::collections::{BTreeMap, HashMap};

use hitmap::{Conversion, Engine, Goal, Hit, HitType, Item};

use super::{Database, ImportOptions, MatomoSite, Names, Value, query};
use crate::Result;

/// A site's goals as Matomo defines them, and whether it is an ecommerce
/// site.
#[derive(Debug, Clone, Default)]
pub(super) struct SiteGoals {
    pub goals: Vec<Goal>,
    pub ecommerce: bool,
    /// Goals Matomo has that hitmap cannot evaluate (reason by id).
    pub unsupported: Vec<String>,
    /// Whether the database has `log_conversion` and
    /// `log_conversion_item`.
    recorded: bool,
    items: bool,
}

impl SiteGoals {
    /// The ids of the manual goals (their conversions are recorded).
    fn manual(&self) -> Vec<u32> {
        self.goals
            .iter()
            .filter(|g| g.match_attribute() == hitmap::GoalMatch::Manually)
            .map(Goal::id)
            .collect()
    }
}

fn int(r: &[Value], i: usize) -> Option<i64> {
    r.get(i).and_then(Value::int)
}

fn text(r: &[Value], i: usize) -> Option<&str> {
    r.get(i).and_then(Value::text).filter(|t| !t.is_empty())
}

fn float(r: &[Value], i: usize) -> Option<f64> {
    r.get(i).and_then(Value::float).filter(|x| x.is_finite())
}

/// Each wanted site's goals and ecommerce flag.
pub(super) fn read_goals(
    db: &mut dyn Database,
    p: &str,
    tables: &std::collections::BTreeSet<String>,
    has_ecommerce: bool,
    sites: &[MatomoSite],
) -> Result<BTreeMap<u32, SiteGoals>> {
    let mut out: BTreeMap<u32, SiteGoals> = sites
        .iter()
        .map(|s| {
            let g = SiteGoals {
                recorded: tables.contains("log_conversion"),
                items: tables.contains("log_conversion_item"),
                ..SiteGoals::default()
            };
            (s.id, g)
        })
        .collect();
    let ecommerce = if has_ecommerce {
        query(db, &format!("SELECT idsite, ecommerce FROM {p}site"))?
    } else {
        Vec::new()
    };
    for r in ecommerce {
        if let Some(site) = int(&r, 0)
            .and_then(|i| u32::try_from(i).ok())
            .and_then(|id| out.get_mut(&id))
        {
            site.ecommerce = int(&r, 1).is_some_and(|e| e != 0);
        }
    }
    if !tables.contains("goal") {
        return Ok(out);
    }
    let sql = format!(
        "SELECT idsite, idgoal, name, match_attribute, pattern, pattern_type, case_sensitive, \
         allow_multiple, revenue, event_value_as_revenue, description \
         FROM {p}goal WHERE deleted = 0 ORDER BY idsite, idgoal"
    );
    for r in query(db, &sql)? {
        let (Some(site), Some(id)) = (
            int(&r, 0)
                .and_then(|i| u32::try_from(i).ok())
                .and_then(|id| out.get_mut(&id)),
            int(&r, 1).and_then(|i| u32::try_from(i).ok()),
        ) else {
            continue;
        };
        let attribute = text(&r, 3).unwrap_or("");
        let Ok(matched) = attribute.parse::<hitmap::GoalMatch>() else {
            site.unsupported.push(format!(
                "goal {id}: match attribute {attribute:?} is not one hitmap evaluates"
            ));
            continue;
        };
        let pattern_type = text(&r, 5)
            .unwrap_or("contains")
            .parse::<hitmap::PatternType>()
            .unwrap_or(hitmap::PatternType::Contains);
        let goal = Goal::new(
            id,
            text(&r, 2).unwrap_or("Goal"),
            matched,
            pattern_type,
            text(&r, 4).unwrap_or(""),
        )
        .case_sensitive(int(&r, 6).is_some_and(|x| x != 0))
        .allow_multiple(int(&r, 7).is_some_and(|x| x != 0))
        .revenue(float(&r, 8).unwrap_or(0.0))
        .event_value_as_revenue(int(&r, 9).is_some_and(|x| x != 0))
        .description(text(&r, 10).unwrap_or(""));
        match goal.validate() {
            Ok(()) => site.goals.push(goal),
            Err(e) => site.unsupported.push(format!("goal {id}: {e}")),
        }
    }
    Ok(out)
}

/// Where older stores keep the conversions' checkpoint; the actions'
/// checkpoint (`matomo:<site>`) holds it now.
fn old_key(site: u32) -> String {
    format!("matomo-conversions:{site}")
}

/// The checkpoint of a site's conversions, the last committed row's
/// (`server_time`, `idvisit`, `idgoal`, `buster`), from its text
/// `time:idvisit:idgoal:buster`.
pub(super) fn decode(text: &str) -> Option<[i64; 4]> {
    let parts: Vec<i64> = text
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

/// [`decode`]'s inverse.
pub(super) fn encode(cursor: [i64; 4]) -> String {
    cursor.map(|x| x.to_string()).join(":")
}

/// What [`Conversions::read`] read (its hits went into a batch).
#[derive(Debug, Default)]
pub(super) struct Read {
    /// `log_conversion` rows read.
    pub rows: u64,
    /// Whether a limit cut the read short: more may follow.
    pub full: bool,
}

/// A site's recorded conversions, read in (`server_time`, `idvisit`,
/// `idgoal`, `buster`) order after a cursor.
#[derive(Debug)]
pub(super) struct Conversions {
    site: u32,
    prefix: String,
    /// Which `idgoal`s are read, as SQL.
    wanted: String,
    window: String,
    batch_rows: usize,
    keep_visits: bool,
    items: bool,
    names: Names,
    /// The last conversion read (`i64::MIN` as its time before any).
    cursor: [i64; 4],
}

impl Conversions {
    /// The site's conversions in the import's window (`window`, as SQL)
    /// after the store's checkpoint (`stored`, from the actions'
    /// checkpoint, or an older store's own key); `None` when the site has
    /// none hitmap takes.
    pub(super) fn new(
        engine: &Engine,
        options: &ImportOptions,
        site: &MatomoSite,
        goals: &SiteGoals,
        window: &str,
        stored: Option<[i64; 4]>,
    ) -> Option<Conversions> {
        let manual = goals.manual();
        let mut wanted = vec!["idgoal = 0".to_string()];
        if goals.ecommerce {
            wanted.push("idgoal = -1".into());
        } else {
            wanted.clear();
        }
        if !manual.is_empty() {
            let ids: Vec<String> = manual.iter().map(u32::to_string).collect();
            wanted.push(format!("idgoal IN ({})", ids.join(",")));
        }
        if wanted.is_empty() || !goals.recorded {
            return None;
        }
        // Both checkpoints only grow, and each stands for all the rows
        // before it: the later one is where this run goes on.
        let old = engine.cursor(&old_key(site.id)).and_then(decode);
        let cursor = stored.max(old).unwrap_or([i64::MIN, 0, 0, 0]);
        Some(Conversions {
            site: site.id,
            prefix: options.prefix.clone(),
            wanted: wanted.join(" OR "),
            window: window.to_owned(),
            batch_rows: options.batch_rows,
            keep_visits: options.keep_visits,
            items: goals.items,
            names: Names::new(),
            cursor,
        })
    }

    /// The checkpoint to commit, `None` before the first conversion.
    pub(super) fn checkpoint(&self) -> Option<[i64; 4]> {
        (self.cursor[0] != i64::MIN).then_some(self.cursor)
    }

    /// Reads up to a batch of conversions after the cursor whose
    /// `server_time` is at most `until` (Unix seconds), as hits appended
    /// to `hits`; rows that are not conversions are counted in `skipped`.
    pub(super) fn read(
        &mut self,
        db: &mut dyn Database,
        until: i64,
        hits: &mut Vec<Hit>,
        skipped: &mut BTreeMap<String, u64>,
    ) -> Result<Read> {
        let time = "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', server_time)";
        // The exact bounds on the computed time, and the same bounds on
        // the column itself so that the (idsite, server_time) index
        // narrows the scan.
        let mut bounds = format!(" AND {time} <= {until}");
        if let Some(t) = utc_literal(until) {
            bounds += &format!(" AND server_time <= '{t}'");
        }
        if self.cursor[0] != i64::MIN {
            let c = self.cursor;
            bounds += &format!(
                " AND ({time}, idvisit, idgoal, buster) > ({}, {}, {}, {})",
                c[0], c[1], c[2], c[3]
            );
            if let Some(t) = utc_literal(c[0]) {
                bounds += &format!(" AND server_time >= '{t}'");
            }
        }
        let sql = format!(
            "SELECT {time}, idvisit, idgoal, buster, LOWER(HEX(idvisitor)), url, idorder, revenue, \
             revenue_subtotal, revenue_tax, revenue_shipping, revenue_discount \
             FROM {}log_conversion WHERE idsite = {} AND ({}){}{bounds} \
             ORDER BY server_time, idvisit, idgoal, buster LIMIT {}",
            self.prefix, self.site, self.wanted, self.window, self.batch_rows
        );
        let rows = query(db, &sql)?;
        let Some(last) = rows.last() else {
            return Ok(Read::default());
        };
        self.cursor = [
            int(last, 0).unwrap_or(0),
            int(last, 1).unwrap_or(0),
            int(last, 2).unwrap_or(0),
            int(last, 3).unwrap_or(0),
        ];
        let items = if self.items {
            fetch_items(db, &self.prefix, self.site, &rows, &mut self.names)?
        } else {
            HashMap::new()
        };
        for r in &rows {
            match self.hit(r, &items) {
                Some(hit) => hits.push(hit),
                None => {
                    *skipped
                        .entry("conversion without time, visit or visitor".into())
                        .or_default() += 1;
                }
            }
        }
        Ok(Read {
            rows: rows.len() as u64,
            full: rows.len() >= self.batch_rows,
        })
    }

    /// One `log_conversion` row as a hit.
    fn hit(&self, r: &[Value], items: &HashMap<(i64, String), Vec<Item>>) -> Option<Hit> {
        let (Some(ts), Some(visit), Some(goal), Some(visitor)) =
            (int(r, 0), int(r, 1), int(r, 2), text(r, 4))
        else {
            return None;
        };
        let revenue = float(r, 7);
        let (kind, c) = match goal {
            g if g > 0 => (
                HitType::Goal,
                Conversion {
                    goal: u32::try_from(g).ok(),
                    revenue,
                    ..Conversion::default()
                },
            ),
            0 => {
                let order = text(r, 6).map(str::to_owned);
                let products = items.get(&(visit, order.clone().unwrap_or_default()));
                (
                    HitType::Order,
                    Conversion {
                        order_id: order,
                        revenue: Some(revenue.unwrap_or(0.0)),
                        subtotal: float(r, 8),
                        tax: float(r, 9),
                        shipping: float(r, 10),
                        discount: float(r, 11),
                        items: products.cloned().unwrap_or_default(),
                        ..Conversion::default()
                    },
                )
            }
            _ => (
                HitType::Cart,
                Conversion {
                    revenue,
                    // Matomo's cart items carry order id "0".
                    items: items.get(&(visit, "0".into())).cloned().unwrap_or_default(),
                    ..Conversion::default()
                },
            ),
        };
        let mut hit = Hit::new(self.site, ts, visitor, kind).with_conversion(c);
        hit.url = text(r, 5).map(str::to_owned);
        if self.keep_visits {
            hit.visit = Some(visit.to_string());
        }
        Some(hit)
    }
}

/// Unix seconds as a UTC `DATETIME` literal's text.
fn utc_literal(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// The products of a batch's orders and carts, by (visit, order id).
fn fetch_items(
    db: &mut dyn Database,
    p: &str,
    site: u32,
    rows: &[Vec<Value>],
    names: &mut Names,
) -> Result<HashMap<(i64, String), Vec<Item>>> {
    let mut visits: Vec<i64> = rows
        .iter()
        .filter(|r| int(r, 2).is_some_and(|g| g <= 0))
        .filter_map(|r| int(r, 1))
        .collect();
    visits.sort_unstable();
    visits.dedup();
    let mut out: HashMap<(i64, String), Vec<Item>> = HashMap::new();
    for chunk in visits.chunks(super::IN_LIST) {
        let ids: Vec<String> = chunk.iter().map(i64::to_string).collect();
        let sql = format!(
            "SELECT idvisit, idorder, idaction_sku, idaction_name, idaction_category, idaction_category2, \
             idaction_category3, idaction_category4, idaction_category5, price, quantity \
             FROM {p}log_conversion_item WHERE idsite = {site} AND deleted = 0 AND idvisit IN ({}) \
             ORDER BY idvisit, idorder, idaction_sku",
            ids.join(",")
        );
        let items = query(db, &sql)?;
        let mut wanted: Vec<u64> = items
            .iter()
            .flat_map(|r| (2..9).filter_map(|i| int(r, i)))
            .filter_map(|i| u64::try_from(i).ok())
            .filter(|i| *i > 0 && !names.contains_key(i))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        for ids in wanted.chunks(super::IN_LIST) {
            let list: Vec<String> = ids.iter().map(u64::to_string).collect();
            let sql = format!(
                "SELECT idaction, name, type, url_prefix FROM {p}log_action WHERE idaction IN ({})",
                list.join(",")
            );
            for row in query(db, &sql)? {
                if let Some((id, name)) = super::Columns::name_row(&row) {
                    names.insert(id, name);
                }
            }
        }
        let name = |r: &[Value], i: usize| {
            int(r, i)
                .and_then(|x| u64::try_from(x).ok())
                .and_then(|x| names.get(&x))
                .map(|n| n.name.clone())
                .filter(|n| !n.is_empty())
        };
        for r in &items {
            let (Some(visit), Some(order), Some(sku)) = (int(r, 0), text(r, 1), name(r, 2)) else {
                continue;
            };
            let item = Item {
                sku,
                name: name(r, 3),
                categories: (4..9).filter_map(|i| name(r, i)).collect(),
                price: float(r, 9),
                quantity: int(r, 10).and_then(|q| u32::try_from(q).ok()),
            };
            out.entry((visit, order.to_owned())).or_default().push(item);
        }
    }
    Ok(out)
}
