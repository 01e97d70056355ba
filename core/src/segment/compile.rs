//! A segment compiled against one site: each condition becomes the set of
//! dictionary ids whose strings match (computed once per query), and each
//! day then answers it with unions of index bitmaps or one column scan.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::NaiveDate;
use roaring::RoaringBitmap;

use super::parse::{Clock, Condition, Field, Op, Segment};
use crate::archive::{Columns, DayArchive, ValueIndex};
use crate::conversions::{GoalState, columns_for, matcher_of};
use crate::dict::{Dict, NONE};
use crate::engine::SiteState;
use crate::error::{Error, Result};
use crate::goal::{Goal, GoalMatcher};
use crate::hit::{HitType, attr};
use crate::raw::VField;
use crate::referrer::ReferrerType;
use crate::visit_key::{ReferrerCache, VisitKeys};

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
    EventName,
    SearchCategory,
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
    /// Visits that converted a goal (`conversions.rs`): any of the site's
    /// goals (`goal: None`), goal `id`, or (`other`) a goal but `id`;
    /// complemented if `negate`.
    Converted {
        /// The goals it asks about, each with its pattern compiled once.
        goals: Arc<[(Goal, Option<GoalMatcher>)]>,
        /// Which ecommerce orders convert too: none, counted ones
        /// (`visitConvertedGoalId!=` on an ecommerce site: Matomo's
        /// conversions table), or any order request (`visitConverted` on
        /// an ecommerce site: Matomo's tracker marks a visit converted on
        /// an order request even when it refuses the order).
        orders: OrdersConvert,
        /// Whether an abandoned cart does too (`visitConvertedGoalId!=`
        /// on an ecommerce site: Matomo's conversions table holds carts).
        carts: bool,
        negate: bool,
        /// The column groups those goals read.
        cols: Columns,
    },
    /// An ecommerce value of a visit's recorded conversions (its status,
    /// orders' revenues, products), tested: visits where one passes,
    /// complemented if `negate`.
    Ecommerce {
        field: Field,
        test: TextTest,
        negate: bool,
    },
    /// A value derived per visit (`visit_key.rs`), tested as text:
    /// visits whose value passes, complemented if `negate`; `None` as the
    /// test asks for visits without a value.
    Derived {
        field: Field,
        test: TextTest,
        negate: bool,
    },
}

/// A text test on a derived value.
#[derive(Debug, Clone)]
enum TextTest {
    /// Has any value.
    Present,
    /// Compares exactly.
    Op(Op, String),
    /// Compares without case (the wanted text lower case), as Matomo's
    /// SQL does under its tables' collation.
    Fold(Op, String),
}

/// Text in lower case, for comparisons without case (borrowed when it
/// has no upper case).
fn fold(s: &str) -> Cow<'_, str> {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn text_passes(op: Op, s: &str, want: &str) -> bool {
    match op {
        Op::Eq | Op::Ne => s == want,
        Op::Contains | Op::NotContains => s.contains(want),
        Op::StartsWith => s.starts_with(want),
        Op::EndsWith => s.ends_with(want),
        _ => false,
    }
}

impl TextTest {
    /// The test of `op` and `value`: without case unless `exact`.
    fn new(op: Op, value: &str, exact: bool) -> TextTest {
        if exact {
            TextTest::Op(op, value.to_owned())
        } else {
            TextTest::Fold(op, fold(value).into_owned())
        }
    }

    fn passes(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (_, None) => false,
            (TextTest::Present, Some(_)) => true,
            (TextTest::Op(op, want), Some(s)) => text_passes(*op, s, want),
            (TextTest::Fold(op, want), Some(s)) => text_passes(*op, &fold(s), want),
        }
    }
}

/// Whether a condition compares exactly. Matomo's `=@`, `!@`, `=^` and
/// `=$` are SQL `LIKE` under its tables' collation, so they compare
/// without case here too; so does `==` (and `!=`) on the codes, which
/// hitmap keeps in lower case as Matomo does (`countryCode==GB`,
/// `languageCode`, `continentCode`). Other `==` compare exactly, so that
/// each report row's segment selects exactly that row's visits (values
/// that differ in case are rows of their own; Matomo's collation would
/// merge them). The visitor key is compared exactly whatever the
/// operator: it is opaque.
fn exact(field: &Field, op: Op) -> bool {
    use Field as F;
    let code = matches!(field, F::CountryCode | F::LanguageCode | F::ContinentCode);
    *field == F::VisitorId || (matches!(op, Op::Eq | Op::Ne) && !code)
}

