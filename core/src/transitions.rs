//! Transitions of a page (Matomo's `Transitions.getTransitionsForAction`):
//! where its page views came from (the page or site search before them,
//! or the visit's referrer for an entry) and what followed them (a page,
//! a site search, an outlink, a download, or the visit's end), from the
//! stored action sequences of a selection's visits.
//!
//! A step's "previous" action is Matomo's `idaction_url_ref` /
//! `idaction_name_ref`: the last page view or site search before it in
//! the visit (downloads, outlinks and events do not move it). Events are
//! not steps: they are neither previous nor following actions. A site
//! search that opened its visit is no page URL's previous search: Matomo's
//! tracker starts a visit with the exit URL 0 when its first request is a
//! search (a search has no URL action), where a later search sets it to
//! NULL, and only a NULL URL reference falls back to the name reference
//! (the keyword); a page title's previous search counts either way.

use std::collections::HashMap;

use crate::archive::DayArchive;
use crate::dict::NONE;
use crate::hit::HitType;
use crate::query::Selection;
use crate::raw::VField;
use crate::referrer::ReferrerType;
use crate::url::page_name;
use crate::visit_key::UNTITLED;

/// The page a transitions question is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionsOf {
    /// A page URL: matched without its scheme, a leading `www.` and its
    /// fragment, as Matomo matches `pageUrl==` (so `http://x.org/a` and
    /// `https://www.x.org/a` are one page).
    Url(String),
    /// A page title (trimmed); [`UNTITLED`] (any case) stands for page
    /// views without a title.
    Title(String),
}

/// Counts by label, sorted by count (most first), then label.
pub type Counted = Vec<(String, u64)>;

/// The entries of one referrer type: visits and their details (search
/// engine, social network, website URL, campaign name and keyword).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryReferrers {
    /// The type.
    pub kind: ReferrerType,
    /// Visits entering on the page with this type of referrer.
    pub visits: u64,
    /// Those visits by referrer (none for direct entries).
    pub details: Counted,
}

/// A page's transitions in a selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transitions {
    /// Page views of the page.
    pub pageviews: u64,
    /// Page views of the page right after a view of it.
    pub loops: u64,
    /// Visits entering on the page: their first step (page view or site
    /// search) is a view of it, as Matomo's entry action (a visit that
    /// opens with a site search entered on no page).
    pub entries: u64,
    /// Page views of the page that no page view or site search followed:
    /// `pageviews` less the following pages and searches and the loops.
    pub exits: u64,
    /// The pages viewed right before (URLs without scheme and `www.`, or
    /// titles).
    pub previous_pages: Counted,
    /// The site searches right before (keywords).
    pub previous_searches: Counted,
    /// The pages viewed right after.
    pub following_pages: Counted,
    /// The site searches right after.
    pub following_searches: Counted,
    /// The outlinks clicked after (full URLs).
    pub outlinks: Counted,
    /// The downloads after (full URLs).
    pub downloads: Counted,
    /// Entries by referrer type, in Matomo's order (direct, search,
    /// social, website, campaign, then AI assistants), types without
    /// entries left out.
    pub referrers: Vec<EntryReferrers>,
}

/// Matomo's order of referrer types in Transitions.
const REFERRER_ORDER: [ReferrerType; 6] = [
    ReferrerType::Direct,
    ReferrerType::Search,
    ReferrerType::Social,
    ReferrerType::Website,
    ReferrerType::Campaign,
    ReferrerType::Ai,
];

