//! Matomo's device detection: DeviceDetector's rules, loaded as data.
//!
//! Matomo names a visit's browser, operating system, device type, brand
//! and model with [DeviceDetector](https://github.com/matomo-org/device-detector),
//! whose knowledge lives in YAML files of regular expressions (`bots.yml`,
//! `oss.yml`, `client/*.yml`, `device/*.yml`). Those files are LGPL-3.0
//! data: hitmap does not ship them. [`Detector::load`] reads them at run
//! time from a directory the user points at (a DeviceDetector checkout's
//! `regexes/`, or the copy inside the `device_detector` package on PyPI),
//! and this module applies DeviceDetector's rules to them: the first
//! matching expression of each list wins, bots first, then the operating
//! system, the client (feed readers, mobile apps, media players, PIMs,
//! browsers, libraries) and the device (TVs, notebooks, consoles, car
//! browsers, cameras, media players, mobiles), then DeviceDetector's
//! device-type rules (Chrome's `Mobile` token, Android versions, touch
//! Windows, desktop operating systems).
//!
//! Speed: each list is matched by one `regex` set that says which of its
//! expressions match; only those are run for their captures, in order.
//! Expressions with look-arounds (under 1 % of them) run on
//! `fancy-regex`. Model lists compile on first use. Client hints are not
//! read (the access logs and the tracker's user agent carry none).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use yaml_rust2::{Yaml, YamlLoader};

use crate::Error;
use hitmap::device_codes::os_family;

/// What DeviceDetector says of a user agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detected {
    /// The bot's name when the agent is a known robot (then nothing else
    /// is detected, as DeviceDetector).
    pub bot: Option<String>,
    /// The operating system's name (`Windows`, `Mac`, `Ubuntu`, `iOS`).
    pub os: Option<String>,
    /// Its version, untruncated (`10.15.7`).
    pub os_version: Option<String>,
    /// The client's name (`Chrome Mobile`, `Firefox`, `Apache HTTP
    /// Client`): a browser, or a feed reader, app, media player, PIM or
    /// library.
    pub client: Option<String>,
    /// The client's kind: `browser`, `feed reader`, `mobile app`,
    /// `mediaplayer`, `pim` or `library`.
    pub client_kind: Option<&'static str>,
    /// The client's version, untruncated.
    pub client_version: Option<String>,
    /// A browser's engine (`Blink`, `WebKit`, `Gecko`, `Trident`).
    pub engine: Option<String>,
    /// The device type (`desktop`, `smartphone`, `tablet`, `tv`, ...).
    pub device: Option<&'static str>,
    /// The device's brand (`Apple`, `Samsung`).
    pub brand: Option<String>,
    /// The device's model (`iPhone`, `Galaxy S5`).
    pub model: Option<String>,
}

/// A device type by the name DeviceDetector's YAML files use (Matomo's
/// types, [`hitmap::DEVICE_TYPES`]).
fn device_type(name: &str) -> Option<&'static str> {
    hitmap::DEVICE_TYPES.iter().copied().find(|t| *t == name)
}

/// The operating systems DeviceDetector counts as desktops' (its
/// `$desktopOsArray`, by family).
const DESKTOP_FAMILIES: [&str; 8] = [
    "AmigaOS",
    "IBM",
    "GNU/Linux",
    "Mac",
    "Unix",
    "Windows",
    "BeOS",
    "Chrome OS",
];

/// One compiled expression, as DeviceDetector wraps it: matched
/// case-insensitively after the start or a separator.
enum Re {
    Plain(regex::bytes::Regex),
    Fancy(fancy_regex::Regex),
}

