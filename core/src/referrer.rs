//! A visit's referrer, from its first hit's URL and its referrer: the
//! type, and the name and keyword (campaign parameters, Matomo's search
//! engine, social network and AI assistant lists in `referrer_lists.rs`).

use crate::referrer_lists::{Param, lists};
use crate::site::SiteConfig;
use crate::url::{full_host_of, percent_decode, query_keys, without_fragment, without_www};

/// How a visit arrived (Matomo's `referrerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ReferrerType {
    /// No referrer, or one of the site's own hosts.
    Direct = 0,
    /// A known search engine.
    Search = 1,
    /// Any other website.
    Website = 2,
    /// The first URL carries campaign parameters.
    Campaign = 3,
    /// A known social network.
    Social = 4,
    /// A known AI assistant (ChatGPT, Claude, Perplexity, ...).
    Ai = 5,
}

impl ReferrerType {
    /// The type of a segment value (`direct`, `search`, ...); `None` for
    /// anything else.
    ///
    /// # Examples
    /// ```
    /// use hitmap::ReferrerType;
    /// assert_eq!(ReferrerType::parse("campaign"), Some(ReferrerType::Campaign));
    /// assert_eq!(ReferrerType::parse("email"), None);
    /// ```
    pub fn parse(name: &str) -> Option<ReferrerType> {
        ReferrerType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// All types, in id order.
    pub const ALL: [ReferrerType; 6] = [
        ReferrerType::Direct,
        ReferrerType::Search,
        ReferrerType::Website,
        ReferrerType::Campaign,
        ReferrerType::Social,
        ReferrerType::Ai,
    ];

    /// The segment value (`direct`, `search`, ...).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap::ReferrerType::Social.name(), "social");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            ReferrerType::Direct => "direct",
            ReferrerType::Search => "search",
            ReferrerType::Website => "website",
            ReferrerType::Campaign => "campaign",
            ReferrerType::Social => "social",
            ReferrerType::Ai => "ai",
        }
    }

    /// Matomo's label of the type in its Referrers reports.
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap::ReferrerType::Direct.label(), "Direct Entry");
    /// ```
    pub fn label(self) -> &'static str {
        match self {
            ReferrerType::Direct => "Direct Entry",
            ReferrerType::Search => "Search Engines",
            ReferrerType::Website => "Websites",
            ReferrerType::Campaign => "Campaigns",
            ReferrerType::Social => "Social Networks",
            ReferrerType::Ai => "AI Assistants",
        }
    }

    /// Matomo's number for the type (`referer_type` in its API rows).
    ///
    /// # Examples
    /// ```
    /// assert_eq!(hitmap::ReferrerType::Campaign.matomo_id(), 6);
    /// ```
    pub fn matomo_id(self) -> u8 {
        match self {
            ReferrerType::Direct => 1,
            ReferrerType::Search => 2,
            ReferrerType::Website => 3,
            ReferrerType::Campaign => 6,
            ReferrerType::Social => 7,
            ReferrerType::Ai => 8,
        }
    }
}

/// Whether a landing URL carries campaign parameters (any `mtm_*`, `pk_*`,
/// `utm_*`, and Matomo's long names), which make its visit a campaign.
///
/// # Examples
/// ```
/// assert!(hitmap::has_campaign("https://x.org/?utm_source=mail"));
/// assert!(!hitmap::has_campaign("https://x.org/?q=1"));
/// ```
pub fn has_campaign(url: &str) -> bool {
    query_keys(url).any(is_campaign_key)
}

/// Query keys that mark a campaign: any `mtm_*`, `pk_*`, `utm_*`, and the
/// long Matomo names.
fn is_campaign_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k.starts_with("mtm_")
        || k.starts_with("pk_")
        || k.starts_with("utm_")
        || k == "matomo_campaign"
        || k == "piwik_campaign"
        || k == "matomo_kwd"
        || k == "piwik_kwd"
}

