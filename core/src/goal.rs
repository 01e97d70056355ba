//! Goals as Matomo defines them: what an action must match to convert.
//!
//! A goal is part of its site's configuration ([`SiteConfig::goal`]),
//! never of the stored days: conversions of pattern goals are computed
//! from the stored actions when a question is asked, so a goal defined
//! or edited today answers for every past day at once.
//!
//! Matching follows Matomo's tracker (`GoalManager`): a page URL or title
//! goal looks at page views only, a file goal at downloads, an external
//! website goal at outlinks, an event goal at events; `contains` and
//! `exact` compare bytes, ignoring ASCII case unless the goal is case
//! sensitive; a pattern that does not match is tried again
//! percent-decoded. A goal converts once per visit, or with
//! `allow_multiple` once per second of the visit that has a matching
//! action (Matomo's conversion key is the visit, the goal and the time).
//!
//! [`SiteConfig::goal`]: crate::SiteConfig::goal

use crate::error::{Error, Result};

/// The fields of a goal as JSON ([`Goal::from_json`]).
pub const GOAL_FIELDS: [&str; 10] = [
    "idgoal",
    "name",
    "description",
    "match_attribute",
    "pattern",
    "pattern_type",
    "case_sensitive",
    "allow_multiple",
    "revenue",
    "event_value_as_revenue",
];

/// Most goals a site may have.
pub const MAX_GOALS: usize = 500;

/// Longest pattern, in bytes.
pub const MAX_PATTERN: usize = 1000;

/// What a goal looks at (Matomo's `match_attribute`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalMatch {
    /// The URL of a page view.
    Url,
    /// The title of a page view.
    Title,
    /// The URL of a download.
    File,
    /// The URL of an outlink.
    ExternalWebsite,
    /// An event's category.
    EventCategory,
    /// An event's action.
    EventAction,
    /// An event's name.
    EventName,
    /// Converted only by recorded conversions (a tracking request's
    /// `idgoal`), never by a pattern.
    Manually,
}

impl GoalMatch {
    /// Matomo's name (`url`, `title`, `file`, `external_website`,
    /// `event_category`, `event_action`, `event_name`, `manually`).
    ///
    /// ```
    /// assert_eq!(hitmap::GoalMatch::ExternalWebsite.name(), "external_website");
    /// assert_eq!("event_name".parse::<hitmap::GoalMatch>().unwrap(), hitmap::GoalMatch::EventName);
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            GoalMatch::Url => "url",
            GoalMatch::Title => "title",
            GoalMatch::File => "file",
            GoalMatch::ExternalWebsite => "external_website",
            GoalMatch::EventCategory => "event_category",
            GoalMatch::EventAction => "event_action",
            GoalMatch::EventName => "event_name",
            GoalMatch::Manually => "manually",
        }
    }

    const ALL: [GoalMatch; 8] = [
        GoalMatch::Url,
        GoalMatch::Title,
        GoalMatch::File,
        GoalMatch::ExternalWebsite,
        GoalMatch::EventCategory,
        GoalMatch::EventAction,
        GoalMatch::EventName,
        GoalMatch::Manually,
    ];
}

impl std::str::FromStr for GoalMatch {
    type Err = Error;
    fn from_str(s: &str) -> Result<GoalMatch> {
        GoalMatch::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = GoalMatch::ALL.iter().map(|m| m.name()).collect();
                Error::InvalidSite(format!(
                    "unknown goal match attribute {s:?} (one of {})",
                    names.join(", ")
                ))
            })
    }
}

/// How a goal's pattern is compared (Matomo's `pattern_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternType {
    /// The value contains the pattern.
    Contains,
    /// The value is the pattern.
    Exact,
    /// The value matches the pattern as a regular expression (the `regex`
    /// crate's syntax, which for the patterns goals use is PCRE's).
    Regex,
}

impl PatternType {
    /// Matomo's name (`contains`, `exact`, `regex`).
    ///
    /// ```
    /// assert_eq!(hitmap::PatternType::Regex.name(), "regex");
    /// assert_eq!("exact".parse::<hitmap::PatternType>().unwrap(), hitmap::PatternType::Exact);
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            PatternType::Contains => "contains",
            PatternType::Exact => "exact",
            PatternType::Regex => "regex",
        }
    }
}

impl std::str::FromStr for PatternType {
    type Err = Error;
    fn from_str(s: &str) -> Result<PatternType> {
        [
            PatternType::Contains,
            PatternType::Exact,
            PatternType::Regex,
        ]
        .into_iter()
        .find(|p| p.name() == s)
        .ok_or_else(|| {
            Error::InvalidSite(format!(
                "unknown goal pattern type {s:?} (one of contains, exact, regex)"
            ))
        })
    }
}

