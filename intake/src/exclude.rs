//! Matomo's site exclusions, applied where a request's address, user
//! agent and URL are still known (the tracker, and so the log importer's
//! replayed tracking requests): excluded IPs (addresses, `a.b.c.d/n`
//! ranges, `a.b.*.*` wildcards, IPv6 too), excluded user agents (a part,
//! regardless of case) and "only track visits to the site's URLs"
//! ([`hitmap::SiteConfig::exclude_ip`] and its siblings); and the query
//! parameters stripped from page URLs ([`Exclusions::page_url`]).

use std::net::IpAddr;

/// One site's exclusions, ready to test requests against.
#[derive(Debug, Clone, Default)]
pub struct Exclusions {
    ips: Vec<(IpAddr, u8)>,
    agents: Vec<String>,
    /// The site's URLs (host, path prefix) when unknown URLs are dropped.
    urls: Option<Vec<(String, String)>>,
    /// The site's excluded URL query parameters.
    parameters: Vec<String>,
}

/// Why a request is excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excluded {
    /// Its address is one of the site's excluded IPs.
    Ip,
    /// Its user agent holds one of the site's excluded user agents.
    UserAgent,
    /// Its URL is not one of the site's.
    UnknownUrl,
}

impl Excluded {
    /// A short reason for summaries.
    pub fn reason(self) -> &'static str {
        match self {
            Excluded::Ip => "excluded IP",
            Excluded::UserAgent => "excluded user agent",
            Excluded::UnknownUrl => "URL not of the site",
        }
    }
}

