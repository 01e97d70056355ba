//! VisitsSummary, Actions and VisitFrequency metrics of a selection.

use chrono::NaiveDate;
use roaring::{MultiOps, RoaringBitmap};
use serde::Serialize;

use crate::archive::{Columns, DayArchive, DayTotals};
use crate::dict::NONE;
use crate::engine::Engine;
use crate::error::Result;
use crate::hit::HitType;
use crate::live::DayPart;
use crate::query::{BitSet, Query, Resolved, Selection};
use crate::raw::VField;
use crate::rollup::{Rollup, Span};

/// Matomo's VisitsSummary metrics. Unique visitors and users are exact for
/// any range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VisitsSummary {
    /// Visits.
    pub nb_visits: u64,
    /// Distinct visitor keys.
    pub nb_uniq_visitors: u64,
    /// Distinct user ids.
    pub nb_users: u64,
    /// Actions of all kinds.
    pub nb_actions: u64,
    /// Most actions in one visit.
    pub max_actions: u64,
    /// Visits with one action.
    pub bounce_count: u64,
    /// Sum of visit lengths in seconds.
    pub sum_visit_length: u64,
}

/// `a / b`, 0 when `b` is 0 (a rate over no visits is shown as 0).
pub(crate) fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl VisitsSummary {
    /// `bounce_count / nb_visits` (0 when there are no visits).
    pub fn bounce_rate(&self) -> f64 {
        ratio(self.bounce_count, self.nb_visits)
    }
    /// `nb_actions / nb_visits`.
    pub fn nb_actions_per_visit(&self) -> f64 {
        ratio(self.nb_actions, self.nb_visits)
    }
    /// `sum_visit_length / nb_visits`, seconds.
    pub fn avg_time_on_site(&self) -> f64 {
        ratio(self.sum_visit_length, self.nb_visits)
    }
}

/// Matomo's Actions metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ActionsSummary {
    /// Page views.
    pub nb_pageviews: u64,
    /// Distinct (visit, page URL) pairs.
    pub nb_uniq_pageviews: u64,
    /// Downloads.
    pub nb_downloads: u64,
    /// Distinct (visit, download URL) pairs.
    pub nb_uniq_downloads: u64,
    /// Outlinks.
    pub nb_outlinks: u64,
    /// Distinct (visit, outlink URL) pairs.
    pub nb_uniq_outlinks: u64,
    /// Site searches.
    pub nb_searches: u64,
    /// Distinct search keywords.
    pub nb_keywords: u64,
    /// Events.
    pub nb_events: u64,
}

/// VisitFrequency: the summary split into new and returning visits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VisitFrequency {
    /// Visits that are their visitor's first.
    pub new: VisitsSummary,
    /// All other visits.
    pub returning: VisitsSummary,
}