/// One goal of a site. Build with [`Goal::new`] or [`Goal::manual`] and
/// the builder methods, then add it to the site with
/// [`SiteConfig::goal`](crate::SiteConfig::goal).
///
/// # Examples
/// ```
/// use hitmap::{Goal, GoalMatch, PatternType};
/// let g = Goal::new(1, "Newsletter", GoalMatch::Url, PatternType::Contains, "/newsletter/thanks")
///     .revenue(2.5)
///     .allow_multiple(true);
/// assert_eq!((g.id(), g.name(), g.revenue_per_conversion()), (1, "Newsletter", 2.5));
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Goal {
    pub(crate) id: u32,
    pub(crate) name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) description: String,
    pub(crate) match_attribute: GoalMatch,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub(crate) pattern: String,
    pub(crate) pattern_type: PatternType,
    #[serde(default)]
    pub(crate) case_sensitive: bool,
    #[serde(default)]
    pub(crate) allow_multiple: bool,
    #[serde(default)]
    pub(crate) revenue: f64,
    #[serde(default)]
    pub(crate) event_value_as_revenue: bool,
}

impl Goal {
    /// A goal that converts when an action's `attribute` matches
    /// `pattern` (compared as `pattern_type` says; case-insensitive
    /// until [`Goal::case_sensitive`]), once per visit, without revenue.
    pub fn new(
        id: u32,
        name: impl Into<String>,
        attribute: GoalMatch,
        pattern_type: PatternType,
        pattern: impl Into<String>,
    ) -> Goal {
        Goal {
            id,
            name: name.into(),
            description: String::new(),
            match_attribute: attribute,
            pattern: pattern.into(),
            pattern_type,
            case_sensitive: false,
            allow_multiple: false,
            revenue: 0.0,
            event_value_as_revenue: false,
        }
    }

    /// A goal converted only by recorded conversions (`idgoal=N` in a
    /// tracking request).
    ///
    /// ```
    /// let g = hitmap::Goal::manual(3, "Called us");
    /// assert_eq!(g.match_attribute(), hitmap::GoalMatch::Manually);
    /// ```
    pub fn manual(id: u32, name: impl Into<String>) -> Goal {
        Goal::new(id, name, GoalMatch::Manually, PatternType::Contains, "")
    }

    /// Compares case-sensitively.
    pub fn case_sensitive(mut self, yes: bool) -> Goal {
        self.case_sensitive = yes;
        self
    }

    /// Converts at most once a second in a visit instead of once a visit.
    pub fn allow_multiple(mut self, yes: bool) -> Goal {
        self.allow_multiple = yes;
        self
    }

    /// The revenue of each conversion.
    pub fn revenue(mut self, revenue: f64) -> Goal {
        self.revenue = revenue;
        self
    }

    /// An event goal's conversion takes its event's value as revenue
    /// (the goal's revenue when the event has none).
    pub fn event_value_as_revenue(mut self, yes: bool) -> Goal {
        self.event_value_as_revenue = yes;
        self
    }

    /// A description, shown by `Goals.getGoals`.
    pub fn description(mut self, text: impl Into<String>) -> Goal {
        self.description = text.into();
        self
    }

    /// The goal's id (Matomo's `idgoal`), from 1.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The goal's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The goal's description.
    pub fn description_text(&self) -> &str {
        &self.description
    }

    /// What the goal looks at.
    pub fn match_attribute(&self) -> GoalMatch {
        self.match_attribute
    }

    /// The pattern (empty for a manual goal).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// How the pattern is compared.
    pub fn pattern_type(&self) -> PatternType {
        self.pattern_type
    }

    /// Whether the pattern is compared case-sensitively.
    pub fn is_case_sensitive(&self) -> bool {
        self.case_sensitive
    }

    /// Whether a visit may convert more than once.
    pub fn allows_multiple(&self) -> bool {
        self.allow_multiple
    }

    /// The revenue of each conversion.
    pub fn revenue_per_conversion(&self) -> f64 {
        self.revenue
    }

    /// Whether an event's value is the conversion's revenue.
    pub fn uses_event_value(&self) -> bool {
        self.event_value_as_revenue
    }

