"""hitmap's report definitions (docs/hits.md) written as DuckDB SQL.

The differential tests and ``benches/compare.py`` load the same NDJSON
hits into DuckDB and into hitmap and compare every number. DuckDB
sessionizes with window functions exactly as the spec says:

- hits of one visitor on one site on one local day (the site's IANA time
  zone), sorted by time, ties broken by the action's attributes (URL
  without fragment, type, title, keyword, event category/action/name,
  event value) so arrival order never matters;
- a gap of at least the timeout starts a new visit;
- visit-level fields come from the first hit carrying them; among hits
  that are the same action as that one, the smallest value;
- visitCount ranks a visitor's visits over all data.

Nothing here is shared with the engine's code.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

TYPE_RANK = "CASE type WHEN 'pageview' THEN 0 WHEN 'download' THEN 1 WHEN 'outlink' THEN 2 WHEN 'search' THEN 3 ELSE 4 END"

# Sort key of hits inside one visitor-day (the spec's tie rule).
ORDER = (
    "ts, url_nf NULLS FIRST, trank, title NULLS FIRST, keyword NULLS FIRST, "
    "ev_category NULLS FIRST, ev_action NULLS FIRST, ev_name NULLS FIRST, ev_value NULLS LAST"
)

VISIT_FIELDS = ("user", "referrer", "device", "browser", "os", "country", "language")

# Matomo's campaign name and keyword parameters (docs/hits.md), as a
# DuckDB list.
CAMPAIGN_PARAMS = "[" + ", ".join(
    f"'{p}'" for p in (
        "pk_cpn", "pk_campaign", "piwik_campaign", "mtm_campaign", "matomo_campaign",
        "utm_campaign", "utm_source", "utm_medium", "pk_kwd", "pk_keyword", "piwik_kwd",
        "mtm_kwd", "mtm_keyword", "matomo_kwd", "utm_term",
    )
) + "]"


@dataclass
class Site:
    """A site as both engines see it."""

    id: int
    timezone: str
    host: str
    sections: Dict[str, List[str]] = field(default_factory=dict)
    dimensions: Tuple[str, ...] = ()
    timeout: int = 1800


# --------------------------------------------------------------------------
# loading and sessionizing


def load(con: Any, ndjson_path: str, sites: Sequence[Site], dimensions: Sequence[str],
         rfc3339: bool = False, sessionize_too: bool = True) -> None:
    """Reads the hits and builds the tables ``hv`` (hits with their visit)
    and ``visits``. ``dimensions`` are the custom dimension names;
    ``rfc3339``: the timestamps are RFC 3339 strings (else Unix seconds);
    without ``sessionize_too`` only the ``raw`` table is built."""
    _sites(con, sites)
    dim_cols = "".join(f", dims->>'{d}' AS \"dim_{d}\"" for d in dimensions)
    ts_col = "CAST(epoch(CAST(ts AS TIMESTAMPTZ)) AS BIGINT) AS ts" if rfc3339 else "ts"
    ts_type = "VARCHAR" if rfc3339 else "BIGINT"
    con.execute(
        f"""
        CREATE OR REPLACE TABLE raw AS
        SELECT site, {ts_col}, visitor, coalesce(type, 'pageview') AS type, url, title,
               referrer, "user", device, browser, os, country, language,
               CASE WHEN coalesce(type, 'pageview') = 'search' THEN search END AS keyword,
               CASE WHEN type = 'event' THEN event->>'category' END AS ev_category,
               CASE WHEN type = 'event' THEN event->>'action' END AS ev_action,
               CASE WHEN type = 'event' THEN event->>'name' END AS ev_name,
               CASE WHEN type = 'event' THEN CAST(event->>'value' AS DOUBLE) END AS ev_value
               {dim_cols}
        FROM read_json(?, format = 'newline_delimited', columns = {{
            site: 'INTEGER', ts: '{ts_type}', visitor: 'VARCHAR', type: 'VARCHAR',
            url: 'VARCHAR', title: 'VARCHAR', referrer: 'VARCHAR', "user": 'VARCHAR',
            device: 'VARCHAR', browser: 'VARCHAR', os: 'VARCHAR', country: 'VARCHAR',
            language: 'VARCHAR', search: 'VARCHAR', event: 'JSON', dims: 'JSON'}})
        """,
        [ndjson_path],
    )
    if sessionize_too:
        sessionize(con, dimensions)


def load_parquet(con: Any, parquet_path: str, sites: Sequence[Site], dimensions: Sequence[str]) -> None:
    """:func:`load` from a Parquet file of the ``raw`` table (its best input
    format: typed columns, nothing to parse)."""
    _sites(con, sites)
    con.execute("CREATE OR REPLACE TABLE raw AS SELECT * FROM read_parquet(?)", [parquet_path])
    sessionize(con, dimensions)


def _sites(con: Any, sites: Sequence[Site]) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE sites (site INTEGER, tz VARCHAR, host VARCHAR, timeout BIGINT)"
    )
    con.executemany(
        "INSERT INTO sites VALUES (?, ?, ?, ?)",
        [(s.id, s.timezone, s.host, s.timeout) for s in sites],
    )


def sessionize(con: Any, dimensions: Sequence[str]) -> None:
    """Visits from ``raw`` with window functions."""
    dims = [f'"dim_{d}"' for d in dimensions]
    fields = [f'"{f}"' for f in VISIT_FIELDS] + dims
    con.execute(
        f"""
        CREATE OR REPLACE TABLE hv AS
        WITH h0 AS (
            SELECT r.*, s.timeout, s.host,
                   CAST(timezone(s.tz, to_timestamp(r.ts)) AS DATE) AS day,
                   regexp_replace(r.url, '#.*$', '') AS url_f,
                   {TYPE_RANK} AS trank
            FROM raw r JOIN sites s USING (site)
        ), h1 AS (
            SELECT *, list_filter(string_split(regexp_extract(url_f, '\\?(.*)$', 1), '&'),
                                  lambda x: x <> '') AS pairs
            FROM h0
        ), h AS (
            -- docs/hits.md, "Campaign parameters leave action URLs": an
            -- action's URL (not a download's or outlink's) without the
            -- campaign name and keyword parameters; the action then
            -- records the campaign when one of them has a value.
            SELECT * EXCLUDE (url_f, pairs, kept),
                   CASE WHEN type IN ('download', 'outlink') OR NOT contains(url_f, '?')
                          OR len(kept) = len(pairs) THEN url_f
                        ELSE split_part(url_f, '?', 1)
                             || CASE WHEN len(kept) = 0 THEN '' ELSE '?' || array_to_string(kept, '&') END
                   END AS url_nf,
                   type NOT IN ('download', 'outlink')
                     AND len(list_filter(pairs, lambda x: list_contains({CAMPAIGN_PARAMS},
                                                                   lower(split_part(x, '=', 1)))
                                                     AND trim(split_part(x, '=', 2)) <> '')) > 0
                     AS records_campaign
            FROM (SELECT *, list_filter(pairs, lambda x: NOT list_contains({CAMPAIGN_PARAMS},
                                                                     lower(split_part(x, '=', 1)))) AS kept
                  FROM h1)
        ), ordered AS (
            SELECT *, row_number() OVER w AS seq, ts - lag(ts) OVER w AS gap
            FROM h WINDOW w AS (PARTITION BY site, visitor, day ORDER BY {ORDER})
        ), numbered AS (
            SELECT *, sum(CASE WHEN gap IS NULL OR gap >= timeout THEN 1 ELSE 0 END)
                          OVER (PARTITION BY site, visitor, day ORDER BY seq) AS vno
            FROM ordered
        ), marked AS (
            -- Time on page (docs/hits.md): each hit's seconds since the one
            -- before go to the page it was made on (a page view's to the
            -- page before it); events' count nowhere.
            SELECT *, sum(CASE WHEN type = 'pageview' THEN 1 ELSE 0 END) OVER v AS pvno,
                   CASE WHEN type = 'event' THEN 0 ELSE coalesce(ts - lag(ts) OVER v, 0) END AS contrib
            FROM numbered WINDOW v AS (PARTITION BY site, visitor, day, vno ORDER BY seq)
        ), refs AS (
            SELECT site AS r_site, visitor AS r_visitor, day AS r_day, vno AS r_vno,
                   pvno - CASE WHEN type = 'pageview' THEN 1 ELSE 0 END AS r_page, sum(contrib) AS r_time
            FROM marked GROUP BY ALL
        )
        SELECT m.*,
               dense_rank() OVER (PARTITION BY site, visitor, day, vno ORDER BY {ORDER}) AS arank,
               CASE WHEN type = 'pageview' THEN coalesce(r_time, 0) ELSE 0 END AS time_spent,
               regexp_extract(url_nf, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/?]*(.*)$', 1) AS label0
        FROM marked m LEFT JOIN refs ON (r_site = site AND r_visitor = visitor AND r_day = day
                                          AND r_vno = vno AND r_page = pvno)
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE hv2 AS
        SELECT *,
               CASE WHEN url_nf IS NULL THEN NULL
                    WHEN NOT regexp_matches(url_nf, '^[a-zA-Z][a-zA-Z0-9+.-]*://') THEN url_nf
                    WHEN label0 = '' THEN '/' ELSE label0 END AS label
        FROM hv
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE hv AS
        SELECT * EXCLUDE (label0),
               CASE WHEN label IS NULL THEN NULL
                    WHEN split_part(label, '?', 1) = '' THEN '/'
                    ELSE split_part(label, '?', 1) END AS path
        FROM hv2
        """
    )
    con.execute("DROP TABLE hv2")
    carrier = ", ".join(f"min(arank) FILTER (WHERE {f} IS NOT NULL) AS r_{i}" for i, f in enumerate(fields))
    value = ", ".join(f"min(hv.{f}) FILTER (WHERE hv.arank = c.r_{i}) AS {f}" for i, f in enumerate(fields))
    con.execute(
        f"""
        CREATE OR REPLACE TABLE visits AS
        WITH c AS (
            SELECT site, visitor, day, vno, {carrier} FROM hv GROUP BY ALL
        ), v AS (
            SELECT hv.site, hv.visitor, hv.day, hv.vno, {value},
                   min(hv.ts) AS first_ts, count(*) AS n,
                   CASE WHEN count(*) = 1 THEN 0 ELSE 1 + max(hv.ts) - min(hv.ts) END AS length,
                   first(hv.url_nf ORDER BY hv.seq) AS first_url,
                   first(hv.url_nf ORDER BY hv.seq) FILTER (WHERE hv.type = 'pageview') AS entry_url,
                   first(hv.url_nf ORDER BY hv.seq DESC) FILTER (WHERE hv.type = 'pageview') AS exit_url,
                   any_value(hv.host) AS site_host,
                   bool_or(hv.records_campaign) FILTER (WHERE hv.arank = 1) AS landing_campaign,
                   bool_or(hv.records_campaign) AS any_campaign
            FROM hv JOIN c USING (site, visitor, day, vno) GROUP BY ALL
        ), typed AS (
            SELECT *, lower(regexp_extract(referrer,
                        '^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]+)', 1)) AS rhost0
            FROM v
        ), hosted AS (
            SELECT *, CASE WHEN starts_with(rhost0, 'www.') THEN rhost0[5:] ELSE rhost0 END AS rhost
            FROM typed
        )
        SELECT * EXCLUDE (rhost0, rhost, landing_campaign, any_campaign),
               CASE
                 WHEN regexp_matches(lower(coalesce(first_url, '')), '\\?([^&]*&)*(mtm_|pk_|utm_)')
                   THEN 'campaign'
                 WHEN landing_campaign THEN 'campaign'
                 -- A direct entry takes a later action's campaign.
                 WHEN referrer IS NULL OR coalesce(rhost, '') = ''
                   OR rhost = site_host OR ends_with(rhost, '.' || site_host)
                   THEN CASE WHEN any_campaign THEN 'campaign' ELSE 'direct' END
                 -- Matomo's list: Google News is a search engine only with a
                 -- keyword (its entry hides none); Google hides it on '/'.
                 WHEN starts_with(rhost, 'news.google.')
                   AND NOT regexp_matches(referrer, '[?&]q=[^&]') THEN 'website'
                 WHEN starts_with(rhost, 'google.') OR contains(rhost, '.google.') THEN 'search'
                 WHEN list_has_any([rhost], ['facebook.com', 'linkedin.com', 't.me'])
                   OR ends_with(rhost, '.facebook.com') OR ends_with(rhost, '.linkedin.com')
                   THEN 'social'
                 ELSE 'website'
               END AS referrer_type,
               row_number() OVER (PARTITION BY site, visitor ORDER BY day, first_ts) AS visit_count,
               hash(site, visitor, day, vno) AS vid
        FROM hosted
        """
    )
    con.execute(
        "CREATE OR REPLACE TABLE hv AS SELECT hv.*, hash(site, visitor, day, vno) AS vid FROM hv"
    )


# --------------------------------------------------------------------------
# reports: one period (first..last local day), a segment (SQL over `v`)
# and a section (path prefixes)


def _cut(site: int, first: dt.date, last: dt.date, segment_sql: Optional[str],
         prefixes: Optional[Sequence[str]]) -> str:
    """Selected visits (``sv``) and their actions inside the section
    (``ca``), as CTEs."""
    seg = segment_sql or "TRUE"
    if prefixes is None:
        inside = "TRUE"
    else:
        conds = []
        for p in prefixes:
            p = p.rstrip("/") or "/"
            if p == "/":
                conds.append("h.path IS NOT NULL")
            else:
                conds.append(f"(h.path = '{p}' OR starts_with(h.path, '{p}/'))")
        inside = "(" + " OR ".join(conds) + ")"
    return f"""
        sv AS (
            SELECT * FROM visits v
            WHERE v.site = {site} AND v.day BETWEEN DATE '{first}' AND DATE '{last}' AND ({seg})
        ), ca AS (
            SELECT h.* FROM hv h JOIN sv USING (vid) WHERE {inside}
        ), cv AS (
            SELECT vid, any_value(sv.visitor) AS visitor, any_value(sv."user") AS "user",
                   count(*) AS n,
                   CASE WHEN count(*) = 1 THEN 0 ELSE 1 + max(ca.ts) - min(ca.ts) END AS length,
                   min(ca.seq) FILTER (WHERE ca.type = 'pageview') AS entry_seq,
                   max(ca.seq) FILTER (WHERE ca.type = 'pageview') AS exit_seq
            FROM ca JOIN sv USING (vid) GROUP BY vid
        )"""


def visits_summary(con: Any, site: int, first: dt.date, last: dt.date,
                   segment_sql: Optional[str] = None,
                   prefixes: Optional[Sequence[str]] = None) -> Dict[str, int]:
    """VisitsSummary.get's counts."""
    row = con.execute(
        f"""WITH {_cut(site, first, last, segment_sql, prefixes)}
        SELECT count(*), count(DISTINCT visitor), count(DISTINCT "user"),
               coalesce(sum(n), 0), coalesce(max(n), 0),
               coalesce(sum(CASE WHEN n = 1 THEN 1 ELSE 0 END), 0), coalesce(sum(length), 0)
        FROM cv"""
    ).fetchone()
    keys = ("nb_visits", "nb_uniq_visitors", "nb_users", "nb_actions", "max_actions",
            "bounce_count", "sum_visit_length")
    return dict(zip(keys, (int(x) for x in row)))


