//! Matomo's Tracking HTTP API: one tracking request (the query string or
//! form body of `matomo.php`, or one entry of a bulk request) to a hit,
//! the way Matomo's tracker reads it.
//!
//! What a request says: `idsite`, `rec`, `url`, `action_name`, `_id`,
//! `cid`, `uid`, `urlref` (or `_ref`), `ua` (or the User-Agent header),
//! `lang` (or Accept-Language), `cip` and `cdt` (authenticated; `cdt`
//! within the last 24 hours needs no token, as in Matomo), `h` (the
//! visitor's local hour), `res`, `e_c`/`e_a`/`e_n`/`e_v`, `search`/
//! `search_cat`/`search_count`, `download`, `link`, `dimensionN`, `_rcn`/`_rck`,
//! `new_visit`, `ping`, `bots`. Enrichment is [`crate::enrich`]'s: the
//! user agent, the country (GeoIP, else the browser language as Matomo
//! guesses it), and the visitor key.
//!
//! **Visitor keys** without `_id`/`cid` (or `uid`, when it is the
//! visitor): a keyed hash of IP + user agent + language under a salt that
//! changes every UTC day, random and kept only for that day (the store
//! holds today's salt, [`SALT_CURSOR`]; yesterday's is overwritten), so a
//! person without cookies is one visitor per day and their keys cannot be
//! linked across days, nor recomputed from an IP address afterwards.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDateTime};
use hitmap::{Campaign, Content, Conversion, Event, Hit, HitType, Item};

use crate::enrich::{Agents, Geo, VisitorKeys, anonymize_ip};
use crate::{Error, Result};

/// The cursor holding today's visitor salt: `YYYY-MM-DD:` and 32 hex digits.
pub const SALT_CURSOR: &str = "track:salt";

/// How long ago a `cdt` may be without a token (Matomo's default).
const CDT_WITHOUT_TOKEN_SECS: i64 = 86_400;

/// How requests become hits.
#[derive(Debug, Clone, Default)]
pub struct TrackOptions {
    /// Tokens that may set `cip` and a `cdt` older than a day (Matomo's
    /// `token_auth`), each for the sites it names or for every site: the
    /// same list that says which sites a token may read.
    pub tokens: Vec<TokenAccess>,
    /// `uid` names the visitor too (Matomo's
    /// `enable_userid_overwrites_visitorid`): one person on every device.
    pub user_id_is_visitor: bool,
    /// Mask this many bytes of the IP address before anything reads it
    /// (Matomo's IP anonymisation; 0 keeps it whole).
    pub anonymize_ip: u8,
    /// A MaxMind-format database for countries.
    pub geoip: Option<PathBuf>,
    /// Matomo's DeviceDetector rules (a directory, see
    /// [`Detector::load`](crate::enrich::Detector::load)): browsers,
    /// systems and devices named as Matomo names them, with brand, model
    /// and engine; else the built-in rules.
    pub device_detector: Option<PathBuf>,
}

/// A token and the sites it may write to (and read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenAccess {
    /// The token (`token_auth`).
    pub token: String,
    /// The sites it is for; `None`: every site.
    pub sites: Option<Vec<u32>>,
}

impl TokenAccess {
    /// A token for every site.
    ///
    /// # Examples
    /// ```
    /// let t = hitmap_intake::track::TokenAccess::all("secret");
    /// assert!(t.allows("secret", 7) && !t.allows("other", 7));
    /// ```
    pub fn all(token: impl Into<String>) -> TokenAccess {
        TokenAccess {
            token: token.into(),
            sites: None,
        }
    }

    /// A token for some sites.
    ///
    /// # Examples
    /// ```
    /// let t = hitmap_intake::track::TokenAccess::sites("secret", [1, 3]);
    /// assert!(t.allows("secret", 3) && !t.allows("secret", 2));
    /// ```
    pub fn sites(token: impl Into<String>, sites: impl IntoIterator<Item = u32>) -> TokenAccess {
        TokenAccess {
            token: token.into(),
            sites: Some(sites.into_iter().collect()),
        }
    }

    /// Whether `token` is this one and it is for `site`.
    pub fn allows(&self, token: &str, site: u32) -> bool {
        !token.is_empty()
            && self.token == token
            && self.sites.as_ref().is_none_or(|l| l.contains(&site))
    }
}

