//! Matomo's search engine, social network and AI assistant lists,
//! embedded (`core/data/referrer-lists/`, CC0, from
//! matomo-org/searchengine-and-social-list; see the README there), read
//! once on first use.
//!
//! Host patterns are matched as Matomo does: lower-cased, without `www.`;
//! `{}` stands for a country code or a combined top-level domain
//! (`google.{}`: google.de, google.co.uk); a pattern with a path
//! (`x.com/i/grok`) needs the referrer's path to start with it.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;

const SEARCH_ENGINES: &str = include_str!("../data/referrer-lists/SearchEngines.yml");
const SOCIALS: &str = include_str!("../data/referrer-lists/Socials.yml");
const AI_ASSISTANTS: &str = include_str!("../data/referrer-lists/AIAssistants.yml");

/// Where a search engine keeps its keyword.
#[derive(Debug)]
pub(crate) enum Param {
    /// A query parameter.
    Name(String),
    /// A pattern over the path and query; its first group is the keyword.
    Pattern(Regex),
}

/// A path on which a search engine hides its keyword.
#[derive(Debug)]
pub(crate) enum Hidden {
    /// This exact path.
    Path(String),
    /// A pattern over the path and query.
    Pattern(Regex),
}

impl Hidden {
    pub(crate) fn matches(&self, rest: &str) -> bool {
        match self {
            Hidden::Path(p) => rest.split_once('?').map_or(rest, |(p, _)| p) == p,
            Hidden::Pattern(re) => re.is_match(rest),
        }
    }
}

/// One search engine configuration.
#[derive(Debug)]
pub(crate) struct SearchEngine {
    pub name: String,
    pub params: Vec<Param>,
    /// Paths on which the engine hides the keyword (still a search):
    /// patterns over the path and query, or paths (`/`).
    pub hidden: Vec<Hidden>,
}

/// A host pattern: `prefix{}suffix` or an exact host, with an optional path.
#[derive(Debug)]
struct Pattern {
    host: String,
    /// `host` holds `{}`.
    wild: bool,
    path: Option<String>,
}

impl Pattern {
    fn parse(text: &str) -> Pattern {
        let text = text.trim().to_ascii_lowercase();
        let text = text.strip_prefix("www.").unwrap_or(&text);
        let (host, path) = match text.split_once('/') {
            Some((h, p)) => (h.to_owned(), Some(format!("/{p}"))),
            None => (text.to_owned(), None),
        };
        Pattern {
            wild: host.contains("{}"),
            host,
            path,
        }
    }

    fn matches(&self, host: &str, path: &str) -> bool {
        let host_ok = if self.wild {
            let (prefix, suffix) = self.host.split_once("{}").unwrap_or((&self.host, ""));
            host.len() > prefix.len() + suffix.len()
                && host.starts_with(prefix)
                && host.ends_with(suffix)
                && is_country_part(&host[prefix.len()..host.len() - suffix.len()])
        } else {
            host == self.host
        };
        host_ok && self.path.as_deref().is_none_or(|p| path.starts_with(p))
    }
}

/// A country code or combined top-level domain: `de`, `com`, `co.uk`,
/// `com.br`.
fn is_country_part(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() <= 2
        && labels
            .iter()
            .all(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase()))
}

/// The parsed lists.
#[derive(Debug)]
pub(crate) struct Lists {
    pub engines: Vec<SearchEngine>,
    /// Each engine name's first URL as the list writes it (Matomo's
    /// `getUrlFromName`: the URL its reports show).
    first_urls: HashMap<String, String>,
    /// Exact hosts (no `{}`) to the (pattern, engine) entries with that host.
    search_hosts: HashMap<String, Vec<(Pattern, usize)>>,
    search_wild: Vec<(Pattern, usize)>,
    socials: HostList,
    /// Each social network's first domain in the list (Matomo's "main
    /// URL"), by name.
    social_main: HashMap<String, String>,
    ai: HostList,
}

