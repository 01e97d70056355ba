//! Which log lines become hits: Matomo's log-importer rules as defaults,
//! each switchable.

use super::LogLine;

/// Extensions of static files, skipped by default (Matomo's list).
pub const STATIC_EXTENSIONS: [&str; 19] = [
    "gif", "jpg", "jpeg", "png", "bmp", "ico", "svg", "svgz", "ttf", "otf", "eot", "woff", "woff2",
    "class", "swf", "css", "js", "xml", "webp",
];

/// Files that are never page views (`robots.txt`).
pub const STATIC_FILES: [&str; 1] = ["robots.txt"];

/// Extensions that make a request a download (Matomo's list).
pub const DOWNLOAD_EXTENSIONS: [&str; 75] = [
    "7z", "aac", "arc", "arj", "asf", "asx", "avi", "bin", "csv", "deb", "dmg", "doc", "docx",
    "exe", "flac", "flv", "gz", "gzip", "hqx", "ibooks", "jar", "json", "mpg", "mp2", "mp3", "mp4",
    "mpeg", "mov", "movie", "msi", "msp", "odb", "odf", "odg", "odp", "ods", "odt", "ogg", "ogv",
    "pdf", "phps", "ppt", "pptx", "qt", "qtm", "ra", "ram", "rar", "rpm", "rtf", "sea", "sit",
    "tar", "tbz", "bz2", "tgz", "torrent", "txt", "wav", "webm", "wma", "wmv", "wpd", "xls",
    "xlsx", "xml", "xsd", "z", "zip", "azw3", "epub", "mobi", "apk", "md5", "sig",
];

/// User-agent fragments of robots (lower case; Matomo's list).
pub const BOT_AGENTS: [&str; 29] = [
    "adsbot-google",
    "ask jeeves",
    "baidubot",
    "bot-",
    "bot/",
    "ccooter/",
    "crawl",
    "curl",
    "echoping",
    "exabot",
    "feed",
    "googlebot",
    "ia_archiver",
    "java/",
    "libwww",
    "mediapartners-google",
    "msnbot",
    "netcraftsurvey",
    "panopta",
    "pingdom.com_bot_",
    "robot",
    "spider",
    "surveybot",
    "twiceler",
    "voilabot",
    "yahoo",
    "yandex",
    "zabbix",
    "googlestackdrivermonitoring",
];

/// The importer's switches (Matomo's `--enable-*` options and filters).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    /// Count static files as downloads instead of skipping them.
    pub enable_static: bool,
    /// Keep requests from robots.
    pub enable_bots: bool,
    /// Keep 4xx and 5xx responses.
    pub enable_http_errors: bool,
    /// Keep 3xx responses (304 is always kept).
    pub enable_http_redirects: bool,
    /// Only these hosts (glob patterns, `*` and `?`); empty: every host.
    pub include_hosts: Vec<String>,
    /// Never these hosts.
    pub exclude_hosts: Vec<String>,
    /// Only these paths (globs); empty: every path.
    pub include_paths: Vec<String>,
    /// Never these paths (globs), e.g. `/admin/*`.
    pub exclude_paths: Vec<String>,
    /// More robot fragments (lower case).
    pub bot_agents: Vec<String>,
}

/// Why a line is not a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Skip {
    /// A static file or `robots.txt`.
    Static,
    /// A robot's user agent.
    Bot,
    /// A 4xx or 5xx response.
    HttpError,
    /// A 3xx response other than 304.
    HttpRedirect,
    /// A host outside the include list or in the exclude list.
    Host,
    /// A path outside the include list or in the exclude list.
    Path,
}

impl Skip {
    /// A short reason for summaries.
    pub fn reason(self) -> &'static str {
        match self {
            Skip::Static => "static file",
            Skip::Bot => "robot",
            Skip::HttpError => "HTTP error (4xx, 5xx)",
            Skip::HttpRedirect => "HTTP redirect (3xx)",
            Skip::Host => "host filtered out",
            Skip::Path => "path filtered out",
        }
    }
}

/// What a line becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A page view.
    Pageview,
    /// A download.
    Download,
    /// Not a hit.
    Skip(Skip),
}