/// A segment ready to evaluate on the site's day archives.
#[derive(Debug, Clone)]
pub(crate) struct CompiledSegment {
    clauses: Vec<Vec<Pred>>,
    /// Referrer descriptions shared by every day the segment is asked of.
    referrers: Arc<ReferrerCache>,
}

impl CompiledSegment {
    /// The column groups of a day archive the segment reads (besides the
    /// visitor and action-offset columns every archive holds).
    pub(crate) fn columns(&self) -> Columns {
        // The action indexes are built together, from every action column.
        let actions = Columns::KINDS.with(Columns::TITLES).with(Columns::EXTRAS);
        // Entry and exit pages are derived from the page views.
        let ends = Columns::KINDS.with(Columns::URLS);
        self.clauses
            .iter()
            .flatten()
            .map(|pred| match pred {
                Pred::Text { target, .. } => match target {
                    Target::Field(f) => Columns::field(*f as usize),
                    Target::ReferrerType => Columns::REFERRER_TYPE,
                    Target::Dimension(_) => Columns::DIMS,
                    Target::PageUrl
                    | Target::DownloadUrl
                    | Target::OutlinkUrl
                    | Target::PageTitle
                    | Target::Keyword
                    | Target::EventCategory
                    | Target::EventAction => actions,
                    Target::EntryUrl | Target::ExitUrl => ends,
                    Target::EventName | Target::SearchCategory => {
                        Columns::KINDS.with(Columns::EXTRAS)
                    }
                    Target::Visitor => Columns::NONE,
                },
                Pred::Numeric { field, .. } => match field {
                    Field::Actions => Columns::NONE,
                    Field::VisitCount => Columns::BEFORE,
                    Field::VisitDuration | Field::Clock(_) | Field::VisitId => Columns::TIMES,
                    Field::Events | Field::Searches => Columns::KINDS,
                    _ => Columns::ALL,
                },
                Pred::VisitorIsNew(_) => Columns::BEFORE,
                Pred::Derived { .. } => Columns::ALL,
                Pred::Converted { cols, .. } => *cols,
                Pred::Ecommerce { .. } => Columns::CONVERSIONS,
            })
            .fold(Columns::NONE, Columns::with)
    }

    pub(crate) fn compile(segment: &Segment, site: &SiteState) -> Result<CompiledSegment> {
        let clauses = segment
            .clauses()
            .iter()
            .map(|clause| clause.iter().map(|c| compile_condition(c, site)).collect())
            .collect::<Result<_>>()?;
        Ok(CompiledSegment {
            clauses,
            referrers: Arc::default(),
        })
    }

