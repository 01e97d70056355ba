//! User agents: device type, browser and operating system with versions,
//! and whether it is a robot.
//!
//! The parsing is the `woothee` crate's (its rules compiled in); names are
//! mapped to Matomo's where they differ (`Mac OSX` → `Mac`, `Linux` →
//! `GNU/Linux`, `iPhone` → `iOS`, `Windows 7` → `Windows` version `7`), and
//! device types to Matomo's (`desktop`, `smartphone`, `tablet`,
//! `feature phone`, `console`). Parsed agents are cached: a log or a day
//! of traffic has few distinct agents.

use std::collections::HashMap;
use std::sync::Arc;

use super::Detector;

/// What a user agent says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agent {
    /// Matomo's device type (`desktop`, `smartphone`, `tablet`, ...).
    pub device: Option<&'static str>,
    /// The browser's name (`Chrome`, `Firefox`, `Internet Explorer`, ...).
    pub browser: Option<String>,
    /// The browser's version, major and minor (`120.0`), as Matomo keeps
    /// it.
    pub browser_version: Option<String>,
    /// The operating system's name (`Windows`, `Mac`, `GNU/Linux`, `iOS`,
    /// `Android`, ...).
    pub os: Option<String>,
    /// The operating system's version, major and minor (`10`, `10.6`,
    /// `2.3`).
    pub os_version: Option<String>,
    /// A crawler, feed reader or other robot.
    pub bot: bool,
    /// The device's brand (`Apple`; Matomo's DeviceDetector only).
    pub brand: Option<String>,
    /// The device's model (`iPhone`; Matomo's DeviceDetector only).
    pub model: Option<String>,
    /// The browser's engine (`Blink`; Matomo's DeviceDetector only).
    pub engine: Option<String>,
}

impl Agent {
    /// Parses one user agent (uncached; see [`Agents`]).
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::enrich::Agent;
    /// let a = Agent::parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0");
    /// assert_eq!((a.device, a.browser.as_deref(), a.os.as_deref()), (Some("desktop"), Some("Firefox"), Some("Windows")));
    /// assert_eq!((a.browser_version.as_deref(), a.os_version.as_deref()), (Some("120.0"), Some("10")));
    /// assert!(Agent::parse("Googlebot/2.1 (+http://www.google.com/bot.html)").bot);
    /// // Versions as Matomo keeps them: major and minor.
    /// let c = Agent::parse("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.71 Safari/537.36");
    /// assert_eq!((c.browser_version.as_deref(), c.os_version.as_deref()), (Some("120.0"), Some("10.15")));
    /// ```
    pub fn parse(agent: &str) -> Agent {
        parse_with(&woothee::parser::Parser::new(), agent)
    }

    /// Sets a hit's device, software and their versions from this agent.
    pub fn fill(&self, hit: &mut hitmap::Hit) {
        hit.device = self.device.map(str::to_owned);
        hit.browser = self.browser.clone();
        hit.browser_version = self.browser_version.clone();
        hit.os = self.os.clone();
        hit.os_version = self.os_version.clone();
        hit.device_brand = self.brand.clone();
        hit.device_model = self.model.clone();
        hit.browser_engine = self.engine.clone();
    }

    /// Parses one user agent with Matomo's DeviceDetector rules, as
    /// Matomo's tracker records it: versions cut to major and minor, the
    /// client's name as the browser whatever its kind (Matomo's
    /// `Apache HTTP Client`), the model of a device without one `generic
    /// <device type>` (Matomo's `generic desktop`), a robot's operating
    /// system `Bot` and nothing else.
    pub fn detect(detector: &Detector, agent: &str) -> Agent {
        let d = detector.detect(agent);
        if d.bot.is_some() {
            return Agent {
                os: Some("Bot".into()),
                bot: true,
                ..Agent::default()
            };
        }
        Agent {
            device: d.device,
            browser_version: d
                .client
                .as_ref()
                .and(d.client_version.as_deref())
                .map(major_minor),
            browser: d.client,
            os_version: d.os.as_ref().and(d.os_version.as_deref()).map(major_minor),
            os: d.os,
            bot: false,
            brand: d.brand,
            // Matomo's stored model of a device without one: `generic
            // <type>`, so the visit's first request names it.
            model: d.model.or_else(|| d.device.map(|t| format!("generic {t}"))),
            engine: d.engine,
        }
    }
}

fn known(s: &str) -> Option<String> {
    (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_string())
}

/// A version cut to its major and minor parts (`3.6.6` → `3.6`), as
/// Matomo's DeviceDetector keeps them.
fn major_minor(v: &str) -> String {
    v.splitn(3, '.').take(2).collect::<Vec<_>>().join(".")
}

