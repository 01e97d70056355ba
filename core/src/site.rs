//! Site configuration: time zone, visit timeout, own hosts, sections.

use chrono_tz::Tz;

use crate::error::{Error, Result};
use crate::url::normalize_prefix;

/// Largest site id (Matomo's `idsite` is a signed 32-bit integer).
pub(crate) const MAX_SITE: u32 = i32::MAX as u32;

/// How a site is set up. Build with [`SiteConfig::new`] and the builder
/// methods, then pass to [`Engine::add_site`](crate::Engine::add_site),
/// which validates it.
///
/// # Examples
/// ```
/// use hitmap::SiteConfig;
/// let site = SiteConfig::new(1)
///     .time_zone("Europe/London")
///     .visit_timeout(1800)
///     .host("intranet.example.org")
///     .section("News", ["/news"])
///     .section("HR", ["/teams/hr", "/jobs"])
///     .dimension("department");
/// assert_eq!(site.id(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SiteConfig {
    pub(crate) id: u32,
    pub(crate) time_zone: String,
    pub(crate) visit_timeout: u32,
    pub(crate) hosts: Vec<String>,
    pub(crate) sections: Vec<(String, Vec<String>)>,
    pub(crate) search_engines: Vec<String>,
    pub(crate) social_networks: Vec<String>,
    pub(crate) dimensions: Vec<String>,
    /// Explicit Matomo ids of some custom dimensions (name, id), as
    /// Matomo's `idcustomdimension`; the others are numbered after them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) dimension_ids: Vec<(String, u32)>,
    /// Goals (`goal.rs`), evaluated over the stored actions at query
    /// time: they may change any time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) goals: Vec<crate::goal::Goal>,
    /// An ecommerce site (Matomo's site setting): its orders and
    /// abandoned carts are reported.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) ecommerce: bool,
    /// The site's name (Matomo's `name`), shown by `MultiSites` and
    /// `SitesManager`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    /// The site's main URL (Matomo's `main_url`, with its scheme).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) main_url: Option<String>,
    /// Matomo's excluded IPs (addresses, `a.b.c.d/n` ranges, `a.b.*.*`
    /// wildcards): the tracker drops their requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) excluded_ips: Vec<String>,
    /// Matomo's excluded user agents: a request whose user agent holds
    /// one (regardless of case) is dropped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) excluded_user_agents: Vec<String>,
    /// Matomo's "only track visits to the site's URLs": a request whose
    /// URL is not on one of the site's hosts (or under its main URL) is
    /// dropped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) exclude_unknown_urls: bool,
    /// Matomo's excluded URL query parameters: the tracker and the
    /// access-log importer strip them (any case) from page URLs, with
    /// Matomo's default session and click ids
    /// ([`SiteConfig::strip_excluded_parameters`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) excluded_parameters: Vec<String>,
    /// Matomo's `action_title_category_delimiter`: page titles are
    /// categories joined by it (`Shop / Shoes / Boots`), and the page
    /// title reports group them into folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) title_delimiter: Option<String>,
}

/// A page title's categories by `delimiter` ([`SiteConfig::title_categories`]).
pub(crate) fn title_categories_by<'t>(title: &'t str, delimiter: Option<&str>) -> Vec<&'t str> {
    match delimiter {
        Some(d) => title
            .split(d)
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect(),
        None => Some(title.trim())
            .filter(|p| !p.is_empty())
            .into_iter()
            .collect(),
    }
}

impl SiteConfig {
    /// A site with Matomo's defaults: UTC, 1800 s visit timeout.
    pub fn new(id: u32) -> SiteConfig {
        SiteConfig {
            id,
            time_zone: "UTC".into(),
            visit_timeout: 1800,
            hosts: Vec::new(),
            sections: Vec::new(),
            search_engines: Vec::new(),
            social_networks: Vec::new(),
            dimensions: Vec::new(),
            dimension_ids: Vec::new(),
            goals: Vec::new(),
            ecommerce: false,
            name: None,
            main_url: None,
            excluded_ips: Vec::new(),
            excluded_user_agents: Vec::new(),
            exclude_unknown_urls: false,
            excluded_parameters: Vec::new(),
            title_delimiter: None,
        }
    }