impl Re {
    fn new(pattern: &str) -> Result<(Re, String), String> {
        let pattern = translate(pattern);
        // ASCII classes and case, as PCRE without its `u` flag.
        let full = format!("(?i-u)(?:^|[^A-Z0-9_-]|[^A-Z0-9-]_|sprd-|MZ-)(?:{pattern})");
        match regex::bytes::RegexBuilder::new(&full)
            .size_limit(64 << 20)
            .build()
        {
            Ok(r) => Ok((Re::Plain(r), full)),
            Err(_) => fancy_regex::RegexBuilder::new(&full.replacen("(?i-u)", "(?i)", 1))
                .backtrack_limit(100_000)
                .build()
                .map(|r| (Re::Fancy(r), full))
                .map_err(|e| e.to_string()),
        }
    }

    /// The groups of the first match: `$1`.. as DeviceDetector reads them
    /// (an unmatched group is empty).
    fn captures(&self, ua: &str) -> Option<Vec<String>> {
        match self {
            Re::Plain(r) => r.captures(ua.as_bytes()).map(|c| {
                c.iter()
                    .map(|m| {
                        m.map_or(String::new(), |m| {
                            String::from_utf8_lossy(m.as_bytes()).into_owned()
                        })
                    })
                    .collect()
            }),
            Re::Fancy(r) => r.captures(ua).ok().flatten().map(|c| {
                c.iter()
                    .map(|m| m.map_or(String::new(), |m| m.as_str().to_owned()))
                    .collect()
            }),
        }
    }

    fn is_match(&self, ua: &str) -> bool {
        match self {
            Re::Plain(r) => r.is_match(ua.as_bytes()),
            Re::Fancy(r) => r.is_match(ua).unwrap_or(false),
        }
    }
}

/// PCRE spellings the `regex` crate reads otherwise.
fn translate(p: &str) -> String {
    // `\/` is an escaped slash in PHP's delimiters; the others are fine.
    p.replace("\\/", "/")
}

/// `p` without its look-around groups (`(?=..)`, `(?!..)`, `(?<=..)`,
/// `(?<!..)`).
fn without_lookarounds(p: &str) -> String {
    let b = p.as_bytes();
    let mut out = String::with_capacity(p.len());
    let mut i = 0;
    let mut class = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' {
            // The backslash and the whole character it escapes.
            let next = p[i + 1..].chars().next().map_or(0, char::len_utf8);
            out.push_str(&p[i..i + 1 + next]);
            i += 1 + next;
            continue;
        }
        if class {
            class = c != b']';
        } else if c == b'[' {
            class = true;
        } else if c == b'('
            && ["(?=", "(?!", "(?<=", "(?<!"]
                .iter()
                .any(|l| p[i..].starts_with(l))
        {
            // Skip to the matching parenthesis.
            let (mut depth, mut j, mut in_class) = (0usize, i, false);
            while j < b.len() {
                match b[j] {
                    b'\\' => j += 1,
                    b'[' if !in_class => in_class = true,
                    b']' if in_class => in_class = false,
                    b'(' if !in_class => depth += 1,
                    b')' if !in_class => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            i = j + 1;
            continue;
        }
        let len = p[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&p[i..i + len]);
        i += len;
    }
    out
}

/// An ordered list of expressions: the first that matches wins.
struct List<T> {
    entries: Vec<(Re, T)>,
    /// Which plain expressions match, a chunk of consecutive entries at
    /// a time: (first entry, last entry + 1, the set of its plain
    /// expressions; `None` when it would not compile, then each is tried).
    chunks: Vec<(usize, usize, Option<regex::bytes::RegexSet>)>,
    /// Index within its chunk's set of each entry, `None` for the fancy ones.
    in_set: Vec<Option<usize>>,
}

/// Entries per set: small enough for each set's lazy DFA to stay in its
/// cache, large enough to skip most expressions at once.
const CHUNK: usize = 48;