def actions_summary(con: Any, site: int, first: dt.date, last: dt.date,
                    segment_sql: Optional[str] = None,
                    prefixes: Optional[Sequence[str]] = None) -> Dict[str, int]:
    """Actions.get's counts."""
    row = con.execute(
        f"""WITH {_cut(site, first, last, segment_sql, prefixes)}
        SELECT count(*) FILTER (WHERE type = 'pageview'),
               count(DISTINCT (vid, label)) FILTER (WHERE type = 'pageview'),
               count(*) FILTER (WHERE type = 'download'),
               count(DISTINCT (vid, url_nf)) FILTER (WHERE type = 'download'),
               count(*) FILTER (WHERE type = 'outlink'),
               count(DISTINCT (vid, url_nf)) FILTER (WHERE type = 'outlink'),
               count(*) FILTER (WHERE type = 'search'),
               count(DISTINCT keyword) FILTER (WHERE type = 'search'),
               count(*) FILTER (WHERE type = 'event')
        FROM ca"""
    ).fetchone()
    keys = ("nb_pageviews", "nb_uniq_pageviews", "nb_downloads", "nb_uniq_downloads",
            "nb_outlinks", "nb_uniq_outlinks", "nb_searches", "nb_keywords", "nb_events")
    return dict(zip(keys, (int(x) for x in row)))