/// What hitmap knows of the client besides the request's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Client<'a> {
    /// The connection's address (or the proxy's forwarded one).
    pub ip: &'a str,
    /// The User-Agent header.
    pub user_agent: Option<&'a str>,
    /// The Accept-Language header.
    pub accept_language: Option<&'a str>,
    /// Unix seconds now.
    pub now: i64,
}

/// What a request that was read comes to.
#[derive(Debug, Clone, PartialEq)]
pub enum Tracked {
    /// A hit to store.
    Hit(Box<Hit>),
    /// A page view of a product or category page (Matomo's `_pks`,
    /// `_pkn`, `_pkc`, `_pkp`): the page view and its `product_view`
    /// hit, both to store.
    Viewed(Box<Hit>, Box<Hit>),
    /// A heartbeat (`ping=1`): answered, not stored (hitmap's visits end
    /// at their last action; Matomo would extend the visit's length).
    Ping,
    /// A robot's request, not stored unless the request says `bots=1`.
    Bot,
    /// A request the site excludes (its address, user agent or URL:
    /// [`crate::exclude`]), answered and not stored, as Matomo's.
    Excluded(crate::exclude::Excluded),
}

impl Tracked {
    /// The hits to store (none for a ping or a robot).
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::track::Tracked;
    /// assert!(Tracked::Ping.into_hits().is_empty());
    /// ```
    pub fn into_hits(self) -> Vec<Hit> {
        match self {
            Tracked::Hit(h) => vec![*h],
            Tracked::Viewed(page, view) => vec![*page, *view],
            Tracked::Ping | Tracked::Bot | Tracked::Excluded(_) => Vec::new(),
        }
    }
}

/// Why a request is not tracked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// No tracking parameters (no `rec=1`): Matomo's "this resource is
    /// part of Matomo" page.
    NotTracking,
    /// A bad or unknown value: Matomo answers 400.
    Invalid(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NotTracking => f.write_str("not a tracking request (rec=1 is missing)"),
            Refused::Invalid(why) => f.write_str(why),
        }
    }
}

/// Turns tracking requests into hits: sites, caches, the day's salt.
pub struct Tracker {
    sites: BTreeSet<u32>,
    /// The sites' exclusions (sites that exclude something).
    exclusions: std::collections::HashMap<u32, crate::exclude::Exclusions>,
    /// The sites whose page titles are categories (Matomo's
    /// `action_title_category_delimiter`): their titles are cleaned as
    /// Matomo's tracker does.
    titled: std::collections::HashMap<u32, hitmap::SiteConfig>,
    agents: Agents,
    geo: Option<Geo>,
    salt: Option<(String, VisitorKeys)>,
    /// A new day's salt not yet handed to the store.
    salt_to_store: Option<String>,
    options: TrackOptions,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("sites", &self.sites)
            .finish_non_exhaustive()
    }
}