impl<T> List<T> {
    fn new(items: Vec<(String, T)>, what: &str) -> Result<List<T>, String> {
        let mut entries = Vec::with_capacity(items.len());
        // What each entry's set screens with: the expression itself, or
        // for a fancy one the expression without its look-arounds (a
        // look-around only narrows a match, so that is a superset).
        let mut screens = Vec::with_capacity(items.len());
        for (pattern, value) in items {
            let (re, full) =
                Re::new(&pattern).map_err(|e| format!("{what}: expression {pattern:?}: {e}"))?;
            screens.push(match re {
                Re::Plain(_) => Some(full),
                Re::Fancy(_) => {
                    Some(without_lookarounds(&full)).filter(|p| regex::bytes::Regex::new(p).is_ok())
                }
            });
            entries.push((re, value));
        }
        let mut in_set = vec![None; entries.len()];
        let mut chunks = Vec::new();
        for start in (0..entries.len()).step_by(CHUNK) {
            let end = (start + CHUNK).min(entries.len());
            let mut patterns = Vec::new();
            for i in start..end {
                if let Some(p) = screens[i].take() {
                    in_set[i] = Some(patterns.len());
                    patterns.push(p);
                }
            }
            let set = regex::bytes::RegexSetBuilder::new(patterns)
                .size_limit(64 << 20)
                .build()
                .ok();
            chunks.push((start, end, set));
        }
        Ok(List {
            entries,
            chunks,
            in_set,
        })
    }

    /// The first entry that matches, with its groups.
    fn first(&self, ua: &str) -> Option<(&T, Vec<String>)> {
        for (start, end, set) in &self.chunks {
            let hits = set.as_ref().map(|s| s.matches(ua.as_bytes()));
            if hits.as_ref().is_some_and(|h| !h.matched_any())
                && self.in_set[*start..*end].iter().all(Option::is_some)
            {
                continue;
            }
            for i in *start..*end {
                let maybe = match (&hits, self.in_set[i]) {
                    (Some(h), Some(j)) => h.matched(j),
                    _ => true,
                };
                let (re, value) = &self.entries[i];
                if maybe && let Some(c) = re.captures(ua) {
                    return Some((value, c));
                }
            }
        }
        None
    }
}

/// `$1`..`$3` replaced by the groups, as DeviceDetector's `buildByMatch`.
fn by_match(item: &str, groups: &[String]) -> String {
    let mut s = item.to_owned();
    for n in 1..=3 {
        let key = format!("${n}");
        if s.contains(&key) {
            let v = groups.get(n).map_or("", String::as_str);
            s = s.replace(&key, v).trim().to_owned();
        }
    }
    s
}

/// A version built as DeviceDetector's `buildVersion` (untruncated).
fn version(item: &str, groups: &[String]) -> String {
    by_match(item, groups)
        .replace('_', ".")
        .trim_matches(|c| c == ' ' || c == '.')
        .to_owned()
}

/// A model built as DeviceDetector's `buildModel`.
fn model(item: &str, groups: &[String]) -> String {
    let m = by_match(item, groups).replace('_', " ");
    let m = match m.len().checked_sub(3) {
        Some(i) if m.is_char_boundary(i) && m[i..].eq_ignore_ascii_case(" TD") => m[..i].to_owned(),
        _ => m,
    };
    if m == "Build" {
        return String::new();
    }
    m.trim().to_owned()
}

/// PHP's `version_compare` on DeviceDetector's plain dotted versions.
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| {
                p.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .unwrap_or(0)
            })
            .collect()
    };
    let (a, b) = (parts(a), parts(b));
    for (x, y) in a.iter().zip(&b) {
        match x.cmp(y) {
            std::cmp::Ordering::Equal => {}
            o => return o,
        }
    }
    a.len().cmp(&b.len())
}

struct OsRule {
    name: String,
    version: String,
    versions: Vec<(Re, Option<String>, Option<String>)>,
}

struct ClientRule {
    name: String,
    version: String,
    engine_default: Option<String>,
    engine_versions: Vec<(String, String)>,
}

struct ModelRule {
    model: String,
    brand: Option<String>,
    device: Option<&'static str>,
}

struct BrandRule {
    brand: String,
    device: Option<&'static str>,
    model: Option<String>,
    models: Vec<(String, ModelRule)>,
    compiled: OnceLock<Option<List<usize>>>,
}

