//! Reports by action value (pages, titles, downloads, outlinks, keywords,
//! the folder tree) and by visit dimension. Every row carries exact
//! distinct visits and visitors; nothing is ever folded into "Others".

use std::cmp::Ordering;

use foldhash::HashMap;
use serde::Serialize;

use crate::archive::{Columns, DayTotals};
use crate::dict::NONE;
use crate::hit::HitType;
use crate::query::{CutVisit, DistinctStamp, Selection, distinct_per_key};
use crate::raw::{SiteDicts, VField};
pub(crate) use crate::referrer::referrer_label;
pub use crate::referrer::{KEYWORD_NOT_DEFINED, ReferrerPart};
pub use crate::visit_key::UNTITLED;

use crate::query::Resolved;
use crate::referrer::ReferrerType;
use crate::rollup::reports::{
    ActionCounts, ActionTable, CountedKeys, FirstDayUrls, GroupTable, PerfSums, Reports,
    ReportsBuilder, UNTITLED_KEY, VisitTable, Which, count_visit,
};
use crate::summary::{VisitsSummary, ratio};
use crate::visit_key::{Grouping, VisitGroup};
use chrono::NaiveDate;
use roaring::RoaringBitmap;

/// Which action report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionReportKind {
    /// Page URLs (path and query), flat.
    PageUrls,
    /// Page URLs as a folder tree: folder rows hold their pages and folders
    /// in `subtable`; as Matomo's, a folder's counts are the sums of its
    /// rows' (a visit to two of its pages counts twice), and its unique
    /// visitors are exact: the distinct visitors of its pages.
    PageUrlTree,
    /// Page titles.
    PageTitles,
    /// Download URLs.
    Downloads,
    /// Outlink URLs.
    Outlinks,
    /// Site-search keywords.
    SiteSearchKeywords,
    /// Site-search categories.
    SiteSearchCategories,
}

/// A row of an action report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ActionRow {
    /// Page path and query, title, URL or keyword; a folder's name in a tree.
    pub label: String,
    /// Actions.
    pub nb_hits: u64,
    /// Distinct visits with such an action.
    pub nb_visits: u64,
    /// Distinct visitors with such an action.
    pub nb_uniq_visitors: u64,
    /// Visits entering here (page reports).
    pub entry_nb_visits: u64,
    /// Distinct visitors entering here (page reports).
    pub entry_nb_uniq_visitors: u64,
    /// Distinct visitors leaving from here (page reports).
    pub exit_nb_uniq_visitors: u64,
    /// Visits leaving from here (page reports).
    pub exit_nb_visits: u64,
    /// One-action visits entering here (page reports).
    pub entry_bounce_count: u64,
    /// The actions of the visits entering here (page reports).
    pub entry_nb_actions: u64,
    /// The length of the visits entering here, in seconds (page reports).
    pub entry_sum_visit_length: u64,
    /// Seconds spent (page reports).
    pub sum_time_spent: u64,
    /// Page views right after a site search (Matomo's
    /// `nb_hits_following_search`): counted by the pages-following-search
    /// reports only ([`Selection::pages_following_search`]), 0 in others.
    #[serde(skip_serializing_if = "is_zero")]
    pub nb_hits_following_search: u64,
    /// A page row's URL (Matomo's: of the URLs with its label, the one of
    /// the most page views on the first day it has any); `None` for
    /// other rows and folders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Its actions' load timings and bandwidth (page views' timings; any
    /// action's bandwidth).
    #[serde(skip_serializing_if = "PerfSums::is_empty")]
    pub perf: PerfSums,
    /// The most results any of its site searches found (site search
    /// keyword and category rows; `None` when no search said): a keyword
    /// whose searches all found none is a keyword without results.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub most_results: Option<u32>,
    /// Children of a folder row (tree reports only).
    pub subtable: Vec<ActionRow>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The count columns of an action row, in the Reporting API's order:
/// those of every action report, then those of page reports only.
pub(crate) type CountColumn = (&'static str, fn(&ActionRow) -> u64);
const ACTION_COUNTS: [CountColumn; 11] = [
    ("nb_visits", |r| r.nb_visits),
    ("nb_uniq_visitors", |r| r.nb_uniq_visitors),
    ("nb_hits", |r| r.nb_hits),
    ("sum_time_spent", |r| r.sum_time_spent),
    ("entry_nb_uniq_visitors", |r| r.entry_nb_uniq_visitors),
    ("entry_nb_visits", |r| r.entry_nb_visits),
    ("entry_nb_actions", |r| r.entry_nb_actions),
    ("entry_sum_visit_length", |r| r.entry_sum_visit_length),
    ("entry_bounce_count", |r| r.entry_bounce_count),
    ("exit_nb_uniq_visitors", |r| r.exit_nb_uniq_visitors),
    ("exit_nb_visits", |r| r.exit_nb_visits),
];

impl ActionRow {
    /// The count columns a row of a page report (`pages`) or of another
    /// action report has, after its label.
    pub(crate) fn count_columns(pages: bool) -> &'static [CountColumn] {
        &ACTION_COUNTS[..if pages { ACTION_COUNTS.len() } else { 3 }]
    }

    /// One-action visits entering here / entries.
    pub fn bounce_rate(&self) -> f64 {
        ratio(self.entry_bounce_count, self.entry_nb_visits)
    }
    /// Exits / visits.
    pub fn exit_rate(&self) -> f64 {
        ratio(self.exit_nb_visits, self.nb_visits)
    }
    /// Seconds spent / hits.
    pub fn avg_time_on_page(&self) -> f64 {
        ratio(self.sum_time_spent, self.nb_hits)
    }
    /// Whether this is a folder row of a tree.
    pub fn is_folder(&self) -> bool {
        !self.subtable.is_empty()
    }
}

impl ActionReportKind {
    /// Whether its rows have page columns (time, entries, exits).
    pub(crate) fn pages(self) -> bool {
        matches!(
            self,
            ActionReportKind::PageUrls
                | ActionReportKind::PageUrlTree
                | ActionReportKind::PageTitles
        )
    }

    /// The flat report it is ([`ActionTable`]); `None` for the page tree.
    pub(crate) fn table(self) -> Option<ActionTable> {
        Some(match self {
            ActionReportKind::PageUrls => ActionTable::Pages,
            ActionReportKind::PageUrlTree => return None,
            ActionReportKind::PageTitles => ActionTable::Titles,
            ActionReportKind::Downloads => ActionTable::Downloads,
            ActionReportKind::Outlinks => ActionTable::Outlinks,
            ActionReportKind::SiteSearchKeywords => ActionTable::Keywords,
            ActionReportKind::SiteSearchCategories => ActionTable::Categories,
        })
    }
}

/// The URL a page row shows (page URL rows only): its label's first, or
/// `named` when Matomo's rule names another ([`FirstDayUrls`],
/// `ActionCounts::url`).
fn page_url(d: &SiteDicts, table: ActionTable, k: u32, named: Option<u32>) -> Option<String> {
    (table == ActionTable::Pages).then(|| {
        let url = named
            .filter(|&u| (u as usize) < d.urls.len())
            .unwrap_or_else(|| d.pages().url_of(k));
        crate::url::shown_url(d.urls.value(url)).into_owned()
    })
}

/// The label of key `k` of a flat action report (`untitled`: the key of
/// page views without a title).
fn action_label(d: &SiteDicts, table: ActionTable, k: u32, untitled: u32) -> String {
    match table {
        ActionTable::Pages => d.pages().labels.value(k).to_owned(),
        ActionTable::Titles if k == untitled => UNTITLED.to_owned(),
        ActionTable::Titles => d.titles.value(k).to_owned(),
        ActionTable::Downloads | ActionTable::Outlinks => d.urls.value(k).to_owned(),
        ActionTable::Keywords => d.keywords.value(k).to_owned(),
        ActionTable::Categories => d.dim_values.value(k).to_owned(),
    }
}