impl Tracker {
    /// A tracker for the engine's sites (today's salt is read from it).
    ///
    /// # Errors
    /// The GeoIP database cannot be opened.
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::track::{Client, TrackOptions, Tracked, Tracker};
    /// let mut engine = hitmap::Engine::in_memory();
    /// engine.add_site(hitmap::SiteConfig::new(1))?;
    /// let mut tracker = Tracker::new(&engine, TrackOptions::default())?;
    /// let client = Client { ip: "10.0.0.1", user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"), accept_language: Some("de-CH,de;q=0.9"), now: 1_717_200_000 };
    /// let query = "idsite=1&rec=1&url=https%3A%2F%2Fx.org%2Fa&action_name=A&_id=0123456789abcdef";
    /// let Tracked::Hit(hit) = tracker.track_query(query, &client).unwrap() else { panic!() };
    /// assert_eq!((hit.visitor.as_str(), hit.title.as_deref()), ("0123456789abcdef", Some("A")));
    /// assert_eq!((hit.browser.as_deref(), hit.country.as_deref(), hit.language.as_deref()), (Some("Firefox"), Some("ch"), Some("de-ch")));
    /// engine.ingest([*hit])?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(engine: &hitmap::Engine, options: TrackOptions) -> Result<Tracker> {
        let geo = options.geoip.as_deref().map(Geo::open).transpose()?;
        let salt = engine.cursor(SALT_CURSOR).and_then(|c| {
            let (day, secret) = c.split_once(':')?;
            Some((day.to_owned(), VisitorKeys::new(secret)))
        });
        let mut exclusions = std::collections::HashMap::new();
        let mut titled = std::collections::HashMap::new();
        for id in engine.site_ids() {
            if let Some(site) = engine.site(id) {
                let ex = crate::exclude::Exclusions::of(site).map_err(crate::Error::Input)?;
                if !ex.is_empty() {
                    exclusions.insert(id, ex);
                }
                if site.title_delimiter().is_some() {
                    titled.insert(id, site.clone());
                }
            }
        }
        Ok(Tracker {
            sites: engine.site_ids().into_iter().collect(),
            exclusions,
            titled,
            agents: Agents::configured(options.device_detector.as_deref())?,
            geo,
            salt,
            salt_to_store: None,
            options,
        })
    }

    /// Sets the sites requests may name (after sites were added).
    pub fn set_sites(&mut self, sites: impl IntoIterator<Item = u32>) {
        self.sites = sites.into_iter().collect();
    }

    /// A new day's salt for the store's [`SALT_CURSOR`], once: commit it
    /// with the hits keyed by it, so a restart that day keeps the keys.
    pub fn take_salt_cursor(&mut self) -> Option<(&'static str, String)> {
        self.salt_to_store.take().map(|s| (SALT_CURSOR, s))
    }

    /// Whether `token` is one of the configured tokens (for any site).
    pub fn authorized(&self, token: Option<&str>) -> bool {
        token.is_some_and(|t| !t.is_empty() && self.options.tokens.iter().any(|k| k.token == t))
    }

    /// Whether `token` is a configured token for `site`: what setting
    /// `cip` and a `cdt` older than a day needs.
    pub fn authorized_for(&self, token: Option<&str>, site: u32) -> bool {
        token.is_some_and(|t| self.options.tokens.iter().any(|k| k.allows(t, site)))
    }

    /// Reads one request from its query string (or form body).
    pub fn track_query(
        &mut self,
        query: &str,
        client: &Client<'_>,
    ) -> std::result::Result<Tracked, Refused> {
        let params: Vec<(String, String)> = hitmap::query_pairs(query).collect();
        self.track(&params, client, None)
    }

    /// Reads one request from its decoded parameters. `bulk_token`: the
    /// `token_auth` of the bulk request it came in, which stands for the
    /// request's own where that has none. `cip` and a `cdt` older than a
    /// day count only with a token for the request's site: elsewhere `cip`
    /// is ignored and such a `cdt` refused, as Matomo does with an invalid
    /// token.
    pub fn track(
        &mut self,
        params: &[(String, String)],
        client: &Client<'_>,
        bulk_token: Option<&str>,
    ) -> std::result::Result<Tracked, Refused> {
        let get = |k: &str| {
            params
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        let nonempty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        if get("rec") != Some("1") {
            return Err(Refused::NotTracking);
        }
        let site = get("idsite")
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                Refused::Invalid("idsite must be a site id (a positive integer)".into())
            })?;
        if !self.sites.contains(&site) {
            return Err(Refused::Invalid(format!(
                "idsite {site} is not a site of this store (add it with `hitmap sites add`)"
            )));
        }
        let authed =
            self.authorized_for(get("token_auth"), site) || self.authorized_for(bulk_token, site);
        let agent_text = nonempty("ua").or(client.user_agent).unwrap_or("");
        let agent = self.agents.get(agent_text);
        if agent.bot && get("bots") != Some("1") {
            return Ok(Tracked::Bot);
        }
        if get("ping") == Some("1") {
            return Ok(Tracked::Ping);
        }
        let ts = match nonempty("cdt") {
            None => client.now,
            Some(cdt) => {
                let t = parse_cdt(cdt).ok_or_else(|| {
                    Refused::Invalid(format!("cdt {cdt:?} is not a date-time or Unix time"))
                })?;
                if t > client.now {
                    client.now // Matomo ignores a time in the future
                } else if client.now - t >= CDT_WITHOUT_TOKEN_SECS && !authed {
                    return Err(Refused::Invalid(format!(
                        "cdt is {} seconds old: a custom time older than a day needs a token_auth for site {site}",
                        client.now - t
                    )));
                } else {
                    t
                }
            }
        };
        let ip = match nonempty("cip") {
            Some(cip) if authed => cip,
            _ => client.ip,
        };
        if let Some(why) = self
            .exclusions
            .get(&site)
            .and_then(|ex| ex.test(ip, agent_text, nonempty("url")))
        {
            return Ok(Tracked::Excluded(why));
        }
        let ip = anonymize_ip(ip, self.options.anonymize_ip);
        let language = nonempty("lang")
            .or(client.accept_language)
            .and_then(first_language);
        let uid = nonempty("uid");
        let visitor = match (nonempty("cid"), nonempty("_id"), uid) {
            (_, _, Some(u)) if self.options.user_id_is_visitor => {
                self.day_keys(ts).key(&["uid", u])
            }
            (Some(id), _, _) | (None, Some(id), _) => visitor_id(id).ok_or_else(|| {
                Refused::Invalid(format!("visitor id {id:?} must be 16 hexadecimal digits"))
            })?,
            _ => self
                .day_keys(ts)
                .key(&[&ip, agent_text, language.as_deref().unwrap_or("")]),
        };
        // Page URLs as Matomo's tracker records them (of page views, site
        // searches, events and conversions): without the site's excluded
        // query parameters and Matomo's default session and click ids.
        let excluded = self.exclusions.get(&site);
        let url =
            nonempty("url").map(|u| crate::exclude::Exclusions::page_url(excluded, u).into_owned());
        if let Some(idgoal) = nonempty("idgoal") {
            // A conversion request records the conversion, not an action
            // (Matomo's trackGoal and ecommerce requests).
            let mut hit = conversion(site, ts, visitor, idgoal, &get)?;
            hit.url = url;
            hit.validate().map_err(Refused::Invalid)?;
            return Ok(Tracked::Hit(Box::new(hit)));
        }
        if let Some(name) = nonempty("c_n").map(str::trim).filter(|n| !n.is_empty())
            && nonempty("download").is_none()
            && nonempty("link").is_none()
        {
            // A content impression or interaction (Matomo's content
            // tracking): not an action; its parts trimmed, empty ones none.
            let part = |k: &str| {
                nonempty(k)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
            };
            let content = Content {
                name: name.to_owned(),
                piece: part("c_p"),
                target: part("c_t"),
                interaction: part("c_i"),
            };
            let mut hit = Hit::new(site, ts, visitor, HitType::Content)
                .with_conversion(Conversion::content(content));
            hit.url = url;
            hit.validate().map_err(Refused::Invalid)?;
            return Ok(Tracked::Hit(Box::new(hit)));
        }
        // Downloads and outlinks keep their URLs as sent (Matomo's
        // `setActionUrlWithoutExcludingParameters`).
        let (kind, target) = if let Some(d) = nonempty("download") {
            (HitType::Download, Some(d.to_owned()))
        } else if let Some(l) = nonempty("link") {
            (HitType::Outlink, Some(l.to_owned()))
        } else if get("search").is_some() {
            (HitType::Search, url.clone())
        } else if nonempty("e_c").is_some() || nonempty("e_a").is_some() {
            (HitType::Event, url.clone())
        } else {
            (HitType::Pageview, url.clone())
        };
        let mut hit = Hit::new(site, ts, visitor, kind);
        hit.url = target;
        match kind {
            HitType::Pageview if hit.url.is_none() => {
                return Err(Refused::Invalid("url is missing".into()));
            }
            HitType::Pageview => {
                // A site with title categories: trimmed, empty ones
                // dropped, as Matomo's tracker stores the title.
                hit.title = nonempty("action_name").map(|t| match self.titled.get(&site) {
                    Some(config) => config.clean_title(t),
                    None => t.to_owned(),
                });
            }
            HitType::Search => {
                hit.search = Some(get("search").unwrap_or_default().to_owned());
                // Matomo's tracker: the category trimmed, a count kept when
                // it is a number from 0 (anything else is no count).
                hit.search_category = nonempty("search_cat")
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned);
                hit.search_count = get("search_count").and_then(|n| n.trim().parse::<u32>().ok());
            }
            HitType::Event => {
                let (Some(category), Some(action)) = (nonempty("e_c"), nonempty("e_a")) else {
                    return Err(Refused::Invalid(
                        "an event needs both e_c (category) and e_a (action)".into(),
                    ));
                };
                let value = match nonempty("e_v") {
                    None => None,
                    Some(v) => Some(
                        v.trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|v| v.is_finite())
                            .ok_or_else(|| {
                                Refused::Invalid(format!("e_v {v:?} is not a number"))
                            })?,
                    ),
                };
                // Matomo's tracker trims an event's parts.
                hit.event = Some(Event {
                    category: category.trim().to_owned(),
                    action: action.trim().to_owned(),
                    name: nonempty("e_n").map(|n| n.trim().to_owned()),
                    value,
                });
            }
            HitType::Download | HitType::Outlink => {}
            HitType::Goal
            | HitType::Order
            | HitType::Cart
            | HitType::ProductView
            | HitType::Content => {
                unreachable!("conversion and content requests return above")
            }
        }
        hit.referrer = nonempty("urlref").or(nonempty("_ref")).map(str::to_owned);
        hit.user = uid.map(str::to_owned);
        agent.fill(&mut hit);
        let place = self.geo.as_mut().and_then(|g| g.locate(&ip)).cloned();
        if let Some(p) = &place {
            p.fill(&mut hit);
        }
        hit.country = place
            .and_then(|p| p.country)
            .or_else(|| language.as_deref().and_then(country_of_language));
        if authed {
            // Matomo's location overrides, for authenticated requests.
            if let Some(c) = nonempty("country").filter(|c| c.len() == 2) {
                hit.country = Some(c.to_ascii_lowercase());
            }
            if let Some(r) = nonempty("region") {
                hit.region = Some(r.to_owned());
            }
            if let Some(c) = nonempty("city") {
                hit.city = Some(c.to_owned());
            }
            let coordinate = |k: &str, bound: f64| {
                nonempty(k)
                    .and_then(|x| x.trim().parse::<f64>().ok())
                    .filter(|x| x.abs() <= bound)
            };
            hit.latitude = coordinate("lat", 90.0).or(hit.latitude);
            hit.longitude = coordinate("long", 180.0).or(hit.longitude);
        }
        hit.language = language;
        hit.local_hour = get("h")
            .and_then(|h| h.trim().parse::<u8>().ok())
            .filter(|h| *h < 24);
        hit.resolution = nonempty("res")
            .filter(|r| is_resolution(r))
            .map(str::to_owned);
        // The browser's plugins and cookie support (`fla=1`, `cookie=1`, ...):
        // Matomo's `config_<plugin>` columns.
        let plugins: Vec<&str> = hitmap::PLUGIN_NAMES
            .iter()
            .filter(|(_, param)| get(param).is_some_and(|v| v.trim() == "1"))
            .map(|(name, _)| *name)
            .collect();
        hit.plugins = (!plugins.is_empty()).then(|| plugins.join(","));
        for (k, v) in params {
            if let Some(n) = k.strip_prefix("dimension")
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && !v.is_empty()
            {
                hit.dims.retain(|(name, _)| name != k);
                hit.dims.push((k.clone(), v.clone()));
            }
        }
        // Campaign parameters in the URL are the engine's to read; the
        // attribution cookie's name and keyword count when they are not
        // there (Matomo's order).
        let url_campaign = url.as_deref().is_some_and(hitmap::has_campaign);
        if let Some(name) = nonempty("_rcn")
            && !url_campaign
        {
            hit.referrer_type = Some("campaign".into());
            hit.referrer_name = Some(name.to_lowercase());
            hit.referrer_keyword = nonempty("_rck").map(str::to_lowercase);
            hit.campaign = Some(Campaign {
                name: Some(name.to_lowercase()),
                keyword: nonempty("_rck").map(str::to_lowercase),
                ..Campaign::default()
            });
        }
        hit.new_visit = get("new_visit") == Some("1");
        hit.perf = perf(&get, kind);
        hit.validate().map_err(Refused::Invalid)?;
        if kind == HitType::Pageview
            && let Some(item) = product_view(&get)
        {
            let mut view = Hit::new(site, ts, hit.visitor.clone(), HitType::ProductView)
                .with_conversion(Conversion {
                    items: vec![item],
                    ..Conversion::default()
                });
            view.url = hit.url.clone();
            view.visit = hit.visit.clone();
            view.validate().map_err(Refused::Invalid)?;
            return Ok(Tracked::Viewed(Box::new(hit), Box::new(view)));
        }
        Ok(Tracked::Hit(Box::new(hit)))
    }

    /// The visitor keys of the UTC day of `ts`, drawing a new random salt
    /// when the day changes.
    fn day_keys(&mut self, ts: i64) -> &VisitorKeys {
        let day = DateTime::from_timestamp(ts, 0)
            .map(|d| d.date_naive().to_string())
            .unwrap_or_default();
        if self.salt.as_ref().is_none_or(|(d, _)| *d != day) {
            let secret = VisitorKeys::random_secret()
                .unwrap_or_else(|_| format!("{day}:{}", std::process::id()));
            self.salt_to_store = Some(format!("{day}:{secret}"));
            self.salt = Some((day, VisitorKeys::new(&secret)));
        }
        &self.salt.as_ref().expect("just set").1
    }
}

