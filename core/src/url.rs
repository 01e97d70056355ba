//! Small, allocation-free URL helpers. hitmap does not need a full URL
//! parser: it needs the host (internal or external referrer), the path
//! (sections, folders) and the query keys (campaign parameters), and must
//! never fail on whatever text a tracker sends.

use std::borrow::Cow;

/// The URL without its `#fragment`.
pub(crate) fn without_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(u, _)| u)
}

/// The URL an action of `kind` keeps: a download's or outlink's as it
/// is, any other's without its `#fragment` (Matomo keeps the fragment of
/// a clicked link, `ActionClickUrl`, and drops a page's).
pub(crate) fn action_url(url: &str, kind: crate::HitType) -> &str {
    match kind {
        crate::HitType::Download | crate::HitType::Outlink => url,
        _ => without_fragment(url),
    }
}

/// A download's or outlink's row label under its domain, as Matomo's:
/// `/` and the path with its query, then `#` and the fragment if it has
/// one (`https://x.org/a?b#c` is `/a?b#c`), percent-escapes decoded as
/// Matomo's API decodes labels ([`title_label`]).
pub(crate) fn link_label(url: &str) -> String {
    let (rest, fragment) = url.split_once('#').unwrap_or((url, ""));
    let path = match authority_end(rest) {
        Some((_, end)) => &rest[end..],
        None => rest,
    };
    let mut label = format!("/{}", path.strip_prefix('/').unwrap_or(path).trim());
    if !fragment.is_empty() {
        label.push('#');
        label.push_str(fragment);
    }
    title_label(&label).into_owned()
}

/// A URL as Matomo names a page action: without its scheme, a leading
/// `www.` and its fragment (`http://www.x.org/a#b` is `x.org/a`).
pub(crate) fn page_name(url: &str) -> &str {
    let url = without_fragment(url);
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    rest.strip_prefix("www.").unwrap_or(rest)
}

/// The name Matomo stores a page action under, in any case of its
/// scheme and `www.` ([`page_name`] of [`shown_url`]'s form), its host in
/// lower case: URLs of one name are one action
/// (`http://WwW.X.org/a` and `https://www.x.org/a` are `x.org/a`).
pub(crate) fn action_name(url: &str) -> String {
    let name = page_name(&shown_url(url)).to_owned();
    let host_end = name.find(['/', '?', '#']).unwrap_or(name.len());
    format!("{}{}", name[..host_end].to_lowercase(), &name[host_end..])
}

/// A URL as Matomo compares it with a segment's `pageUrl==` value (and
/// the other URL segments' `==`, `!=`): its action name ([`page_name`],
/// the scheme and `www.` dropped in any case), without case, as MySQL's
/// collation compares (`https://WWW.x.org/A` and `x.org/a` are the same);
/// a download's or outlink's with its fragment ([`action_url`]).
pub(crate) fn url_match_key(url: &str, kind: crate::HitType) -> String {
    let url = url.trim().to_lowercase();
    let url = action_url(&url, kind);
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    rest.strip_prefix("www.").unwrap_or(rest).to_owned()
}

/// Matomo's default `url_query_parameter_to_exclude_from_url`: click ids
/// and session ids that its tracker strips from action URLs.
pub(crate) const SESSION_PARAMETERS: [&str; 16] = [
    "gclid",
    "fbclid",
    "msclkid",
    "twclid",
    "wbraid",
    "gbraid",
    "yclid",
    "fb_xd_fragment",
    "fb_comment_id",
    "phpsessid",
    "jsessionid",
    "sessionid",
    "aspsessionid",
    "doing_wp_cron",
    "sid",
    "pk_vid",
];

/// A URL without its fragment and without the query parameters Matomo
/// strips from action URLs ([`SESSION_PARAMETERS`], any case): how
/// Matomo matches a URL it is asked about (`Actions.getDownload`).
pub(crate) fn without_session_parameters(url: &str) -> String {
    without_parameters(without_fragment(url), |name| {
        SESSION_PARAMETERS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
    })
    .into_owned()
}