/// The unfiltered VisitsSummary of some day pieces and rollups (disjoint
/// days): totals added, visitor and user bitmaps unioned.
fn summed(parts: &[DayPart<'_>], rolled: &[&Rollup]) -> VisitsSummary {
    let mut t = DayTotals::default();
    parts.iter().for_each(|p| t.add(&p.totals()));
    rolled.iter().for_each(|r| t.add(&r.totals));
    let visitors: Vec<&RoaringBitmap> = parts
        .iter()
        .map(|p| p.visitors())
        .chain(rolled.iter().map(|r| &r.visitors))
        .collect();
    let users: Vec<&RoaringBitmap> = parts
        .iter()
        .map(|p| p.users())
        .chain(rolled.iter().map(|r| &r.users))
        .collect();
    VisitsSummary {
        nb_visits: t.visits,
        nb_uniq_visitors: visitors.union().len(),
        nb_users: users.union().len(),
        nb_actions: t.actions,
        max_actions: t.max_actions,
        bounce_count: t.bounces,
        sum_visit_length: t.sum_length,
    }
}

impl Engine {
    /// The VisitsSummary of a query: what
    /// `engine.query(q)?.visits_summary()` gives, except that a store
    /// ([`Engine::open_reader`], [`Engine::open`]) answers a query without
    /// segment or section over whole years and months from each one's
    /// rollup (one small file, written with the period's days) instead of
    /// its days. The Reporting API's `VisitsSummary.get` answers through it.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, Query, ReaderOptions, SiteConfig};
    /// let dir = std::env::temp_dir().join(format!("hitmap-rollup-doc-{}", std::process::id()));
    /// {
    ///     let mut writer = Engine::open(&dir)?;
    ///     writer.add_site(SiteConfig::new(1))?;
    ///     writer.ingest([
    ///         Hit::pageview(1, 1_717_200_000, "a", "https://x.org/"), // 2024-06-01
    ///         Hit::pageview(1, 1_719_000_000, "a", "https://x.org/"), // 2024-06-21
    ///     ])?;
    ///     writer.seal()?;
    /// }
    /// let reader = Engine::open_reader(dir.to_str().unwrap(), ReaderOptions::default())?;
    /// let before = reader.read_stats().requests;
    /// let q = Query::site(1).range("2024-01-01", "2024-12-31");
    /// let s = reader.visits_summary(&q)?;
    /// assert_eq!((s.nb_visits, s.nb_uniq_visitors), (2, 1));
    /// assert_eq!(reader.read_stats().requests, before + 1); // 2024's rollup, no day
    /// assert_eq!(reader.query(&q)?.visits_summary(), s); // from the two days
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn visits_summary(&self, q: &Query) -> Result<VisitsSummary> {
        let range = q.date_range()?;
        self.resolve(q)?.visits_summary(range)
    }
}

impl Resolved<'_> {
    /// The VisitsSummary of the days `range` (`None`: every day). A store
    /// with neither segment nor section answers each whole year of the
    /// range that has a current rollup (`rollup.rs`) from it, then each
    /// whole month of the rest, and reads only the other days; every other
    /// query reads its days. The numbers are the same either way.
    pub(crate) fn visits_summary(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<VisitsSummary> {
        let Some((rolled, gaps)) = self.rolled(range, &[Span::Year, Span::Month])? else {
            if self.site.lazy.is_none() || self.is_unfiltered() {
                return Ok(self
                    .select_columns(range, Columns::SUMMARY)?
                    .visits_summary());
            }
            // Stored days read a window at a time: read, answered, let go.
            let mut sums = None;
            for window in self.windows(range)? {
                let sel = self.select_columns(Some(window), Columns::SUMMARY)?;
                sums = SummaryAcc::merged(sums.into_iter().chain(sel.summary_runs(&|_, _| true)));
            }
            return Ok(SummaryAcc::finish(sums));
        };
        let mut parts = Vec::new();
        for (a, b) in gaps {
            parts.extend(
                self.site
                    .parts_on(a, b, self.threads.threads, Columns::SUMMARY)?,
            );
        }
        let rolled: Vec<&Rollup> = rolled.iter().map(|r| &**r).collect();
        Ok(summed(&parts, &rolled))
    }

    /// The current rollups of `spans` (years before months) that cover
    /// whole periods of the days `range` (`None`: every day), with the day
    /// ranges left over. `None` for a query with a segment or a section,
    /// or of a site without stored days: those read their days.
    pub(crate) fn rolled(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        spans: &[Span],
    ) -> Result<Option<Rolled>> {
        let site = self.site;
        let lazy = match &site.lazy {
            Some(lazy) if self.is_unfiltered() => lazy,
            _ => return Ok(None),
        };
        let (first, last) = self.checked_range(range)?;
        // Periods are counted within the stored days, not from year 1.
        let (Some((&lo, _)), Some((&hi, _))) =
            (lazy.files.first_key_value(), lazy.files.last_key_value())
        else {
            return Ok(None);
        };
        let mut rolled: Vec<std::sync::Arc<Rollup>> = Vec::new();
        let mut gaps = vec![(first, last)];
        for &span in spans {
            let mut rest = Vec::new();
            for (a, b) in gaps {
                let starts =
                    span.whole(a.max(span.start_of(lo)), b.min(span.end(span.start_of(hi))));
                let got = lazy.rollups(site, span, &starts);
                let mut from = Some(a);
                for (&start, r) in &got {
                    if let Some(f) = from.filter(|f| *f < start) {
                        rest.push((f, start.pred_opt().unwrap_or(start)));
                    }
                    from = span.end(start).succ_opt();
                    rolled.push(r.clone());
                }
                if let Some(f) = from.filter(|f| *f <= b) {
                    rest.push((f, b));
                }
            }
            gaps = rest;
        }
        Ok(Some((rolled, gaps)))
    }

    /// The goal rollups of the whole months and years of `range` with
    /// the day ranges left over, when every one of them stands for its
    /// period: counted with the site's goal definitions, with the visitor
    /// history as it is when `history` (new and returning visits, visits
    /// until conversion), and, on an ecommerce site, no live batch held
    /// (a live order can take an order id from a period a rollup counted
    /// it in; the seal that writes it counts that period again). `None`:
    /// the caller reads the days (a segment, a section, no store, a
    /// rollup that does not stand).
    pub(crate) fn rolled_goals(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        history: bool,
    ) -> Result<Option<Rolled>> {
        let config = &self.site.config;
        if config.ecommerce && !self.site.live.is_empty() {
            return Ok(None);
        }
        let Some((rolled, gaps)) = self.rolled(range, &[Span::YearGoals, Span::MonthGoals])? else {
            return Ok(None);
        };
        let key = crate::goal_sums::goals_key(&config.goals, config.ecommerce);
        let stands = |r: &Rollup| {
            r.goals.as_ref().is_some_and(|g| g.key == key) && (!history || self.history_current(r))
        };
        Ok(rolled.iter().all(|r| stands(r)).then_some((rolled, gaps)))
    }
    /// Whether no visitor history page of a month of `r`'s period is
    /// newer than the rollup `r`: its history-dependent reports
    /// ([`VisitGroup::history`]) still hold.
    pub(crate) fn history_current(&self, r: &crate::rollup::Rollup) -> bool {
        let generation = self
            .site
            .lazy
            .as_ref()
            .and_then(|l| l.rollups.get(&r.span)?.get(&r.start).copied());
        let newest = self
            .site
            .history()
            .newest_within(r.start, r.span.end(r.start));
        generation.is_some_and(|g| newest.is_none_or(|n| n <= g))
    }
}

/// Rollups of whole periods, and the day ranges between them.
pub(crate) type Rolled = (Vec<std::sync::Arc<Rollup>>, Vec<(NaiveDate, NaiveDate)>);

impl Selection<'_> {
    /// VisitsSummary of the selection.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/a"),
    ///     Hit::pageview(1, 1_717_201_799, "a", "https://x.org/b"),
    ///     Hit::pageview(1, 1_717_203_599, "a", "https://x.org/c"),
    /// ])?;
    /// let s = e.query(&Query::site(1))?.visits_summary();
    /// assert_eq!((s.nb_visits, s.nb_uniq_visitors, s.max_actions, s.bounce_count, s.sum_visit_length), (2, 1, 2, 1, 1800));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn visits_summary(&self) -> VisitsSummary {
        if self.segment.is_none() && self.section.is_none() {
            return self.unfiltered_summary();
        }
        self.summary_where(|_, _| true)
    }

    /// Fast path: per-day totals and unions of per-day visitor bitmaps.
    fn unfiltered_summary(&self) -> VisitsSummary {
        summed(&self.days, &[])
    }

    /// The summary of the selected visits that pass `keep(archive, visit)`,
    /// over runs of days on [`Selection::par_days`]'s threads.
    fn summary_where(&self, keep: impl Fn(&DayArchive, u32) -> bool + Sync) -> VisitsSummary {
        SummaryAcc::finish(SummaryAcc::merged(self.summary_runs(&keep)))
    }

    /// [`Selection::summary_where`]'s sums, one per run of days, to add
    /// up ([`SummaryAcc::merged`]).
    fn summary_runs(&self, keep: &(impl Fn(&DayArchive, u32) -> bool + Sync)) -> Vec<SummaryAcc> {
        let d = &self.site.dicts;
        let init = || SummaryAcc {
            s: VisitsSummary::default(),
            visitors: BitSet::new(d.visitors.len()),
            users: BitSet::new(d.users.len()),
            last_visitor: NONE,
        };
        self.par_days(init, |acc, part| {
            let a = &*part.archive;
            if let Some(inside) = &self.section {
                // Visits cut to the section: their counts, computed once
                // per day and section and kept with the archive.
                let cut = a.section_cut(inside);
                let mut visit = |v: u32| {
                    let (n, length) = cut[v as usize];
                    if n > 0 && keep(a, v) {
                        acc.add(a, v, u64::from(n), length);
                    }
                };
                match self.selected(part) {
                    Some(bitmap) => bitmap.iter().for_each(&mut visit),
                    None => (0..a.visit_count()).for_each(&mut visit),
                }
                return;
            }
            // Whole visits: plain loops over the columns (a closure per
            // visit does not inline through the bitmap iterator).
            match self.selected(part) {
                Some(bitmap) => {
                    for v in &bitmap {
                        if keep(a, v) {
                            acc.add_whole(a, v);
                        }
                    }
                }
                None => {
                    for v in 0..a.visit_count() {
                        if keep(a, v) {
                            acc.add_whole(a, v);
                        }
                    }
                }
            }
        })
    }

    /// VisitFrequency: new versus returning visits (new = the visitor's
    /// first visit in all stored data).
    pub fn visit_frequency(&self) -> VisitFrequency {
        VisitFrequency {
            new: self.summary_where(|a, v| a.is_new_visit(v)),
            returning: self.summary_where(|a, v| !a.is_new_visit(v)),
        }
    }

    /// Actions metrics of the selection.
    pub fn actions_summary(&self) -> ActionsSummary {
        let d = &self.site.dicts;
        let mut s = ActionsSummary::default();
        let mut keywords = BitSet::new(d.keywords.len());
        let mut uniq: [Vec<u32>; 3] = Default::default();
        let pages = d.pages();
        self.for_each_visit(|cut| {
            let a = cut.archive;
            for u in &mut uniq {
                u.clear();
            }
            for i in cut.actions.iter() {
                match a.a_kind[i] {
                    HitType::Pageview => {
                        s.nb_pageviews += 1;
                        uniq[0].push(pages.of(a.a_url[i]));
                    }
                    HitType::Download => {
                        s.nb_downloads += 1;
                        uniq[1].push(a.a_url[i]);
                    }
                    HitType::Outlink => {
                        s.nb_outlinks += 1;
                        uniq[2].push(a.a_url[i]);
                    }
                    HitType::Search => {
                        s.nb_searches += 1;
                        keywords.insert(a.extra(i).keyword);
                    }
                    HitType::Event => s.nb_events += 1,
                    HitType::Goal
                    | HitType::Order
                    | HitType::Cart
                    | HitType::ProductView
                    | HitType::Content => {}
                }
            }
            let distinct = |v: &mut Vec<u32>| {
                v.sort_unstable();
                v.dedup();
                v.len() as u64
            };
            s.nb_uniq_pageviews += distinct(&mut uniq[0]);
            s.nb_uniq_downloads += distinct(&mut uniq[1]);
            s.nb_uniq_outlinks += distinct(&mut uniq[2]);
        });
        s.nb_keywords = keywords.len();
        s
    }
}