/// A site's own extra host (`SiteConfig::search_engine`,
/// `social_network`): the host or a subdomain of it.
fn host_matches(host: &str, pattern: &str) -> bool {
    host == pattern || host.strip_suffix(pattern).is_some_and(|r| r.ends_with('.'))
}

/// Campaign name parameters, in Matomo's order of preference.
const CAMPAIGN_NAMES: [&str; 8] = [
    "pk_cpn",
    "pk_campaign",
    "piwik_campaign",
    "mtm_campaign",
    "matomo_campaign",
    "utm_campaign",
    "utm_source",
    "utm_medium",
];

/// Campaign keyword parameters, in Matomo's order of preference.
const CAMPAIGN_KEYWORDS: [&str; 7] = [
    "pk_kwd",
    "pk_keyword",
    "piwik_kwd",
    "mtm_kwd",
    "mtm_keyword",
    "matomo_kwd",
    "utm_term",
];

/// A visit's referrer: its type, and its name and keyword where the type
/// has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    /// The type.
    pub kind: ReferrerType,
    /// The campaign, search engine, social network, AI assistant, or the
    /// website's host; `None` for direct entries.
    pub name: Option<String>,
    /// The search or campaign keyword, lower-cased, if the referrer
    /// shows it.
    pub keyword: Option<String>,
    /// A campaign's source, medium, content and id (`mtm_source`,
    /// `utm_medium`, ...), lower-cased; `None` for other types.
    pub campaign: Option<CampaignParts>,
}

/// The parts of a campaign besides its name and keyword.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignParts {
    /// `mtm_source`, `utm_source`, `pk_source`.
    pub source: Option<String>,
    /// `mtm_medium`, `utm_medium`, `pk_medium`.
    pub medium: Option<String>,
    /// `mtm_content`, `utm_content`, `pk_content`.
    pub content: Option<String>,
    /// `mtm_cid`, `utm_id`, `pk_cid`.
    pub id: Option<String>,
}

/// The value of the first of `keys` in a URL's query, decoded and
/// lower-cased (as Matomo stores campaign names and keywords).
fn first_param(url: &str, keys: &[&str]) -> Option<String> {
    let query = without_fragment(url).split_once('?')?.1;
    keys.iter().find_map(|key| {
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k.eq_ignore_ascii_case(key) && !v.is_empty())
                .then(|| percent_decode(v, true).trim().to_lowercase())
                .filter(|v| !v.is_empty())
        })
    })
}

/// The campaign a URL's campaign parameters name (lower-cased, decoded):
/// what [`describe_referrer`] makes of a landing URL that
/// [`has_campaign`].
pub(crate) fn url_campaign(url: &str) -> Referrer {
    Referrer {
        kind: ReferrerType::Campaign,
        name: first_param(url, &CAMPAIGN_NAMES),
        keyword: first_param(url, &CAMPAIGN_KEYWORDS),
        campaign: Some(CampaignParts {
            source: first_param(
                url,
                &["mtm_source", "utm_source", "pk_source", "matomo_source"],
            ),
            medium: first_param(
                url,
                &["mtm_medium", "utm_medium", "pk_medium", "matomo_medium"],
            ),
            content: first_param(
                url,
                &["mtm_content", "utm_content", "pk_content", "matomo_content"],
            ),
            id: first_param(url, &["mtm_cid", "utm_id", "pk_cid", "matomo_cid"]),
        }),
    }
}

/// `url` without Matomo's campaign name and keyword parameters (its
/// `campaign_var_name` and `campaign_keyword_var_name`, any case), which
/// its tracker strips from an action's URL; unchanged (borrowed) when it
/// has none. The other campaign parameters (`mtm_content`, `utm_id`, ...)
/// stay, as Matomo's.
pub(crate) fn without_campaign_parameters(url: &str) -> std::borrow::Cow<'_, str> {
    crate::url::without_parameters(url, |name| {
        CAMPAIGN_NAMES
            .iter()
            .chain(&CAMPAIGN_KEYWORDS)
            .any(|p| p.eq_ignore_ascii_case(name))
    })
}

