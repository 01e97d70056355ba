//! Queries: a site, a local date range, an optional segment and section.
//! [`Engine::query`] resolves them into a [`Selection`], which answers
//! summaries and reports.

use std::sync::Arc;

use chrono::NaiveDate;
use roaring::RoaringBitmap;

use crate::archive::{Columns, DayArchive};
pub(crate) use crate::bitset::BitSet;
use crate::engine::{Engine, SiteState};
use crate::error::{Error, Result};
use crate::live::DayPart;
pub(crate) use crate::par::QueryThreads;
pub(crate) use crate::section::SectionSet;
use crate::segment::{CompiledSegment, Segment};

/// Something that names a day: a [`NaiveDate`] or a `YYYY-MM-DD` string.
pub trait IntoDay {
    /// The day, or an error that says what is accepted.
    fn into_day(self) -> Result<NaiveDate>;
}

impl IntoDay for NaiveDate {
    fn into_day(self) -> Result<NaiveDate> {
        Ok(self)
    }
}

impl IntoDay for &str {
    fn into_day(self) -> Result<NaiveDate> {
        crate::period::parse_day(self)
    }
}

impl IntoDay for &String {
    fn into_day(self) -> Result<NaiveDate> {
        crate::period::parse_day(self)
    }
}

/// What to ask: a site, a range of its local days, and optionally a
/// segment (which visits) and a section (which part of the site).
///
/// Date errors are kept and reported by [`Engine::query`], so the builder
/// chains without `?` except for [`Query::segment`], which parses at once.
///
/// # Examples
/// ```
/// use hitmap::Query;
/// let q = Query::site(1)
///     .range("2026-01-01", "2026-03-31")
///     .segment("deviceType==smartphone;department==HR,department==IT")?
///     .section("/news");
/// assert_eq!(q.site_id(), 1);
/// # Ok::<(), hitmap::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Query {
    site: u32,
    range: Option<(NaiveDate, NaiveDate)>,
    segment: Option<Segment>,
    section: Option<String>,
    error: Option<String>,
    error_value: String,
}

impl Query {
    /// A query over every day of `site` (narrow it with [`Query::range`]).
    pub fn site(site: u32) -> Query {
        Query {
            site,
            range: None,
            segment: None,
            section: None,
            error: None,
            error_value: String::new(),
        }
    }

    /// The site asked about.
    pub fn site_id(&self) -> u32 {
        self.site
    }

    /// Local days `from` to `to`, both included.
    pub fn range(mut self, from: impl IntoDay, to: impl IntoDay) -> Query {
        match (from.into_day(), to.into_day()) {
            (Ok(f), Ok(t)) => self.range = Some((f, t)),
            (Err(e), _) | (_, Err(e)) => self.keep_error(e),
        }
        self
    }

    /// One local day.
    pub fn day(self, day: impl IntoDay + Clone) -> Query {
        self.range(day.clone(), day)
    }

    /// Only the visits a segment selects. Parses at once.
    pub fn segment(mut self, segment: &str) -> Result<Query> {
        self.segment = Some(segment.parse()?);
        Ok(self)
    }

    /// Only the visits a parsed segment selects.
    pub fn with_segment(mut self, segment: Option<Segment>) -> Query {
        self.segment = segment;
        self
    }

    /// Cut visits down to a section: a path prefix (`/news`) or the name of
    /// one of the site's sections.
    pub fn section(mut self, section: impl Into<String>) -> Query {
        self.section = Some(section.into());
        self
    }

    /// The days asked (`None`: every day), or the date error kept by
    /// [`Query::range`].
    pub(crate) fn date_range(&self) -> Result<Option<(NaiveDate, NaiveDate)>> {
        match &self.error {
            Some(reason) => Err(Error::Date {
                value: self.error_value.clone(),
                reason: reason.clone(),
            }),
            None => Ok(self.range),
        }
    }

    /// The same query without its section.
    pub(crate) fn without_section(&self) -> Query {
        Query {
            section: None,
            ..self.clone()
        }
    }

    fn keep_error(&mut self, e: Error) {
        if let Error::Date { value, reason } = e {
            self.error_value = value;
            self.error = Some(reason);
        } else {
            self.error = Some(e.to_string());
        }
    }
}