/// `url` as Matomo's tracker records a page URL: without Matomo's
/// default excluded session and click ids (its
/// `url_query_parameter_to_exclude_from_url`: `gclid`, `fbclid`,
/// `msclkid`, `twclid`, `wbraid`, `gbraid`, `yclid`, `fb_xd_fragment`,
/// `fb_comment_id`, `phpsessid`, `jsessionid`, `sessionid`,
/// `aspsessionid`, `doing_wp_cron`, `sid`, `pk_vid`) and the parameters
/// `site` names (a site's excluded parameters), in any case; what
/// [`crate::SiteConfig::strip_excluded_parameters`] does, for hosts that
/// keep a site's list apart from its configuration.
///
/// # Examples
/// ```
/// let site = vec!["ref".to_string()];
/// assert_eq!(
///     hitmap::strip_excluded_parameters("https://x.org/?REF=1&q=2&jsessionid=9", &site),
///     "https://x.org/?q=2"
/// );
/// ```
pub fn strip_excluded_parameters<'u>(url: &'u str, site: &[String]) -> Cow<'u, str> {
    without_parameters(url, |name| {
        SESSION_PARAMETERS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
            || site.iter().any(|p| p.eq_ignore_ascii_case(name))
    })
}

/// `url` without the query parameters whose name `excluded` says, the
/// others in their order, its fragment kept; unchanged (borrowed) when
/// none is excluded. Empty pairs (`a=1&&b=2`) are dropped with them.
pub(crate) fn without_parameters(url: &str, excluded: impl Fn(&str) -> bool) -> Cow<'_, str> {
    let (rest, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let Some((base, query)) = rest.split_once('?') else {
        return Cow::Borrowed(url);
    };
    fn name(pair: &str) -> &str {
        pair.split('=').next().unwrap_or_default()
    }
    if !query.split('&').any(|pair| excluded(name(pair))) {
        return Cow::Borrowed(url);
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !excluded(name(pair)))
        .collect();
    let mut out = base.to_owned();
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    out.push_str(fragment);
    Cow::Owned(out)
}

/// Where the part after `scheme://host[:port]` starts, if there is a scheme.
fn authority_end(url: &str) -> Option<(usize, usize)> {
    let start = url.find("://")? + 3;
    if url[..start - 3].contains(['/', '?', '#']) {
        return None;
    }
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    Some((start, end))
}

/// The lower-cased host of an absolute URL, without user info, port or
/// a leading `www.`.
pub(crate) fn host_of(url: &str) -> Option<String> {
    without_www(&full_host_of(url)?)
}

/// A lower-cased host without a leading `www.` (`None` when nothing is
/// left).
pub(crate) fn without_www(host: &str) -> Option<String> {
    let host = host.strip_prefix("www.").unwrap_or(host);
    (!host.is_empty()).then(|| host.to_owned())
}

/// The lower-cased host of an absolute URL, without user info or port,
/// a leading `www.` kept (Matomo's name of a referrer website).
pub(crate) fn full_host_of(url: &str) -> Option<String> {
    let (start, end) = authority_end(url)?;
    let authority = &url[start..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split_once(']')
            .map_or(host, |(h, _)| h)
            .trim_start_matches('[')
    } else {
        host.split_once(':').map_or(host, |(h, _)| h)
    };
    let host = host.to_ascii_lowercase();
    (!host.is_empty()).then_some(host)
}

/// Path plus query, fragment dropped: the page report's row label.
/// `https://x.org` and `https://x.org/` both give `/`.
pub(crate) fn page_label(url: &str) -> &str {
    let url = without_fragment(url);
    match authority_end(url) {
        Some((_, end)) if end == url.len() => "/",
        Some((_, end)) => &url[end..],
        None => url,
    }
}

/// The path alone: no scheme, host, query or fragment.
pub(crate) fn path_of(url: &str) -> &str {
    let label = page_label(url);
    let path = label.split_once('?').map_or(label, |(p, _)| p);
    if path.is_empty() { "/" } else { path }
}

/// Whether `path` lies inside the section `prefix` (path-segment aware:
/// `/news` holds `/news` and `/news/a`, not `/newsletter`).
pub(crate) fn path_in_prefix(path: &str, prefix: &str) -> bool {
    if prefix == "/" {
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Normalises a section prefix: leading `/`, no trailing `/`.
pub(crate) fn normalize_prefix(prefix: &str) -> Option<String> {
    if !prefix.starts_with('/') {
        return None;
    }
    let trimmed = prefix.trim_end_matches('/');
    Some(if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    })
}

/// The keys of the query string.
pub(crate) fn query_keys(url: &str) -> impl Iterator<Item = &str> {
    let url = without_fragment(url);
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').map_or(p, |(k, _)| k))
}

/// Decodes `%XX` escapes (and `+` as space when `plus_is_space`); invalid
/// escapes stay as they are, invalid UTF-8 is replaced.
pub(crate) fn percent_decode(s: &str, plus_is_space: bool) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(s, plus_is_space)).into_owned()
}