PAGE_KEYS = ("nb_hits", "nb_visits", "nb_uniq_visitors", "entry_nb_visits",
             "exit_nb_visits", "entry_bounce_count", "sum_time_spent",
             "entry_nb_uniq_visitors", "exit_nb_uniq_visitors")


def pages(con: Any, site: int, first: dt.date, last: dt.date,
          segment_sql: Optional[str] = None,
          prefixes: Optional[Sequence[str]] = None) -> Dict[str, Tuple[int, ...]]:
    """The flat page URL report: label -> PAGE_KEYS."""
    rows = con.execute(
        f"""WITH {_cut(site, first, last, segment_sql, prefixes)}
        SELECT ca.label, count(*), count(DISTINCT ca.vid), count(DISTINCT ca.visitor),
               count(*) FILTER (WHERE ca.seq = cv.entry_seq),
               count(*) FILTER (WHERE ca.seq = cv.exit_seq),
               count(*) FILTER (WHERE ca.seq = cv.entry_seq AND cv.n = 1),
               sum(ca.time_spent),
               count(DISTINCT ca.visitor) FILTER (WHERE ca.seq = cv.entry_seq),
               count(DISTINCT ca.visitor) FILTER (WHERE ca.seq = cv.exit_seq)
        FROM ca JOIN cv USING (vid)
        WHERE ca.type = 'pageview'
        GROUP BY ca.label"""
    ).fetchall()
    return {r[0]: tuple(int(x) for x in r[1:]) for r in rows}