/// A query resolved against the engine: the days, the compiled segment,
/// the section's URLs. Cheap to make; every answer reads the archives.
pub struct Selection<'e> {
    pub(crate) site: &'e SiteState,
    /// The pieces of the selected days (a sealed archive, and live parts
    /// while a day takes small batches), in date order.
    pub(crate) days: Vec<DayPart<'e>>,
    pub(crate) segment: Option<Arc<CompiledSegment>>,
    /// URL ids inside the section, if a section is asked (a dense bitset:
    /// it is probed once per action).
    pub(crate) section: Option<Arc<SectionSet>>,
    /// Threads a report may use ([`Engine::set_query_threads`]).
    pub(crate) threads: QueryThreads,
}

/// Days a question read a window at a time ([`Resolved::windows`]) holds
/// at once: a year's decoded days at once were a third of a gigabyte,
/// ten years' five.
pub(crate) const WINDOW_DAYS: u64 = 31;

/// A query's site, segment and section resolved once, so that a request
/// over many periods compiles them once and each period only picks its
/// days.
pub(crate) struct Resolved<'e> {
    pub(crate) site: &'e SiteState,
    segment: Option<Arc<CompiledSegment>>,
    section: Option<Arc<SectionSet>>,
    pub(crate) threads: QueryThreads,
}

impl<'e> Resolved<'e> {
    /// The selection of the days `from..=to` (`None`: every day).
    pub(crate) fn select(&self, range: Option<(NaiveDate, NaiveDate)>) -> Result<Selection<'e>> {
        self.select_columns(range, Columns::ALL)
    }

    /// [`Resolved::select`] for a question that reads only the column
    /// groups `cols` of each day and those the segment and section need
    /// ([`Resolved::columns`]): a day read for it unpacks no more.
    pub(crate) fn select_columns(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
        cols: Columns,
    ) -> Result<Selection<'e>> {
        let site = self.site;
        let (first, last) = self.checked_range(range)?;
        let cols = cols.with(self.columns());
        Ok(Selection {
            site,
            days: site.parts_on(first, last, self.threads.threads, cols)?,
            segment: self.segment.clone(),
            section: self.section.clone(),
            threads: self.threads,
        })
    }

    /// The column groups the segment and the section read.
    pub(crate) fn columns(&self) -> Columns {
        let segment = self.segment.as_ref().map_or(Columns::NONE, |s| s.columns());
        match self.section {
            // A visit cut to a section: its actions' URLs and times.
            Some(_) => segment.with(Columns::URLS).with(Columns::TIMES),
            None => segment,
        }
    }

    /// The days `from..=to` (`None`: every day), once checked: in order,
    /// and none of them damaged.
    pub(crate) fn checked_range(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<(NaiveDate, NaiveDate)> {
        let (first, last) = range.unwrap_or((NaiveDate::MIN, NaiveDate::MAX));
        if first > last {
            return Err(Error::Date {
                value: format!("{first},{last}"),
                reason: "the range ends before it starts".into(),
            });
        }
        if let Some((_, (path, reason))) = self.site.damaged.range(first..=last).next() {
            return Err(Error::Store {
                path: path.clone(),
                reason: format!("{reason}; this query needs that day (other days still answer)"),
            });
        }
        Ok((first, last))
    }

    /// The site's stored days of `range` (`None`: every day) in windows
    /// of [`WINDOW_DAYS`], first to last: a question over many days reads
    /// one window, answers it and lets it go, so its memory follows the
    /// window, not the range. The range is checked as
    /// [`Resolved::checked_range`] checks it.
    pub(crate) fn windows(
        &self,
        range: Option<(NaiveDate, NaiveDate)>,
    ) -> Result<Vec<(NaiveDate, NaiveDate)>> {
        let (first, last) = self.checked_range(range)?;
        // Over the site's days, not from year 1.
        let dates = self.site.dates();
        let (Some(&lo), Some(&hi)) = (dates.first(), dates.last()) else {
            return Ok(Vec::new());
        };
        let (mut from, last) = (first.max(lo), last.min(hi));
        let mut out = Vec::new();
        while from <= last {
            let to = (from + chrono::Days::new(WINDOW_DAYS - 1)).min(last);
            out.push((from, to));
            let Some(next) = to.succ_opt() else { break };
            from = next;
        }
        Ok(out)
    }

    /// Whether the query has neither a segment nor a section.
    pub(crate) fn is_unfiltered(&self) -> bool {
        self.segment.is_none() && self.section.is_none()
    }

    /// The same site and segment with another section (for the sections
    /// report), resolved from its URL set.
    pub(crate) fn with_section(&self, section: Arc<SectionSet>) -> Resolved<'e> {
        Resolved {
            site: self.site,
            segment: self.segment.clone(),
            section: Some(section),
            threads: self.threads,
        }
    }
}