/// A visit dimension to report by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// Device type.
    DeviceType,
    /// Browser name.
    Browser,
    /// Operating system.
    OperatingSystem,
    /// Country code.
    Country,
    /// Language code.
    Language,
    /// Referrer type.
    ReferrerType,
    /// A custom dimension by name.
    Custom(String),
    /// A part of the referrer, over the visits of its type.
    Referrer(ReferrerPart),
    /// The user id (rows of visits without one have no label).
    User,
}

impl Dimension {
    /// The segment field of this dimension, used in each row's `segment`.
    pub fn segment_name(&self) -> &str {
        match self {
            Dimension::DeviceType => "deviceType",
            Dimension::Browser => "browserName",
            Dimension::OperatingSystem => "operatingSystemName",
            Dimension::Country => "countryCode",
            Dimension::Language => "languageCode",
            Dimension::ReferrerType => "referrerType",
            Dimension::Custom(name) => name,
            Dimension::Referrer(ReferrerPart::Keyword) => "referrerKeyword",
            Dimension::Referrer(_) => "referrerName",
            Dimension::User => "userId",
        }
    }
}

/// A row of a dimension report. `label` is `None` for visits without a value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DimensionRow {
    /// The value; `None` for visits that have none.
    pub label: Option<String>,
    /// The metrics of the visits with this value.
    #[serde(flatten)]
    pub metrics: VisitsSummary,
}

/// A row of the sections report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SectionRow {
    /// The section's name.
    pub label: String,
    /// The summary of the visits cut to the section.
    #[serde(flatten)]
    pub metrics: VisitsSummary,
}

/// A row that can be sorted by a named metric.
pub trait ReportRow {
    /// The row's label for ties and label sorts.
    fn sort_label(&self) -> &str;
    /// A metric by its Matomo name, if the row has it.
    fn metric(&self, name: &str) -> Option<f64>;
}

impl ReportRow for ActionRow {
    fn sort_label(&self) -> &str {
        &self.label
    }
    fn metric(&self, name: &str) -> Option<f64> {
        Some(match name {
            "nb_hits" => self.nb_hits as f64,
            "nb_visits" => self.nb_visits as f64,
            "nb_uniq_visitors" => self.nb_uniq_visitors as f64,
            "entry_nb_visits" => self.entry_nb_visits as f64,
            "exit_nb_visits" => self.exit_nb_visits as f64,
            "entry_bounce_count" => self.entry_bounce_count as f64,
            "sum_time_spent" => self.sum_time_spent as f64,
            "bounce_rate" => self.bounce_rate(),
            "exit_rate" => self.exit_rate(),
            "avg_time_on_page" => self.avg_time_on_page(),
            _ => return None,
        })
    }
}

fn summary_metric(s: &VisitsSummary, name: &str) -> Option<f64> {
    Some(match name {
        "nb_visits" => s.nb_visits as f64,
        "nb_uniq_visitors" => s.nb_uniq_visitors as f64,
        "nb_users" => s.nb_users as f64,
        "nb_actions" => s.nb_actions as f64,
        "max_actions" => s.max_actions as f64,
        "bounce_count" => s.bounce_count as f64,
        "sum_visit_length" => s.sum_visit_length as f64,
        "bounce_rate" => s.bounce_rate(),
        "nb_actions_per_visit" => s.nb_actions_per_visit(),
        "avg_time_on_site" => s.avg_time_on_site(),
        _ => return None,
    })
}

impl ReportRow for DimensionRow {
    fn sort_label(&self) -> &str {
        self.label.as_deref().unwrap_or("")
    }
    fn metric(&self, name: &str) -> Option<f64> {
        summary_metric(&self.metrics, name)
    }
}

impl ReportRow for SectionRow {
    fn sort_label(&self) -> &str {
        &self.label
    }
    fn metric(&self, name: &str) -> Option<f64> {
        summary_metric(&self.metrics, name)
    }
}

/// Sorts rows by a metric (or `label`), ties by label ascending in
/// Matomo's order (PHP's natural, case-insensitive sort: `item-9` before
/// `item-10`), so that the order never depends on
/// anything but the data.
///
/// Returns an error message naming the columns when `column` is unknown.
pub fn sort_rows<R: ReportRow>(
    rows: &mut [R],
    column: &str,
    descending: bool,
) -> Result<(), String> {
    if column == "label" {
        rows.sort_by(|a, b| {
            let o = crate::table::label_order(a.sort_label(), b.sort_label());
            if descending { o.reverse() } else { o }
        });
        return Ok(());
    }
    if let Some(first) = rows.first()
        && first.metric(column).is_none()
    {
        return Err(format!("unknown sort column '{column}'"));
    }
    // Each row's metric once, then a stable sort of the positions.
    let keys: Vec<f64> = rows
        .iter()
        .map(|r| r.metric(column).unwrap_or(0.0))
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let o = keys[a].partial_cmp(&keys[b]).unwrap_or(Ordering::Equal);
        let o = if descending { o.reverse() } else { o };
        o.then_with(|| crate::table::label_order(rows[a].sort_label(), rows[b].sort_label()))
    });
    permute(rows, order);
    Ok(())
}

/// Puts `rows[order[i]]` at position `i`, in place.
fn permute<R>(rows: &mut [R], mut order: Vec<usize>) {
    for i in 0..order.len() {
        // Follow the cycle through i, swapping each row into place.
        let mut at = i;
        while order[at] != i {
            let next = order[at];
            rows.swap(at, next);
            order[at] = at;
            at = next;
        }
        order[at] = at;
    }
}

/// Accumulates action rows over keys; a key may be a page, a title, or a
/// folder (an action counts toward every key `keys_of` gives it).
/// Visits must come in visitor-major order, for the distinct-visitor stamp.
struct ActionAccumulator {
    acc: Vec<ActionCounts>,
    visitors: DistinctStamp,
    /// Distinct visitors entering and leaving (page reports).
    bounds: [DistinctStamp; 2],
    scratch: CountedKeys,
    pages: bool,
}

impl ActionAccumulator {
    fn new(keys: usize, pages: bool) -> Self {
        ActionAccumulator {
            acc: vec![ActionCounts::default(); keys],
            visitors: DistinctStamp::new(keys),
            bounds: [0, 0].map(|_| DistinctStamp::new(if pages { keys } else { 0 })),
            scratch: CountedKeys::default(),
            pages,
        }
    }

    /// Adds another run's rows: its visitors are not this run's, so the
    /// distinct-visitor counts add up too.
    fn merge(&mut self, other: ActionAccumulator) {
        self.grow(other.acc.len());
        for (a, o) in self.acc.iter_mut().zip(&other.acc) {
            a.add(o);
        }
        for (mine, theirs) in std::iter::once((&mut self.visitors, &other.visitors))
            .chain(self.bounds.iter_mut().zip(&other.bounds))
        {
            for (c, o) in mine.counts.iter_mut().zip(&theirs.counts) {
                *c += o;
            }
        }
    }

    fn grow(&mut self, keys: usize) {
        if self.acc.len() < keys {
            self.acc.resize(keys, ActionCounts::default());
        }
        self.visitors.grow(keys);
        if self.pages {
            self.bounds.iter_mut().for_each(|b| b.grow(keys));
        }
    }

    /// `keys_of(action, out)` pushes the keys of an action into `out`,
    /// none if the action is not of the report's kind.
    fn add(&mut self, cut: &CutVisit, keys_of: impl FnMut(usize, &mut Vec<u32>)) {
        let ActionAccumulator {
            acc,
            visitors,
            bounds,
            scratch,
            pages,
        } = self;
        let actions = (cut.actions.iter(), cut.actions.len(), cut.length);
        count_visit(
            cut.archive,
            cut.visit,
            actions,
            *pages,
            acc,
            scratch,
            keys_of,
        );
        let visitor = cut.visitor();
        for &k in scratch.keys.iter() {
            visitors.see(k, visitor);
        }
        for (stamp, keys) in bounds.iter_mut().zip(&scratch.bounds) {
            for &k in keys {
                stamp.see(k, visitor);
            }
        }
    }