/// A number parameter (`revenue`, `ec_st`, ...), if given.
fn amount(name: &str, v: Option<&str>) -> std::result::Result<Option<f64>, Refused> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| Refused::Invalid(format!("{name} {v:?} is not a number"))),
    }
}

/// A conversion request (`idgoal`): a goal conversion (`idgoal=N`), an
/// ecommerce order (`idgoal=0` with `ec_id`) or a cart update (`idgoal=0`
/// without), with `revenue`, the order's amounts and `ec_items`.
fn conversion<'p>(
    site: u32,
    ts: i64,
    visitor: String,
    idgoal: &str,
    get: &impl Fn(&str) -> Option<&'p str>,
) -> std::result::Result<Hit, Refused> {
    let goal: u32 = idgoal.trim().parse().map_err(|_| {
        Refused::Invalid(format!(
            "idgoal {idgoal:?} must be a goal id, or 0 for an ecommerce order or cart"
        ))
    })?;
    let revenue = amount("revenue", get("revenue"))?;
    if goal > 0 {
        return Ok(
            Hit::new(site, ts, visitor, HitType::Goal).with_conversion(Conversion {
                goal: Some(goal),
                revenue,
                ..Conversion::default()
            }),
        );
    }
    let items = match get("ec_items").map(str::trim).filter(|v| !v.is_empty()) {
        None => Vec::new(),
        Some(text) => ecommerce_items(text)?,
    };
    let order_id = get("ec_id").map(str::trim).filter(|v| !v.is_empty());
    let kind = if order_id.is_some() {
        HitType::Order
    } else {
        HitType::Cart
    };
    let c = Conversion {
        revenue: revenue.or(order_id.map(|_| 0.0)),
        order_id: order_id.map(str::to_owned),
        subtotal: amount("ec_st", get("ec_st"))?.filter(|_| order_id.is_some()),
        tax: amount("ec_tx", get("ec_tx"))?.filter(|_| order_id.is_some()),
        shipping: amount("ec_sh", get("ec_sh"))?.filter(|_| order_id.is_some()),
        discount: amount("ec_dt", get("ec_dt"))?.filter(|_| order_id.is_some()),
        items,
        ..Conversion::default()
    };
    Ok(Hit::new(site, ts, visitor, kind).with_conversion(c))
}