    /// Sets Matomo's `action_title_category_delimiter`: page titles are
    /// categories joined by `delimiter`, and `Actions.getPageTitles`
    /// (and the entry and exit title reports) show a tree of them, as
    /// Matomo's with that setting. The tracking endpoint stores titles
    /// cleaned as Matomo's tracker does ([`SiteConfig::clean_title`]).
    /// An empty delimiter is none (Matomo's default).
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).title_category_delimiter("/");
    /// assert_eq!(s.title_categories(" Shop / Boots/"), ["Shop", "Boots"]);
    /// assert_eq!(s.clean_title(" Shop / Boots/"), "Shop/Boots");
    /// ```
    pub fn title_category_delimiter(mut self, delimiter: impl Into<String>) -> SiteConfig {
        self.title_delimiter = Some(delimiter.into()).filter(|d: &String| !d.is_empty());
        self
    }

    /// The title category delimiter, if the site has one.
    pub fn title_delimiter(&self) -> Option<&str> {
        self.title_delimiter.as_deref()
    }

    /// A page title's categories: its parts between the delimiter,
    /// trimmed, empty ones dropped (the whole title, trimmed, without a
    /// delimiter).
    pub fn title_categories<'t>(&self, title: &'t str) -> Vec<&'t str> {
        title_categories_by(title, self.title_delimiter())
    }

    /// A page title as Matomo's tracker stores it on a site with a
    /// delimiter: its categories joined by it (the title as it is
    /// without one).
    pub fn clean_title(&self, title: &str) -> String {
        match self.title_delimiter() {
            Some(d) => self.title_categories(title).join(d),
            None => title.to_owned(),
        }
    }

    /// Names the site (Matomo's site name).
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).host("x.org");
    /// assert_eq!(s.display_name(), "x.org");
    /// assert_eq!(s.name("Intranet").display_name(), "Intranet");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> SiteConfig {
        self.name = Some(name.into()).filter(|n: &String| !n.trim().is_empty());
        self
    }

    /// The site's name: the one given to [`SiteConfig::name`], else its
    /// first host, else `Site N`.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.hosts.first().cloned())
            .unwrap_or_else(|| format!("Site {}", self.id))
    }

    /// Sets the site's main URL (Matomo's `main_url`: scheme and host,
    /// `http://example.org`).
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).host("x.org");
    /// assert_eq!(s.url(), "https://x.org");
    /// assert_eq!(s.main_url("http://x.org").url(), "http://x.org");
    /// ```
    pub fn main_url(mut self, url: impl Into<String>) -> SiteConfig {
        self.main_url = Some(url.into()).filter(|u: &String| !u.trim().is_empty());
        self
    }

    /// The site's main URL: the one given to [`SiteConfig::main_url`],
    /// else `https://` and its first host, else empty.
    pub fn url(&self) -> String {
        self.main_url.clone().unwrap_or_else(|| {
            self.hosts
                .first()
                .map(|h| format!("https://{h}"))
                .unwrap_or_default()
        })
    }

    /// Makes the site an ecommerce site (Matomo's setting): its recorded
    /// orders and abandoned carts are reported (`Goals.get` with
    /// `idGoal=ecommerceOrder`, converted visits, overall revenue).
    ///
    /// # Examples
    /// ```
    /// let site = hitmap::SiteConfig::new(1).ecommerce(true);
    /// assert!(site.is_ecommerce());
    /// ```
    pub fn ecommerce(mut self, on: bool) -> SiteConfig {
        self.ecommerce = on;
        self
    }

    /// Whether the site is an ecommerce site.
    pub fn is_ecommerce(&self) -> bool {
        self.ecommerce
    }

    /// Excludes an IP address, a range (`10.0.0.0/8`, `2001:db8::/32`) or
    /// a wildcard (`192.168.*.*`): the tracker and the log importer drop
    /// the requests of such addresses, as Matomo's excluded IPs (the
    /// address itself is never stored).
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).exclude_ip("10.0.0.0/8").exclude_ip("192.168.1.*");
    /// assert_eq!(s.excluded_ips(), ["10.0.0.0/8", "192.168.1.*"]);
    /// ```
    pub fn exclude_ip(mut self, rule: impl Into<String>) -> SiteConfig {
        self.excluded_ips.push(rule.into().trim().to_owned());
        self
    }

    /// The excluded IPs, as given to [`SiteConfig::exclude_ip`].
    pub fn excluded_ips(&self) -> &[String] {
        &self.excluded_ips
    }

    /// Excludes the requests whose user agent holds `text` (regardless of
    /// case), as Matomo's excluded user agents.
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).exclude_user_agent("HeadlessChrome");
    /// assert_eq!(s.excluded_user_agents(), ["HeadlessChrome"]);
    /// ```
    pub fn exclude_user_agent(mut self, text: impl Into<String>) -> SiteConfig {
        let text = text.into();
        if !text.trim().is_empty() {
            self.excluded_user_agents.push(text.trim().to_owned());
        }
        self
    }

    /// The excluded user agents, as given to
    /// [`SiteConfig::exclude_user_agent`].
    pub fn excluded_user_agents(&self) -> &[String] {
        &self.excluded_user_agents
    }

    /// Strips the URL query parameter `name` (any case) from the site's
    /// page URLs (of page views, site searches, events and conversions;
    /// downloads and outlinks keep theirs, as Matomo's) as the tracker
    /// and the access-log importer record them, as Matomo's excluded
    /// parameters (a session id of the site's own, a tracking parameter).
    /// Hits given to the engine directly (NDJSON, DataFrames) keep their
    /// URLs as given.
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).exclude_parameter("ref_id");
    /// assert_eq!(s.excluded_parameters(), ["ref_id"]);
    /// ```
    pub fn exclude_parameter(mut self, name: impl Into<String>) -> SiteConfig {
        let name = name.into();
        if !name.trim().is_empty() {
            self.excluded_parameters.push(name.trim().to_owned());
        }
        self
    }

    /// The excluded URL query parameters, as given to
    /// [`SiteConfig::exclude_parameter`].
    pub fn excluded_parameters(&self) -> &[String] {
        &self.excluded_parameters
    }

    /// `url` as Matomo's tracker records a page URL of the site:
    /// without the query parameters the site excludes
    /// ([`SiteConfig::exclude_parameter`]) and Matomo's default excluded
    /// session and click ids (`gclid`, `fbclid`, `phpsessid`,
    /// `jsessionid`, `sessionid`, `sid`, ... in any case), the rest of the
    /// query in its order; the fragment is kept.
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).exclude_parameter("Ref_Id");
    /// assert_eq!(
    ///     s.strip_excluded_parameters("https://x.org/a?ref_id=7&q=1&GCLID=x#top"),
    ///     "https://x.org/a?q=1#top"
    /// );
    /// assert_eq!(s.strip_excluded_parameters("https://x.org/a?sid=2"), "https://x.org/a");
    /// assert_eq!(s.strip_excluded_parameters("https://x.org/a?q=1"), "https://x.org/a?q=1");
    /// ```
    pub fn strip_excluded_parameters<'u>(&self, url: &'u str) -> std::borrow::Cow<'u, str> {
        crate::url::strip_excluded_parameters(url, &self.excluded_parameters)
    }

    /// Drops requests whose URL is not on one of the site's hosts
    /// ([`SiteConfig::host`]) or under its main URL, as Matomo's "only
    /// track visits and actions when the action URL starts with one of
    /// the site's URLs".
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).host("x.org").exclude_unknown_urls(true);
    /// assert!(s.excludes_unknown_urls());
    /// ```
    pub fn exclude_unknown_urls(mut self, on: bool) -> SiteConfig {
        self.exclude_unknown_urls = on;
        self
    }

    /// Whether requests to other URLs than the site's are dropped.
    pub fn excludes_unknown_urls(&self) -> bool {
        self.exclude_unknown_urls
    }

    /// The site's main URL as given to [`SiteConfig::main_url`], if any.
    pub fn main_url_given(&self) -> Option<&str> {
        self.main_url.as_deref()
    }

    /// Whether the site reports conversions at all (goals or ecommerce):
    /// without, every conversion count is 0 and nothing is read for it.
    pub(crate) fn has_conversions(&self) -> bool {
        !self.goals.is_empty() || self.ecommerce
    }

    /// Adds a goal, or replaces the one with its id.
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Goal, GoalMatch, PatternType, SiteConfig};
    /// let site = SiteConfig::new(1)
    ///     .goal(Goal::new(1, "Contact", GoalMatch::Url, PatternType::Contains, "/contact/sent"))
    ///     .goal(Goal::new(2, "Brochure", GoalMatch::File, PatternType::Regex, r"brochure.*\.pdf$"));
    /// assert_eq!(site.goals().len(), 2);
    /// ```
    pub fn goal(mut self, goal: crate::goal::Goal) -> SiteConfig {
        self.goals.retain(|g| g.id != goal.id);
        self.goals.push(goal);
        self.goals.sort_by_key(|g| g.id);
        self
    }

    /// Removes the goal with id `id` (if any).
    ///
    /// ```
    /// use hitmap::{Goal, SiteConfig};
    /// let site = SiteConfig::new(1).goal(Goal::manual(1, "Call")).without_goal(1);
    /// assert!(site.goals().is_empty());
    /// ```
    pub fn without_goal(mut self, id: u32) -> SiteConfig {
        self.goals.retain(|g| g.id != id);
        self
    }

    /// The site's goals, by id.
    pub fn goals(&self) -> &[crate::goal::Goal] {
        &self.goals
    }

    /// The site id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The site's IANA time zone name.
    ///
    /// ```
    /// let site = hitmap::SiteConfig::new(1).time_zone("Europe/London");
    /// assert_eq!(site.time_zone_name(), "Europe/London");
    /// ```
    pub fn time_zone_name(&self) -> &str {
        &self.time_zone
    }

    /// The site's own hosts, as given to [`SiteConfig::host`].
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).host("intranet.example.org");
    /// assert_eq!(s.hosts(), ["intranet.example.org"]);
    /// ```
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The named sections: name and path prefixes, in the order given.
    ///
    /// # Examples
    /// ```
    /// let c = hitmap::SiteConfig::new(1).section("News", ["/news"]);
    /// assert_eq!(c.sections()[0].0, "News");
    /// ```
    pub fn sections(&self) -> &[(String, Vec<String>)] {
        &self.sections
    }

    /// The IANA time zone whose local days, weeks, months and years the
    /// reports use.
    pub fn time_zone(mut self, name: impl Into<String>) -> Self {
        self.time_zone = name.into();
        self
    }

    /// Seconds of silence that end a visit (a gap of exactly this many
    /// seconds starts a new one).
    pub fn visit_timeout(mut self, seconds: u32) -> Self {
        self.visit_timeout = seconds;
        self
    }

    /// One of the site's own host names: referrers from it count as
    /// `direct`. A leading `www.` is ignored.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(normalize_host(&host.into()));
        self
    }

    /// A named section: a list of URL path prefixes.
    pub fn section<I, S>(mut self, name: impl Into<String>, prefixes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.sections
            .push((name.into(), prefixes.into_iter().map(Into::into).collect()));
        self
    }

    /// Adds a search-engine host to the built-in list (`name.*` matches
    /// every top-level domain).
    pub fn search_engine(mut self, host: impl Into<String>) -> Self {
        self.search_engines.push(normalize_host(&host.into()));
        self
    }

    /// Adds a social-network host to the built-in list.
    pub fn social_network(mut self, host: impl Into<String>) -> Self {
        self.social_networks.push(normalize_host(&host.into()));
        self
    }

    /// Declares a custom dimension name, so that segments may use it before
    /// any hit carries it. Names seen in hits are known without this.
    pub fn dimension(mut self, name: impl Into<String>) -> Self {
        self.dimensions.push(name.into());
        self
    }

    /// Declares a custom dimension with the id Matomo gives it
    /// (`idcustomdimension`): `idDimension=N` and `dimensionN` then name
    /// it as in Matomo. Dimensions without an id are numbered in the order
    /// they were declared (or first seen), after the highest explicit id.
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).dimension_with_id("department", 4).dimension("office");
    /// assert_eq!(s.numbered_dimensions(["department", "office"]), [(4, "department"), (5, "office")]);
    /// ```
    pub fn dimension_with_id(mut self, name: impl Into<String>, id: u32) -> Self {
        let name = name.into();
        self.dimension_ids.push((name.clone(), id));
        self.dimension(name)
    }

    /// Matomo's ids of custom dimensions, given every name in the order
    /// the site declared or first saw them: explicit ids first, the rest
    /// numbered after the highest of them.
    ///
    /// # Examples
    /// ```
    /// let s = hitmap::SiteConfig::new(1).dimension("a").dimension("b");
    /// assert_eq!(s.numbered_dimensions(["a", "b", "seen-in-hits"]), [(1, "a"), (2, "b"), (3, "seen-in-hits")]);
    /// ```
    pub fn numbered_dimensions<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Vec<(u32, &'a str)> {
        let mut next = self
            .dimension_ids
            .iter()
            .map(|(_, id)| *id)
            .max()
            .unwrap_or(0);
        names
            .into_iter()
            .map(|name| {
                let id = match self.dimension_ids.iter().find(|(n, _)| n == name) {
                    Some((_, id)) => *id,
                    None => {
                        next += 1;
                        next
                    }
                };
                (id, name)
            })
            .collect()
    }

    /// Checks everything and resolves the time zone.
    pub(crate) fn validate(mut self) -> Result<(SiteConfig, Tz)> {
        if self.id == 0 || self.id > MAX_SITE {
            return Err(Error::InvalidSite(format!(
                "site id must be from 1 to {}, got {}",
                MAX_SITE, self.id
            )));
        }
        let tz: Tz = self
            .time_zone
            .parse()
            .map_err(|_| Error::UnknownTimeZone(self.time_zone.clone()))?;
        if self.visit_timeout == 0 || self.visit_timeout > 86_400 {
            return Err(Error::InvalidSite(format!(
                "visit timeout must be from 1 to 86400 seconds, got {}",
                self.visit_timeout
            )));
        }
        if let Some(d) = self
            .dimensions
            .iter()
            .find(|d| d.is_empty() || d.starts_with('$'))
        {
            return Err(Error::InvalidSite(format!(
                "custom dimension {d:?}: names must be non-empty and must not start with `$` (reserved for hitmap's own fields)"
            )));
        }
        let mut ids: Vec<u32> = self.dimension_ids.iter().map(|(_, id)| *id).collect();
        ids.sort_unstable();
        if ids.first() == Some(&0) || ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::InvalidSite(
                "custom dimension ids must be positive and distinct".into(),
            ));
        }
        crate::goal::validate_all(&self.goals)?;
        self.goals.sort_by_key(|g| g.id);
        for (name, prefixes) in &mut self.sections {
            if name.is_empty() || name.starts_with('/') {
                return Err(Error::InvalidSite(format!(
                    "section name {name:?} must be non-empty and must not start with '/'"
                )));
            }
            if prefixes.is_empty() {
                return Err(Error::InvalidSite(format!(
                    "section {name:?} needs at least one path prefix"
                )));
            }
            for p in prefixes.iter_mut() {
                *p = normalize_prefix(p).ok_or_else(|| {
                    Error::InvalidSite(format!(
                        "section {name:?}: prefix {p:?} must start with '/'"
                    ))
                })?;
            }
        }
        Ok((self, tz))
    }

    /// The prefixes of a section given by name or as a path prefix.
    pub(crate) fn resolve_section(&self, section: &str) -> Result<Vec<String>> {
        if let Some(p) = normalize_prefix(section) {
            return Ok(vec![p]);
        }
        self.sections
            .iter()
            .find(|(n, _)| n == section)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| Error::UnknownSection(section.into()))
    }
}

fn normalize_host(host: &str) -> String {
    let h = host.trim().to_ascii_lowercase();
    h.strip_prefix("www.").map(str::to_owned).unwrap_or(h)
}

/// The date of a Unix timestamp in a time zone.
pub(crate) fn local_date(tz: &chrono_tz::Tz, ts: i64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp(ts, 0)
        .expect("timestamps are validated to years 1970..9999")
        .with_timezone(tz)
        .date_naive()
}