/// The bytes `%XX` escapes stand for (`plus_is_space`: `+` is a space).
fn percent_decode_bytes(s: &str, plus_is_space: bool) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' && i + 2 < bytes.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if plus_is_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
    out
}

/// A page URL as Matomo shows it (its action's URL prefix, `http://`,
/// `http://www.`, `https://` or `https://www.`, is stored apart from
/// the rest and shown in lower case): `https://wWw.x.org/A` is
/// `https://www.x.org/A`.
pub(crate) fn shown_url(url: &str) -> std::borrow::Cow<'_, str> {
    let scheme = ["http://", "https://"]
        .into_iter()
        .find(|p| url.len() >= p.len() && url[..p.len()].eq_ignore_ascii_case(p));
    let Some(scheme) = scheme else {
        return std::borrow::Cow::Borrowed(url);
    };
    let rest = &url[scheme.len()..];
    let www = rest.len() >= 4 && rest[..4].eq_ignore_ascii_case("www.");
    let end = scheme.len() + if www { 4 } else { 0 };
    if url[..end].bytes().all(|b| !b.is_ascii_uppercase()) {
        return std::borrow::Cow::Borrowed(url);
    }
    std::borrow::Cow::Owned(format!(
        "{}{}",
        url[..end].to_ascii_lowercase(),
        &url[end..]
    ))
}

/// A page title as Matomo's API labels its report row: percent-escapes
/// decoded when they decode to UTF-8 (Matomo's `SafeDecodeLabel`; an
/// access log's `404/URL = http%3A%2F%2Fx.org%2Fa` is
/// `404/URL = http://x.org/a`), `+` kept (PHP's `urldecode` would make it
/// a space); the row's segment keeps the title as stored.
pub(crate) fn title_label(title: &str) -> std::borrow::Cow<'_, str> {
    if !title.contains('%') {
        return std::borrow::Cow::Borrowed(title);
    }
    match String::from_utf8(percent_decode_bytes(title, false)) {
        Ok(decoded) => std::borrow::Cow::Owned(decoded),
        Err(_) => std::borrow::Cow::Borrowed(title),
    }
}

/// Matomo's input sanitising (PHP's `htmlspecialchars` with quotes):
/// `& < > " '` as `&amp; &lt; &gt; &quot; &#039;`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

