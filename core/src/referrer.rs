//! Referrer type of a visit, from its first hit's URL and its referrer.

use crate::site::SiteConfig;
use crate::url::{host_of, query_keys};

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
    pub const ALL: [ReferrerType; 5] = [
        ReferrerType::Direct,
        ReferrerType::Search,
        ReferrerType::Website,
        ReferrerType::Campaign,
        ReferrerType::Social,
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
        }
    }
}

/// Built-in search engines (Matomo's list is the model; `.*` = any TLD).
const SEARCH_ENGINES: &[&str] = &[
    "google.*",
    "bing.com",
    "duckduckgo.com",
    "yahoo.*",
    "yandex.*",
    "baidu.com",
    "ecosia.org",
    "qwant.com",
    "startpage.com",
    "search.brave.com",
    "ask.com",
    "naver.com",
    "seznam.cz",
    "sogou.com",
    "so.com",
    "aol.com",
    "kagi.com",
    "search.yahoo.com",
    "perplexity.ai",
];

/// Built-in social networks.
const SOCIAL_NETWORKS: &[&str] = &[
    "facebook.com",
    "fb.me",
    "twitter.com",
    "t.co",
    "x.com",
    "linkedin.com",
    "lnkd.in",
    "instagram.com",
    "reddit.com",
    "youtube.com",
    "youtu.be",
    "pinterest.*",
    "tiktok.com",
    "vk.com",
    "xing.com",
    "tumblr.com",
    "mastodon.social",
    "news.ycombinator.com",
    "bsky.app",
    "threads.net",
    "weibo.com",
    "telegram.org",
    "t.me",
    "whatsapp.com",
    "github.com",
    "stackoverflow.com",
];

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

fn host_matches(host: &str, pattern: &str) -> bool {
    if let Some(name) = pattern.strip_suffix(".*") {
        // `google.*`: google.com, google.co.uk, news.google.de
        let mut labels = host.split('.');
        return host.split('.').count() >= 2
            && (labels.next() == Some(name) || host.contains(&format!(".{name}.")));
    }
    host == pattern || host.strip_suffix(pattern).is_some_and(|r| r.ends_with('.'))
}

/// Classifies a visit.
pub(crate) fn classify(
    first_url: Option<&str>,
    referrer: Option<&str>,
    site: &SiteConfig,
) -> ReferrerType {
    if first_url.is_some_and(has_campaign) {
        return ReferrerType::Campaign;
    }
    let Some(host) = referrer.and_then(host_of) else {
        return ReferrerType::Direct;
    };
    if site.hosts.iter().any(|h| host_matches(&host, h)) {
        return ReferrerType::Direct;
    }
    let in_list = |builtin: &[&str], extra: &[String]| {
        builtin.iter().any(|p| host_matches(&host, p))
            || extra.iter().any(|p| host_matches(&host, p))
    };
    if in_list(SEARCH_ENGINES, &site.search_engines) {
        ReferrerType::Search
    } else if in_list(SOCIAL_NETWORKS, &site.social_networks) {
        ReferrerType::Social
    } else {
        ReferrerType::Website
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
        assert_eq!(
            c("https://x.org/", Some("https://news.google.de/")),
            ReferrerType::Search
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