impl Rules {
    /// Applies the rules to a line, in Matomo's order (a line failing
    /// several is counted under the first: host, HTTP error, redirect,
    /// path, static file, robot).
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::logs::{LogLine, Rules, Decision, Skip};
    /// let mut l = LogLine { path: "/report.pdf".into(), status: Some(200), ..LogLine::default() };
    /// assert_eq!(Rules::default().decide(&l), Decision::Download);
    /// l.path = "/style.css?v=2".into();
    /// assert_eq!(Rules::default().decide(&l), Decision::Skip(Skip::Static));
    /// l.status = Some(404);
    /// assert_eq!(Rules::default().decide(&l), Decision::Skip(Skip::HttpError));
    /// ```
    pub fn decide(&self, line: &LogLine<'_>) -> Decision {
        self.decide_with(line, || {
            self.is_bot(line.user_agent.as_deref().unwrap_or(""))
        })
    }

    /// Whether a user agent is a robot's by Matomo's list and
    /// [`Rules::bot_agents`] (case-insensitive).
    ///
    /// # Examples
    /// ```
    /// let rules = hitmap_intake::logs::Rules::default();
    /// assert!(rules.is_bot("Mozilla/5.0 (compatible; Googlebot/2.1)"));
    /// assert!(!rules.is_bot("Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"));
    /// ```
    pub fn is_bot(&self, agent: &str) -> bool {
        let agent = agent.to_ascii_lowercase();
        BOT_AGENTS.iter().any(|b| agent.contains(b))
            || self.bot_agents.iter().any(|b| agent.contains(b.as_str()))
    }

    /// [`Rules::decide`] with the robot test given (an importer caches it
    /// per user agent); it is asked only when robots are excluded and the
    /// other rules let the line through.
    pub fn decide_with(&self, line: &LogLine<'_>, is_bot: impl FnOnce() -> bool) -> Decision {
        let full = &*line.path;
        let path = memchr::memchr2(b'?', b'#', full.as_bytes()).map_or(full, |i| &full[..i]);
        let file = memchr::memrchr(b'/', path.as_bytes()).map_or(path, |i| &path[i + 1..]);
        let extension = memchr::memrchr(b'.', file.as_bytes()).map_or("", |i| &file[i + 1..]);
        let is = |list: &[&str]| list.iter().any(|x| x.eq_ignore_ascii_case(extension));
        if !self.include_hosts.is_empty() || !self.exclude_hosts.is_empty() {
            let host = line.host.as_deref().unwrap_or("").to_ascii_lowercase();
            let host = host.trim_matches('.');
            let matches = |p: &String| glob(&p.to_ascii_lowercase(), host);
            if (!self.include_hosts.is_empty() && !self.include_hosts.iter().any(matches))
                || self.exclude_hosts.iter().any(matches)
            {
                return Decision::Skip(Skip::Host);
            }
        }
        match line.status {
            Some(400..=599) if !self.enable_http_errors => {
                return Decision::Skip(Skip::HttpError);
            }
            Some(s @ 300..=399) if s != 304 && !self.enable_http_redirects => {
                return Decision::Skip(Skip::HttpRedirect);
            }
            _ => {}
        }
        if self.exclude_paths.iter().any(|p| glob(p, path))
            || (!self.include_paths.is_empty() && !self.include_paths.iter().any(|p| glob(p, path)))
        {
            return Decision::Skip(Skip::Path);
        }
        let mut kind = if !extension.is_empty() && is(&DOWNLOAD_EXTENSIONS) {
            Decision::Download
        } else {
            Decision::Pageview
        };
        if (!extension.is_empty() && is(&STATIC_EXTENSIONS)) || STATIC_FILES.contains(&file) {
            if !self.enable_static {
                return Decision::Skip(Skip::Static);
            }
            kind = Decision::Download;
        }
        if !self.enable_bots && is_bot() {
            return Decision::Skip(Skip::Bot);
        }
        kind
    }
}

/// Shell-style matching: `*` any run, `?` one character, the rest literal.
///
/// # Examples
/// ```
/// use hitmap_intake::logs::glob;
/// assert!(glob("*.example.org", "www.example.org"));
/// assert!(glob("/admin/*", "/admin/users"));
/// assert!(!glob("/admin/*", "/administrator"));
/// ```
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Iterative matching with one backtrack point (the last `*`).
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || Some(&c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == '*'))
}