/// [`html_escape`] undone: the five entities back to their characters
/// (others, and a lone `&`, stay as written).
pub(crate) fn html_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let found = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&#039;", '\''),
            ("&#39;", '\''),
        ]
        .into_iter()
        .find(|(e, _)| rest.starts_with(e));
        match found {
            Some((e, c)) => {
                out.push(c);
                rest = &rest[e.len()..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Matomo's `parseNameFromPageUrl` of a clicked link: `/`, the path
    /// and query after the host, `#` and the fragment when there is one;
    /// the label's escapes decoded.
    #[test]
    fn a_link_label_keeps_its_fragment_as_matomos() {
        let cases = [
            ("https://outlinks.org/#!a-<b>", "/#!a-<b>"),
            ("http://x.org/o#f&c=Open%20p", "/o#f&c=Open p"),
            ("http://x.org", "/"),
            ("http://x.org/a?b=1#", "/a?b=1"),
            ("http://x.org//a", "//a"),
        ];
        for (url, label) in cases {
            assert_eq!(link_label(url), label, "{url}");
        }
        assert_eq!(
            action_url("http://x.org/a#b", crate::HitType::Outlink),
            "http://x.org/a#b"
        );
        assert_eq!(
            action_url("http://x.org/a#b", crate::HitType::Pageview),
            "http://x.org/a"
        );
    }

    #[test]
    fn shown_urls_have_matomos_lower_case_prefix() {
        assert_eq!(
            shown_url("https://wWw.Example.org/A"),
            "https://www.Example.org/A"
        );
        assert_eq!(shown_url("HTTP://x.org/"), "http://x.org/");
        assert_eq!(shown_url("http://x.org/"), "http://x.org/");
        assert_eq!(shown_url("ftp://x.org/"), "ftp://x.org/");
    }

    #[test]
    fn title_labels_decode_as_matomos_api() {
        assert_eq!(
            title_label("Emoji here: %F0%9F%98%8E"),
            "Emoji here: \u{1F60E}"
        );
        assert_eq!(
            title_label("404/URL = http%3A%2F%2Fx.org%2Fa%2C1"),
            "404/URL = http://x.org/a,1"
        );
        assert_eq!(title_label("C++ at 100%"), "C++ at 100%");
        // Not UTF-8 once decoded: as stored.
        assert_eq!(title_label("a%FFb"), "a%FFb");
    }

    #[test]
    fn html_escaping_round_trips_as_matomo_sanitizes() {
        let text = "La fiancée de l'eau ---> \"x\" & <y>";
        let escaped = html_escape(text);
        assert_eq!(
            escaped,
            "La fiancée de l&#039;eau ---&gt; &quot;x&quot; &amp; &lt;y&gt;"
        );
        assert_eq!(html_unescape(&escaped), text);
        // Other entities and lone ampersands stay.
        assert_eq!(html_unescape("a & b &nbsp; &#39;"), "a & b &nbsp; '");
    }

    #[test]
    fn excluded_parameters_leave_the_query_in_order() {
        let site = vec!["Ref".to_string()];
        let strip = |u| strip_excluded_parameters(u, &site).into_owned();
        assert_eq!(
            strip("https://x.org/a?b=1&ref=2&c=3#f?ref=4"),
            "https://x.org/a?b=1&c=3#f?ref=4"
        );
        assert_eq!(strip("https://x.org/a?REF&&c=3"), "https://x.org/a?c=3");
        assert_eq!(strip("https://x.org/a?ref=1#top"), "https://x.org/a#top");
        assert_eq!(strip("https://x.org/a?&q=1"), "https://x.org/a?&q=1");
        assert_eq!(strip("https://x.org/?"), "https://x.org/?");
        assert_eq!(strip("https://x.org/a#?ref=1"), "https://x.org/a#?ref=1");
        assert!(matches!(
            strip_excluded_parameters("https://x.org/a?q=1", &site),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn session_parameters_are_left_out() {
        assert_eq!(
            without_session_parameters("http://x.org/a.zip?PHPSESSID=1&v=2#f"),
            "http://x.org/a.zip?v=2"
        );
        assert_eq!(
            without_session_parameters("http://x.org/a?gclid=x&sid=2"),
            "http://x.org/a"
        );
        assert_eq!(
            without_session_parameters("http://x.org/a?sidebar=1"),
            "http://x.org/a?sidebar=1"
        );
        assert_eq!(
            without_session_parameters("http://x.org/a"),
            "http://x.org/a"
        );
    }

    #[test]
    fn labels_and_paths() {
        assert_eq!(page_label("https://x.org/a/b?q=1#frag"), "/a/b?q=1");
        assert_eq!(page_label("https://x.org"), "/");
        assert_eq!(page_label("https://x.org?x=1"), "?x=1");
        assert_eq!(path_of("https://x.org?x=1"), "/");
        assert_eq!(page_label("/relative/p"), "/relative/p");
        assert_eq!(path_of("https://x.org/news/a?x"), "/news/a");
        assert_eq!(
            host_of("https://user@WWW.X.org:8080/p"),
            Some("x.org".into())
        );
        assert_eq!(host_of("/p"), None);
        assert_eq!(host_of("a/b://c"), None);
    }

    #[test]
    fn prefixes_respect_segments() {
        assert!(path_in_prefix("/news", "/news"));
        assert!(path_in_prefix("/news/a", "/news"));
        assert!(!path_in_prefix("/newsletter", "/news"));
        assert!(path_in_prefix("/anything", "/"));
        assert_eq!(normalize_prefix("/news/").as_deref(), Some("/news"));
        assert_eq!(normalize_prefix("news"), None);
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%3D%3Db+c%zz%", true), "a==b c%zz%");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(
            query_keys("https://x.org/?utm_source=a&b#c=d").collect::<Vec<_>>(),
            ["utm_source", "b"]
        );
    }
}