/// The product a page view shows (Matomo's `_pks` SKU, `_pkn` name,
/// `_pkc` category: a text or a JSON list whose first five non-empty
/// entries count, `_pkp` price), if it names a SKU, name or category.
fn product_view<'p>(get: &impl Fn(&str) -> Option<&'p str>) -> Option<Item> {
    let text = |k: &str| {
        get(k).map(str::trim).filter(|v| !v.is_empty()).map(|v| {
            // Matomo's action names are cut to their column; hitmap
            // keeps a product's first 255 bytes.
            let mut end = v.len().min(255);
            while !v.is_char_boundary(end) {
                end -= 1;
            }
            v[..end].to_owned()
        })
    };
    let categories: Vec<String> = match get("_pkc").map(str::trim) {
        Some(c) if c.starts_with("[\"") => serde_json::from_str::<Vec<serde_json::Value>>(c)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| match v {
                serde_json::Value::String(s) if !s.trim().is_empty() && s.trim() != "0" => {
                    Some(s.trim().to_owned())
                }
                serde_json::Value::Number(n) if n.as_f64() != Some(0.0) => Some(n.to_string()),
                _ => None,
            })
            .take(5)
            .collect(),
        Some(c) if !c.is_empty() => vec![c.to_owned()],
        _ => Vec::new(),
    };
    let item = Item {
        sku: text("_pks").unwrap_or_default(),
        name: text("_pkn"),
        categories,
        price: get("_pkp")
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|p| p.is_finite()),
        quantity: None,
    };
    (!item.sku.is_empty() || item.name.is_some() || !item.categories.is_empty()).then_some(item)
}