/// The lists, parsed on first use.
pub(crate) fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(Lists::parse)
}

/// A YAML scalar as the lists write them: bare, or in single or double
/// quotes.
fn unquote(s: &str) -> String {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else if let Some(inner) = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        inner.replace("\\\"", "\"")
    } else {
        s.to_owned()
    }
}

/// A PHP regex (`/body/flags`) as a Rust one; `None` if it does not
/// compile.
fn php_regex(s: &str) -> Option<Regex> {
    let body = s.strip_prefix('/')?;
    let end = body.rfind('/')?;
    let (body, flags) = (&body[..end], &body[end + 1..]);
    let body = body.replace("\\/", "/");
    let prefix = if flags.contains('i') { "(?i)" } else { "" };
    Regex::new(&format!("{prefix}{body}")).ok()
}

/// `Name:` followed by `  - host` lines (socials, AI assistants).
fn parse_hosts(text: &str) -> Vec<(Pattern, String)> {
    let mut out = Vec::new();
    let mut name = String::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            name = unquote(line.trim_end().trim_end_matches(':'));
        } else if let Some(item) = line.trim().strip_prefix("- ") {
            out.push((Pattern::parse(&unquote(item)), name.clone()));
        }
    }
    out
}

impl Lists {
    fn parse() -> Lists {
        let mut engines: Vec<SearchEngine> = Vec::new();
        let mut hosts: Vec<(Pattern, usize)> = Vec::new();
        let mut first_urls: HashMap<String, String> = HashMap::new();
        let mut name = String::new();
        let mut list = "";
        for line in SEARCH_ENGINES.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if indent == 0 {
                name = unquote(trimmed.trim_end_matches(':'));
            } else if trimmed == "-" {
                engines.push(SearchEngine {
                    name: name.clone(),
                    params: Vec::new(),
                    hidden: Vec::new(),
                });
            } else if let Some(item) = trimmed.strip_prefix("- ") {
                let item = unquote(item);
                let index = engines.len().wrapping_sub(1);
                let Some(engine) = engines.last_mut() else {
                    continue;
                };
                match list {
                    "urls" => {
                        first_urls
                            .entry(engine.name.clone())
                            .or_insert_with(|| item.clone());
                        hosts.push((Pattern::parse(&item), index));
                    }
                    "params" if item.starts_with('/') => {
                        engine.params.extend(php_regex(&item).map(Param::Pattern));
                    }
                    "params" => engine.params.push(Param::Name(item)),
                    "hiddenkeyword" if item.len() >= 3 && item.ends_with('/') => {
                        engine.hidden.extend(php_regex(&item).map(Hidden::Pattern));
                    }
                    "hiddenkeyword" => engine.hidden.push(Hidden::Path(item)),
                    _ => {}
                }
            } else if let Some((key, _)) = trimmed.split_once(':') {
                list = match key {
                    "urls" => "urls",
                    "params" => "params",
                    "hiddenkeyword" => "hiddenkeyword",
                    _ => "",
                };
            }
        }
        let mut search_hosts: HashMap<String, Vec<(Pattern, usize)>> = HashMap::new();
        let mut search_wild = Vec::new();
        for (p, i) in hosts {
            if p.wild {
                search_wild.push((p, i));
            } else {
                search_hosts.entry(p.host.clone()).or_default().push((p, i));
            }
        }
        let socials = parse_hosts(SOCIALS);
        let mut social_main = HashMap::new();
        for (p, name) in &socials {
            social_main
                .entry(name.clone())
                .or_insert_with(|| format!("{}{}", p.host, p.path.as_deref().unwrap_or("")));
        }
        Lists {
            engines,
            first_urls,
            search_hosts,
            search_wild,
            social_main,
            socials: HostList::new(socials),
            ai: HostList::new(parse_hosts(AI_ASSISTANTS)),
        }
    }

    /// A search engine's URL as Matomo's reports show it
    /// (`http://search.yahoo.com`: its first URL in the list).
    pub(crate) fn search_engine_url(&self, name: &str) -> Option<String> {
        self.first_urls.get(name).map(|u| format!("http://{u}"))
    }

    /// The search engine configurations whose patterns match, the most
    /// specific (a path) first.
    pub(crate) fn search_engines(&self, host: &str, path: &str) -> Vec<&SearchEngine> {
        let mut found: Vec<(&Pattern, usize)> = self
            .search_hosts
            .get(host)
            .into_iter()
            .flatten()
            .chain(&self.search_wild)
            .filter(|(p, _)| p.matches(host, path))
            .map(|(p, i)| (p, *i))
            .collect();
        found.sort_by_key(|(p, _)| std::cmp::Reverse(p.path.as_ref().map_or(0, String::len)));
        found.into_iter().map(|(_, i)| &self.engines[i]).collect()
    }

    /// A social network's main URL as Matomo's Live shows it: its first
    /// domain in the list (`facebook.com`).
    pub(crate) fn social_main_url(&self, name: &str) -> Option<&str> {
        self.social_main.get(name).map(String::as_str)
    }

    /// The social network of a host, if any.
    pub(crate) fn social(&self, host: &str, path: &str) -> Option<&str> {
        self.socials.best(host, path)
    }

    /// The AI assistant of a host, if any.
    pub(crate) fn ai(&self, host: &str, path: &str) -> Option<&str> {
        self.ai.best(host, path)
    }
}