    /// Rows for keys with hits, labelled by `label`.
    fn rows(self, mut label: impl FnMut(u32) -> String) -> Vec<(u32, ActionRow)> {
        let uniques = self.visitors.counts;
        let [entering, leaving] = self.bounds.map(|b| b.counts);
        let bound = |counts: &[u64], k: usize| counts.get(k).copied().unwrap_or(0);
        self.acc
            .iter()
            .enumerate()
            .filter(|(_, a)| a.hits > 0)
            .map(|(k, a)| {
                (
                    k as u32,
                    ActionRow {
                        label: label(k as u32),
                        url: None,
                        nb_hits: a.hits,
                        nb_visits: a.visits,
                        nb_uniq_visitors: uniques[k],
                        entry_nb_uniq_visitors: bound(&entering, k),
                        exit_nb_uniq_visitors: bound(&leaving, k),
                        entry_nb_visits: a.entries,
                        exit_nb_visits: a.exits,
                        entry_bounce_count: a.entry_bounces,
                        entry_nb_actions: a.entry_actions,
                        entry_sum_visit_length: a.entry_length,
                        sum_time_spent: a.time,
                        nb_hits_following_search: 0,
                        perf: a.perf.as_deref().copied().unwrap_or_default(),
                        most_results: a.most_results,
                        subtable: Vec::new(),
                    },
                )
            })
            .collect()
    }
}

/// The folder tree of page labels: node 0 is the root.
#[derive(Default)]
struct Tree {
    /// (parent, name) -> node
    children: HashMap<(u32, String), u32>,
    names: Vec<String>,
    parents: Vec<u32>,
    /// Per page label id: the node chain from the top folder to the leaf.
    chains: HashMap<u32, Vec<u32>>,
    /// Per leaf node: its page label id.
    pages: HashMap<u32, u32>,
    /// A tree of page titles: names are labels as they are (a folder's
    /// ends with [`TITLE_FOLDER`]).
    titles: bool,
}

/// The end of a title folder's node name, so that a folder and a title
/// of the same text are two rows (Matomo prefixes its title leaves).
const TITLE_FOLDER: char = '\u{1}';

impl Tree {
    fn node(&mut self, parent: u32, name: String) -> u32 {
        if let Some(&n) = self.children.get(&(parent, name.clone())) {
            return n;
        }
        let id = self.names.len() as u32;
        self.names.push(name.clone());
        self.parents.push(parent);
        self.children.insert((parent, name), id);
        id
    }

    /// Matomo's layout: `/news/a/b` is folder `news`, folder `a`, page
    /// `/b`; a trailing `/` or the root is the page `/index` (with a
    /// query, `/?q=1`).
    fn chain(&mut self, page_id: u32, label: &str) -> &[u32] {
        if !self.chains.contains_key(&page_id) {
            let (path, query) = match label.split_once('?') {
                Some((p, q)) => (p, format!("?{q}")),
                None => (label, String::new()),
            };
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let (folders, leaf) = parts.split_at(parts.len() - 1);
            let mut chain = Vec::with_capacity(parts.len());
            let mut parent = 0;
            for f in folders {
                parent = self.node(parent, format!("{f}/"));
                chain.push(parent);
            }
            // Matomo's default name only for an empty path without a
            // query: `/?a=1` is the page `/?a=1`, `/news/?a=1` the page
            // `/?a=1` under `news`.
            let leaf = if leaf[0].is_empty() && query.is_empty() {
                "index"
            } else {
                leaf[0]
            };
            let node = self.node(parent, format!("/{leaf}{query}"));
            chain.push(node);
            self.pages.insert(node, page_id);
            self.chains.insert(page_id, chain);
        }
        &self.chains[&page_id]
    }

    /// A page title's chain (Matomo's title categories): a folder per
    /// category but the last, the title itself as the leaf; a title
    /// without categories (or none: `title_id` past the dictionary) is
    /// a leaf at the top.
    fn title_chain(
        &mut self,
        title_id: u32,
        title: &str,
        site: &crate::site::SiteConfig,
    ) -> &[u32] {
        if !self.chains.contains_key(&title_id) {
            let parts = site.title_categories(title);
            let folders = parts.len().saturating_sub(1);
            let mut chain = Vec::with_capacity(folders + 1);
            let mut parent = 0;
            for f in &parts[..folders] {
                parent = self.node(parent, format!("{f}{TITLE_FOLDER}"));
                chain.push(parent);
            }
            let node = self.node(parent, title.to_owned());
            chain.push(node);
            self.pages.insert(node, title_id);
            self.chains.insert(title_id, chain);
        }
        &self.chains[&title_id]
    }

    fn assemble(&self, mut rows: HashMap<u32, ActionRow>) -> Vec<ActionRow> {
        // Children have higher ids than their parents: attach bottom-up.
        let mut ids: Vec<u32> = rows.keys().copied().collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        let mut top = Vec::new();
        for id in ids {
            let mut row = rows.remove(&id).expect("each id once");
            let name = &self.names[id as usize];
            row.label = if self.titles {
                name.trim_end_matches(TITLE_FOLDER).to_owned()
            } else {
                name.trim_end_matches('/').to_string()
            };
            if row.label.is_empty() && !self.titles {
                row.label = "/".into();
            }
            if !row.subtable.is_empty() {
                sum_subtable(&mut row);
            }
            sort_tree(&mut row.subtable);
            match self.parents[id as usize] {
                0 => top.push(row),
                p => rows
                    .get_mut(&p)
                    .expect("parents have hits")
                    .subtable
                    .push(row),
            }
        }
        top
    }
}

/// Matomo's folder and domain rows: their counts are the sums of their
/// rows' (a visit to two of its pages counts twice); their distinct
/// visitors, counted apart, stay.
fn sum_subtable(row: &mut ActionRow) {
    let mut sum = ActionRow::default();
    for c in &row.subtable {
        sum.nb_hits += c.nb_hits;
        sum.nb_visits += c.nb_visits;
        sum.entry_nb_visits += c.entry_nb_visits;
        sum.exit_nb_visits += c.exit_nb_visits;
        sum.entry_bounce_count += c.entry_bounce_count;
        sum.entry_nb_actions += c.entry_nb_actions;
        sum.entry_sum_visit_length += c.entry_sum_visit_length;
        sum.sum_time_spent += c.sum_time_spent;
        sum.nb_hits_following_search += c.nb_hits_following_search;
        sum.perf.add(&c.perf);
    }
    sum.nb_uniq_visitors = row.nb_uniq_visitors;
    sum.entry_nb_uniq_visitors = row.entry_nb_uniq_visitors;
    sum.exit_nb_uniq_visitors = row.exit_nb_uniq_visitors;
    sum.label = std::mem::take(&mut row.label);
    sum.subtable = std::mem::take(&mut row.subtable);
    *row = sum;
}

/// Leaves out the rows (and subtable rows) without a page view after a
/// site search.
fn keep_following(rows: &mut Vec<ActionRow>) {
    rows.retain(|r| r.nb_hits_following_search > 0);
    for r in rows {
        keep_following(&mut r.subtable);
    }
}

/// A domain's URL rows as Matomo's: by visits, ties by the path under the
/// domain (the label the report shows), not by the whole URL.
fn sort_links(rows: &mut [ActionRow]) {
    rows.sort_by(|a, b| {
        b.nb_visits
            .cmp(&a.nb_visits)
            .then_with(|| crate::url::page_label(&a.label).cmp(crate::url::page_label(&b.label)))
    });
}

/// A title tree's rows by visits (most first), then the label they show
/// (a title's last category), at every level.
fn sort_titles(rows: &mut [ActionRow], site: &crate::site::SiteConfig) {
    let shown = |r: &ActionRow| -> String {
        if r.is_folder() {
            r.label.clone()
        } else {
            site.title_categories(&r.label)
                .last()
                .map_or_else(|| r.label.clone(), |l| (*l).to_owned())
        }
    };
    // Equal visits: Matomo's label order (natural, case-insensitive).
    rows.sort_by(|a, b| {
        b.nb_visits
            .cmp(&a.nb_visits)
            .then_with(|| crate::table::label_order(&shown(a), &shown(b)))
    });
    for r in rows {
        sort_titles(&mut r.subtable, site);
    }
}