/// Matomo's `ec_items`: a JSON list of `[sku, name, category, price,
/// quantity]`, the category a string or a list of up to five.
fn ecommerce_items(text: &str) -> std::result::Result<Vec<Item>, Refused> {
    let bad = || {
        Refused::Invalid(
            "ec_items must be a JSON list of [sku, name, category, price, quantity]".into(),
        )
    };
    let list: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|_| bad())?;
    let text_of = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let number = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::Number(n)) => n.as_f64(),
        Some(serde_json::Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let mut items = Vec::with_capacity(list.len().min(1000));
    for entry in list {
        let serde_json::Value::Array(parts) = entry else {
            return Err(bad());
        };
        let Some(sku) = text_of(parts.first()) else {
            // Matomo skips an item without a SKU.
            continue;
        };
        // Matomo drops empty and "0" categories, then keeps five.
        let categories = match parts.get(2) {
            Some(serde_json::Value::Array(c)) => c
                .iter()
                .filter_map(|c| text_of(Some(c)))
                .filter(|c| c != "0")
                .take(5)
                .collect(),
            other => text_of(other).into_iter().filter(|c| c != "0").collect(),
        };
        items.push(Item {
            sku,
            name: text_of(parts.get(1)),
            categories,
            price: number(parts.get(3)).filter(|p| p.is_finite()),
            quantity: number(parts.get(4))
                .filter(|q| *q >= 0.0 && *q <= f64::from(u32::MAX))
                .map(|q| q as u32),
        });
    }
    Ok(items)
}