def by_dimension(con: Any, column: str, site: int, first: dt.date, last: dt.date,
                 segment_sql: Optional[str] = None,
                 prefixes: Optional[Sequence[str]] = None) -> Dict[Optional[str], Tuple[int, ...]]:
    """A visit dimension report: value (None when missing) ->
    (nb_visits, nb_uniq_visitors, nb_actions, bounce_count, sum_visit_length)."""
    rows = con.execute(
        f"""WITH {_cut(site, first, last, segment_sql, prefixes)}
        SELECT sv.{column}, count(*), count(DISTINCT cv.visitor), sum(cv.n),
               sum(CASE WHEN cv.n = 1 THEN 1 ELSE 0 END), sum(cv.length)
        FROM cv JOIN sv USING (vid) GROUP BY sv.{column}"""
    ).fetchall()
    return {r[0]: tuple(int(x) for x in r[1:]) for r in rows}


def daily(con: Any, site: int, first: Optional[dt.date] = None,
          last: Optional[dt.date] = None) -> Dict[dt.date, Tuple[int, ...]]:
    """Per local day: (nb_visits, nb_uniq_visitors, nb_users, nb_actions,
    max_actions, bounce_count, sum_visit_length) over every day with data
    (between ``first`` and ``last`` when given)."""
    span = f" AND day BETWEEN DATE '{first}' AND DATE '{last}'" if first and last else ""
    rows = con.execute(
        f"""SELECT day, count(*), count(DISTINCT visitor), count(DISTINCT "user"), sum(n), max(n),
                   sum(CASE WHEN n = 1 THEN 1 ELSE 0 END), sum(length)
            FROM visits WHERE site = {site}{span} GROUP BY day"""
    ).fetchall()
    return {r[0]: tuple(int(x) for x in r[1:]) for r in rows}