fn sort_tree(rows: &mut [ActionRow]) {
    let _ = sort_rows(rows, "nb_visits", true);
}

impl Selection<'_> {
    /// An action report: every row, sorted by visits (most first), then
    /// label.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{ActionReportKind, Engine, Hit, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "c", "https://x.org/a"),
    ///     Hit::pageview(1, 1_717_200_060, "c", "https://x.org/b#top"),
    /// ])?;
    /// let rows = e.query(&Query::site(1))?.action_report(ActionReportKind::PageUrls);
    /// assert_eq!(rows[0].label, "/a");
    /// assert_eq!((rows[0].sum_time_spent, rows[0].entry_nb_visits), (60, 1));
    /// assert_eq!((rows[1].label.as_str(), rows[1].exit_nb_visits), ("/b", 1));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn action_report(&self, kind: ActionReportKind) -> Vec<ActionRow> {
        let Some(table) = kind.table() else {
            return self.page_tree();
        };
        let d = &self.site.dicts;
        let untitled = d.titles.len() as u32;
        let universe = match table {
            ActionTable::Pages => d.pages().labels.len(),
            ActionTable::Titles => d.titles.len() + 1,
            ActionTable::Downloads | ActionTable::Outlinks => d.urls.len(),
            ActionTable::Keywords => d.keywords.len(),
            ActionTable::Categories => d.dim_values.len(),
        };
        let pairs = self
            .flat_report(table.pages(), universe, |a, i| table.key(d, a, i, untitled))
            .rows(|k| action_label(d, table, k, untitled));
        let named = match table {
            ActionTable::Pages => self.first_day_urls(),
            _ => HashMap::default(),
        };
        let mut rows: Vec<ActionRow> = pairs
            .into_iter()
            .map(|(k, mut r)| {
                r.url = page_url(d, table, k, named.get(&k).copied());
                r
            })
            .collect();
        sort_tree(&mut rows);
        rows
    }

    /// The accumulated rows of a flat action report: `key(archive,
    /// action)` is an action's row, `NONE` for actions of other kinds.
    fn flat_report(
        &self,
        pages: bool,
        universe: usize,
        key: impl Fn(&crate::archive::DayArchive, usize) -> u32 + Sync,
    ) -> ActionAccumulator {
        // Runs of visitors on the query's threads, added up exactly.
        let runs = self.par_visits_by_visitor(
            || ActionAccumulator::new(universe, pages),
            |acc, cut| {
                let a = cut.archive;
                acc.add(cut, |i, out| {
                    let k = key(a, i);
                    if k != NONE {
                        out.push(k);
                    }
                })
            },
        );
        let mut runs = runs.into_iter();
        let mut acc = runs
            .next()
            .unwrap_or_else(|| ActionAccumulator::new(universe, pages));
        for r in runs {
            acc.merge(r);
        }
        acc
    }

    fn page_tree(&self) -> Vec<ActionRow> {
        self.page_tree_with(None)
    }

    /// Matomo's URL of each page row whose label several URLs share,
    /// where it is not the label's first ([`FirstDayUrls`] over the
    /// selected visits, day by day): what a rollup's page rows keep.
    fn first_day_urls(&self) -> HashMap<u32, u32> {
        let d = &self.site.dicts;
        if !d.pages().any_shared() {
            return HashMap::default();
        }
        let mut first = FirstDayUrls::default();
        self.for_each_visit(|cut| {
            let a = cut.archive;
            for i in cut.actions.iter() {
                if a.a_kind[i] == HitType::Pageview {
                    first.page_view(d, cut.date, a.a_url[i]);
                }
            }
        });
        first.finish(d)
    }

    /// Matomo's pages following a site search (`titles`: page titles,
    /// else page URLs as a folder tree, or flat with `flat`): the page
    /// report's rows whose pages were viewed right after a site search,
    /// each with `nb_hits_following_search`, the views whose previous
    /// page view or search in the visit was a search (Matomo's
    /// `idaction_name_ref`: downloads, outlinks and events do not come
    /// between). Folders keep their sums and are left out without such
    /// a view below them.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, HitType, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "v", "https://x.org/a"),
    ///     Hit::new(1, 1_717_200_010, "v", HitType::Search).with_url("https://x.org/?q=x").with_search("x"),
    ///     Hit::pageview(1, 1_717_200_020, "v", "https://x.org/b"),
    ///     Hit::pageview(1, 1_717_200_030, "v", "https://x.org/a"),
    /// ])?;
    /// let rows = e.query(&Query::site(1))?.pages_following_search(false, true);
    /// assert_eq!(rows.len(), 1);
    /// assert_eq!((rows[0].label.as_str(), rows[0].nb_hits_following_search), ("/b", 1));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn pages_following_search(&self, titles: bool, flat: bool) -> Vec<ActionRow> {
        let d = &self.site.dicts;
        let untitled = d.titles.len() as u32;
        let table = if titles {
            ActionTable::Titles
        } else {
            ActionTable::Pages
        };
        let mut following: HashMap<u32, u64> = HashMap::default();
        self.for_each_visit_by_visitor(|cut| {
            let a = cut.archive;
            let start = a.actions_of(cut.visit).start;
            for i in cut.actions.iter() {
                if a.a_kind[i] != HitType::Pageview {
                    continue;
                }
                let before = (start..i)
                    .rev()
                    .map(|j| a.a_kind[j])
                    .find(|k| matches!(k, HitType::Pageview | HitType::Search));
                if before == Some(HitType::Search) {
                    *following.entry(table.key(d, a, i, untitled)).or_default() += 1;
                }
            }
        });
        let mut rows = if titles || flat {
            let universe = if titles {
                d.titles.len() + 1
            } else {
                d.pages().labels.len()
            };
            let pairs = self
                .flat_report(true, universe, |a, i| table.key(d, a, i, untitled))
                .rows(|k| action_label(d, table, k, untitled));
            pairs
                .into_iter()
                .map(|(k, mut r)| {
                    r.nb_hits_following_search = following.get(&k).copied().unwrap_or(0);
                    r
                })
                .collect()
        } else {
            self.page_tree_with(Some(&following))
        };
        keep_following(&mut rows);
        sort_tree(&mut rows);
        rows
    }

    /// The page URL tree; with `following` (page views after a site
    /// search by page id), each page's row carries its count and folders
    /// their sums.
    fn page_tree_with(&self, following: Option<&HashMap<u32, u64>>) -> Vec<ActionRow> {
        let pages = self.site.dicts.pages();
        let mut tree = Tree::default();
        tree.names.push(String::new());
        tree.parents.push(0);
        let mut acc = ActionAccumulator::new(0, true);
        self.for_each_visit_by_visitor(|cut| {
            let a = cut.archive;
            // Make every chain first, so the accumulator knows all keys.
            for i in cut.actions.iter() {
                if a.a_kind[i] == HitType::Pageview {
                    let page = pages.of(a.a_url[i]);
                    tree.chain(page, pages.labels.value(page));
                }
            }
            acc.grow(tree.names.len());
            acc.add(cut, |i, out| {
                if a.a_kind[i] == HitType::Pageview {
                    let page = pages.of(a.a_url[i]);
                    out.extend_from_slice(&tree.chains[&page]);
                }
            });
        });
        let mut rows: HashMap<u32, ActionRow> = acc.rows(|_| String::new()).into_iter().collect();
        let named = self.first_day_urls();
        let d = &self.site.dicts;
        for (node, row) in rows.iter_mut() {
            if let Some(&page) = tree.pages.get(node) {
                row.url = page_url(d, ActionTable::Pages, page, named.get(&page).copied());
            }
        }
        for (page, n) in following.into_iter().flatten() {
            let leaf = tree.chains.get(page).and_then(|c| c.last());
            if let Some(row) = leaf.and_then(|l| rows.get_mut(l)) {
                row.nb_hits_following_search += n;
            }
        }
        let mut top = tree.assemble(rows);
        sort_tree(&mut top);
        top
    }

    /// Page titles as a tree of their categories (a site with Matomo's
    /// `action_title_category_delimiter`, [`SiteConfig::title_category_delimiter`]):
    /// a folder row per category, holding the titles and folders under it
    /// in `subtable`, its counts the sums of its rows' and its unique
    /// visitors exact, as the page URL tree's; a title row keeps the
    /// whole title as its label (the report shows its last category).
    ///
    /// [`SiteConfig::title_category_delimiter`]: crate::SiteConfig::title_category_delimiter
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1).title_category_delimiter("/"))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "v", "https://x.org/a").with_title("Shop/Boots"),
    ///     Hit::pageview(1, 1_717_200_010, "v", "https://x.org/b").with_title("Shop/Hats"),
    /// ])?;
    /// let rows = e.query(&Query::site(1))?.title_tree();
    /// assert_eq!((rows[0].label.as_str(), rows[0].nb_hits, rows[0].subtable.len()), ("Shop", 2, 2));
    /// assert_eq!(rows[0].subtable[0].label, "Shop/Boots");
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn title_tree(&self) -> Vec<ActionRow> {
        let d = &self.site.dicts;
        let site = &self.site.config;
        let untitled = d.titles.len() as u32;
        let mut tree = Tree {
            titles: true,
            ..Tree::default()
        };
        tree.names.push(String::new());
        tree.parents.push(0);
        let mut acc = ActionAccumulator::new(0, true);
        let title_of = |id: u32| if id == NONE { untitled } else { id };
        self.for_each_visit_by_visitor(|cut| {
            let a = cut.archive;
            for i in cut.actions.iter() {
                if a.a_kind[i] == HitType::Pageview {
                    let t = title_of(a.a_title[i]);
                    let text = if t == untitled {
                        UNTITLED
                    } else {
                        d.titles.value(t)
                    };
                    tree.title_chain(t, text, site);
                }
            }
            acc.grow(tree.names.len());
            acc.add(cut, |i, out| {
                if a.a_kind[i] == HitType::Pageview {
                    out.extend_from_slice(&tree.chains[&title_of(a.a_title[i])]);
                }
            });
        });
        let rows: HashMap<u32, ActionRow> = acc.rows(|_| String::new()).into_iter().collect();
        let mut top = tree.assemble(rows);
        sort_titles(&mut top, site);
        top
    }

    /// Download or outlink URLs grouped by domain (Matomo's layout): a row
    /// per host, its URLs in `subtable`; as Matomo's, a host's counts are
    /// the sums of its URLs' and its unique visitors are exact.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, HitType, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([
    ///     Hit::new(1, 1_717_200_000, "v", HitType::Outlink).with_url("https://a.org/x"),
    ///     Hit::new(1, 1_717_200_010, "v", HitType::Outlink).with_url("https://a.org/y"),
    /// ])?;
    /// let rows = e.query(&Query::site(1))?.url_tree(HitType::Outlink);
    /// // One visit to two URLs of a.org: counted once per URL, summed.
    /// let (row, urls) = (&rows[0], &rows[0].subtable);
    /// assert_eq!((row.label.as_str(), row.nb_hits, row.nb_visits, row.nb_uniq_visitors), ("a.org", 2, 2, 1));
    /// assert_eq!(urls.len(), 2);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn url_tree(&self, kind: HitType) -> Vec<ActionRow> {
        let d = &self.site.dicts;
        let urls = d.urls.len();
        let mut hosts: HashMap<String, u32> = HashMap::default();
        let mut host_names: Vec<String> = Vec::new();
        let mut host_of_url: HashMap<u32, u32> = HashMap::default();
        let mut acc = ActionAccumulator::new(urls, false);
        self.for_each_visit_by_visitor(|cut| {
            let a = cut.archive;
            for i in cut.actions.iter() {
                if a.a_kind[i] == kind {
                    let url = a.a_url[i];
                    host_of_url.entry(url).or_insert_with(|| {
                        let host = crate::url::host_of(d.urls.value(url)).unwrap_or_default();
                        *hosts.entry(host.clone()).or_insert_with(|| {
                            host_names.push(host);
                            (urls + host_names.len() - 1) as u32
                        })
                    });
                }
            }
            acc.grow(urls + host_names.len());
            acc.add(cut, |i, out| {
                if a.a_kind[i] == kind {
                    let url = a.a_url[i];
                    out.push(host_of_url[&url]);
                    out.push(url);
                }
            });
        });
        let mut top: HashMap<u32, ActionRow> = HashMap::default();
        let mut leaves = Vec::new();
        for (k, row) in acc.rows(|k| {
            if (k as usize) < urls {
                d.urls.value(k).to_owned()
            } else {
                host_names[k as usize - urls].clone()
            }
        }) {
            if (k as usize) < urls {
                leaves.push((k, row));
            } else {
                top.insert(k, row);
            }
        }
        for (url, row) in leaves {
            if let Some(parent) = top.get_mut(&host_of_url[&url]) {
                parent.subtable.push(row);
            }
        }
        let mut rows: Vec<ActionRow> = top.into_values().collect();
        for r in &mut rows {
            sum_subtable(r);
            sort_links(&mut r.subtable);
        }
        sort_tree(&mut rows);
        rows
    }

    /// A report by a visit dimension: one row per value, plus a row with
    /// `label: None` for visits without a value; sorted by visits.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Dimension, Engine, Hit, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "p", "https://x.org/a").with_device("smartphone"),
    ///     Hit::pageview(1, 1_717_200_000, "q", "https://x.org/a"),
    /// ])?;
    /// let rows = e.query(&Query::site(1))?.dimension_report(&Dimension::DeviceType);
    /// assert_eq!(rows.len(), 2);
    /// assert_eq!(rows[0].label, None);
    /// assert_eq!(rows[1].label.as_deref(), Some("smartphone"));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn dimension_report(&self, dimension: &Dimension) -> Vec<DimensionRow> {
        if let Dimension::Referrer(part) = dimension {
            return self.referrer_report(*part);
        }
        let d = &self.site.dicts;
        let table = dimension.table(d);
        let universe = table.map_or(0, |t| visit_universe(d, t));
        // Key `universe` stands for "no value".
        let mut acc = vec![VisitsSummary::default(); universe + 1];
        let mut visitors = DistinctStamp::new(universe + 1);
        let mut user_pairs = Vec::new();
        self.for_each_visit_by_visitor(|cut| {
            let key = table.map_or(NONE, |t| t.key(cut.archive, cut.visit as usize));
            let key = if key == NONE { universe as u32 } else { key };
            tally(
                &mut acc[key as usize],
                &mut visitors,
                &mut user_pairs,
                key,
                cut,
            );
        });
        let visitors = visitors.counts;
        let users = distinct_per_key(user_pairs, universe + 1);
        let mut rows: Vec<DimensionRow> = acc
            .into_iter()
            .enumerate()
            .filter(|(_, s)| s.nb_visits > 0)
            .map(|(k, mut metrics)| {
                metrics.nb_uniq_visitors = visitors[k];
                metrics.nb_users = users[k];
                let label = match table {
                    Some(t) if k != universe => Some(visit_label(d, t, k as u32)),
                    _ => None,
                };
                DimensionRow { label, metrics }
            })
            .collect();
        let _ = sort_rows(&mut rows, "nb_visits", true);
        rows
    }
}