/// The requests of a bulk body: `{"requests": ["?idsite=1&rec=1&...",
/// {...}], "token_auth": "..."}`, each as decoded parameters.
///
/// # Errors
/// The body is not such a JSON object.
///
/// # Examples
/// ```
/// let body = br#"{"requests": ["?idsite=1&rec=1&url=https%3A%2F%2Fx.org%2F", {"idsite": 1, "rec": 1}], "token_auth": "t"}"#;
/// let (requests, token) = hitmap_intake::track::bulk_requests(body).unwrap();
/// assert_eq!(requests.len(), 2);
/// assert_eq!(requests[0][2], ("url".to_string(), "https://x.org/".to_string()));
/// assert_eq!(requests[1][0], ("idsite".to_string(), "1".to_string()));
/// assert_eq!(token.as_deref(), Some("t"));
/// ```
#[allow(clippy::type_complexity)]
pub fn bulk_requests(body: &[u8]) -> Result<(Vec<Vec<(String, String)>>, Option<String>)> {
    let bad = |why: &str| Error::Input(format!("a bulk tracking request {why}"));
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(&format!("is not JSON: {e}")))?;
    let requests = v
        .get("requests")
        .and_then(|r| r.as_array())
        .ok_or_else(|| bad("needs a \"requests\" array"))?;
    let scalar = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let out = requests
        .iter()
        .map(|r| match r {
            serde_json::Value::String(q) => {
                let q = q.split_once('?').map_or(q.as_str(), |(_, q)| q);
                hitmap::query_pairs(q).collect()
            }
            serde_json::Value::Object(o) => o.iter().map(|(k, v)| (k.clone(), scalar(v))).collect(),
            _ => Vec::new(),
        })
        .collect();
    let token = v.get("token_auth").map(scalar);
    Ok((out, token))
}

/// `cdt`: Unix seconds (a fraction is dropped; milliseconds are
/// recognised by their size) or a UTC date-time `YYYY-MM-DD HH:MM:SS`.
fn parse_cdt(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(n) = t.parse::<f64>() {
        let secs = if n > 1e11 { n / 1000.0 } else { n };
        return (secs.is_finite() && secs > 0.0 && secs < 253_402_300_800.0).then_some(secs as i64);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.timestamp());
    }
    ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]
        .iter()
        .find_map(|f| {
            NaiveDateTime::parse_from_str(t, f).ok().or_else(|| {
                chrono::NaiveDate::parse_from_str(t, f)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            })
        })
        .map(|d| d.and_utc().timestamp())
}

/// A visitor id as Matomo takes it: 16 hex digits, lower-cased.
fn visitor_id(id: &str) -> Option<String> {
    let id = id.trim();
    (id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_ascii_lowercase())
}

/// A request's load timings (`pf_net`, `pf_srv`, `pf_tfr`, `pf_dm1`,
/// `pf_dm2`, `pf_onl`, in milliseconds, page views only) and bandwidth
/// (`bw_bytes`), as Matomo's tracker reads them: `-1`, a value that is
/// not a whole number or one past what Matomo's columns hold is no value.
fn perf<'a>(get: &impl Fn(&str) -> Option<&'a str>, kind: HitType) -> hitmap::Perf {
    let mut perf = hitmap::Perf::default();
    if kind == HitType::Pageview {
        let names = ["pf_net", "pf_srv", "pf_tfr", "pf_dm1", "pf_dm2", "pf_onl"];
        for (t, name) in perf.times.iter_mut().zip(names) {
            *t = get(name)
                .and_then(|v| v.trim().parse::<u32>().ok())
                .filter(|v| *v <= hitmap::Perf::MAX_TIME_MS);
        }
    }
    perf.bandwidth = get("bw_bytes")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|v| *v <= hitmap::Perf::MAX_BANDWIDTH);
    perf
}