fn parse_with(parser: &woothee::parser::Parser, agent: &str) -> Agent {
    let Some(r) = parser.parse(agent) else {
        return Agent::default();
    };
    if r.category == "crawler" {
        return Agent {
            bot: true,
            browser: known(r.name),
            ..Agent::default()
        };
    }
    let (os, mut os_version) = match r.os {
        "Mac OSX" => ("Mac".to_string(), known(&r.os_version)),
        "Linux" => ("GNU/Linux".to_string(), None),
        "iPhone" | "iPad" | "iPod" => ("iOS".to_string(), known(&r.os_version)),
        "ChromeOS" => ("Chrome OS".to_string(), known(&r.os_version)),
        "Windows Phone OS" => ("Windows Phone".to_string(), known(&r.os_version)),
        w if w.starts_with("Windows ") && w != "Windows UNKNOWN Ver" => (
            "Windows".to_string(),
            known(w.trim_start_matches("Windows ")),
        ),
        "Windows UNKNOWN Ver" => ("Windows".to_string(), None),
        other => match known(other) {
            Some(o) => (o, known(&r.os_version)),
            None => (String::new(), None),
        },
    };
    // Mac versions come as 10_6_7 from the agent.
    if let Some(v) = &mut os_version
        && v.contains('_')
    {
        *v = v.replace('_', ".");
    }
    let os_version = os_version.map(|v| major_minor(&v));
    let device = match r.category {
        "pc" => Some("desktop"),
        "smartphone" => {
            // Matomo's rule: an iPad, or Android without "Mobile", is a tablet.
            let tablet = r.os == "iPad" || (r.os == "Android" && !agent.contains("Mobile"));
            Some(if tablet { "tablet" } else { "smartphone" })
        }
        "mobilephone" => Some("feature phone"),
        "appliance" => Some("console"),
        _ => None,
    };
    let browser = known(r.name);
    Agent {
        device,
        browser_version: browser
            .as_ref()
            .and_then(|_| known(r.version))
            .map(|v| major_minor(&v)),
        browser,
        os: (!os.is_empty()).then_some(os),
        os_version,
        ..Agent::default()
    }
}

/// A cache of parsed agents, bounded in size.
///
/// # Examples
/// ```
/// let mut agents = hitmap_intake::enrich::Agents::default();
/// let ua = "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
/// assert_eq!(agents.get(ua).device, Some("tablet"));
/// assert_eq!(agents.get(ua).os.as_deref(), Some("iOS"));
/// ```
pub struct Agents {
    parser: woothee::parser::Parser,
    detector: Option<Arc<Detector>>,
    cache: HashMap<Box<str>, Arc<Agent>, foldhash::fast::RandomState>,
}

/// Distinct agents kept before the cache starts over.
const CACHE_SIZE: usize = 50_000;

impl Default for Agents {
    fn default() -> Agents {
        Agents {
            parser: woothee::parser::Parser::new(),
            detector: None,
            cache: HashMap::default(),
        }
    }
}

impl std::fmt::Debug for Agents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agents")
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl Agents {
    /// Agents parsed with Matomo's DeviceDetector rules instead of the
    /// built-in ones.
    pub fn with_detector(detector: Arc<Detector>) -> Agents {
        Agents {
            detector: Some(detector),
            ..Agents::default()
        }
    }

    /// Agents parsed with Matomo's DeviceDetector rules from `dir` (loaded
    /// once per process, [`Detector::shared`]), or the built-in rules.
    ///
    /// # Errors
    /// As [`Detector::load`].
    pub fn configured(dir: Option<&std::path::Path>) -> crate::Result<Agents> {
        Ok(match dir {
            Some(dir) => Agents::with_detector(Detector::shared(dir)?),
            None => Agents::default(),
        })
    }

    /// Parses one agent, uncached, by the rules this cache uses.
    pub fn parse(&self, agent: &str) -> Agent {
        match &self.detector {
            Some(d) => Agent::detect(d, agent),
            None => parse_with(&self.parser, agent),
        }
    }

    /// The parsed agent, from the cache when seen before.
    pub fn get(&mut self, agent: &str) -> Arc<Agent> {
        if let Some(a) = self.cache.get(agent) {
            return a.clone();
        }
        if self.cache.len() >= CACHE_SIZE {
            self.cache.clear();
        }
        let parsed = Arc::new(self.parse(agent));
        self.cache.insert(agent.into(), parsed.clone());
        parsed
    }
}