/// How many keys a visit report's values have (its "no value" aside).
fn visit_universe(d: &SiteDicts, t: VisitTable) -> usize {
    match t {
        VisitTable::Field(f) => d.field(f as usize).len(),
        VisitTable::ReferrerType => ReferrerType::ALL.len(),
        VisitTable::Dimension(_) => d.dim_values.len(),
    }
}

/// The label of a value of a visit report.
pub(crate) fn visit_label(d: &SiteDicts, t: VisitTable, k: u32) -> String {
    match t {
        VisitTable::Field(f) => d.field(f as usize).value(k).to_owned(),
        VisitTable::Dimension(_) => d.dim_values.value(k).to_owned(),
        VisitTable::ReferrerType => ReferrerType::ALL[k as usize].name().to_owned(),
    }
}

impl Dimension {
    /// The visit report it is; `None` for referrer names and keywords
    /// (grouped by a derived label).
    pub(crate) fn table(&self, d: &SiteDicts) -> Option<VisitTable> {
        let field = |f: VField| Some(VisitTable::Field(f as u8));
        match self {
            Dimension::DeviceType => field(VField::Device),
            Dimension::Browser => field(VField::Browser),
            Dimension::OperatingSystem => field(VField::Os),
            Dimension::Country => field(VField::Country),
            Dimension::Language => field(VField::Language),
            Dimension::ReferrerType => Some(VisitTable::ReferrerType),
            // A name the site has never seen (or one of hitmap's own):
            // a dimension no visit has a value of.
            Dimension::Custom(name) => {
                Some(VisitTable::Dimension(d.custom_dim(name).unwrap_or(NONE)))
            }
            Dimension::Referrer(_) => None,
            Dimension::User => field(VField::User),
        }
    }
}