/// Running sums of a summary over visits.
struct SummaryAcc {
    s: VisitsSummary,
    visitors: BitSet,
    users: BitSet,
    /// Visits of a day are sorted by visitor: repeats skip the set.
    last_visitor: u32,
}

impl SummaryAcc {
    /// Runs (of days, or of windows of days) added up into the first.
    fn merged(runs: impl IntoIterator<Item = SummaryAcc>) -> Option<SummaryAcc> {
        let mut runs = runs.into_iter();
        let mut acc = runs.next()?;
        for r in runs {
            acc.merge(&r);
        }
        Some(acc)
    }

    /// The summary the sums give (none: no visits).
    fn finish(acc: Option<SummaryAcc>) -> VisitsSummary {
        let Some(acc) = acc else {
            return VisitsSummary::default();
        };
        let mut s = acc.s;
        s.nb_uniq_visitors = acc.visitors.len();
        s.nb_users = acc.users.len();
        s
    }

    /// Adds another run's counts (its visitors and users by set union).
    fn merge(&mut self, other: &SummaryAcc) {
        let (s, o) = (&mut self.s, &other.s);
        s.nb_visits += o.nb_visits;
        s.nb_actions += o.nb_actions;
        s.max_actions = s.max_actions.max(o.max_actions);
        s.bounce_count += o.bounce_count;
        s.sum_visit_length += o.sum_visit_length;
        self.visitors.union_with(&other.visitors);
        self.users.union_with(&other.users);
    }

    #[inline(always)]
    fn add_whole(&mut self, a: &DayArchive, v: u32) {
        let n = a.actions_of(v).len() as u64;
        self.add(a, v, n, a.length[v as usize]);
    }

    #[inline(always)]
    fn add(&mut self, a: &DayArchive, v: u32, n: u64, length: u32) {
        let s = &mut self.s;
        s.nb_visits += 1;
        s.nb_actions += n;
        s.max_actions = s.max_actions.max(n);
        s.bounce_count += u64::from(n <= 1);
        s.sum_visit_length += u64::from(length);
        let visitor = a.visitor[v as usize];
        if visitor != self.last_visitor {
            self.visitors.insert(visitor);
            self.last_visitor = visitor;
        }
        let user = a.fields[VField::User as usize][v as usize];
        if user != NONE {
            self.users.insert(user);
        }
    }
}