impl Engine {
    /// Resolves a query.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Query, SiteConfig};
    /// let mut engine = Engine::in_memory();
    /// engine.add_site(SiteConfig::new(1))?;
    /// assert!(engine.query(&Query::site(2)).is_err());
    /// assert!(engine.query(&Query::site(1).range("2026-02-30", "2026-03-01")).is_err());
    /// let s = engine.query(&Query::site(1).range("2026-01-01", "2026-12-31"))?.visits_summary();
    /// assert_eq!(s.nb_visits, 0);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn query(&self, q: &Query) -> Result<Selection<'_>> {
        let range = q.date_range()?;
        self.resolve(q)?.select(range)
    }

    /// Resolves a query's site, segment and section, not its days.
    pub(crate) fn resolve(&self, q: &Query) -> Result<Resolved<'_>> {
        let site = self.site_state(q.site)?;
        let segment = q
            .segment
            .as_ref()
            .map(|s| CompiledSegment::compile(s, site).map(Arc::new))
            .transpose()?;
        let section = q
            .section
            .as_deref()
            .map(|s| section_urls(site, s))
            .transpose()?;
        Ok(Resolved {
            site,
            segment,
            section,
            threads: self.query_threads,
        })
    }
}

/// Each section the site names, with its URL set, in the site's order.
pub(crate) fn site_sections(site: &SiteState) -> Result<Vec<(String, Arc<SectionSet>)>> {
    site.config
        .sections
        .iter()
        .map(|(name, _)| Ok((name.clone(), section_urls(site, name)?)))
        .collect()
}

/// URL ids whose path lies in the section (the site's cached set,
/// extended by the URLs added since; `section.rs`).
pub(crate) fn section_urls(site: &SiteState, section: &str) -> Result<Arc<SectionSet>> {
    let prefixes = site.config.resolve_section(section)?;
    Ok(site.dicts.sections.urls_for(prefixes, &site.dicts.urls))
}

/// The actions of a visit that a report sees: all of them (a range of the
/// archive's action columns) or those inside a section.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Actions<'a> {
    Range(usize, usize),
    List(&'a [u32]),
}

impl Actions<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            Actions::Range(a, b) => b - a,
            Actions::List(l) => l.len(),
        }
    }

    pub(crate) fn iter(&self) -> ActionIter<'_> {
        match self {
            Actions::Range(a, b) => ActionIter::Range(*a..*b),
            Actions::List(l) => ActionIter::List(l.iter()),
        }
    }
}

/// Iterator over [`Actions`], as action indices.
#[derive(Clone)]
pub(crate) enum ActionIter<'a> {
    Range(std::ops::Range<usize>),
    List(std::slice::Iter<'a, u32>),
}

impl Iterator for ActionIter<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        match self {
            ActionIter::Range(r) => r.next(),
            ActionIter::List(l) => l.next().map(|&i| i as usize),
        }
    }
}

/// A visit as a report sees it: cut to the section's actions, if any.
pub(crate) struct CutVisit<'a> {
    /// The site-local day of the visit.
    pub date: NaiveDate,
    pub archive: &'a DayArchive,
    pub visit: u32,
    /// The visit's actions (all, or those inside the section).
    pub actions: Actions<'a>,
    pub length: u32,
}

impl CutVisit<'_> {
    pub(crate) fn visitor(&self) -> u32 {
        self.archive.visitor[self.visit as usize]
    }

    /// The visit as grouped reports count it.
    pub(crate) fn at(&self) -> crate::visit_key::VisitAt<'_> {
        crate::visit_key::VisitAt {
            date: self.date,
            archive: self.archive,
            visit: self.visit,
            actions: self.actions.len(),
            length: self.length,
            since_last: None,
        }
    }
}

impl<'e> Selection<'e> {
    /// The visits of a day's piece that the segment selects (`None`: all).
    pub(crate) fn selected(&self, part: &DayPart<'_>) -> Option<RoaringBitmap> {
        match &self.segment {
            Some(s) => {
                let mut visits = s.eval(&part.archive, part.date, self.site);
                part.restrict(&mut visits);
                Some(visits)
            }
            None => part.visible(),
        }
    }