/// A URL's path and query after its host (`""` when it has none).
fn rest_of(url: &str) -> &str {
    let url = without_fragment(url);
    let after = url.split_once("://").map_or(url, |(_, r)| r);
    after.find(['/', '?']).map_or("", |i| &after[i..])
}

/// Describes a visit's referrer from its landing URL and referrer URL
/// (Matomo's rules): campaign parameters on the landing URL first; then
/// no referrer or one of the site's own hosts is a direct entry; then an
/// AI assistant, a search engine (with its keyword, or one that hides
/// it), a social network (Matomo's lists), else a website named by its
/// host.
///
/// # Examples
/// ```
/// use hitmap::{ReferrerType, SiteConfig, describe_referrer};
/// let site = SiteConfig::new(1).host("x.org");
/// let r = describe_referrer(Some("https://x.org/"), Some("https://www.google.de/search?q=Hitmap+Rust"), &site);
/// assert_eq!((r.kind, r.name.as_deref(), r.keyword.as_deref()), (ReferrerType::Search, Some("Google"), Some("hitmap rust")));
/// let r = describe_referrer(Some("https://x.org/?utm_campaign=Spring&utm_term=Shoes&utm_medium=Email"), None, &site);
/// assert_eq!((r.kind, r.name.as_deref(), r.keyword.as_deref()), (ReferrerType::Campaign, Some("spring"), Some("shoes")));
/// assert_eq!(r.campaign.unwrap().medium.as_deref(), Some("email"));
/// assert_eq!(describe_referrer(Some("https://x.org/"), Some("https://chatgpt.com/"), &site).kind, ReferrerType::Ai);
/// // A website keeps its host's `www.`, as Matomo names it.
/// let r = describe_referrer(Some("https://x.org/"), Some("https://WWW.Test.nl:8080/a"), &site);
/// assert_eq!((r.kind, r.name.as_deref()), (ReferrerType::Website, Some("www.test.nl")));
/// ```
pub fn describe_referrer(
    first_url: Option<&str>,
    referrer: Option<&str>,
    site: &SiteConfig,
) -> Referrer {
    referrer_of(first_url, referrer, site, true)
}

/// Classifies a visit (the type alone).
pub(crate) fn classify(
    first_url: Option<&str>,
    referrer: Option<&str>,
    site: &SiteConfig,
) -> ReferrerType {
    referrer_of(first_url, referrer, site, false).kind
}

fn referrer_of(
    first_url: Option<&str>,
    referrer: Option<&str>,
    site: &SiteConfig,
    details: bool,
) -> Referrer {
    let plain = |kind| Referrer {
        kind,
        name: None,
        keyword: None,
        campaign: None,
    };
    if let Some(url) = first_url.filter(|u| has_campaign(u)) {
        if !details {
            return plain(ReferrerType::Campaign);
        }
        return url_campaign(url);
    }
    // The host as the referrer gives it (a website's name), and without
    // `www.` (what lists and own hosts are matched by).
    let Some((referrer, full)) = referrer.and_then(|r| Some((r, full_host_of(r)?))) else {
        return plain(ReferrerType::Direct);
    };
    let Some(host) = without_www(&full) else {
        return plain(ReferrerType::Direct);
    };
    if site.hosts.iter().any(|h| host_matches(&host, h)) {
        return plain(ReferrerType::Direct);
    }
    let named = |kind, name: &str, keyword| Referrer {
        kind,
        name: details.then(|| name.to_owned()),
        keyword,
        campaign: None,
    };
    let rest = rest_of(referrer);
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    let lists = lists();
    // AI assistants first: some (ChatGPT) are on the search engine list
    // too, and Matomo counts them as AI assistants since it has the type.
    if let Some(name) = lists.ai(&host, path) {
        return named(ReferrerType::Ai, name, None);
    }
    for engine in lists.search_engines(&host, path) {
        let keyword = engine.params.iter().find_map(|p| match p {
            Param::Name(key) => first_param(referrer, &[key.as_str()]),
            Param::Pattern(re) => re
                .captures(rest)
                .and_then(|c| c.get(1))
                .map(|m| percent_decode(m.as_str(), true).trim().to_lowercase())
                .filter(|k| !k.is_empty()),
        });
        if keyword.is_some() || engine.hidden.iter().any(|h| h.matches(rest)) {
            return named(ReferrerType::Search, &engine.name, keyword);
        }
    }
    if let Some(h) = site.search_engines.iter().find(|h| host_matches(&host, h)) {
        return named(ReferrerType::Search, h, None);
    }
    if let Some(name) = lists.social(&host, path) {
        return named(ReferrerType::Social, name, None);
    }
    if let Some(h) = site.social_networks.iter().find(|h| host_matches(&host, h)) {
        return named(ReferrerType::Social, h, None);
    }
    // Matomo names a website by its host as the referrer gives it (`www.`
    // kept: `www.test.nl`).
    named(ReferrerType::Website, &full, None)
}

