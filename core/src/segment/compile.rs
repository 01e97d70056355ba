//! A segment compiled against one site: each condition becomes the set of
//! dictionary ids whose strings match (computed once per query), and each
//! day then answers it with unions of index bitmaps or one column scan.

use std::borrow::Cow;

use roaring::RoaringBitmap;

use super::parse::{Condition, Field, Op, Segment};
use crate::archive::{DayArchive, ValueIndex};
use crate::dict::{Dict, NONE};
use crate::engine::SiteState;
use crate::error::{Error, Result};
use crate::raw::VField;
use crate::referrer::ReferrerType;

/// Which dictionary ids satisfy the positive form of a condition.
#[derive(Debug, Clone)]
enum Matcher {
    /// Every present value (used for "missing" / "present" tests).
    Any,
    Ids(RoaringBitmap),
}

impl Matcher {
    fn contains(&self, id: u32) -> bool {
        match self {
            Matcher::Any => id != NONE,
            Matcher::Ids(ids) => id != NONE && ids.contains(id),
        }
    }
}

/// Where a text condition looks.
#[derive(Debug, Clone, Copy)]
enum Target {
    Field(VField),
    ReferrerType,
    Dimension(u32),
    PageUrl,
    DownloadUrl,
    OutlinkUrl,
    PageTitle,
    Keyword,
    EventCategory,
    EventAction,
    Visitor,
    EntryUrl,
    ExitUrl,
}

#[derive(Debug, Clone)]
enum Pred {
    /// Visits with a matching value (or action), complemented if `negate`.
    Text {
        target: Target,
        matcher: Matcher,
        negate: bool,
    },
    Numeric {
        field: Field,
        op: Op,
        value: f64,
    },
    VisitorIsNew(bool),
}

/// A segment ready to evaluate on the site's day archives.
#[derive(Debug, Clone)]
pub(crate) struct CompiledSegment {
    clauses: Vec<Vec<Pred>>,
}

impl CompiledSegment {
    pub(crate) fn compile(segment: &Segment, site: &SiteState) -> Result<CompiledSegment> {
        let clauses = segment
            .clauses()
            .iter()
            .map(|clause| clause.iter().map(|c| compile_condition(c, site)).collect())
            .collect::<Result<_>>()?;
        Ok(CompiledSegment { clauses })
    }

    /// The visits of one day that the segment selects.
    pub(crate) fn eval(&self, a: &DayArchive) -> RoaringBitmap {
        // Each clause borrows an index bitmap where it can; the AND starts
        // from the smallest and intersects in place, so no index bitmap is
        // copied whole.
        let mut parts: Vec<Cow<'_, RoaringBitmap>> = Vec::with_capacity(self.clauses.len());
        for clause in &self.clauses {
            let part = match clause.as_slice() {
                [one] => eval_pred(one, a),
                many => {
                    let mut any = RoaringBitmap::new();
                    for pred in many {
                        any |= eval_pred(pred, a).as_ref();
                    }
                    Cow::Owned(any)
                }
            };
            if part.is_empty() {
                return RoaringBitmap::new();
            }
            parts.push(part);
        }
        parts.sort_by_key(|p| p.len());
        let mut parts = parts.into_iter();
        let Some(first) = parts.next() else {
            return all_visits(a);
        };
        let mut result = first.into_owned();
        for p in parts {
            result &= p.as_ref();
            if result.is_empty() {
                break;
            }
        }
        result
    }
}

pub(crate) fn all_visits(a: &DayArchive) -> RoaringBitmap {
    let mut b = RoaringBitmap::new();
    b.insert_range(0..a.visit_count());
    b
}

