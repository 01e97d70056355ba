//! Content tracking (Matomo's `Contents.getContentNames` and
//! `getContentPieces`): the impressions and interactions of a
//! selection's `content` hits, by content name with a subtable by piece,
//! or by piece with a subtable by name, from the day archives' recorded
//! contents (`recorded.rs`, kept with the product views).
//!
//! The numbers follow Matomo's archiver (`ContentRecords`) so that a
//! Matomo user sees the ones they know:
//! - impressions are grouped by (name, piece, target); a group's visits
//!   and visitors are its distinct ones, and a row adds up its groups'
//!   (so a visit that saw two pieces of one name counts twice in the
//!   name's row, as in Matomo). Visits lie inside one day, so a range's
//!   visits are its days' added up, as Matomo's; its visitors are exact
//!   within each group over the range;
//! - a row's interactions are the interactions with its name (or piece)
//!   and subtable label, counted only where the row has impressions in
//!   the selection (Matomo drops interactions without an impression row);
//! - a piece-less impression counts under `Content Piece not defined` by
//!   piece, and in no piece row of its name (Matomo's subtable skips it);
//!   a piece-less interaction counts by name only.

use std::collections::{BTreeMap, HashSet};

use crate::hit::HitType;
use crate::query::Selection;

/// Which label a contents report's rows group by.
///
/// # Examples
/// ```
/// assert_eq!(hitmap::ContentsBy::Piece.segment(), "contentPiece");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentsBy {
    /// The content name, each with its pieces (`getContentNames`).
    Name,
    /// The piece, each with the names that showed it (`getContentPieces`).
    Piece,
}

impl ContentsBy {
    /// The segment that selects a row's visits.
    pub fn segment(self) -> &'static str {
        match self {
            ContentsBy::Name => "contentName",
            ContentsBy::Piece => "contentPiece",
        }
    }
}

/// Matomo's label of the piece-less impressions' row.
pub const PIECE_NOT_DEFINED: &str = "Content Piece not defined";

/// One row of a contents report.
///
/// # Examples
/// ```
/// let r = hitmap::ContentRow::default();
/// assert_eq!((r.impressions, r.interactions), (0, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContentRow {
    /// The name or piece; `None` for the piece-less impressions
    /// ([`PIECE_NOT_DEFINED`]).
    pub label: Option<String>,
    /// Visits with an impression, summed over the row's (name, piece,
    /// target) combinations.
    pub visits: u64,
    /// Distinct visitors of those, summed the same way.
    pub visitors: u64,
    /// Impressions.
    pub impressions: u64,
    /// Interactions.
    pub interactions: u64,
    /// The rows by the other part (pieces of a name, names of a piece),
    /// in the same order.
    pub sub: Vec<ContentRow>,
}

impl ContentRow {
    /// Interactions per impression (0 without impressions).
    ///
    /// # Examples
    /// ```
    /// let r = hitmap::ContentRow { impressions: 4, interactions: 1, ..Default::default() };
    /// assert_eq!(r.interaction_rate(), 0.25);
    /// ```
    pub fn interaction_rate(&self) -> f64 {
        if self.impressions == 0 {
            0.0
        } else {
            self.interactions as f64 / self.impressions as f64
        }
    }

    /// The label as Matomo's report shows it.
    pub fn shown_label(&self) -> &str {
        self.label.as_deref().unwrap_or(PIECE_NOT_DEFINED)
    }
}

/// A row's running sums; subtable rows by label.
#[derive(Default)]
struct Acc {
    visits: u64,
    visitors: u64,
    impressions: u64,
    interactions: u64,
    sub: BTreeMap<Option<String>, Acc>,
}

/// An impression's group: (name, piece, target).
type Group<'a> = (&'a str, Option<&'a str>, Option<&'a str>);

/// A group as the report keeps it.
type GroupKey = (String, Option<String>, Option<String>);

/// A group's impressions, and its distinct visits and visitors.
#[derive(Default)]
struct GroupAcc {
    impressions: u64,
    visits: u64,
    visitors: roaring::RoaringBitmap,
}