# --------------------------------------------------------------------------
# segments: the Matomo text and the same condition in SQL over `v`


def _any_action(where: str) -> str:
    return f"EXISTS (SELECT 1 FROM hv a WHERE a.vid = v.vid AND {where})"


SEGMENTS: List[Tuple[str, str]] = [
    ("deviceType==smartphone", "v.device = 'smartphone'"),
    (
        "deviceType==smartphone,deviceType==tablet;countryCode!=gb",
        "v.device IN ('smartphone', 'tablet') AND (v.country IS NULL OR v.country <> 'gb')",
    ),
    (
        "pageUrl=@%2Fnews;visitorType==returning;referrerType!=search",
        _any_action("a.type = 'pageview' AND contains(a.url_nf, '/news')")
        + " AND v.visit_count > 1 AND v.referrer_type <> 'search'",
    ),
    ("department==HR;actions>=3", 'v."dim_department" = \'HR\' AND v.n >= 3'),
    ("pageUrl!@%2Fnews", "NOT " + _any_action("a.type = 'pageview' AND contains(a.url_nf, '/news')")),
    ("userId!=;visitDuration<600", 'v."user" IS NOT NULL AND v.length < 600'),
    ("userId==", 'v."user" IS NULL'),
    ("visitCount>2,referrerType==campaign", "v.visit_count > 2 OR v.referrer_type = 'campaign'"),
    ("referrerType==social,referrerType==website", "v.referrer_type IN ('social', 'website')"),
    ("siteSearchKeyword==vpn", _any_action("a.type = 'search' AND a.keyword = 'vpn'")),
    ("downloadUrl=$.pdf;browserName!=Firefox",
     _any_action("a.type = 'download' AND ends_with(a.url_nf, '.pdf')")
     + " AND (v.browser IS NULL OR v.browser <> 'Firefox')"),
    ("eventCategory==video,entryPageUrl=^https%3A%2F%2Fintranet.example.org%2Fteams",
     _any_action("a.type = 'event' AND a.ev_category = 'video'")
     + " OR starts_with(v.entry_url, 'https://intranet.example.org/teams')"),
    ("languageCode=@en;operatingSystemName==Windows",
     "contains(v.language, 'en') AND v.os = 'Windows'"),
]