/// Named host patterns, found by host (and by each parent domain, since a
/// subdomain of a listed host matches too: `l.facebook.com`) instead of
/// a scan of the list per referrer.
#[derive(Debug)]
struct HostList {
    exact: HashMap<String, Vec<(Pattern, String)>>,
    wild: Vec<(Pattern, String)>,
}

impl HostList {
    fn new(entries: Vec<(Pattern, String)>) -> HostList {
        let mut list = HostList {
            exact: HashMap::new(),
            wild: Vec::new(),
        };
        for (p, name) in entries {
            if p.wild {
                list.wild.push((p, name));
            } else {
                list.exact
                    .entry(p.host.clone())
                    .or_default()
                    .push((p, name));
            }
        }
        list
    }

    /// The matching entry with the longest path.
    fn best(&self, host: &str, path: &str) -> Option<&str> {
        let parents =
            std::iter::successors(Some(host), |h| h.split_once('.').map(|(_, rest)| rest));
        let path_ok = |p: &Pattern| p.path.as_deref().is_none_or(|x| path.starts_with(x));
        parents
            .filter_map(|h| self.exact.get(h))
            .flatten()
            .filter(|(p, _)| path_ok(p))
            .chain(self.wild.iter().filter(|(p, _)| p.matches(host, path)))
            .max_by_key(|(p, _)| p.path.as_ref().map_or(0, String::len))
            .map(|(_, name)| name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_parse_whole() {
        let l = lists();
        assert!(l.engines.len() > 300, "{}", l.engines.len());
        let count = |h: &HostList| h.exact.values().map(Vec::len).sum::<usize>() + h.wild.len();
        assert!(count(&l.socials) > 200 && count(&l.ai) > 20);
        let google = l.search_engines("google.co.uk", "/search");
        assert_eq!(google[0].name, "Google");
        assert!(matches!(&google[0].params[0], Param::Name(q) if q == "q"));
        assert_eq!(l.social("l.facebook.com", "/"), Some("Facebook"));
        assert_eq!(l.ai("chatgpt.com", "/"), Some("ChatGPT"));
        assert!(l.ai("x.com", "/home").is_none());
        assert!(l.ai("x.com", "/i/grok").is_some());
        assert!(
            is_country_part("co.uk") && is_country_part("de") && !is_country_part("example.org.x")
        );
    }
}