/// Which part of the referrer a report is by (Matomo's Referrers reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReferrerPart {
    /// Search engines (`Referrers.getSearchEngines`).
    SearchEngine,
    /// Search keywords (`Referrers.getKeywords`); a hidden keyword is
    /// `Keyword not defined`.
    Keyword,
    /// Websites by host (`Referrers.getWebsites`).
    Website,
    /// Social networks (`Referrers.getSocials`).
    Social,
    /// Campaign names (`Referrers.getCampaigns`).
    Campaign,
    /// AI assistants (`Referrers.getAIAssistants`).
    AiAssistant,
}

impl ReferrerPart {
    /// The referrer type whose visits the report counts.
    pub fn kind(self) -> ReferrerType {
        match self {
            ReferrerPart::SearchEngine | ReferrerPart::Keyword => ReferrerType::Search,
            ReferrerPart::Website => ReferrerType::Website,
            ReferrerPart::Social => ReferrerType::Social,
            ReferrerPart::Campaign => ReferrerType::Campaign,
            ReferrerPart::AiAssistant => ReferrerType::Ai,
        }
    }
}

/// The label of search visits whose engine hides the keyword (Matomo's).
pub const KEYWORD_NOT_DEFINED: &str = "Keyword not defined";

/// A visit's label in a Referrers report by `part`.
pub(crate) fn referrer_label(part: ReferrerPart, r: &Referrer) -> String {
    if part == ReferrerPart::Keyword {
        r.keyword
            .clone()
            .unwrap_or_else(|| KEYWORD_NOT_DEFINED.to_owned())
    } else {
        r.name.clone().unwrap_or_else(|| "Unknown".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies() {
        let site = SiteConfig::new(1).host("x.org");
        let c = |u: &str, r: Option<&str>| classify(Some(u), r, &site);
        assert_eq!(
            c(
                "https://x.org/?utm_source=mail",
                Some("https://google.com/")
            ),
            ReferrerType::Campaign
        );
        assert_eq!(c("https://x.org/", None), ReferrerType::Direct);
        assert_eq!(
            c("https://x.org/", Some("https://www.x.org/a")),
            ReferrerType::Direct
        );
        assert_eq!(
            c("https://x.org/", Some("https://www.google.co.uk/search")),
            ReferrerType::Search
        );
        // A search engine that shows no keyword and does not hide one
        // there is a website (Matomo's rule).
        assert_eq!(
            c("https://x.org/", Some("https://news.google.de/")),
            ReferrerType::Website
        );
        assert_eq!(
            c("https://x.org/", Some("https://l.facebook.com/")),
            ReferrerType::Social
        );
        assert_eq!(
            c("https://x.org/", Some("https://blog.example.com/")),
            ReferrerType::Website
        );
        assert_eq!(c("https://x.org/", Some("not a url")), ReferrerType::Direct);
        assert_eq!(
            c("https://x.org/", Some("https://notgoogle.com/")),
            ReferrerType::Website
        );
    }
}