impl Resolved<'_> {
    /// An unfiltered action report (flat, or the page tree) of the days
    /// `range` from the report rollups of its whole years and months and
    /// the edge days between them; `None` (the caller reads the days) for
    /// a segment, a section, or a range no report rollup covers. The
    /// rows are the ones [`Selection::action_report`] gives.
    pub(crate) fn rolled_action_report(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        kind: ActionReportKind,
    ) -> crate::error::Result<Option<Vec<ActionRow>>> {
        let tree = kind == ActionReportKind::PageUrlTree;
        let table = kind.table().unwrap_or(ActionTable::Pages);
        // A folder's visitors are its pages' together: the tree needs ids.
        let Some(reports) = self.rolled_reports(range, &[Which::Action(table)], tree)? else {
            return Ok(None);
        };
        let d = &self.site.dicts;
        let row_of = |k: u32, r: &RolledRow| rolled_row(d, table, k, r);
        let rolled = reports.actions[table as usize]
            .iter()
            .filter(|(_, r)| r.counts.hits > 0);
        if tree {
            // The page rows as leaves, each folder's visitors the union
            // of its pages' (its counts are summed as it is assembled).
            let pages = d.pages();
            let mut tree = Tree::default();
            tree.names.push(String::new());
            tree.parents.push(0);
            let mut rows: HashMap<u32, ActionRow> = HashMap::default();
            // A folder's visitors, entering and leaving visitors.
            let mut folders: HashMap<u32, [RoaringBitmap; 3]> = HashMap::default();
            for (&page, r) in rolled {
                let chain = tree.chain(page, pages.labels.value(page)).to_vec();
                let Some((&leaf, up)) = chain.split_last() else {
                    continue;
                };
                rows.insert(leaf, row_of(page, r));
                for &f in up {
                    let [visitors, entering, leaving] = folders.entry(f).or_default();
                    *visitors |= &r.visitors;
                    if let Some([e, l]) = r.counts.bound_ids.as_deref() {
                        *entering |= e;
                        *leaving |= l;
                    }
                }
            }
            for (f, [visitors, entering, leaving]) in folders {
                rows.insert(
                    f,
                    ActionRow {
                        nb_uniq_visitors: visitors.len(),
                        entry_nb_uniq_visitors: entering.len(),
                        exit_nb_uniq_visitors: leaving.len(),
                        ..ActionRow::default()
                    },
                );
            }
            let mut top = tree.assemble(rows);
            sort_tree(&mut top);
            return Ok(Some(top));
        }
        let mut rows: Vec<ActionRow> = rolled.map(|(&k, r)| row_of(k, r)).collect();
        sort_tree(&mut rows);
        Ok(Some(rows))
    }

    /// [`Selection::url_tree`] of download or outlink URLs from report
    /// rollups, as [`Resolved::rolled_action_report`]: each host's rows,
    /// its counts summed and its visitors united.
    pub(crate) fn rolled_url_tree(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        kind: HitType,
    ) -> crate::error::Result<Option<Vec<ActionRow>>> {
        let table = match kind {
            HitType::Download => ActionTable::Downloads,
            HitType::Outlink => ActionTable::Outlinks,
            _ => return Ok(None),
        };
        let Some(reports) = self.rolled_reports(range, &[Which::Action(table)], true)? else {
            return Ok(None);
        };
        let d = &self.site.dicts;
        let mut hosts: std::collections::BTreeMap<String, (ActionRow, RoaringBitmap)> =
            std::collections::BTreeMap::new();
        for (&url, r) in reports.actions[table as usize]
            .iter()
            .filter(|(_, r)| r.counts.hits > 0)
        {
            let host = crate::url::host_of(d.urls.value(url)).unwrap_or_default();
            let (row, visitors) = hosts.entry(host).or_insert_with_key(|host| {
                let row = ActionRow {
                    label: host.clone(),
                    ..ActionRow::default()
                };
                (row, RoaringBitmap::new())
            });
            row.subtable.push(rolled_row(d, table, url, r));
            *visitors |= &r.visitors;
        }
        let mut rows: Vec<ActionRow> = hosts
            .into_values()
            .map(|(mut row, visitors)| {
                row.nb_uniq_visitors = visitors.len();
                sum_subtable(&mut row);
                sort_links(&mut row.subtable);
                row
            })
            .collect();
        sort_tree(&mut rows);
        Ok(Some(rows))
    }

    /// [`Resolved::rolled_action_report`] for a dimension report: the rows
    /// [`Selection::dimension_report`] gives.
    pub(crate) fn rolled_dimension_report(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        dimension: &Dimension,
    ) -> crate::error::Result<Option<Vec<DimensionRow>>> {
        let d = &self.site.dicts;
        if let Dimension::Referrer(part) = dimension {
            // The referrer names' grouped report, without its subtables.
            let group = VisitGroup::By(Grouping::Referrer(*part));
            let Some(table) = self.rolled_group(range, group)? else {
                return Ok(None);
            };
            let mut rows: Vec<DimensionRow> = table
                .iter()
                .filter(|((_, sub), r)| sub.is_none() && r.counts.visits > 0)
                .map(|((label, _), r)| DimensionRow {
                    label: Some(label.clone()),
                    metrics: rolled_summary(r),
                })
                .collect();
            // As `Selection::group_visits` orders them.
            rows.sort_by(|a, b| {
                b.metrics
                    .nb_visits
                    .cmp(&a.metrics.nb_visits)
                    .then_with(|| a.label.cmp(&b.label))
            });
            return Ok(Some(rows));
        }
        let Some(table) = dimension.table(d) else {
            return Ok(None);
        };
        // Users are not kept in report rollups: their days are read.
        if !table.rolled() {
            return Ok(None);
        }
        let Some(reports) = self.rolled_reports(range, &[Which::Visit(table)], false)? else {
            return Ok(None);
        };
        let mut rows: Vec<DimensionRow> = reports
            .visits
            .get(&table)
            .into_iter()
            .flatten()
            .filter(|(_, r)| r.counts.visits > 0)
            .map(|(&k, r)| DimensionRow {
                label: (k != NONE).then(|| visit_label(d, table, k)),
                metrics: rolled_summary(r),
            })
            .collect();
        let _ = sort_rows(&mut rows, "nb_visits", true);
        Ok(Some(rows))
    }

    /// A visits-grouped report over `range` from report rollups and edge
    /// days, as [`Resolved::rolled_action_report`]: its rows by label
    /// (and sub-label), with exact distinct visitors and users; `None`
    /// (the caller reads the days) when no report rollup applies, or one
    /// was written before rollups kept grouped reports.
    pub(crate) fn rolled_group(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        group: VisitGroup,
    ) -> crate::error::Result<Option<GroupTable>> {
        if !group.rolled() {
            return Ok(None);
        }
        Ok(self
            .rolled_reports(range, &[Which::Group(group)], false)?
            .and_then(|mut r| r.groups.remove(&group)))
    }

    /// An event report (by `by`, subtables by `sub`) over `range` from
    /// report rollups and edge days, as [`Resolved::rolled_group`].
    pub(crate) fn rolled_events(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        by: crate::visit_key::EventPart,
        sub: crate::visit_key::EventPart,
    ) -> crate::error::Result<Option<crate::rollup::reports::EventTable>> {
        if !crate::visit_key::EVENT_TABLES.contains(&(by, sub)) {
            return Ok(None);
        }
        Ok(self
            .rolled_reports(range, &[Which::Event(by, sub)], false)?
            .and_then(|mut r| r.events.remove(&(by, sub))))
    }

    /// VisitFrequency over `range` from report rollups and edge days, as
    /// [`Resolved::rolled_group`].
    pub(crate) fn rolled_frequency(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> crate::error::Result<Option<crate::summary::VisitFrequency>> {
        let Some(table) = self.rolled_group(range, VisitGroup::Frequency)? else {
            return Ok(None);
        };
        let of = |label: &str| {
            table
                .get(&(label.to_owned(), None))
                .map(rolled_summary)
                .unwrap_or_default()
        };
        Ok(Some(crate::summary::VisitFrequency {
            new: of("new"),
            returning: of("returning"),
        }))
    }

    /// Actions.get over `range` from the report rollups' page, download,
    /// outlink, keyword and event rows (and edge days'): page views are
    /// the page rows' hits and unique page views their visits (a visit
    /// counts once per page), and so on.
    pub(crate) fn rolled_actions_summary(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> crate::error::Result<Option<crate::summary::ActionsSummary>> {
        let tables = [
            ActionTable::Pages,
            ActionTable::Downloads,
            ActionTable::Outlinks,
            ActionTable::Keywords,
        ];
        let events = crate::visit_key::EVENT_TABLES[0];
        let whiches: Vec<Which> = tables
            .iter()
            .map(|t| Which::Action(*t))
            .chain([Which::Event(events.0, events.1)])
            .collect();
        // One pass over the rollups and the edge days for all of them.
        let Some(r) = self.rolled_reports(range, &whiches, false)? else {
            return Ok(None);
        };
        let mut s = crate::summary::ActionsSummary::default();
        for table in tables {
            let rows = &r.actions[table as usize];
            let hits = rows.values().map(|r| r.counts.hits).sum();
            let visits = rows.values().map(|r| r.counts.visits).sum();
            match table {
                ActionTable::Pages => (s.nb_pageviews, s.nb_uniq_pageviews) = (hits, visits),
                ActionTable::Downloads => (s.nb_downloads, s.nb_uniq_downloads) = (hits, visits),
                ActionTable::Outlinks => (s.nb_outlinks, s.nb_uniq_outlinks) = (hits, visits),
                _ => {
                    s.nb_searches = hits;
                    s.nb_keywords = rows.values().filter(|r| r.counts.hits > 0).count() as u64;
                }
            }
        }
        s.nb_events = r
            .events
            .get(&events)
            .into_iter()
            .flatten()
            .filter(|((_, sub), _)| sub.is_none())
            .map(|(_, r)| r.counts.events)
            .sum();
        Ok(Some(s))
    }

    /// The sections report (`sections`: the site's, as
    /// [`crate::query::site_sections`] gives them) over `range` from report
    /// rollups and edge days, in the order given; `None` (the caller
    /// reads the days) when no report rollup applies, or a section's row
    /// was counted with another definition of it.
    pub(crate) fn rolled_sections(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        sections: &[(String, std::sync::Arc<crate::section::SectionSet>)],
    ) -> crate::error::Result<Option<Vec<SectionRow>>> {
        if sections.is_empty() {
            return Ok(None);
        }
        let Some(table) = self.rolled_group(range, VisitGroup::Sections)? else {
            return Ok(None);
        };
        Ok(sections
            .iter()
            .map(|(name, set)| {
                let row = table.get(&(name.clone(), Some(set.key.to_string())))?;
                Some(SectionRow {
                    label: name.clone(),
                    metrics: rolled_summary(row),
                })
            })
            .collect())
    }

    /// The `which` report over `range`: the report rollups' rows and the
    /// edge days' rows, added up (visitors and users as bitmaps, so that
    /// distinct counts stay exact); `None` when no report rollup applies
    /// or one cannot be read (the caller reads the days).
    fn rolled_reports(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        whiches: &[Which],
        ids: bool,
    ) -> crate::error::Result<Option<Reports>> {
        use crate::rollup::Span;
        let Some((rolled, gaps)) = self.rolled(range, &[Span::YearReports, Span::MonthReports])?
        else {
            return Ok(None);
        };
        // One period alone needs its rows' counts, not their ids (unless
        // the caller unites rows).
        let alone = rolled.len() == 1 && gaps.is_empty() && !ids;
        if rolled.is_empty() {
            return Ok(None);
        }
        // Visit counts and days since the last visit need the visitor
        // history; no other report does.
        let history = whiches
            .iter()
            .any(|w| matches!(w, Which::Group(g) if g.history()));
        let d = &self.site.dicts;
        let empty = RoaringBitmap::new();
        let none = (&DayTotals::default(), &empty, &empty);
        // The pieces, added up in date order (a page row keeps its first
        // period's URL).
        let mut pieces: Vec<(NaiveDate, Reports)> = Vec::with_capacity(rolled.len() + gaps.len());
        let mut add = |start: NaiveDate, piece: Reports| pieces.push((start, piece));
        for r in &rolled {
            // An older rollup's reports (built by older rules) are not
            // used: the period is read from its days.
            let Some(stored) = r.stored.as_ref().filter(|s| s.current) else {
                return Ok(None);
            };
            if history && !self.history_current(r) {
                return Ok(None);
            }
            // The period's reports asked for, each taken in whole.
            let mut piece = Reports::default();
            for &which in whiches {
                let one = crate::store::format::decode_report(
                    stored,
                    which,
                    !alone,
                    d.visitors.len(),
                    d.users.len(),
                );
                let one = match one {
                    Ok(Some(one)) => one,
                    Ok(None) => Reports::without_values(which, (&r.totals, &r.visitors, &r.users)),
                    Err(_) => return Ok(None),
                };
                piece.take(which, one);
            }
            add(r.start, piece);
        }
        // The edge days, read once for every report asked for.
        let keys = self.site.visit_keys();
        for (a, b) in gaps {
            let cols = if history {
                Columns::ALL
            } else {
                Columns::REPORTS
            };
            let sel = self.select_columns(Some((a, b)), cols)?;
            let mut builder = ReportsBuilder::new(&keys, Some(whiches), &[]);
            sel.for_each_visit(|cut| {
                let actions = cut.actions.iter();
                builder.add_visit(
                    cut.date,
                    cut.archive,
                    cut.visit,
                    actions,
                    cut.actions.len(),
                    cut.length,
                );
            });
            add(a, builder.finish());
        }
        pieces.sort_by_key(|(start, _)| *start);
        let mut out: Option<Reports> = None;
        for (_, piece) in pieces {
            match &mut out {
                None => out = Some(piece),
                Some(out) => out.merge(none, &piece, none),
            }
        }
        Ok(out)
    }
}

/// A rolled-up visit report row's summary.
pub(crate) fn rolled_summary(r: &crate::rollup::reports::Row<DayTotals>) -> VisitsSummary {
    let c = &r.counts;
    VisitsSummary {
        nb_visits: c.visits,
        nb_uniq_visitors: r.distinct[0],
        nb_users: r.distinct[1],
        nb_actions: c.actions,
        max_actions: c.max_actions,
        bounce_count: c.bounces,
        sum_visit_length: c.sum_length,
    }
}

/// A rolled-up action row's report row.
type RolledRow = crate::rollup::reports::Row<ActionCounts>;

fn rolled_row(d: &SiteDicts, table: ActionTable, k: u32, r: &RolledRow) -> ActionRow {
    let c = &r.counts;
    ActionRow {
        label: action_label(d, table, k, UNTITLED_KEY),
        url: page_url(d, table, k, c.url),
        nb_hits: c.hits,
        nb_visits: c.visits,
        nb_uniq_visitors: r.distinct[0],
        entry_nb_uniq_visitors: c.bound_visitors[0],
        exit_nb_uniq_visitors: c.bound_visitors[1],
        entry_nb_visits: c.entries,
        exit_nb_visits: c.exits,
        entry_bounce_count: c.entry_bounces,
        entry_nb_actions: c.entry_actions,
        entry_sum_visit_length: c.entry_length,
        sum_time_spent: c.time,
        nb_hits_following_search: 0,
        perf: c.perf.as_deref().copied().unwrap_or_default(),
        most_results: c.most_results,
        subtable: Vec::new(),
    }
}

/// Counts one (cut) visit into the row `key`: its metrics, its visitor
/// (visitor-major order), its user.
pub(crate) fn tally(
    s: &mut VisitsSummary,
    visitors: &mut DistinctStamp,
    user_pairs: &mut Vec<u64>,
    key: u32,
    cut: &crate::query::CutVisit<'_>,
) {
    let n = cut.actions.len() as u64;
    s.nb_visits += 1;
    s.nb_actions += n;
    s.max_actions = s.max_actions.max(n);
    s.bounce_count += u64::from(n <= 1);
    s.sum_visit_length += u64::from(cut.length);
    visitors.see(key, cut.visitor());
    let user = cut.archive.fields[VField::User as usize][cut.visit as usize];
    if user != NONE {
        user_pairs.push((u64::from(key) << 32) | u64::from(user));
    }
}

impl Selection<'_> {
    /// Visits of one referrer type by the referrer's name or keyword:
    /// recorded ones (imported hits) win, else derived from the landing
    /// URL and the referrer (`VisitKeys::referrer`).
    fn referrer_report(&self, part: ReferrerPart) -> Vec<DimensionRow> {
        let keys = self.site.visit_keys();
        let kind = part.kind() as u8;
        self.group_visits(|cut| {
            if cut.archive.referrer_type[cut.visit as usize] != kind {
                return None;
            }
            let r = keys.referrer(cut.archive, cut.visit);
            Some((referrer_label(part, &r), None))
        })
        .into_iter()
        .map(|g| DimensionRow {
            label: Some(g.label),
            metrics: g.metrics,
        })
        .collect()
    }
}