/// A device parser: a file of brands with their models.
struct DeviceParser {
    kind: DeviceParserKind,
    brands: List<BrandRule>,
}

#[derive(Clone, Copy, PartialEq)]
enum DeviceParserKind {
    HbbTv,
    ShellTv,
    Notebook,
    Other,
}

/// DeviceDetector's rules, loaded from its YAML files.
///
/// # Examples
/// ```no_run
/// // A DeviceDetector checkout's `regexes/`, or the `device_detector`
/// // package's directory from PyPI.
/// let d = hitmap_intake::enrich::Detector::load("device-detector/regexes").unwrap();
/// let r = d.detect("Mozilla/5.0 (Linux; Android 10; SM-G973F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.106 Mobile Safari/537.36");
/// assert_eq!(r.client.as_deref(), Some("Chrome Mobile"));
/// assert_eq!((r.brand.as_deref(), r.device), (Some("Samsung"), Some("smartphone")));
/// ```
pub struct Detector {
    dir: PathBuf,
    bots: List<String>,
    oss: List<OsRule>,
    /// Names as their rules spell them, by lower case: a name built from
    /// a match (`debian`) takes its canonical spelling, as DeviceDetector
    /// looks names up in its tables.
    os_names: HashMap<String, String>,
    browser_names: HashMap<String, String>,
    clients: Vec<(&'static str, List<ClientRule>)>,
    engines: List<String>,
    devices: Vec<DeviceParser>,
    vendors: List<String>,
    special: Specials,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector").field("dir", &self.dir).finish()
    }
}

/// The expressions of DeviceDetector's own code (not its YAML files).
struct Specials {
    hbbtv: Re,
    shelltv: Re,
    notebook: Re,
    desktop_fragment: Re,
    desktop_exclude: Re,
    tv: Re,
    chrome: Re,
    mobile: Re,
    pad: Re,
    android_tablet: Re,
    opera_tablet: Re,
    android_mobile: Re,
    touch: Re,
    opera_tv: Re,
    smart_tv: Re,
}

impl Specials {
    fn new() -> Specials {
        let re = |p: &str| Re::new(p).expect("a built-in expression").0;
        Specials {
            hbbtv: re(r"(?:HbbTV|SmartTvA)/([1-9]{1}(?:\.[0-9]{1}){1,2})"),
            shelltv: re(r"[a-z]+[ _]Shell[ _]\w{6}|tclwebkit(\d+[.\d]*)"),
            notebook: re(r"FBMD/"),
            desktop_fragment: re(r"(?:Windows (?:NT|IoT)|X11; Linux x86_64)"),
            desktop_exclude: re(
                r"CE-HTML| Mozilla/|Andr[o0]id|Tablet|Mobile|iPhone|Windows Phone|ricoh|OculusBrowser|PicoBrowser|Lenovo|compatible; MSIE|Trident/|Tesla/|XBOX|FBMD/|ARM; ?([^)]+)",
            ),
            tv: re(r"Andr0id|(?:Android(?: UHD)?|Google) TV|\(lite\) TV|BRAVIA|Firebolt| TV$"),
            chrome: re(r"Chrome/[.0-9]*"),
            mobile: re(r"(?:Mobile|eliboM)"),
            pad: re(r"Pad/APad"),
            android_tablet: re(r"Android( [.0-9]+)?; Tablet;|Tablet(?! PC)|.*\-tablet$"),
            opera_tablet: re(r"Opera Tablet"),
            android_mobile: re(r"Android( [.0-9]+)?; Mobile;|.*\-mobile$"),
            touch: re(r"Touch"),
            opera_tv: re(r"Opera TV Store| OMI/"),
            smart_tv: re(r"SmartTV|Tizen.+ TV .+$"),
        }
    }
}

fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn field(y: &Yaml, key: &str) -> Option<String> {
    text(&y[key])
}