/// `WIDTHxHEIGHT`, digits only.
fn is_resolution(r: &str) -> bool {
    r.split_once('x').is_some_and(|(w, h)| {
        !w.is_empty()
            && !h.is_empty()
            && w.len() <= 6
            && h.len() <= 6
            && (w.bytes().chain(h.bytes())).all(|b| b.is_ascii_digit())
    })
}

/// The first language of an Accept-Language value, lower-cased
/// (`de-CH,de;q=0.9` → `de-ch`); `None` for `*` or nothing usable.
fn first_language(header: &str) -> Option<String> {
    let first = header.split(',').next()?.split(';').next()?.trim();
    let ok = !first.is_empty()
        && first != "*"
        && first.len() <= 35
        && first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| first.replace('_', "-").to_ascii_lowercase())
}

/// The country a browser language points to, as Matomo guesses it: the
/// region of the tag (`de-ch` → `ch`), else the country where the language
/// is chiefly spoken (`fr` → `fr`, `ja` → `jp`).
fn country_of_language(lang: &str) -> Option<String> {
    let mut parts = lang.split('-');
    let language = parts.next()?;
    if let Some(region) = parts.find(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Some(region.to_owned());
    }
    LANGUAGE_COUNTRY
        .iter()
        .find(|(l, _)| *l == language)
        .map(|(_, c)| (*c).to_owned())
}

/// Languages to the one country where each is chiefly spoken, the same
/// guesses Matomo makes (languages of many countries, such as English or
/// Arabic, guess nothing).
const LANGUAGE_COUNTRY: &[(&str, &str)] = &[
    ("bg", "bg"),
    ("ca", "es"),
    ("cs", "cz"),
    ("da", "dk"),
    ("de", "de"),
    ("el", "gr"),
    ("es", "es"),
    ("et", "ee"),
    ("fa", "ir"),
    ("fi", "fi"),
    ("fr", "fr"),
    ("he", "il"),
    ("hr", "hr"),
    ("hu", "hu"),
    ("id", "id"),
    ("is", "is"),
    ("it", "it"),
    ("ja", "jp"),
    ("ko", "kr"),
    ("lt", "lt"),
    ("lv", "lv"),
    ("mk", "mk"),
    ("ms", "my"),
    ("nb", "no"),
    ("nl", "nl"),
    ("nn", "no"),
    ("no", "no"),
    ("pl", "pl"),
    ("pt", "pt"),
    ("ro", "ro"),
    ("ru", "ru"),
    ("sk", "sk"),
    ("sl", "si"),
    ("sq", "al"),
    ("sr", "rs"),
    ("sv", "se"),
    ("th", "th"),
    ("bo", "cn"),
    ("tr", "tr"),
    ("uk", "ua"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_and_countries() {
        assert_eq!(
            first_language("de-CH,de;q=0.9,en;q=0.8").as_deref(),
            Some("de-ch")
        );
        assert_eq!(first_language("*"), None);
        assert_eq!(first_language(""), None);
        assert_eq!(country_of_language("de-ch").as_deref(), Some("ch"));
        assert_eq!(country_of_language("ja").as_deref(), Some("jp"));
        assert_eq!(country_of_language("en").as_deref(), None);
        assert_eq!(country_of_language("zh-hant-tw").as_deref(), Some("tw"));
        assert!(is_resolution("1920x1080") && !is_resolution("x1") && !is_resolution("a x b"));
        assert_eq!(parse_cdt("2024-06-01 00:00:00"), Some(1_717_200_000));
        assert_eq!(parse_cdt("1717200000"), Some(1_717_200_000));
        assert_eq!(parse_cdt("1717200000123"), Some(1_717_200_000));
        assert_eq!(parse_cdt("yesterday"), None);
        assert_eq!(
            visitor_id("0123456789ABCDEF").as_deref(),
            Some("0123456789abcdef")
        );
        assert_eq!(visitor_id("xyz"), None);
    }
}