# --------------------------------------------------------------------------
# a small generator for the differential tests: several sites and time
# zones, ties at the same second, visits across midnight and DST, missing
# and conflicting visit fields


TEST_SITES = [
    Site(1, "Europe/London", "intranet.example.org",
         {"News": ["/news"], "Work": ["/teams", "/tools"]}, ("department",)),
    Site(2, "America/New_York", "intranet.example.org",
         {"News": ["/news"], "Work": ["/teams", "/tools"]}, ("department",)),
    Site(3, "Asia/Kathmandu", "intranet.example.org",
         {"News": ["/news"], "Work": ["/teams", "/tools"]}, ("department",)),
    Site(4, "Australia/Lord_Howe", "intranet.example.org",
         {"News": ["/news"], "Work": ["/teams", "/tools"]}, ("department",)),
]

_PATHS = ["/", "/news", "/news/a", "/news/b?page=2", "/newsletter", "/teams/hr", "/teams/it/x",
          "/tools", "/tools/vpn", "/wiki/page-1", "/wiki/page-2", "/docs?q=1", "/people/42"]
_REFERRERS = ["https://www.google.com/search?q=x", "https://news.google.de/", "https://l.facebook.com/",
              "https://www.linkedin.com/feed/", "https://intranet.example.org/news",
              "https://partner.example.com/", "https://WWW.Google.co.uk/"]