impl crate::engine::Engine {
    /// An action report of a query: the rows
    /// `engine.query(q)?.action_report(kind)` gives, except that a store
    /// answers a flat report without segment or section over complete
    /// years and months from their report rollups (written once a period
    /// is complete), reading only the days between them. The Reporting
    /// API's flat action reports answer through it.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{ActionReportKind, Engine, Hit, Query, ReaderOptions, SiteConfig};
    /// let dir = std::env::temp_dir().join(format!("hitmap-report-rollup-doc-{}", std::process::id()));
    /// {
    ///     let mut writer = Engine::open(&dir)?;
    ///     writer.add_site(SiteConfig::new(1))?;
    ///     writer.ingest([
    ///         Hit::pageview(1, 1_717_200_000, "a", "https://x.org/a"), // 2024-06-01
    ///         Hit::pageview(1, 1_719_000_000, "b", "https://x.org/a"), // 2024-06-21
    ///         Hit::pageview(1, 1_720_000_000, "a", "https://x.org/b"), // 2024-07-03
    ///     ])?;
    ///     writer.seal()?;
    /// }
    /// let reader = Engine::open_reader(dir.to_str().unwrap(), ReaderOptions::default())?;
    /// let before = reader.read_stats().requests;
    /// let q = Query::site(1).range("2024-06-01", "2024-06-30");
    /// let rows = reader.action_report(&q, ActionReportKind::PageUrls)?;
    /// assert_eq!((rows[0].label.as_str(), rows[0].nb_uniq_visitors), ("/a", 2));
    /// assert_eq!(reader.read_stats().requests, before + 1); // June's report rollup
    /// assert_eq!(reader.query(&q)?.action_report(ActionReportKind::PageUrls), rows);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn action_report(
        &self,
        q: &crate::query::Query,
        kind: ActionReportKind,
    ) -> crate::error::Result<Vec<ActionRow>> {
        let range = q.date_range()?;
        let resolved = self.resolve(q)?;
        match resolved.rolled_action_report(range, kind)? {
            Some(rows) => Ok(rows),
            None => Ok(resolved
                .select_columns(range, Columns::REPORTS)?
                .action_report(kind)),
        }
    }

    /// A dimension report of a query: the rows
    /// `engine.query(q)?.dimension_report(dimension)` gives, from report
    /// rollups where [`Self::action_report`] would use them (devices,
    /// browsers, systems, countries, languages, referrer types, custom
    /// dimensions).
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Dimension, Engine, Hit, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([Hit::pageview(1, 1_717_200_000, "a", "https://x.org/").with_device("desktop")])?;
    /// let rows = e.dimension_report(&Query::site(1), &Dimension::DeviceType)?;
    /// assert_eq!((rows[0].label.as_deref(), rows[0].metrics.nb_visits), (Some("desktop"), 1));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn dimension_report(
        &self,
        q: &crate::query::Query,
        dimension: &Dimension,
    ) -> crate::error::Result<Vec<DimensionRow>> {
        let range = q.date_range()?;
        let resolved = self.resolve(q)?;
        match resolved.rolled_dimension_report(range, dimension)? {
            Some(rows) => Ok(rows),
            None => Ok(resolved
                .select_columns(range, Columns::REPORTS)?
                .dimension_report(dimension)),
        }
    }

    /// The sections report: for each named section of the site, the
    /// summary of the selected visits cut to that section.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1).section("News", ["/news"]))?;
    /// e.ingest([Hit::pageview(1, 1_717_200_000, "d", "https://x.org/news/a")])?;
    /// let rows = e.sections_report(&Query::site(1))?;
    /// assert_eq!((rows[0].label.as_str(), rows[0].metrics.nb_visits), ("News", 1));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn sections_report(
        &self,
        q: &crate::query::Query,
    ) -> crate::error::Result<Vec<SectionRow>> {
        let range = q.date_range()?;
        let resolved = self.resolve(&q.without_section())?;
        let sections = crate::query::site_sections(resolved.site)?;
        // Whole months and years from their report rollups.
        if let Some(rows) = resolved.rolled_sections(range, &sections)? {
            return Ok(rows);
        }
        sections
            .into_iter()
            .map(|(label, urls)| {
                let metrics = resolved
                    .with_section(urls)
                    .select_columns(range, Columns::REPORTS)?
                    .visits_summary();
                Ok(SectionRow { label, metrics })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permute_puts_each_row_where_the_order_says() {
        // Every permutation of 5, and a few longer ones of several cycles.
        let mut orders: Vec<Vec<usize>> = Vec::new();
        let mut p: Vec<usize> = (0..5).collect();
        for _ in 0..120 {
            orders.push(p.clone());
            // The next permutation in lexicographic order (wrapping).
            let Some(i) = (0..4).rev().find(|&i| p[i] < p[i + 1]) else {
                p.reverse();
                continue;
            };
            let j = (i + 1..5).rev().find(|&j| p[j] > p[i]).unwrap();
            p.swap(i, j);
            p[i + 1..].reverse();
        }
        orders.push((0..50).map(|i| (i * 7 + 3) % 50).collect());
        orders.push((0..50).rev().collect());
        for order in orders {
            let rows: Vec<String> = (0..order.len()).map(|i| format!("r{i}")).collect();
            let want: Vec<String> = order.iter().map(|&i| rows[i].clone()).collect();
            let mut got = rows.clone();
            permute(&mut got, order.clone());
            assert_eq!(got, want, "{order:?}");
        }
    }
}