    /// A goal from a JSON object with Matomo's field names (`idgoal`,
    /// `name`, `match_attribute`, `pattern`, `pattern_type`,
    /// `case_sensitive`, `allow_multiple`, `revenue`,
    /// `event_value_as_revenue`, `description`; flags as `true`/`false`
    /// or `1`/`0`): how the Python module and the C ABI pass goals.
    ///
    /// # Examples
    /// ```
    /// let g = hitmap::Goal::from_json(r#"{"idgoal": 4, "name": "PDF", "match_attribute": "file",
    ///     "pattern": ".pdf", "pattern_type": "contains", "allow_multiple": 1, "revenue": 2}"#)?;
    /// assert_eq!((g.id(), g.allows_multiple(), g.revenue_per_conversion()), (4, true, 2.0));
    /// assert!(hitmap::Goal::from_json(r#"{"idgoal": 4}"#).unwrap_err().to_string().contains("name"));
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Goal> {
        use serde_json::Value;
        let bad = |why: String| Error::InvalidSite(format!("goal: {why}"));
        let v: Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not a JSON object: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("expected a JSON object".into()))?;
        if let Some(k) = obj.keys().find(|k| !GOAL_FIELDS.contains(&k.as_str())) {
            return Err(bad(format!(
                "unknown field {k:?} (fields: {})",
                GOAL_FIELDS.join(", ")
            )));
        }
        let text = |k: &str| -> Result<String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(bad(format!("{k} must be a string, got {other}"))),
            }
        };
        let flag = |k: &str| -> Result<bool> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(false),
                Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(true),
                Some(other) => Err(bad(format!("{k} must be true, false, 1 or 0, got {other}"))),
            }
        };
        let id = match obj.get("idgoal") {
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| bad("idgoal must be a positive integer".into()))?;
        let name = text("name")?;
        if name.trim().is_empty() {
            return Err(bad(format!("goal {id} needs a name")));
        }
        let attribute: GoalMatch = match text("match_attribute")?.as_str() {
            "" => return Err(bad(format!("goal {id} needs a match_attribute"))),
            m => m.parse()?,
        };
        let pattern_type: PatternType = match text("pattern_type")?.as_str() {
            "" => PatternType::Contains,
            p => p.parse()?,
        };
        let revenue = match obj.get("revenue") {
            None | Some(Value::Null) => 0.0,
            Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
            Some(Value::String(s)) => s.parse().unwrap_or(f64::NAN),
            Some(other) => return Err(bad(format!("revenue must be a number, got {other}"))),
        };
        let goal = Goal::new(id, name, attribute, pattern_type, text("pattern")?)
            .case_sensitive(flag("case_sensitive")?)
            .allow_multiple(flag("allow_multiple")?)
            .revenue(revenue)
            .event_value_as_revenue(flag("event_value_as_revenue")?)
            .description(text("description")?);
        goal.validate()?;
        Ok(goal)
    }

    /// Checks the goal (its id, a pattern that compiles, a finite
    /// revenue); the error says what to change.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Goal, GoalMatch, PatternType};
    /// assert!(Goal::new(1, "ok", GoalMatch::Url, PatternType::Regex, "^/a").validate().is_ok());
    /// assert!(Goal::new(1, "bad", GoalMatch::Url, PatternType::Regex, "(").validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::InvalidSite(format!("goal {}: {why}", self.id)));
        if self.id == 0 || self.id > i32::MAX as u32 {
            return bad("ids go from 1 (0 is the ecommerce order)".into());
        }
        if self.name.trim().is_empty() {
            return bad("a goal needs a name".into());
        }
        if !self.revenue.is_finite() || self.revenue < 0.0 {
            return bad(format!(
                "revenue must be a number of 0 or more, got {}",
                self.revenue
            ));
        }
        if self.match_attribute == GoalMatch::Manually {
            return Ok(());
        }
        if self.pattern.is_empty() {
            return bad("a pattern goal needs a pattern".into());
        }
        if self.pattern.len() > MAX_PATTERN {
            return bad(format!("the pattern is longer than {MAX_PATTERN} bytes"));
        }
        if self.event_value_as_revenue && !self.match_attribute.is_event() {
            return bad("only an event goal can take the event's value as revenue".into());
        }
        GoalMatcher::new(self).map(|_| ())
    }
}

impl GoalMatch {
    pub(crate) fn is_event(self) -> bool {
        matches!(
            self,
            GoalMatch::EventCategory | GoalMatch::EventAction | GoalMatch::EventName
        )
    }
}

/// Checks a site's goals: each valid, ids distinct, at most
/// [`MAX_GOALS`].
pub(crate) fn validate_all(goals: &[Goal]) -> Result<()> {
    if goals.len() > MAX_GOALS {
        return Err(Error::InvalidSite(format!(
            "a site has at most {MAX_GOALS} goals, got {}",
            goals.len()
        )));
    }
    let mut ids: Vec<u32> = goals.iter().map(|g| g.id).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(Error::InvalidSite(format!(
            "two goals have the id {}: ids must be distinct",
            w[0]
        )));
    }
    goals.iter().try_for_each(Goal::validate)
}

/// A goal's pattern, ready to compare (a clone shares a compiled regex).
#[derive(Debug, Clone)]
pub(crate) struct GoalMatcher {
    /// The pattern as written, then percent-decoded if that differs.
    patterns: Vec<Compiled>,
}