def generate(seed: int, visitors: int, start: dt.date, days: int,
             sites: Sequence[Site] = TEST_SITES) -> List[Dict[str, Any]]:
    """Hits (spec records, ``ts`` as Unix seconds) for the differential tests."""
    rng = random.Random(seed)
    t0 = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.timezone.utc).timestamp())
    hits: List[Dict[str, Any]] = []
    for s in sites:
        for i in range(visitors):
            key = f"s{s.id}v{i:05d}"
            device = rng.choice(["desktop", "desktop", "smartphone", "tablet"])
            country = rng.choice(["gb", "fr", "de", "us", "np", None])
            user = f"u{i}" if rng.random() < 0.6 else None
            dept = rng.choice(["HR", "IT", "Sales", "Finance"])
            for _ in range(rng.choice([1, 1, 2, 3, 5, 8])):
                ts = t0 + rng.randrange(days * 86400)
                for a in range(rng.choice([1, 1, 2, 3, 4, 6, 10])):
                    hit = _hit(rng, s, key, ts)
                    if a == 0 or rng.random() < 0.1:
                        # visit fields, sometimes repeated or contradicting
                        for name, value in (("device", device), ("country", country),
                                            ("user", user), ("browser", rng.choice(["Firefox", "Chrome"])),
                                            ("os", rng.choice(["Windows", "Linux", "macOS"])),
                                            ("language", rng.choice(["en-gb", "fr", "de-de"]))):
                            if value is not None and rng.random() < 0.85:
                                hit[name] = value if a == 0 or rng.random() < 0.5 else value + "x"
                        if rng.random() < 0.4:
                            hit["referrer"] = rng.choice(_REFERRERS)
                        if rng.random() < 0.8:
                            hit["dims"] = {"department": dept if rng.random() < 0.9 else "IT"}
                    hits.append(hit)
                    if rng.random() < 0.08:  # the same second again
                        twin = _hit(rng, s, key, ts)
                        if rng.random() < 0.5:
                            twin["device"] = rng.choice(["desktop", "smartphone"])
                        hits.append(twin)
                    ts += rng.choice([0, 5, 30, 90, 300, 1200, 1799, 1800, 1801, 4000])
    rng.shuffle(hits)
    return hits


def _hit(rng: random.Random, s: Site, key: str, ts: int) -> Dict[str, Any]:
    base = f"https://{s.host}"
    r = rng.random()
    hit: Dict[str, Any] = {"site": s.id, "visitor": key, "ts": ts}
    if r < 0.78:
        path = rng.choice(_PATHS)
        if rng.random() < 0.03:
            path += ("&" if "?" in path else "?") + rng.choice(["utm_campaign=spring", "mtm_kwd=x", "pk_c=1"])
        if rng.random() < 0.05:
            path += "#top"
        hit["url"] = base + path
        if rng.random() < 0.7:
            hit["title"] = "Title " + path.split("?")[0]
    elif r < 0.84:
        hit["type"] = "download"
        hit["url"] = f"{base}/docs/files/f{rng.randrange(20)}" + rng.choice([".pdf", ".docx"])
    elif r < 0.89:
        hit["type"] = "outlink"
        hit["url"] = f"https://partner{rng.randrange(5)}.example/"
    elif r < 0.95:
        hit["type"] = "search"
        hit["url"] = f"{base}/search"
        hit["search"] = rng.choice(["vpn", "holiday", "payroll", "VPN"])
    else:
        hit["type"] = "event"
        if rng.random() < 0.5:
            hit["url"] = base + rng.choice(_PATHS)
        ev = {"category": rng.choice(["video", "form"]), "action": rng.choice(["play", "submit"])}
        if rng.random() < 0.3:
            ev["name"] = "n"
        if rng.random() < 0.5:
            ev["value"] = rng.randrange(10)
        hit["event"] = ev
    return hit


def write_ndjson(hits: Iterable[Dict[str, Any]], path: str) -> None:
    """One JSON object per line."""
    with open(path, "w", encoding="utf-8") as f:
        for h in hits:
            f.write(json.dumps(h))
            f.write("\n")


# --------------------------------------------------------------------------
# goals (docs/goals.md): Matomo's definitions as SQL over the cut actions

GOAL_VALUES = {
    "url": ("pageview", "url_nf"),
    "title": ("pageview", "coalesce(title, '')"),
    "file": ("download", "url_nf"),
    "external_website": ("outlink", "url_nf"),
    "event_category": ("event", "coalesce(ev_category, '')"),
    "event_action": ("event", "coalesce(ev_action, '')"),
    "event_name": ("event", "coalesce(ev_name, '')"),
}