impl Selection<'_> {
    /// The selection's content impressions and interactions by `by`,
    /// sorted by visits (most first), then label in Matomo's order; each
    /// row's subtable the same way.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Content, ContentsBy, Conversion, Engine, Hit, HitType, Query, SiteConfig};
    /// let mut e = Engine::in_memory();
    /// e.add_site(SiteConfig::new(1))?;
    /// let ad = Content::new("Banner").piece("/img/sale.png");
    /// let content = |ts, c: &Content| {
    ///     Hit::new(1, ts, "a", HitType::Content)
    ///         .with_url("https://x.org/")
    ///         .with_conversion(Conversion::content(c.clone()))
    /// };
    /// e.ingest([
    ///     Hit::pageview(1, 1_717_200_000, "a", "https://x.org/"),
    ///     content(1_717_200_001, &ad),
    ///     content(1_717_200_009, &ad.clone().interaction("click")),
    /// ])?;
    /// let rows = e.query(&Query::site(1))?.contents(ContentsBy::Name);
    /// assert_eq!(rows[0].label.as_deref(), Some("Banner"));
    /// assert_eq!((rows[0].impressions, rows[0].interactions), (1, 1));
    /// assert_eq!(rows[0].sub[0].label.as_deref(), Some("/img/sale.png"));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn contents(&self, by: ContentsBy) -> Vec<ContentRow> {
        let mut groups: BTreeMap<GroupKey, GroupAcc> = BTreeMap::new();
        // Interactions by (name, piece).
        let mut interactions: BTreeMap<(String, Option<String>), u64> = BTreeMap::new();
        self.for_each_visit(|cut| {
            let visitor = cut.archive.visitor[cut.visit as usize];
            let mut seen: HashSet<Group<'_>> = HashSet::new();
            for r in cut.archive.views_of(cut.visit) {
                if r.kind != HitType::Content {
                    continue;
                }
                let Some(c) = &r.data.content else {
                    continue;
                };
                if c.interaction.is_some() {
                    *interactions
                        .entry((c.name.clone(), c.piece.clone()))
                        .or_default() += 1;
                    continue;
                }
                let first = seen.insert((&c.name, c.piece.as_deref(), c.target.as_deref()));
                let g = groups
                    .entry((c.name.clone(), c.piece.clone(), c.target.clone()))
                    .or_default();
                g.impressions += 1;
                if first {
                    g.visits += 1;
                    g.visitors.insert(visitor);
                }
            }
        });
        let mut rows: BTreeMap<Option<String>, Acc> = BTreeMap::new();
        for ((name, piece, _), g) in &groups {
            let (count, visits, visitors) = (g.impressions, g.visits, g.visitors.len());
            let (main, sub) = match by {
                ContentsBy::Name => (Some(name.clone()), piece.clone()),
                ContentsBy::Piece => (piece.clone(), Some(name.clone())),
            };
            let row = rows.entry(main).or_default();
            let add = |a: &mut Acc| {
                a.visits += visits;
                a.visitors += visitors;
                a.impressions += count;
            };
            add(row);
            // A piece-less impression has no row among its name's pieces.
            if let Some(sub) = sub {
                add(row.sub.entry(Some(sub)).or_default());
            }
        }
        for ((name, piece), count) in interactions {
            let (main, sub) = match by {
                ContentsBy::Name => (Some(name), piece),
                // A piece-less interaction has no piece row to count in.
                ContentsBy::Piece => match piece {
                    Some(piece) => (Some(piece), Some(name)),
                    None => continue,
                },
            };
            let Some(row) = rows.get_mut(&main) else {
                continue;
            };
            row.interactions += count;
            if let Some(sub) = sub {
                row.sub.entry(Some(sub)).or_default().interactions += count;
            }
        }
        finish(rows)
    }
}

fn finish(rows: BTreeMap<Option<String>, Acc>) -> Vec<ContentRow> {
    let mut out: Vec<ContentRow> = rows
        .into_iter()
        .map(|(label, a)| ContentRow {
            label,
            visits: a.visits,
            visitors: a.visitors,
            impressions: a.impressions,
            interactions: a.interactions,
            sub: finish(a.sub),
        })
        .collect();
    out.sort_by(|a, b| {
        b.visits
            .cmp(&a.visits)
            .then_with(|| crate::table::label_order(a.shown_label(), b.shown_label()))
    });
    out
}