impl Exclusions {
    /// A site's exclusions.
    ///
    /// # Errors
    /// An excluded IP that is no address, range or wildcard, named.
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::exclude::{Excluded, Exclusions};
    /// let site = hitmap::SiteConfig::new(1)
    ///     .host("x.org")
    ///     .exclude_ip("10.1.*.*")
    ///     .exclude_user_agent("HeadlessChrome")
    ///     .exclude_unknown_urls(true);
    /// let ex = Exclusions::of(&site)?;
    /// assert_eq!(ex.test("10.1.2.3", "Firefox", Some("https://x.org/")), Some(Excluded::Ip));
    /// assert_eq!(ex.test("10.2.2.3", "a headlesschrome b", Some("https://x.org/")), Some(Excluded::UserAgent));
    /// assert_eq!(ex.test("10.2.2.3", "Firefox", Some("https://y.org/")), Some(Excluded::UnknownUrl));
    /// assert_eq!(ex.test("10.2.2.3", "Firefox", Some("https://www.x.org/a")), None);
    /// # Ok::<(), String>(())
    /// ```
    pub fn of(site: &hitmap::SiteConfig) -> Result<Exclusions, String> {
        let ips = site
            .excluded_ips()
            .iter()
            .filter(|r| !r.trim().is_empty())
            .map(|r| {
                ip_rule(r).ok_or_else(|| {
                    format!(
                        "site {}: excluded IP {r:?} is not an address, a range (10.0.0.0/8) or a wildcard (10.1.*.*)",
                        site.id()
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        let urls = site.excludes_unknown_urls().then(|| {
            let mut urls: Vec<(String, String)> = site
                .hosts()
                .iter()
                .map(|h| (h.clone(), String::new()))
                .collect();
            if let Some((host, path)) = site.main_url_given().and_then(host_and_path) {
                urls.push((host, path));
            }
            urls
        });
        Ok(Exclusions {
            ips,
            agents: site
                .excluded_user_agents()
                .iter()
                .map(|a| a.to_lowercase())
                .collect(),
            urls,
            parameters: site.excluded_parameters().to_vec(),
        })
    }

    /// Whether the site excludes nothing.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
            && self.agents.is_empty()
            && self.urls.is_none()
            && self.parameters.is_empty()
    }

    /// `url` as Matomo's tracker records a page URL of the site (a page
    /// view's, site search's, event's or conversion's; downloads and
    /// outlinks keep theirs)
    /// (`ex`: its exclusions, if it has any): without Matomo's default
    /// session and click ids and the site's excluded parameters
    /// ([`hitmap::SiteConfig::exclude_parameter`]).
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::exclude::Exclusions;
    /// let site = hitmap::SiteConfig::new(1).exclude_parameter("ref");
    /// let ex = Exclusions::of(&site)?;
    /// assert_eq!(Exclusions::page_url(Some(&ex), "https://x.org/a?ref=1&q=2"), "https://x.org/a?q=2");
    /// assert_eq!(Exclusions::page_url(None, "https://x.org/a?ref=1&sid=2"), "https://x.org/a?ref=1");
    /// # Ok::<(), String>(())
    /// ```
    pub fn page_url<'u>(ex: Option<&Exclusions>, url: &'u str) -> std::borrow::Cow<'u, str> {
        hitmap::strip_excluded_parameters(url, ex.map_or(&[], |e| &e.parameters))
    }

    /// Why a request from `ip` with `agent` to `url` is excluded, if it is
    /// (an address that does not parse matches no excluded IP).
    pub fn test(&self, ip: &str, agent: &str, url: Option<&str>) -> Option<Excluded> {
        if !self.ips.is_empty()
            && let Ok(addr) = ip.trim().parse::<IpAddr>()
            && self.ips.iter().any(|(net, bits)| in_net(addr, *net, *bits))
        {
            return Some(Excluded::Ip);
        }
        if !self.agents.is_empty() {
            let agent = agent.to_lowercase();
            if self.agents.iter().any(|a| agent.contains(a.as_str())) {
                return Some(Excluded::UserAgent);
            }
        }
        if let Some(urls) = &self.urls {
            let known = url.and_then(host_and_path).is_some_and(|(host, path)| {
                urls.iter()
                    .any(|(h, p)| *h == host && path.starts_with(p.as_str()))
            });
            if !known {
                return Some(Excluded::UnknownUrl);
            }
        }
        None
    }
}

/// An excluded IP rule as a network: an address (all its bits), a range
/// `addr/bits`, or an IPv4 wildcard whose trailing parts are `*`.
fn ip_rule(rule: &str) -> Option<(IpAddr, u8)> {
    let rule = rule.trim();
    if let Some((addr, bits)) = rule.split_once('/') {
        let addr: IpAddr = addr.trim().parse().ok()?;
        let bits: u8 = bits.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        return (bits <= max).then_some((addr, bits));
    }
    if rule.contains('*') {
        let parts: Vec<&str> = rule.split('.').collect();
        let fixed = parts.iter().take_while(|p| **p != "*").count();
        if parts.len() != 4 || parts[fixed..].iter().any(|p| *p != "*") {
            return None;
        }
        let addr = parts
            .iter()
            .map(|p| if *p == "*" { "0" } else { p })
            .collect::<Vec<_>>()
            .join(".");
        return Some((addr.parse().ok()?, (fixed * 8) as u8));
    }
    let addr: IpAddr = rule.parse().ok()?;
    Some((addr, if addr.is_ipv4() { 32 } else { 128 }))
}

fn in_net(addr: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (addr, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|a| in_net(IpAddr::V4(a), net, bits)),
        _ => false,
    }
}

/// A URL's host (lower case, without `www.` and port) and path (without
/// a trailing `/`); `None` without a host.
fn host_and_path(url: &str) -> Option<(String, String)> {
    let rest = url.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit('@').next().unwrap_or(authority);
    let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    if host.is_empty() {
        return None;
    }
    let path = tail.split(['?', '#']).next().unwrap_or("");
    Some((host, path.trim_end_matches('/').to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_match_as_matomos() {
        let site = hitmap::SiteConfig::new(1)
            .exclude_ip("154.1.12.34")
            .exclude_ip("1.2.3.0/24")
            .exclude_ip("192.168.*.*")
            .exclude_ip("2001:db8::/32");
        let ex = Exclusions::of(&site).unwrap();
        for (ip, out) in [
            ("154.1.12.34", true),
            ("154.1.12.35", false),
            ("1.2.3.200", true),
            ("1.2.4.1", false),
            ("192.168.77.1", true),
            ("192.169.0.1", false),
            ("2001:db8:1::1", true),
            ("2001:db9::1", false),
            ("::ffff:1.2.3.4", true),
            ("not an address", false),
        ] {
            assert_eq!(ex.test(ip, "", None) == Some(Excluded::Ip), out, "{ip}");
        }
        for bad in ["1.2.3", "1.*.3.4", "1.2.3.4/33", "x"] {
            let site = hitmap::SiteConfig::new(1).exclude_ip(bad);
            assert!(Exclusions::of(&site).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn unknown_urls_are_those_off_the_sites_hosts_and_main_url() {
        let site = hitmap::SiteConfig::new(1)
            .host("piwik.net")
            .main_url("http://my.stuff.com/shop/")
            .exclude_unknown_urls(true);
        let ex = Exclusions::of(&site).unwrap();
        for (url, known) in [
            (Some("http://piwik.net/a"), true),
            (Some("https://www.PIWIK.net:8080"), true),
            (Some("http://my.stuff.com/shop/x"), true),
            (Some("http://my.stuff.com/other"), false),
            (Some("http://piwik.com/to/the/moon"), false),
            (Some("http://their.stuff.com/back"), false),
            (None, false),
            (Some(""), false),
        ] {
            assert_eq!(ex.test("1.1.1.1", "", url).is_none(), known, "{url:?}");
        }
        assert!(
            Exclusions::of(&hitmap::SiteConfig::new(2))
                .unwrap()
                .is_empty()
        );
    }
}