fn compile_condition(c: &Condition, site: &SiteState) -> Result<Pred> {
    let d = &site.dicts;
    if c.field.is_numeric() {
        return Ok(Pred::Numeric {
            field: c.field.clone(),
            op: c.op,
            value: c.value.parse().expect("checked by the parser"),
        });
    }
    if c.field == Field::VisitorType {
        return Ok(Pred::VisitorIsNew((c.value == "new") != (c.op == Op::Ne)));
    }
    let (target, dict): (Target, Option<&Dict>) = match &c.field {
        Field::VisitorId => (Target::Visitor, Some(&d.visitors)),
        Field::UserId => (Target::Field(VField::User), Some(&d.users)),
        Field::ReferrerUrl => (Target::Field(VField::Referrer), Some(&d.referrers)),
        Field::DeviceType => (Target::Field(VField::Device), Some(&d.values[0])),
        Field::BrowserName => (Target::Field(VField::Browser), Some(&d.values[1])),
        Field::OperatingSystemName => (Target::Field(VField::Os), Some(&d.values[2])),
        Field::CountryCode => (Target::Field(VField::Country), Some(&d.values[3])),
        Field::LanguageCode => (Target::Field(VField::Language), Some(&d.values[4])),
        Field::ReferrerType => (Target::ReferrerType, None),
        Field::EntryPageUrl => (Target::EntryUrl, Some(&d.urls)),
        Field::ExitPageUrl => (Target::ExitUrl, Some(&d.urls)),
        Field::PageUrl => (Target::PageUrl, Some(&d.urls)),
        Field::DownloadUrl => (Target::DownloadUrl, Some(&d.urls)),
        Field::OutlinkUrl => (Target::OutlinkUrl, Some(&d.urls)),
        Field::PageTitle => (Target::PageTitle, Some(&d.titles)),
        Field::SiteSearchKeyword => (Target::Keyword, Some(&d.keywords)),
        Field::EventCategory => (Target::EventCategory, Some(&d.events)),
        Field::EventAction => (Target::EventAction, Some(&d.events)),
        Field::Dimension(name) => match d.custom_dim(name) {
            Some(id) => (Target::Dimension(id), Some(&d.dim_values)),
            None => return Err(unknown_field(c, site)),
        },
        Field::Actions | Field::VisitDuration | Field::VisitCount | Field::VisitorType => {
            unreachable!("handled above")
        }
    };
    let empty = c.value.is_empty();
    let (matcher, negate) = match c.op {
        Op::Eq if empty => (Matcher::Any, true),
        Op::Ne if empty => (Matcher::Any, false),
        op => {
            let v = c.value.as_str();
            let test: Box<dyn Fn(&str) -> bool> = match op {
                Op::Eq | Op::Ne => Box::new(move |s| s == v),
                Op::Contains | Op::NotContains => Box::new(move |s| s.contains(v)),
                Op::StartsWith => Box::new(move |s| s.starts_with(v)),
                Op::EndsWith => Box::new(move |s| s.ends_with(v)),
                _ => unreachable!("ordering operators are numeric only"),
            };
            let ids = match dict {
                Some(dict) if matches!(op, Op::Eq | Op::Ne) => dict.get(v).into_iter().collect(),
                Some(dict) => dict
                    .iter()
                    .filter(|(_, s)| test(s))
                    .map(|(i, _)| i)
                    .collect(),
                None => ReferrerType::ALL
                    .iter()
                    .filter(|t| test(t.name()))
                    .map(|t| *t as u32)
                    .collect(),
            };
            (Matcher::Ids(ids), op.is_negative())
        }
    };
    Ok(Pred::Text {
        target,
        matcher,
        negate,
    })
}

fn unknown_field(c: &Condition, site: &SiteState) -> Error {
    let dims: Vec<&str> = site.dicts.custom_dim_names().collect();
    Error::Segment {
        position: c.position,
        reason: format!(
            "unknown segment field '{}': use one of {} or a custom dimension of site {} ({})",
            c.field.name(),
            Field::builtin_names().collect::<Vec<_>>().join(", "),
            site.config.id,
            if dims.is_empty() {
                "none yet".to_string()
            } else {
                dims.join(", ")
            }
        ),
    }
}

fn scan(a: &DayArchive, mut keep: impl FnMut(u32) -> bool) -> RoaringBitmap {
    RoaringBitmap::from_sorted_iter((0..a.visit_count()).filter(|&v| keep(v)))
        .expect("visit ids ascend")
}

fn eval_pred<'a>(pred: &Pred, a: &'a DayArchive) -> Cow<'a, RoaringBitmap> {
    match pred {
        Pred::Text {
            target,
            matcher,
            negate,
        } => {
            let from_index = |index: &'a ValueIndex| match matcher {
                Matcher::Ids(ids) if ids.len() == 1 => index
                    .get(ids.min().expect("one id"))
                    .map_or_else(|| Cow::Owned(RoaringBitmap::new()), Cow::Borrowed),
                m => Cow::Owned(index.union_where(|id| m.contains(id))),
            };
            let hits = match target {
                Target::Field(f) => from_index(&a.field_index[*f as usize]),
                Target::ReferrerType => from_index(&a.referrer_type_index),
                Target::Dimension(name) => a.dims.iter().find(|c| c.name == *name).map_or_else(
                    || Cow::Owned(RoaringBitmap::new()),
                    |c| from_index(&c.index),
                ),
                Target::PageUrl => from_index(&a.actions.by_kind_url[0]),
                Target::DownloadUrl => from_index(&a.actions.by_kind_url[1]),
                Target::OutlinkUrl => from_index(&a.actions.by_kind_url[2]),
                Target::PageTitle => from_index(&a.actions.titles),
                Target::Keyword => from_index(&a.actions.keywords),
                Target::EventCategory => from_index(&a.actions.event_categories),
                Target::EventAction => from_index(&a.actions.event_actions),
                Target::Visitor => Cow::Owned(scan(a, |v| matcher.contains(a.visitor[v as usize]))),
                Target::EntryUrl => {
                    Cow::Owned(scan(a, |v| matcher.contains(a.entry_url[v as usize])))
                }
                Target::ExitUrl => {
                    Cow::Owned(scan(a, |v| matcher.contains(a.exit_url[v as usize])))
                }
            };
            if *negate {
                Cow::Owned(all_visits(a) - hits.as_ref())
            } else {
                hits
            }
        }
        Pred::Numeric { field, op, value } => Cow::Owned(scan(a, |v| {
            let x = match field {
                Field::Actions => a.actions_of(v).len() as f64,
                Field::VisitDuration => f64::from(a.length[v as usize]),
                _ => f64::from(a.visit_rank(v)),
            };
            match op {
                Op::Eq => x == *value,
                Op::Ne => x != *value,
                Op::Lt => x < *value,
                Op::Le => x <= *value,
                Op::Gt => x > *value,
                _ => x >= *value,
            }
        })),
        Pred::VisitorIsNew(want) => Cow::Owned(scan(a, |v| a.is_new_visit(v) == *want)),
    }
}