fn load_yaml(path: &Path) -> Result<Yaml, String> {
    let s = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // The Python port's copy spells `$1` as `\g<1>`.
    let s = python_groups(&s);
    let mut docs = YamlLoader::load_from_str(&s).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(if docs.is_empty() {
        Yaml::Null
    } else {
        docs.swap_remove(0)
    })
}

/// `\g<N>` (and a double-quoted `\\g<N>`) back to `$N`.
fn python_groups(s: &str) -> String {
    if !s.contains("\\g<") {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("\\g<") {
        let (before, after) = rest.split_at(i);
        let digits: String = after[3..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() && after[3 + digits.len()..].starts_with('>') {
            out.push_str(before.strip_suffix('\\').unwrap_or(before));
            out.push('$');
            out.push_str(&digits);
            rest = &after[4 + digits.len()..];
        } else {
            out.push_str(&after[..3]);
            out.push_str(before);
            rest = &after[3..];
        }
    }
    out.push_str(rest);
    out
}

/// The directory holding `oss.yml`: `dir` itself, its `regexes/`, or the
/// PyPI package's `regexes/upstream/`.
fn rules_dir(dir: &Path) -> Option<PathBuf> {
    [
        dir.to_path_buf(),
        dir.join("regexes"),
        dir.join("regexes").join("upstream"),
        dir.join("upstream"),
    ]
    .into_iter()
    .find(|d| d.join("oss.yml").is_file())
}

impl Detector {
    /// Loads DeviceDetector's YAML files from `dir` (a checkout's
    /// `regexes/`, its parent, or the `device_detector` PyPI package's
    /// directory).
    ///
    /// # Errors
    /// [`Error::Config`] naming the file when one is missing or
    /// does not parse.
    pub fn load(dir: impl AsRef<Path>) -> Result<Detector, Error> {
        let given = dir.as_ref();
        let dir = rules_dir(given).ok_or_else(|| {
            Error::Config(format!(
                "{}: no DeviceDetector rules here (expected oss.yml, or regexes/oss.yml): point at a checkout of matomo-org/device-detector's regexes/ or at the device_detector package from PyPI",
                given.display()
            ))
        })?;
        Detector::load_from(&dir)
            .map_err(|e| Error::Config(format!("DeviceDetector rules in {}: {e}", dir.display())))
    }

    /// The rules of `dir`, loaded once per process (about a second) and
    /// shared by every importer and tracker that names the directory.
    ///
    /// # Errors
    /// As [`Detector::load`].
    pub fn shared(dir: impl AsRef<Path>) -> Result<std::sync::Arc<Detector>, Error> {
        static LOADED: std::sync::Mutex<Vec<(PathBuf, std::sync::Arc<Detector>)>> =
            std::sync::Mutex::new(Vec::new());
        let dir = dir.as_ref().to_path_buf();
        let mut loaded = LOADED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, d)) = loaded.iter().find(|(p, _)| *p == dir) {
            return Ok(d.clone());
        }
        let d = std::sync::Arc::new(Detector::load(&dir)?);
        loaded.push((dir, d.clone()));
        Ok(d)
    }

    fn load_from(dir: &Path) -> Result<Detector, String> {
        let list = |y: &Yaml| -> Vec<Yaml> { y.as_vec().cloned().unwrap_or_default() };
        // A file of `{regex, name}` entries.
        let named = |file: &str| -> Result<List<String>, String> {
            let y = load_yaml(&dir.join(file))?;
            List::new(
                list(&y)
                    .iter()
                    .filter_map(|e| Some((field(e, "regex")?, field(e, "name")?)))
                    .collect(),
                file,
            )
        };
        let bots = named("bots.yml")?;
        let oss_yaml = load_yaml(&dir.join("oss.yml"))?;
        let mut oss = Vec::new();
        for o in list(&oss_yaml) {
            let (Some(re), Some(name)) = (field(&o, "regex"), field(&o, "name")) else {
                continue;
            };
            let mut versions = Vec::new();
            for v in list(&o["versions"]) {
                if let Some(r) = field(&v, "regex") {
                    let re = Re::new(&r).map_err(|e| format!("oss.yml: {r:?}: {e}"))?.0;
                    versions.push((re, field(&v, "name"), field(&v, "version")));
                }
            }
            let version = field(&o, "version").unwrap_or_default();
            oss.push((
                re,
                OsRule {
                    name,
                    version,
                    versions,
                },
            ));
        }
        let literal = |names: &mut HashMap<String, String>, n: &str| {
            if !n.contains('$') {
                names
                    .entry(n.to_lowercase())
                    .or_insert_with(|| n.to_owned());
            }
        };
        let mut os_names = HashMap::new();
        for (_, o) in &oss {
            literal(&mut os_names, &o.name);
            for (_, n, _) in &o.versions {
                if let Some(n) = n {
                    literal(&mut os_names, n);
                }
            }
        }
        let oss = List::new(oss, "oss.yml")?;
        let mut browser_names = HashMap::new();
        let mut clients = Vec::new();
        for (file, kind) in [
            ("feed_readers.yml", "feed reader"),
            ("mobile_apps.yml", "mobile app"),
            ("mediaplayers.yml", "mediaplayer"),
            ("pim.yml", "pim"),
            ("browsers.yml", "browser"),
            ("libraries.yml", "library"),
        ] {
            let y = load_yaml(&dir.join("client").join(file))?;
            let mut rules = Vec::new();
            for c in list(&y) {
                let (Some(re), Some(name)) = (field(&c, "regex"), field(&c, "name")) else {
                    continue;
                };
                let engine = &c["engine"];
                let engine_versions = engine["versions"]
                    .as_hash()
                    .map(|h| {
                        h.iter()
                            .filter_map(|(k, v)| Some((text(k)?, text(v)?)))
                            .collect()
                    })
                    .unwrap_or_default();
                if kind == "browser" {
                    literal(&mut browser_names, &name);
                }
                rules.push((
                    re,
                    ClientRule {
                        name,
                        version: field(&c, "version").unwrap_or_default(),
                        engine_default: field(engine, "default").filter(|e| !e.is_empty()),
                        engine_versions,
                    },
                ));
            }
            clients.push((kind, List::new(rules, file)?));
        }
        let engines = named("client/browser_engine.yml")?;
        let mut devices = Vec::new();
        for (file, kind) in [
            ("televisions.yml", DeviceParserKind::HbbTv),
            ("shell_tv.yml", DeviceParserKind::ShellTv),
            ("notebooks.yml", DeviceParserKind::Notebook),
            ("consoles.yml", DeviceParserKind::Other),
            ("car_browsers.yml", DeviceParserKind::Other),
            ("cameras.yml", DeviceParserKind::Other),
            ("portable_media_player.yml", DeviceParserKind::Other),
            ("mobiles.yml", DeviceParserKind::Other),
        ] {
            let path = dir.join("device").join(file);
            let y = load_yaml(&path)?;
            let mut brands = Vec::new();
            for (brand, b) in y.as_hash().into_iter().flatten() {
                let (Some(brand), Some(re)) = (text(brand), field(b, "regex")) else {
                    continue;
                };
                let models = list(&b["models"])
                    .iter()
                    .filter_map(|m| {
                        Some((
                            field(m, "regex")?,
                            ModelRule {
                                model: field(m, "model").unwrap_or_default(),
                                brand: field(m, "brand"),
                                device: field(m, "device").as_deref().and_then(device_type),
                            },
                        ))
                    })
                    .collect();
                brands.push((
                    re,
                    BrandRule {
                        brand,
                        device: field(b, "device").as_deref().and_then(device_type),
                        model: field(b, "model"),
                        models,
                        compiled: OnceLock::new(),
                    },
                ));
            }
            devices.push(DeviceParser {
                kind,
                brands: List::new(brands, file)?,
            });
        }
        let vendors_yaml = load_yaml(&dir.join("vendorfragments.yml"))?;
        let mut vendors = Vec::new();
        for (brand, regexes) in vendors_yaml.as_hash().into_iter().flatten() {
            let Some(brand) = text(brand) else { continue };
            for r in list(regexes) {
                if let Some(r) = text(&r) {
                    vendors.push((format!("{r}[^a-z0-9]+"), brand.clone()));
                }
            }
        }
        let vendors = List::new(vendors, "vendorfragments.yml")?;
        Ok(Detector {
            dir: dir.to_path_buf(),
            bots,
            oss,
            os_names,
            browser_names,
            clients,
            engines,
            devices,
            vendors,
            special: Specials::new(),
        })
    }

    /// Detects what `ua` says, as DeviceDetector (versions untruncated).
    pub fn detect(&self, ua: &str) -> Detected {
        let mut d = Detected::default();
        if ua.is_empty() || !ua.bytes().any(|b| b.is_ascii_alphabetic()) {
            return d;
        }
        if let Some((name, g)) = self.bots.first(ua) {
            d.bot = Some(by_match(name, &g));
            return d;
        }
        self.os(ua, &mut d);
        self.client(ua, &mut d);
        self.device(ua, &mut d);
        d
    }

    fn os(&self, ua: &str, d: &mut Detected) {
        let Some((rule, g)) = self.oss.first(ua) else {
            return;
        };
        let mut name = by_match(&rule.name, &g);
        let mut v = version(&rule.version, &g);
        for (re, vname, vversion) in &rule.versions {
            if let Some(g) = re.captures(ua) {
                if let Some(n) = vname {
                    name = by_match(n, &g);
                }
                if let Some(vv) = vversion {
                    v = version(vv, &g);
                }
                break;
            }
        }
        let name = self
            .os_names
            .get(&name.to_lowercase())
            .cloned()
            .unwrap_or(name);
        d.os = (!name.is_empty()).then_some(name);
        d.os_version = (!v.is_empty()).then_some(v);
    }

    fn client(&self, ua: &str, d: &mut Detected) {
        for (kind, list) in &self.clients {
            let Some((rule, g)) = list.first(ua) else {
                continue;
            };
            let mut name = by_match(&rule.name, &g);
            let v = version(&rule.version, &g);
            if *kind == "browser" {
                if let Some(n) = self.browser_names.get(&name.to_lowercase()) {
                    name.clone_from(n);
                }
                let mut engine = rule.engine_default.clone().unwrap_or_default();
                for (from, e) in &rule.engine_versions {
                    if version_cmp(&v, from) != std::cmp::Ordering::Less {
                        engine.clone_from(e);
                    }
                }
                if engine.is_empty()
                    && let Some((e, _)) = self.engines.first(ua)
                {
                    engine.clone_from(e);
                }
                d.engine = (!engine.is_empty()).then_some(engine);
            }
            d.client = Some(name);
            d.client_kind = Some(kind);
            d.client_version = (!v.is_empty()).then_some(v);
            return;
        }
    }

    fn device(&self, ua: &str, d: &mut Detected) {
        let s = &self.special;
        let mut device: Option<&'static str> = None;
        let mut brand = String::new();
        let mut model_name = String::new();
        let desktop_fragment = s.desktop_fragment.is_match(ua) && !s.desktop_exclude.is_match(ua);
        for p in &self.devices {
            match p.kind {
                DeviceParserKind::HbbTv if !s.hbbtv.is_match(ua) => continue,
                DeviceParserKind::ShellTv if !s.shelltv.is_match(ua) => continue,
                DeviceParserKind::Notebook if !s.notebook.is_match(ua) => continue,
                _ => {}
            }
            // A TV parser's agent is a TV, brand or not.
            let tv = matches!(p.kind, DeviceParserKind::HbbTv | DeviceParserKind::ShellTv);
            let found = if desktop_fragment {
                None
            } else {
                p.brands.first(ua)
            };
            let Some((rule, g)) = found else {
                if tv {
                    device = Some("tv");
                    break;
                }
                continue;
            };
            if rule.brand != "Unknown" {
                brand.clone_from(&rule.brand);
            }
            device = rule.device;
            if let Some(m) = &rule.model {
                model_name = model(m, &g);
            }
            if !rule.models.is_empty() {
                let list = rule.compiled.get_or_init(|| {
                    List::new(
                        rule.models
                            .iter()
                            .enumerate()
                            .map(|(i, (re, _))| (re.clone(), i))
                            .collect(),
                        "models",
                    )
                    .ok()
                });
                if let Some((&i, mg)) = list.as_ref().and_then(|l| l.first(ua)) {
                    let m = &rule.models[i].1;
                    model_name = model(&m.model, &mg);
                    if let Some(b) = &m.brand {
                        brand.clone_from(b);
                    }
                    if let Some(t) = m.device {
                        device = Some(t);
                    }
                }
            }
            if tv && device.is_none() {
                device = Some("tv");
            }
            break;
        }
        if brand.is_empty()
            && let Some((b, _)) = self.vendors.first(ua)
        {
            brand.clone_from(b);
        }
        let os = d.os.as_deref().unwrap_or("");
        let family = os_family(os);
        let os_version = d.os_version.as_deref().unwrap_or("");
        let apple = ["iPadOS", "tvOS", "watchOS", "iOS", "Mac"];
        if brand == "Apple" && !apple.contains(&os) {
            device = None;
            brand.clear();
            model_name.clear();
        }
        if brand.is_empty() && apple.contains(&os) {
            brand = "Apple".into();
        }
        if s.tv.is_match(ua) {
            device = Some("tv");
        }
        let client = d.client.as_deref().unwrap_or("");
        if device.is_none()
            && [
                "Kylo",
                "Espial TV Browser",
                "LUJO TV Browser",
                "LogicUI TV Browser",
                "Open TV Browser",
                "Seraphic Sraf",
                "Opera Devices",
                "Crow Browser",
                "Vewd Browser",
                "TiviMate",
                "Quick Search TV",
                "QJY TV Browser",
                "TV Bro",
            ]
            .contains(&client)
        {
            device = Some("tv");
        }
        if device.is_none() && family == "Android" && s.chrome.is_match(ua) {
            device = Some(if s.mobile.is_match(ua) {
                "smartphone"
            } else {
                "tablet"
            });
        }
        if device == Some("smartphone") && s.pad.is_match(ua) {
            device = Some("tablet");
        }
        if device.is_none() && (s.android_tablet.is_match(ua) || s.opera_tablet.is_match(ua)) {
            device = Some("tablet");
        }
        if device.is_none() && s.android_mobile.is_match(ua) {
            device = Some("smartphone");
        }
        use std::cmp::Ordering::Less;
        if device.is_none() && os == "Android" && !os_version.is_empty() {
            if version_cmp(os_version, "2.0") == Less {
                device = Some("smartphone");
            } else if version_cmp(os_version, "3.0") != Less
                && version_cmp(os_version, "4.0") == Less
            {
                device = Some("tablet");
            }
        }
        if device == Some("feature phone") && family == "Android" {
            device = Some("smartphone");
        }
        if device.is_none() && os == "Java ME" {
            device = Some("feature phone");
        }
        if os == "KaiOS" {
            device = Some("feature phone");
        }
        if device.is_none()
            && (os == "Windows RT" || (os == "Windows" && version_cmp(os_version, "8") != Less))
            && s.touch.is_match(ua)
        {
            device = Some("tablet");
        }
        if s.opera_tv.is_match(ua) {
            device = Some("tv");
        }
        if device.is_none() && s.smart_tv.is_match(ua) {
            device = Some("tv");
        }
        if device != Some("desktop") && ua.contains("Desktop") && desktop_fragment {
            device = Some("desktop");
        }
        if device.is_none() && !os.is_empty() && DESKTOP_FAMILIES.contains(&family) {
            device = Some("desktop");
        }
        d.device = device;
        d.brand = (!brand.is_empty()).then_some(brand);
        d.model = (!model_name.is_empty()).then_some(model_name);
    }
}