# Goals over what generate() produces, each kind of match and flag once.
TEST_GOALS: List[Dict[str, Any]] = [
    {"idgoal": 1, "name": "news", "match_attribute": "url", "pattern": "/NEWS", "pattern_type": "contains",
     "revenue": 1.25},
    {"idgoal": 2, "name": "tools", "match_attribute": "url", "pattern": r"/tools(/vpn)?$", "pattern_type": "regex",
     "allow_multiple": True, "revenue": 2},
    {"idgoal": 3, "name": "wiki title", "match_attribute": "title", "pattern": "Title /wiki/page-1",
     "pattern_type": "exact", "case_sensitive": True},
    {"idgoal": 4, "name": "pdf", "match_attribute": "file", "pattern": ".PDF", "pattern_type": "contains",
     "allow_multiple": True, "revenue": 0.5},
    {"idgoal": 5, "name": "partner", "match_attribute": "external_website", "pattern": "partner[12]",
     "pattern_type": "regex"},
    {"idgoal": 6, "name": "video", "match_attribute": "event_category", "pattern": "video", "pattern_type": "exact",
     "allow_multiple": True, "revenue": 3, "event_value_as_revenue": True},
    {"idgoal": 7, "name": "called", "match_attribute": "manually"},
]


def _sql_text(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _goal_match(g: Dict[str, Any]) -> Optional[str]:
    if g["match_attribute"] == "manually":
        return None
    kind, value = GOAL_VALUES[g["match_attribute"]]
    pattern = _sql_text(g["pattern"])
    fold = not g.get("case_sensitive", False)
    kind_sql = f"type = '{kind}'"
    t = g.get("pattern_type", "contains")
    if t == "contains":
        cond = f"contains(lower({value}), lower({pattern}))" if fold else f"contains({value}, {pattern})"
    elif t == "exact":
        cond = f"lower({value}) = lower({pattern})" if fold else f"{value} = {pattern}"
    else:
        cond = f"regexp_matches({value}, {pattern}{', ' + repr('i') if fold else ''})"
    return f"{kind_sql} AND {cond}"


def goals(con: Any, site: int, first: dt.date, last: dt.date, goal_defs: Sequence[Dict[str, Any]],
          segment_sql: Optional[str] = None,
          prefixes: Optional[Sequence[str]] = None) -> Dict[Any, Dict[str, Tuple[Any, ...]]]:
    """Goals.get's numbers: for each goal id, and for ``None`` (all goals
    together), {"all"|"new"|"returning": (nb_conversions,
    nb_visits_converted, nb_uniq_visitors_converted, revenue)}."""
    parts = []
    for g in goal_defs:
        cond = _goal_match(g)
        if cond is None:
            continue
        revenue = float(g.get("revenue", 0))
        rev = f"coalesce(ev_value, {revenue})" if g.get("event_value_as_revenue") else f"{revenue}"
        per = "vid, ts" if g.get("allow_multiple") else "vid"
        parts.append(
            f"""SELECT {g['idgoal']} AS goal, vid, count(*) AS conv, sum(rev) AS rev FROM (
                  SELECT vid, {rev} AS rev, row_number() OVER (PARTITION BY {per} ORDER BY seq) AS rn
                  FROM ca WHERE {cond}) WHERE rn = 1 GROUP BY vid"""
        )
    out: Dict[Any, Dict[str, Tuple[Any, ...]]] = {}
    empty = {"all": (0, 0, 0, 0.0), "new": (0, 0, 0, 0.0), "returning": (0, 0, 0, 0.0)}
    for g in goal_defs:
        out[g["idgoal"]] = dict(empty)
    out[None] = dict(empty)
    if not parts:
        return out
    per_visit = " UNION ALL ".join(parts)
    rows = con.execute(
        f"""WITH {_cut(site, first, last, segment_sql, prefixes)}, pv AS ({per_visit}),
        gv AS (
            SELECT goal, vid, conv, rev FROM pv
            UNION ALL SELECT NULL, vid, sum(conv), sum(rev) FROM pv GROUP BY vid
        ), typed AS (
            SELECT gv.*, sv.visitor, CASE WHEN sv.visit_count = 1 THEN 'new' ELSE 'returning' END AS t
            FROM gv JOIN sv USING (vid)
        )
        SELECT goal, t, sum(conv), count(*), count(DISTINCT visitor), sum(rev) FROM typed GROUP BY ALL
        UNION ALL
        SELECT goal, 'all', sum(conv), count(*), count(DISTINCT visitor), sum(rev) FROM typed GROUP BY ALL"""
    ).fetchall()
    for goal, t, conv, visits, uniq, rev in rows:
        out[goal][t] = (int(conv), int(visits), int(uniq), round(float(rev), 2))
    return out