fn counted(map: HashMap<String, u64>) -> Counted {
    let mut v: Counted = map.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn bump(map: &mut HashMap<String, u64>, label: impl Into<String>) {
    *map.entry(label.into()).or_default() += 1;
}

impl Selection<'_> {
    /// The transitions of a page: its page views, where they came from
    /// and what followed them; `None` when the selection has no page
    /// view of it.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Engine, Hit, HitType, Query, SiteConfig, TransitionsOf};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "v", "https://x.org/a"),
    ///     Hit::pageview(1, 1_717_200_010, "v", "https://x.org/b"),
    ///     Hit::new(1, 1_717_200_020, "v", HitType::Outlink).with_url("https://y.org/"),
    ///     Hit::pageview(1, 1_717_200_030, "v", "https://x.org/a"),
    /// ])?;
    /// let t = e.query(&Query::site(1))?.transitions(&TransitionsOf::Url("http://x.org/b".into())).unwrap();
    /// assert_eq!((t.pageviews, t.exits), (1, 0));
    /// assert_eq!(t.previous_pages, [("x.org/a".to_owned(), 1)]);
    /// assert_eq!(t.following_pages, [("x.org/a".to_owned(), 1)]);
    /// assert_eq!(t.outlinks, [("https://y.org/".to_owned(), 1)]);
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn transitions(&self, of: &TransitionsOf) -> Option<Transitions> {
        let d = &self.site.dicts;
        // The page as a set of URL or title ids (`NONE`: untitled).
        let (titles, target): (bool, Vec<bool>) = match of {
            TransitionsOf::Url(u) => {
                let wanted = page_name(u.trim());
                let ids = (0..d.urls.len() as u32)
                    .map(|id| page_name(d.urls.value(id)) == wanted)
                    .collect();
                (false, ids)
            }
            TransitionsOf::Title(t) => {
                let wanted = t.trim();
                let mut ids: Vec<bool> = (0..d.titles.len() as u32)
                    .map(|id| d.titles.value(id).trim() == wanted)
                    .collect();
                // The last place stands for page views without a title.
                ids.push(wanted.eq_ignore_ascii_case(UNTITLED));
                (true, ids)
            }
        };
        let untitled = d.titles.len();
        let key = |a: &DayArchive, i: usize| -> usize {
            if titles {
                match a.a_title[i] {
                    NONE => untitled,
                    t => t as usize,
                }
            } else {
                a.a_url[i] as usize
            }
        };
        let is_target = |a: &DayArchive, i: usize| target.get(key(a, i)).copied().unwrap_or(false);
        let page_label = |a: &DayArchive, i: usize| -> String {
            if titles {
                match a.a_title[i] {
                    NONE => UNTITLED.to_owned(),
                    t => d.titles.value(t).to_owned(),
                }
            } else {
                match a.a_url[i] {
                    NONE => String::new(),
                    u => page_name(d.urls.value(u)).to_owned(),
                }
            }
        };
        let url = |a: &DayArchive, i: usize| match a.a_url[i] {
            NONE => String::new(),
            u => d.urls.value(u).to_owned(),
        };
        let keyword = |a: &DayArchive, i: usize| match a.extra(i).keyword {
            NONE => String::new(),
            k => d.keywords.value(k).to_owned(),
        };
        let keys = self.site.visit_keys();
        let mut t = Transitions::default();
        let mut previous_pages = HashMap::new();
        let mut previous_searches = HashMap::new();
        let mut following_pages = HashMap::new();
        let mut following_searches = HashMap::new();
        let mut outlinks = HashMap::new();
        let mut downloads = HashMap::new();
        let mut entries: HashMap<u8, (u64, HashMap<String, u64>)> = HashMap::new();
        self.for_each_visit_by_visitor(|cut| {
            let a = cut.archive;
            // The last page view or site search so far.
            let mut last: Option<usize> = None;
            // The visit's first action (whatever its kind): a search there
            // is no page URL's previous search.
            let opening = a.actions_of(cut.visit).start;
            let mut entered = false;
            for i in cut.actions.iter() {
                let after_target =
                    last.is_some_and(|j| a.a_kind[j] == HitType::Pageview && is_target(a, j));
                match a.a_kind[i] {
                    HitType::Pageview => {
                        let here = is_target(a, i);
                        if here {
                            t.pageviews += 1;
                            match last {
                                // Matomo's URL reference 0: neither a page
                                // nor a search before it.
                                Some(j)
                                    if a.a_kind[j] == HitType::Search
                                        && !titles
                                        && j == opening => {}
                                Some(j) if a.a_kind[j] == HitType::Search => {
                                    bump(&mut previous_searches, keyword(a, j));
                                }
                                Some(j) if is_target(a, j) => t.loops += 1,
                                Some(j) => bump(&mut previous_pages, page_label(a, j)),
                                None => {}
                            }
                        } else if after_target {
                            bump(&mut following_pages, page_label(a, i));
                        }
                        if !entered {
                            entered = true;
                            if here {
                                let r = keys.referrer(a, cut.visit);
                                let detail = match r.kind {
                                    ReferrerType::Direct => None,
                                    ReferrerType::Search => {
                                        Some(r.name.clone().unwrap_or_else(|| "Unknown".into()))
                                    }
                                    ReferrerType::Website => keys
                                        .field(a, cut.visit, VField::Referrer)
                                        .map(str::to_owned)
                                        .or(r.name.clone()),
                                    ReferrerType::Campaign => match (&r.name, &r.keyword) {
                                        (Some(n), Some(k)) => Some(format!("{n} {k}")),
                                        _ => None,
                                    },
                                    _ => r.name.clone(),
                                };
                                let e = entries.entry(r.kind as u8).or_default();
                                e.0 += 1;
                                if let Some(label) = detail {
                                    bump(&mut e.1, label);
                                }
                            }
                        }
                        last = Some(i);
                    }
                    HitType::Search => {
                        if after_target {
                            bump(&mut following_searches, keyword(a, i));
                        }
                        // A visit that opens with a search entered on no page.
                        entered = true;
                        last = Some(i);
                    }
                    HitType::Outlink if after_target => bump(&mut outlinks, url(a, i)),
                    HitType::Download if after_target => bump(&mut downloads, url(a, i)),
                    _ => {}
                }
            }
        });
        if t.pageviews == 0 {
            return None;
        }
        t.previous_pages = counted(previous_pages);
        t.previous_searches = counted(previous_searches);
        t.following_pages = counted(following_pages);
        t.following_searches = counted(following_searches);
        t.outlinks = counted(outlinks);
        t.downloads = counted(downloads);
        let followed: u64 = t
            .following_pages
            .iter()
            .chain(&t.following_searches)
            .map(|(_, n)| n)
            .sum();
        t.exits = t.pageviews - followed - t.loops;
        for kind in REFERRER_ORDER {
            if let Some((visits, details)) = entries.remove(&(kind as u8)) {
                t.entries += visits;
                t.referrers.push(EntryReferrers {
                    kind,
                    visits,
                    details: counted(details),
                });
            }
        }
        Some(t)
    }
}