    /// Calls `f` for every selected visit, cut to the section; visits with
    /// no action inside the section are skipped.
    pub(crate) fn for_each_visit(&self, mut f: impl FnMut(&CutVisit<'_>)) {
        let mut buf: Vec<u32> = Vec::new();
        for part in &self.days {
            self.visits_of(part, &mut buf, &mut f);
        }
    }

    /// [`Selection::for_each_visit`] in visitor-major order: all of one
    /// visitor's visits, over every day, then the next visitor's. Per-row
    /// distinct visitors can then be counted with a "last visitor seen"
    /// stamp ([`DistinctStamp`]) instead of collecting and sorting pairs.
    pub(crate) fn for_each_visit_by_visitor(&self, mut f: impl FnMut(&CutVisit<'_>)) {
        let ordered = self.visitor_major();
        let mut buf: Vec<u32> = Vec::new();
        for (d, v) in ordered {
            let part = &self.days[d as usize];
            self.cut(part.date, &part.archive, v, &mut buf, &mut f);
        }
    }

    /// The selected visits as (day index, visit), visitor-major.
    fn visitor_major(&self) -> Vec<(u32, u32)> {
        let mut items: Vec<(u32, u32, u32)> = Vec::new(); // (visitor, day index, visit)
        for (d, part) in self.days.iter().enumerate() {
            let d = d as u32;
            let a = &*part.archive;
            match self.selected(part) {
                Some(bitmap) => items.extend(bitmap.iter().map(|v| (a.visitor[v as usize], d, v))),
                None => items.extend((0..a.visit_count()).map(|v| (a.visitor[v as usize], d, v))),
            }
        }
        // Counting sort by visitor: ids are dense, so this is linear.
        let mut starts = vec![0usize; self.site.dicts.visitors.len() + 1];
        for it in &items {
            starts[it.0 as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut ordered = vec![(0u32, 0u32); items.len()];
        for &(visitor, d, v) in &items {
            ordered[starts[visitor as usize]] = (d, v);
            starts[visitor as usize] += 1;
        }
        ordered
    }

    /// [`Selection::for_each_visit_by_visitor`] on up to
    /// the engine's query threads at once: the visitors are split into
    /// contiguous runs, each run is fed to its own accumulator from
    /// `init`, and the accumulators come back in visitor order. A visitor's
    /// visits all go to one accumulator, so distinct-visitor counts of the
    /// accumulators add up exactly.
    pub(crate) fn par_visits_by_visitor<A: Send>(
        &self,
        init: impl Fn() -> A + Sync,
        each: impl Fn(&mut A, &CutVisit<'_>) + Sync,
    ) -> Vec<A> {
        let ordered = self.visitor_major();
        let visitor_of = |k: usize| {
            let (d, v) = ordered[k];
            self.days[d as usize].archive.visitor[v as usize]
        };
        let chunks = self.chunks(ordered.len());
        let mut bounds = vec![0];
        for c in 1..chunks {
            let mut at = (ordered.len() * c / chunks).max(*bounds.last().unwrap_or(&0));
            while at > 0 && at < ordered.len() && visitor_of(at) == visitor_of(at - 1) {
                at += 1;
            }
            bounds.push(at);
        }
        bounds.push(ordered.len());
        let run = |range: std::ops::Range<usize>| {
            let mut acc = init();
            let mut buf: Vec<u32> = Vec::new();
            for &(d, v) in &ordered[range] {
                let part = &self.days[d as usize];
                self.cut(part.date, &part.archive, v, &mut buf, &mut |cut| {
                    each(&mut acc, cut)
                });
            }
            acc
        };
        self.run_chunks(&bounds, &run)
    }

    /// Runs `each` over the selected days in up to [`Selection::threads`]
    /// contiguous runs of days at once, each run with its own accumulator
    /// from `init`; the accumulators come back in day order.
    pub(crate) fn par_days<A: Send>(
        &self,
        init: impl Fn() -> A + Sync,
        each: impl Fn(&mut A, &DayPart<'e>) + Sync,
    ) -> Vec<A> {
        // Split by visits, so that the runs take about as long.
        let mut weight = Vec::with_capacity(self.days.len() + 1);
        weight.push(0u64);
        for p in &self.days {
            weight.push(weight.last().unwrap_or(&0) + p.totals().visits + 1);
        }
        let total = *weight.last().unwrap_or(&0);
        let chunks = self.chunks(total as usize);
        let mut bounds = vec![0];
        for c in 1..chunks as u64 {
            let at = weight.partition_point(|&w| w < total * c / chunks as u64);
            bounds.push(at.clamp(*bounds.last().unwrap_or(&0), self.days.len()));
        }
        bounds.push(self.days.len());
        let run = |range: std::ops::Range<usize>| {
            let mut acc = init();
            for part in &self.days[range] {
                each(&mut acc, part);
            }
            acc
        };
        self.run_chunks(&bounds, &run)
    }

    /// Calls `f` for every selected visit of one day's piece, cut to the
    /// section; visits with no action inside the section are skipped.
    pub(crate) fn visits_of(
        &self,
        part: &DayPart<'_>,
        buf: &mut Vec<u32>,
        f: &mut impl FnMut(&CutVisit<'_>),
    ) {
        let a = &*part.archive;
        match self.selected(part) {
            Some(bitmap) => {
                for v in &bitmap {
                    self.cut(part.date, a, v, buf, f);
                }
            }
            None => {
                for v in 0..a.visit_count() {
                    self.cut(part.date, a, v, buf, f);
                }
            }
        }
    }

    /// How many runs `work` items are split into: one per thread, and one
    /// alone when the work is too small to pay for starting a thread.
    fn chunks(&self, work: usize) -> usize {
        let QueryThreads { threads, min_work } = self.threads;
        threads.clamp(1, (work / min_work.max(1)).max(1))
    }

    /// Runs `run` over `bounds[i]..bounds[i + 1]`, one run per thread
    /// (the calling thread takes one).
    fn run_chunks<A: Send>(
        &self,
        bounds: &[usize],
        run: &(impl Fn(std::ops::Range<usize>) -> A + Sync),
    ) -> Vec<A> {
        let ranges: Vec<std::ops::Range<usize>> = bounds.windows(2).map(|w| w[0]..w[1]).collect();
        let threads = ranges.len();
        crate::par::map_jobs(ranges, threads, run)
    }

    /// Cuts one visit to the section (if any) and hands it to `f`.
    fn cut(
        &self,
        date: NaiveDate,
        a: &DayArchive,
        v: u32,
        buf: &mut Vec<u32>,
        f: &mut impl FnMut(&CutVisit<'_>),
    ) {
        let range = a.actions_of(v);
        let Some(inside) = &self.section else {
            f(&CutVisit {
                date,
                archive: a,
                visit: v,
                actions: Actions::Range(range.start, range.end),
                length: a.length[v as usize],
            });
            return;
        };
        buf.clear();
        buf.extend(
            range
                .filter(|&i| inside.contains(a.a_url[i]))
                .map(|i| i as u32),
        );
        let (Some(&first), Some(&last)) = (buf.first(), buf.last()) else {
            return;
        };
        let length = a.span_length(buf.len(), first as usize, last as usize);
        f(&CutVisit {
            date,
            archive: a,
            visit: v,
            actions: Actions::List(buf),
            length,
        });
    }
}

/// Counts distinct visitors per row when visits arrive in visitor-major
/// order ([`Selection::for_each_visit_by_visitor`]): a row counts a visitor
/// the first time in a run.
pub(crate) struct DistinctStamp {
    last: Vec<u32>,
    pub counts: Vec<u64>,
}

impl DistinctStamp {
    pub(crate) fn new(keys: usize) -> DistinctStamp {
        DistinctStamp {
            last: vec![u32::MAX; keys],
            counts: vec![0; keys],
        }
    }

    pub(crate) fn grow(&mut self, keys: usize) {
        if self.last.len() < keys {
            self.last.resize(keys, u32::MAX);
            self.counts.resize(keys, 0);
        }
    }

    pub(crate) fn see(&mut self, key: u32, visitor: u32) {
        let k = key as usize;
        if self.last[k] != visitor {
            self.last[k] = visitor;
            self.counts[k] += 1;
        }
    }
}

/// Counts distinct (key, id) pairs per key.
pub(crate) fn distinct_per_key(mut pairs: Vec<u64>, keys: usize) -> Vec<u64> {
    pairs.sort_unstable();
    pairs.dedup();
    let mut counts = vec![0u64; keys];
    for p in pairs {
        counts[(p >> 32) as usize] += 1;
    }
    counts
}