#[derive(Debug, Clone)]
enum Compiled {
    Contains { pattern: String, fold: bool },
    Exact { pattern: String, fold: bool },
    Regex(regex::Regex),
}

impl GoalMatcher {
    pub(crate) fn new(goal: &Goal) -> Result<GoalMatcher> {
        let mut texts = vec![goal.pattern.clone()];
        let decoded = crate::url::percent_decode(&goal.pattern, true);
        if decoded != goal.pattern {
            texts.push(decoded);
        }
        let fold = !goal.case_sensitive;
        let patterns = texts
            .into_iter()
            .map(|pattern| {
                Ok(match goal.pattern_type {
                    PatternType::Contains => Compiled::Contains { pattern, fold },
                    PatternType::Exact => Compiled::Exact { pattern, fold },
                    PatternType::Regex => Compiled::Regex(
                        regex::RegexBuilder::new(&pattern)
                            .case_insensitive(fold)
                            .size_limit(1 << 20)
                            .build()
                            .map_err(|e| {
                                Error::InvalidSite(format!(
                                    "goal {}: the pattern is not a regular expression: {e}",
                                    goal.id
                                ))
                            })?,
                    ),
                })
            })
            .collect::<Result<_>>()?;
        Ok(GoalMatcher { patterns })
    }

    /// Whether `value` matches.
    pub(crate) fn matches(&self, value: &str) -> bool {
        self.patterns.iter().any(|p| match p {
            Compiled::Contains {
                pattern,
                fold: false,
            } => value.contains(pattern.as_str()),
            Compiled::Contains {
                pattern,
                fold: true,
            } => contains_folded(value, pattern),
            Compiled::Exact {
                pattern,
                fold: false,
            } => value == pattern,
            Compiled::Exact {
                pattern,
                fold: true,
            } => value.eq_ignore_ascii_case(pattern),
            Compiled::Regex(re) => re.is_match(value),
        })
    }
}

/// `hay` contains `needle`, ASCII case ignored (PHP's `stripos`).
fn contains_folded(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(t: PatternType, pattern: &str, case: bool) -> GoalMatcher {
        GoalMatcher::new(&Goal::new(1, "g", GoalMatch::Url, t, pattern).case_sensitive(case))
            .unwrap()
    }

    #[test]
    fn patterns_compare_as_matomos_tracker_does() {
        let m = matcher(PatternType::Contains, "/Thanks", false);
        assert!(m.matches("https://x.org/thanks?x=1"));
        assert!(!matcher(PatternType::Contains, "/Thanks", true).matches("https://x.org/thanks"));
        let m = matcher(PatternType::Exact, "https://x.org/A", false);
        assert!(m.matches("https://x.org/a") && !m.matches("https://x.org/a/"));
        let m = matcher(PatternType::Regex, "^https://x\\.org/(a|b)$", false);
        assert!(m.matches("https://X.org/B") && !m.matches("https://x.org/c"));
        // A pattern written percent-encoded also matches the decoded value.
        let m = matcher(PatternType::Contains, "caf%C3%A9", true);
        assert!(m.matches("https://x.org/café") && m.matches("https://x.org/caf%C3%A9"));
        // Only ASCII folds, as PHP's stripos.
        assert!(!matcher(PatternType::Contains, "É", false).matches("é"));
    }

    #[test]
    fn bad_goals_are_refused_with_the_reason() {
        let g = |goal: Goal| goal.validate().unwrap_err().to_string();
        assert!(
            g(Goal::new(1, "g", GoalMatch::Url, PatternType::Regex, "("))
                .contains("not a regular expression")
        );
        assert!(
            g(Goal::new(
                0,
                "g",
                GoalMatch::Url,
                PatternType::Contains,
                "a"
            ))
            .contains("from 1")
        );
        assert!(
            g(Goal::new(
                1,
                " ",
                GoalMatch::Url,
                PatternType::Contains,
                "a"
            ))
            .contains("name")
        );
        assert!(
            g(Goal::new(1, "g", GoalMatch::Url, PatternType::Contains, "")).contains("pattern")
        );
        assert!(
            g(Goal::new(1, "g", GoalMatch::Url, PatternType::Contains, "a").revenue(-1.0))
                .contains("revenue")
        );
        assert!(
            g(
                Goal::new(1, "g", GoalMatch::Url, PatternType::Contains, "a")
                    .event_value_as_revenue(true)
            )
            .contains("event")
        );
        assert!(Goal::manual(2, "m").validate().is_ok());
        let two = [Goal::manual(2, "a"), Goal::manual(2, "b")];
        assert!(
            validate_all(&two)
                .unwrap_err()
                .to_string()
                .contains("distinct")
        );
    }
}