    /// The visits of one day's piece that the segment selects.
    pub(crate) fn eval(&self, a: &DayArchive, date: NaiveDate, site: &SiteState) -> RoaringBitmap {
        let keys = site.visit_keys().with_cache(&self.referrers);
        let at = Day {
            a,
            date,
            keys: &keys,
        };
        // Each clause borrows an index bitmap where it can; the AND starts
        // from the smallest and intersects in place, so no index bitmap is
        // copied whole.
        let mut parts: Vec<Cow<'_, RoaringBitmap>> = Vec::with_capacity(self.clauses.len());
        for clause in &self.clauses {
            let part = match clause.as_slice() {
                [one] => eval_pred(one, &at),
                many => {
                    let mut any = RoaringBitmap::new();
                    for pred in many {
                        any |= eval_pred(pred, &at).as_ref();
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

/// Which ecommerce orders convert a visit for a condition
/// ([`Pred::Converted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrdersConvert {
    /// No order does.
    No,
    /// An order that counts does (Matomo's conversions table).
    Counted,
    /// Any order request does, counted or refused (Matomo's
    /// `visit_goal_converted`).
    Requested,
}

/// Visits that converted one of `goals` (complemented if `negate`).
fn converted<'g>(
    goals: impl Iterator<Item = &'g Goal>,
    orders: OrdersConvert,
    carts: bool,
    negate: bool,
) -> Pred {
    let goals: Vec<(Goal, Option<GoalMatcher>)> =
        goals.map(|g| (g.clone(), matcher_of(g))).collect();
    let cols = columns_for(goals.iter().map(|(g, _)| g));
    Pred::Converted {
        goals: goals.into(),
        orders,
        carts,
        negate,
        cols,
    }
}

fn compile_condition(c: &Condition, site: &SiteState) -> Result<Pred> {
    let d = &site.dicts;
    // Matomo stores `xx` for a visit without a language or country and
    // `unknown` for one without a resolution (its report rows' segments
    // say so): those values name the visits without one.
    let placeholder = matches!(c.op, Op::Eq | Op::Ne)
        && match c.field {
            Field::LanguageCode | Field::CountryCode => c.value.eq_ignore_ascii_case("xx"),
            Field::Resolution => c.value.eq_ignore_ascii_case("unknown"),
            _ => false,
        };
    let missing;
    let c = if placeholder {
        missing = Condition {
            value: String::new(),
            ..c.clone()
        };
        &missing
    } else {
        c
    };
    if let Some(pred) = derived(c) {
        return Ok(pred);
    }
    if let Some(pred) = ecommerce(c) {
        return Ok(pred);
    }
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
    if c.field == Field::VisitConverted {
        // Matomo's `visit_goal_converted`: any order request marks its
        // visit, on any site (`goal_sums::visit_cells`).
        return Ok(converted(
            site.config.goals.iter(),
            OrdersConvert::Requested,
            false,
            (c.value == "1") == (c.op == Op::Ne),
        ));
    }
    if c.field == Field::VisitConvertedGoalId {
        let id: u32 = c.value.parse().expect("checked by the parser");
        let goals = &site.config.goals;
        // A goal the site does not define converts no visit: `==` selects
        // none and `!=` the visits that converted any goal, as Matomo's
        // SQL on its conversions answers.
        // `!=`: visits with another conversion, as Matomo's SQL on its
        // conversions table has it: another goal's, an order or an
        // abandoned cart.
        let other = c.op == Op::Ne;
        let ecommerce = other && site.config.is_ecommerce();
        let orders = if ecommerce {
            OrdersConvert::Counted
        } else {
            OrdersConvert::No
        };
        return Ok(converted(
            goals.iter().filter(|g| (g.id == id) != other),
            orders,
            ecommerce,
            false,
        ));
    }
    if let Some(pred) = software_code(c, site) {
        return Ok(pred);
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
        Field::Dimension(name) => match d
            .custom_dim(name)
            .or_else(|| numbered_dimension(name, site))
        {
            Some(id) => (Target::Dimension(id), Some(&d.dim_values)),
            None => return Err(unknown_field(c, site)),
        },
        Field::EventName => (Target::EventName, Some(&d.events)),
        Field::SiteSearchCategory => (Target::SearchCategory, Some(&d.dim_values)),
        _ => unreachable!("numeric and derived fields are handled above"),
    };
    let empty = c.value.is_empty();
    let (matcher, negate) = match c.op {
        Op::Eq if empty => (Matcher::Any, true),
        Op::Ne if empty => (Matcher::Any, false),
        op => {
            let v = c.value.as_str();
            let exact = exact(&c.field, op);
            let test = TextTest::new(op, v, exact);
            let url = matches!(
                c.field,
                Field::PageUrl
                    | Field::EntryPageUrl
                    | Field::ExitPageUrl
                    | Field::DownloadUrl
                    | Field::OutlinkUrl
            );
            let ids = match dict {
                // Matomo's: the URL's action name, whatever its scheme,
                // `www.` and case.
                Some(dict) if url && matches!(op, Op::Eq | Op::Ne) => {
                    // A clicked link's URL keeps its fragment.
                    let kind = match c.field {
                        Field::DownloadUrl => crate::HitType::Download,
                        Field::OutlinkUrl => crate::HitType::Outlink,
                        _ => crate::HitType::Pageview,
                    };
                    let key = crate::url::url_match_key(v, kind);
                    dict.iter()
                        .filter(|(_, s)| crate::url::url_match_key(s, kind) == key)
                        .map(|(i, _)| i)
                        .collect()
                }
                Some(dict) if exact && matches!(op, Op::Eq | Op::Ne) => {
                    dict.get(v).into_iter().collect()
                }
                Some(dict) => dict
                    .iter()
                    .filter(|(_, s)| test.passes(Some(s)))
                    .map(|(i, _)| i)
                    .collect(),
                None => ReferrerType::ALL
                    .iter()
                    .filter(|t| test.passes(Some(t.name())))
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

/// `browserCode` and `operatingSystemCode` (DeviceDetector's codes,
/// `FF`, `WIN`; compared without case, as Matomo's SQL does): the
/// browser or operating system names whose code passes.
fn software_code(c: &Condition, site: &SiteState) -> Option<Pred> {
    let (target, dict, code_of): (_, _, fn(&str) -> Option<&'static str>) = match c.field {
        Field::BrowserCode => (
            Target::Field(VField::Browser),
            &site.dicts.values[1],
            crate::device_codes::browser_code,
        ),
        Field::OperatingSystemCode => (
            Target::Field(VField::Os),
            &site.dicts.values[2],
            crate::device_codes::os_code,
        ),
        _ => return None,
    };
    let (matcher, negate) = match c.op {
        Op::Eq if c.value.is_empty() => (Matcher::Any, true),
        Op::Ne if c.value.is_empty() => (Matcher::Any, false),
        op => {
            let test = TextTest::Op(op, c.value.to_ascii_uppercase());
            let ids = dict
                .iter()
                .filter(|(_, name)| code_of(name).is_some_and(|code| test.passes(Some(code))))
                .map(|(i, _)| i)
                .collect();
            (Matcher::Ids(ids), op.is_negative())
        }
    };
    Some(Pred::Text {
        target,
        matcher,
        negate,
    })
}

/// `dimensionN`: the site's N-th custom dimension (Matomo's numbering,
/// as `CustomDimensions.getConfiguredCustomDimensions` lists them).
fn numbered_dimension(name: &str, site: &SiteState) -> Option<u32> {
    let n: u32 = name.strip_prefix("dimension")?.parse().ok()?;
    let (_, wanted) = site
        .numbered_dimensions()
        .into_iter()
        .find(|(id, _)| *id == n)?;
    site.dicts.custom_dim(wanted)
}

/// Conditions on values derived per visit: tested by a scan of the day.
fn derived(c: &Condition) -> Option<Pred> {
    use Field as F;
    if !matches!(
        c.field,
        F::ReferrerName
            | F::ReferrerKeyword
            | F::CampaignName
            | F::CampaignSource
            | F::CampaignMedium
            | F::CampaignKeyword
            | F::CampaignContent
            | F::CampaignId
            | F::BrowserVersion
            | F::OperatingSystemVersion
            | F::Resolution
            | F::ContinentCode
            | F::RegionCode
            | F::City
            | F::DeviceBrand
            | F::DeviceModel
            | F::BrowserEngine
            | F::EntryPageTitle
            | F::ExitPageTitle
    ) {
        return None;
    }
    let empty = c.value.is_empty();
    let (test, negate) = match c.op {
        Op::Eq if empty => (TextTest::Present, true),
        Op::Ne if empty => (TextTest::Present, false),
        op => (
            TextTest::new(op, &c.value, exact(&c.field, op)),
            op.is_negative(),
        ),
    };
    Some(Pred::Derived {
        field: c.field.clone(),
        test,
        negate,
    })
}

/// The ecommerce and content fields: from a visit's recorded
/// conversions and contents.
fn ecommerce(c: &Condition) -> Option<Pred> {
    use Field as F;
    if !matches!(
        c.field,
        F::VisitEcommerceStatus
            | F::RevenueOrder
            | F::RevenueAbandonedCart
            | F::ProductPrice
            | F::OrderId
            | F::ProductSku
            | F::ProductName
            | F::ProductCategory
            | F::ContentName
            | F::ContentPiece
            | F::ContentTarget
            | F::ContentInteraction
    ) {
        return None;
    }
    let empty = c.value.is_empty();
    let (test, negate) = match c.op {
        Op::Eq if empty => (TextTest::Present, true),
        Op::Ne if empty => (TextTest::Present, false),
        // A negative condition selects the visits where no value passes
        // its positive form (visits without a value too).
        Op::Ne => (TextTest::Op(Op::Eq, c.value.clone()), true),
        Op::NotContains => (TextTest::Op(Op::Contains, c.value.clone()), true),
        op => (TextTest::Op(op, c.value.clone()), false),
    };
    Some(Pred::Ecommerce {
        field: c.field.clone(),
        test,
        negate,
    })
}

/// A numeric comparison (the parser allows only these operators on
/// numeric fields).
fn num_passes(op: Op, x: f64, want: f64) -> bool {
    match op {
        Op::Eq => x == want,
        Op::Ne => x != want,
        Op::Lt => x < want,
        Op::Le => x <= want,
        Op::Gt => x > want,
        Op::Ge => x >= want,
        _ => false,
    }
}

/// Whether one of visit `v`'s ecommerce values of `field` passes `test`.
fn ecommerce_passes(
    field: &Field,
    test: &TextTest,
    keys: &VisitKeys<'_>,
    a: &DayArchive,
    v: u32,
) -> bool {
    if matches!(
        field,
        Field::ContentName | Field::ContentPiece | Field::ContentTarget | Field::ContentInteraction
    ) {
        // Content hits are kept with the product views.
        return a
            .views_of(v)
            .iter()
            .filter_map(|r| r.data.content.as_ref())
            .any(|c| test.passes(c.segment_part(field.name())));
    }
    let recorded = a.conversions_of(v);
    let orders = || keys.orders(recorded);
    let cart = crate::recorded::abandoned_cart(recorded);
    match field {
        Field::VisitEcommerceStatus => {
            // Any order request makes the visit `ordered`, also one the
            // tracker refused (its id was used): Matomo's `visit_goal_buyer`.
            let status = match (crate::recorded::ordered(recorded), cart.is_some()) {
                (false, false) => "none",
                (true, false) => "ordered",
                (false, true) => "abandonedCart",
                (true, true) => "orderedThenAbandonedCart",
            };
            test.passes(Some(status))
        }
        Field::OrderId => match test {
            // No order id: visits without an order.
            TextTest::Present => orders().next().is_some(),
            _ => orders().any(|r| test.passes(r.data.order_id.as_deref())),
        },
        Field::RevenueOrder | Field::RevenueAbandonedCart => {
            let passes = |r: &crate::recorded::Recorded| {
                let x = r.data.revenue.unwrap_or(0.0);
                match test {
                    TextTest::Present => true,
                    TextTest::Op(op, want) | TextTest::Fold(op, want) => {
                        num_passes(*op, x, want.parse().unwrap_or(f64::NAN))
                    }
                }
            };
            if *field == Field::RevenueOrder {
                orders().any(passes)
            } else {
                cart.is_some_and(passes)
            }
        }
        _ => orders()
            .chain(cart)
            .flat_map(|r| &r.data.items)
            .any(|item| match field {
                Field::ProductPrice => match test {
                    TextTest::Present => true,
                    TextTest::Op(op, want) | TextTest::Fold(op, want) => num_passes(
                        *op,
                        item.price.unwrap_or(0.0),
                        want.parse().unwrap_or(f64::NAN),
                    ),
                },
                Field::ProductSku => test.passes(Some(&item.sku)),
                Field::ProductName => test.passes(item.name.as_deref()),
                _ => item.categories.iter().any(|c| test.passes(Some(c))),
            }),
    }
}

/// One day's piece as a predicate sees it.
struct Day<'a, 's> {
    a: &'a DayArchive,
    date: NaiveDate,
    keys: &'a VisitKeys<'s>,
}

/// A derived text value of a visit.
fn derived_text(field: &Field, day: &Day<'_, '_>, v: u32) -> Option<String> {
    let (a, k) = (day.a, day.keys);
    let referrer = || k.referrer(a, v);
    let campaign = |part: fn(&crate::referrer::CampaignParts) -> Option<String>| {
        referrer().campaign.as_ref().and_then(part)
    };
    match field {
        Field::ReferrerName => referrer().name,
        Field::ReferrerKeyword => referrer().keyword,
        Field::CampaignName => {
            let r = referrer();
            r.campaign.is_some().then_some(r.name).flatten()
        }
        Field::CampaignKeyword => {
            let r = referrer();
            r.campaign.is_some().then_some(r.keyword).flatten()
        }
        Field::CampaignSource => campaign(|c| c.source.clone()),
        Field::CampaignMedium => campaign(|c| c.medium.clone()),
        Field::CampaignContent => campaign(|c| c.content.clone()),
        Field::CampaignId => campaign(|c| c.id.clone()),
        Field::BrowserVersion => k.browser_version_only(a, v).map(str::to_owned),
        Field::OperatingSystemVersion => k.os_version_only(a, v).map(str::to_owned),
        Field::Resolution => k.resolution(a, v).map(str::to_owned),
        Field::ContinentCode => k.continent(a, v).map(str::to_owned),
        Field::RegionCode => k.place(a, v, attr::REGION).map(str::to_owned),
        Field::City => k.place(a, v, attr::CITY).map(str::to_owned),
        // Matomo's brand row of no brand is `Unknown`, and its segment
        // names it.
        Field::DeviceBrand => Some(k.brand(a, v).unwrap_or("Unknown").to_owned()),
        Field::DeviceModel => k.model(a, v),
        Field::BrowserEngine => k.engine(a, v).map(str::to_owned),
        Field::EntryPageTitle | Field::ExitPageTitle => {
            let mut pages = a
                .actions_of(v)
                .filter(|&i| a.a_kind[i] == HitType::Pageview);
            let page = if *field == Field::EntryPageTitle {
                pages.next()
            } else {
                pages.next_back()
            }?;
            match a.a_title[page] {
                NONE => None,
                t => Some(k.dicts.titles.value(t).to_owned()),
            }
        }
        _ => None,
    }
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

fn eval_pred<'a>(pred: &Pred, day: &Day<'a, '_>) -> Cow<'a, RoaringBitmap> {
    let a = day.a;
    match pred {
        Pred::Text {
            target,
            matcher,
            negate,
        } => {
            let from_index = |index: &'a ValueIndex| match matcher {
                Matcher::Ids(ids) if ids.len() == 1 => index
                    .get(ids.min().expect("one id"))
                    .unwrap_or_else(|| Cow::Owned(RoaringBitmap::new())),
                m => Cow::Owned(index.union_where(|id| m.contains(id))),
            };
            let hits = match target {
                Target::Field(f) => from_index(a.field_index(*f as usize)),
                Target::ReferrerType => from_index(a.referrer_type_index()),
                Target::Dimension(name) => a.dims.iter().find(|c| c.name == *name).map_or_else(
                    || Cow::Owned(RoaringBitmap::new()),
                    |c| from_index(c.index()),
                ),
                Target::PageUrl => from_index(&a.action_indexes().by_kind_url[0]),
                Target::DownloadUrl => from_index(&a.action_indexes().by_kind_url[1]),
                Target::OutlinkUrl => from_index(&a.action_indexes().by_kind_url[2]),
                Target::PageTitle => from_index(&a.action_indexes().titles),
                Target::Keyword => from_index(&a.action_indexes().keywords),
                Target::EventCategory => from_index(&a.action_indexes().event_categories),
                Target::EventAction => from_index(&a.action_indexes().event_actions),
                Target::Visitor => Cow::Owned(scan(a, |v| matcher.contains(a.visitor[v as usize]))),
                Target::EntryUrl => {
                    Cow::Owned(scan(a, |v| matcher.contains(a.entry_url[v as usize])))
                }
                Target::ExitUrl => {
                    Cow::Owned(scan(a, |v| matcher.contains(a.exit_url[v as usize])))
                }
                Target::EventName => Cow::Owned(scan(a, |v| {
                    a.actions_of(v).any(|i| {
                        a.a_kind[i] == HitType::Event && matcher.contains(a.extra(i).ev_name)
                    })
                })),
                Target::SearchCategory => Cow::Owned(scan(a, |v| {
                    a.actions_of(v).any(|i| {
                        a.a_kind[i] == HitType::Search && matcher.contains(a.extra(i).search_cat)
                    })
                })),
            };
            if *negate {
                Cow::Owned(all_visits(a) - hits.as_ref())
            } else {
                hits
            }
        }
        Pred::Numeric { field, op, value } => Cow::Owned(scan(a, |v| {
            let passes = |x: f64| num_passes(*op, x, *value);
            let k = day.keys;
            let x = match field {
                Field::Actions => a.actions_of(v).len() as f64,
                Field::VisitDuration => f64::from(a.length[v as usize]),
                Field::VisitServerHour => f64::from(k.server_hour(a, v)),
                Field::VisitId => k.visit_id(a, v) as f64,
                Field::Clock(c) => {
                    let range = a.actions_of(v);
                    let ts = match c {
                        Clock::ActionHour | Clock::ActionMinute => {
                            return range
                                .into_iter()
                                .any(|i| c.of(a.a_ts[i]).is_some_and(|x| passes(f64::from(x))));
                        }
                        Clock::StartMinute => a.visit_start(v),
                        _ => a.visit_last(v),
                    };
                    match c.of(ts) {
                        Some(x) => f64::from(x),
                        None => return false,
                    }
                }
                Field::Events | Field::Searches => {
                    let kind = if *field == Field::Events {
                        HitType::Event
                    } else {
                        HitType::Search
                    };
                    a.actions_of(v).filter(|&i| a.a_kind[i] == kind).count() as f64
                }
                Field::Latitude | Field::Longitude => {
                    let part = if *field == Field::Latitude {
                        attr::LATITUDE
                    } else {
                        attr::LONGITUDE
                    };
                    match k.place(a, v, part).and_then(|x| x.parse::<f64>().ok()) {
                        Some(x) => x,
                        None => return false,
                    }
                }
                Field::VisitLocalHour => match k.local_hour(a, v) {
                    Some(h) => f64::from(h),
                    None => return false,
                },
                Field::DaysSinceLastVisit => match k.days_since_last(a, v, day.date) {
                    Some(d) => d as f64,
                    None => return false,
                },
                Field::EventValue => {
                    return a.actions_of(v).any(|i| {
                        a.a_kind[i] == HitType::Event
                            && !a.extra(i).ev_value.is_nan()
                            && passes(a.extra(i).ev_value)
                    });
                }
                Field::SiteSearchCount => {
                    return a.actions_of(v).any(|i| {
                        a.a_kind[i] == HitType::Search
                            && a.extra(i)
                                .search_count
                                .is_some_and(|n| passes(f64::from(n)))
                    });
                }
                _ => f64::from(a.visit_rank(v)),
            };
            passes(x)
        })),
        Pred::VisitorIsNew(want) => Cow::Owned(scan(a, |v| a.is_new_visit(v) == *want)),
        Pred::Converted {
            goals,
            orders,
            carts,
            negate,
            ..
        } => {
            let keys = day.keys;
            let mut states: Vec<GoalState<'_>> = goals
                .iter()
                .map(|(g, m)| GoalState::with_matcher(g, m.clone()))
                .collect();
            Cow::Owned(scan(a, |v| {
                let converted = states
                    .iter_mut()
                    .any(|s| s.convert(a, v, a.actions_of(v), keys.dicts).is_some())
                    || match orders {
                        OrdersConvert::No => false,
                        OrdersConvert::Counted => keys.orders(a.conversions_of(v)).next().is_some(),
                        OrdersConvert::Requested => crate::recorded::ordered(a.conversions_of(v)),
                    }
                    || (*carts && crate::recorded::abandoned_cart(a.conversions_of(v)).is_some());
                converted != *negate
            }))
        }
        Pred::Derived {
            field,
            test,
            negate,
        } => Cow::Owned(scan(a, |v| {
            test.passes(derived_text(field, day, v).as_deref()) != *negate
        })),
        Pred::Ecommerce {
            field,
            test,
            negate,
        } => Cow::Owned(scan(a, |v| {
            ecommerce_passes(field, test, day.keys, a, v) != *negate
        })),
    }
}
