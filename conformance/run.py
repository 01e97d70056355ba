#!/usr/bin/env python3
"""Matomo conformance: replay Matomo's own system-test fixtures through
hitmap's doors and compare hitmap's answers with Matomo's expected files.

Each fixture (FIXTURES) says how to rebuild Matomo's data with hitmap's
CLI (sites, goals, `hitmap ingest` with the importer options Matomo's
fixture passes) and which requests Matomo's system test made (date,
period, site, segment, parameters, by the expected files' test suffix).
Every expected file is then asked of hitmap (`hitmap report --format
xml`) and compared: its rows in order, each row's label and columns
(names and values, nested subtables and goals included).

A file is
- `equal`: the same rows, labels, columns and values;
- `intended`: equal once the documented intended differences
  (INTENDED, docs/conformance.md) are applied;
- `differing`: hitmap answers, differently (the first difference is kept);
- `unsupported`: hitmap refuses the method or a parameter by name.
A refusal on purpose (INTENDED_REFUSALS) is `intended`; the files of
methods Matomo has removed (REMOVED_METHODS) are not scored.

`--update` writes conformance/score.json and the score table of
docs/conformance.md; `--check` (CI) fails when a file's status is worse
than score.json records, and says which files got better.

Browsers, systems and devices are named by Matomo's DeviceDetector
rules (HITMAP_DEVICE_DETECTOR, by default where scripts/test-all installs
them), as Matomo names them.

Usage: python3 conformance/run.py --bin target/debug/hitmap [--check | --update]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import fixtures

ROOT = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(ROOT)
LOGS = os.path.join(REPO, "intake", "tests", "data", "matomo-logs", "matomo-core", "access-logs")
DATA = os.path.join(ROOT, "matomo", "data")
DEVICE_DETECTOR = os.path.join(REPO, "target", "device-detector", "device_detector")
SCORE = os.path.join(ROOT, "score.json")
DOC = os.path.join(REPO, "docs", "conformance.md")
MATOMO_COMMIT = "f09912cb702a76d06ab1a129a8e0a4e2a61818a8"

# The order of statuses, best first: a file may only move left.
RANK = {"equal": 0, "intended": 1, "differing": 2, "unsupported": 3}

# OneVisitorTwoVisits's tracker, request by request (tests/PHPUnit/Fixtures/
# OneVisitorTwoVisits.php, with Fixture::getTracker's defaults), as the
# tracking requests of an access log that `hitmap ingest --replay-tracking`
# replays: (seconds after 2010-03-06 11:22:33 UTC, parameters). The PHP
# tracker sends the browser language as a header, written here as `lang`,
# and `cookie=1` with the plugins (Fixture::getTracker's browser has
# cookies, Flash and Java).
def one_visitor_two_visits():
    page1 = "http://example.org/index.htm?excluded_Parameter=SHOULD_NOT_DISPLAY&parameter=Should display"
    ref1 = "http://referrer.com/page.htm?param=valuewith some spaces"
    ref2 = "http://search.yahoo.com/search?p=purchase"
    steps = [
        # setPerformanceTimings(...) before each page view, as the fixture.
        (0, {"url": page1, "action_name": "incredible title!", "urlref": ref1, "pf_net": "33", "pf_srv": "105", "pf_tfr": "205", "pf_dm1": "1325", "pf_dm2": "390", "pf_onl": "222"}),
        (180, {"url": "http://example.org/", "action_name": "Second page view - should be registered as URL /",
               "urlref": ref1, "pf_net": "62", "pf_srv": "198", "pf_tfr": "253", "pf_dm1": "1559", "pf_dm2": "222", "pf_onl": "152"}),
        (360, {"url": "http://example.org/", "link": "https://outlinks.org/#!outlink-with-fragment-<script>",
               "urlref": ref1}),
        (720, {"url": "http://example.org/", "download": "http://piwik.org/path/again/latest.zip", "urlref": ref1}),
        (792, {"url": "http://example.org/",
               "link": "http://outlinks.org/other_outlink#fragment&pk_campaign=Open%20partnership", "urlref": ref1}),
        (900, {"url": "http://example.org/", "link": "http://dev.piwik.org/svn", "urlref": ref1}),
        (1080, {"url": "http://example.org/", "idgoal": "1", "revenue": "42", "urlref": ref1, "lang": "th"}),
        (1440, {"url": "http://example.org/", "idgoal": "1", "revenue": "42", "urlref": ref1, "lang": "th"}),
        (1620, {"url": "http://example.org/index.htm#ignoredFragment#", "action_name": "Looking at homepage (again)...",
                "urlref": ref1, "pf_net": "0", "pf_srv": "222", "pf_tfr": "333", "pf_dm1": "1111", "pf_dm2": "666", "pf_onl": "333"}),
        (3600, {"url": "http://example.org/store/purchase.htm", "action_name": "Checkout/Purchasing...",
                "urlref": ref2, "pf_net": "22", "pf_srv": "157", "pf_tfr": "266", "pf_dm1": "2000", "pf_dm2": "1002", "pf_onl": "666"}),
    ]
    from datetime import datetime, timedelta, timezone
    from urllib.parse import urlencode
    start = datetime(2010, 3, 6, 11, 22, 33, tzinfo=timezone.utc)
    agent = "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-GB; rv:1.9.2.6) Gecko/20100625 Firefox/3.6.6 (.NET CLR 3.5.30729)"
    lines = []
    for secs, params in steps:
        q = {"idsite": "1", "rec": "1", "apiv": "1", "_id": "5d3c1a0e6f2b4a97", "res": "1024x768",
             "h": "12", "m": "34", "s": "6", "fla": "1", "java": "1", "cookie": "1", "lang": "fr", **params}
        t = (start + timedelta(seconds=secs)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        lines.append(f'156.5.3.2 - - [{t}] "GET /matomo.php?{urlencode(q)} HTTP/1.1" 200 - "-" "{agent}"')
    return "\n".join(lines) + "\n"


def transitions():
    """SomeVisitsManyPageviewsWithTransitions: eight visitors' tracker
    calls, each `trackPageView` as Matomo's fixture makes it (the URL's
    prefix rotating through http://, http://www., https://, https://;
    a download's URL numbered by the call), as tracking requests."""
    from datetime import datetime, timedelta, timezone
    from urllib.parse import urlencode
    base = datetime(2010, 3, 6, 11, 22, 33, tzinfo=timezone.utc)
    later = base + timedelta(days=8)
    prefixes = ["http://", "http://www.", "https://", "https://"]
    agent = "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-GB; rv:1.9.2.6) Gecko/20100625 Firefox/3.6.6 (.NET CLR 3.5.30729)"
    google = ("http://www.google.com.vn/url?sa=t&rct=j&q=%3C%3E%26%5C%22the%20pdo%20extension%20is%20required%20"
              "for%20this%20adapter%20but%20the%20extension%20is%20not%20loaded&source=web&cd=4&ved=0FjAD&url=http%3A"
              "%2F%2Fforum.piwik.org%2Fread.php%3F2%2C1011&ei=y-HHAQ&usg=AFQjCN2-nt5_GgDeg&cad=rja")
    n = 0
    lines = []

    def track(ip, vid, ref, hours, path, when=base, kind="normal", kwd=None, cat=None):
        nonlocal n
        prefix = prefixes[n % 4]
        n += 1
        q = {"idsite": "1", "rec": "1", "apiv": "1", "_id": vid, "res": "1024x768", "lang": "fr",
             "url": prefix + "example.org/" + path, "urlref": ref}
        if kind == "normal":
            q["action_name"] = "page title - " + path
        elif kind == "outlink":
            q["link"] = prefix + "anothersite.com/" + path
        elif kind == "download":
            q["download"] = prefix + "example.org/downloads/" + str(n) + ".tar.gz"
        elif kind == "site-search":
            q.update({"search": kwd, "search_cat": cat, "search_count": str(n)})
        elif kind == "event":
            q.update({"e_c": cat, "e_a": "event name", "e_n": kwd, "e_v": str(n)})
        t = (when + timedelta(hours=hours)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        lines.append(f'{ip} - - [{t}] "GET /matomo.php?{urlencode(q)} HTTP/1.1" 200 - "-" "{agent}"')

    v = ("156.5.3.1", "a1a1a1a1a1a1a1a1", google)
    for h, p in [(0, "page/one.html"), (0.1, "sub/dir/page2.html"), (0.2, "page/one.html"),
                 (0.3, "the/third_page.html?foo=bar"), (0.4, "page/one.html"),
                 (0.5, "the/third_page.html?foo=bar"), (0.5, "the/third_page.html?foo=bar"),
                 (0.6, "page/one.html"), (0.6, "page/one.html"), (0.7, "the/third_page.html?foo=baz#anchor1"),
                 (0.7, "the/third_page.html?foo=baz#anchor1"), (0.8, "page/one.html"), (0.9, "page/one.html"),
                 (1.0, "the/third_page.html?foo=baz#anchor2"), (1.1, "page/one.html"), (1.2, "page3.html")]:
        track(*v, h, p)
    v = ("156.5.3.2", "b2b2b2b2b2b2b2b2", "http://www.external.com.vn/referrerPage-notCounted.html")
    for h, p in [(0, "sub/dir/page2.html"), (0.1, "the/third_page.html?foo=bar"), (0.2, "page/one.html"),
                 (0.3, "the/third_page.html?foo=baz#anchor1")]:
        track(*v, h, p)
    v = ("156.5.3.3", "c3c3c3c3c3c3c3c3", "http://www.external.com.vn/referrerPage-counted.html")
    for h, p in [(0.1, "page/one.html"), (0.2, "sub/dir/page2.html"), (0.3, "page/one.html")]:
        track(*v, h, p)
    track("156.5.3.4", "d4d4d4d4d4d4d4d4", "", 0, "page/one.html?pk_campaign=TestCampaign&pk_kwd=TestKeyword")
    track("156.5.3.5", "e5e5e5e5e5e5e5e5", "", 0, "page/one.html")
    v = ("156.5.3.6", "f6f6f6f6f6f6f6f6", "")
    track(*v, 0, "page/search.html#q=mykwd", kind="site-search", kwd="mykwd", cat="mysearchcat")
    track(*v, 0.1, "page/one.html")
    track(*v, 0.2, "page/search.html#q=anotherkwd", kind="site-search", kwd="anotherkwd", cat="mysearchcat")
    track(*v, 0.25, "page/one.html")
    track(*v, 0.3, "to/outlink/page.html", kind="outlink")
    track(*v, 0.35, "page/one.html")
    track(*v, 0.11, "page/search.html#q=thirdkwd", kind="event", kwd="Song name here", cat="Music")
    track(*v, 0.4, "", kind="download")
    track(*v, 0.45, "page/one.html")
    track(*v, 0.5, "", kind="download")
    track(*v, 0.55, "page/one.html")
    track(*v, 0.6, "to/outlink/page2.html", kind="outlink")
    v = ("156.5.3.7", "a7a7a7a7a7a7a7a7", "")
    track(*v, 0, "page/search.html#q=thirdkwd", later, "site-search", "thirdkwd", "mysearchcat")
    track(*v, 0.1, "page/one.html", later)
    track(*v, 0.11, "page/search.html#q=thirdkwd", later, "event", "Song name here", "Music")
    track(*v, 0.15, "to/another/outlink.html", later, "outlink")
    track(*v, 0.2, "page/one.html", later)
    track(*v, 0.25, "", later, "download")
    track(*v, 0.3, "page/one.html", later)
    track(*v, 0.35, "page/search.html#q=anotherkwd", later, "site-search", "anotherkwd", "mysearchcat")
    track("156.5.3.8", "b8b8b8b8b8b8b8b8", "http://www.google.com.vn/url?sa=t&rct=j&q=", 0, "page/one.html")
    return "\n".join(lines) + "\n"


def ecommerce_order_with_items():
    """TwoSitesEcommerceOrderWithItems: one visitor's product and category
    page views, cart updates, orders (one refused: its id was used) and
    abandoned carts over two days on site 1, and a visitor's page view and
    order on site 2, as the fixture's PHP tracker sends them
    (product views as `_pks`, `_pkn`, `_pkc`, `_pkp`; items as
    `ec_items`), as tracking requests."""
    from datetime import datetime, timedelta, timezone
    from urllib.parse import urlencode
    start = datetime(2011, 4, 5, 0, 11, 42, tzinfo=timezone.utc)
    agent = "Mozilla/5.0 (Windows; U; Windows NT 5.1; en-GB; rv:1.9.2.6) Gecko/20100625 Firefox/3.6.6 (.NET CLR 3.5.30729)"
    lines = []
    state = {"lang": "fr"}

    def send(site, vid, hours, url, params):
        q = {"idsite": str(site), "rec": "1", "apiv": "1", "_id": vid, "res": "1024x768", "h": "12", "m": "34",
             "s": "6", "fla": "1", "java": "1", "cookie": "1", "lang": state["lang"], "url": url, "urlref": "",
             **params}
        t = (start + timedelta(hours=hours)).strftime("%d/%b/%Y:%H:%M:%S +0000")
        lines.append(f'156.5.3.2 - - [{t}] "GET /matomo.php?{urlencode(q)} HTTP/1.1" 200 - "-" "{agent}"')

    def view(sku="", name="", category="", price=0):
        # MatomoTracker::setEcommerceView: `_pkc` always, `_pkp` when not
        # empty, `_pks` and `_pkn` unless both are empty.
        v = {"_pkc": json.dumps(category, separators=(",", ":")) if isinstance(category, list) else category}
        if price:
            v["_pkp"] = repr(float(price)) if not float(price).is_integer() else str(int(price))
        if sku or name:
            if sku:
                v["_pks"] = sku
            v["_pkn"] = name
        return v

    def items(*rows):
        return json.dumps([list(r) for r in rows], separators=(",", ":"))

    def cart(total, *rows):
        return {"idgoal": "0", "revenue": str(total), "ec_items": items(*rows)}

    def order(oid, total, *rows, st=None, tx=None, sh=None, dt=None):
        q = {"idgoal": "0", "ec_id": oid, "revenue": str(total)}
        for k, v in (("ec_st", st), ("ec_tx", tx), ("ec_sh", sh), ("ec_dt", dt)):
            if v:
                q[k] = str(v)
        if rows:
            q["ec_items"] = items(*rows)
        return q

    s1, v1 = 1, "a1b2c3d4e5f60718"
    url = "http://example.org/index.htm"
    cat = "Electronics & Cameras"
    many = ["Multiple Category 1", "", 0, "Multiple Category 2", "Electronics & Cameras", "Multiple Category 4",
            "Multiple Category 5", "SHOULD NOT BE REPORTEDSSSSSSSSSSSSSSssssssssssssssssssssssssssstttttttttttttttttttttttuuuu!"]
    # Visit 1
    send(s1, v1, 0, url, {"action_name": "incredible title!", **view("SKU2", "PRODUCT name", cat, 1111.11111)})
    send(s1, v1, 0.1, url, {"action_name": "Another Product page", **view("SKU VERY nice indeed", "PRODUCT name", cat, 666)})
    send(s1, v1, 0.2, url, {"action_name": "Another Product page with no category",
                            **view("SKU VERY nice indeed", "PRODUCT name", "", 888)})
    send(s1, v1, 0.2, url, {"action_name": "Another Product page with multiple categories",
                            **view("SKU VERY nice indeed", "PRODUCT name", many)})
    # Visit 2 (browser language pl from here on)
    state["lang"] = "pl"
    send(s1, v1, 1.6, url, {"action_name": f"Looking at {cat} page with a page level custom variable",
                            **view("", "", cat)})
    send(s1, v1, 1.7, url, {"action_name": f"Looking at {cat} page again", **view("", "", cat)})
    send(s1, v1, 1.8, url, {"action_name": "Looking at product page",
                            **view("SKU VERY nice indeed", "PRODUCT name", cat, 666)})
    send(s1, v1, 1.9, url, cart(1300, ("SKU VERY nice indeed", "PRODUCT name", cat, 500, 1),
                                ("SKU VERY nice indeed", "PRODUCT name", cat, 500, 2),
                                ("SKU VERY nice indeed REMOVED", "PRODUCT name REMOVED", cat + " REMOVED", 300, 1),
                                ("SKU WILL BE DELETED", "BLABLA DELETED", "", 5000000, 20)))
    send(s1, v1, 1.95, url, cart(1000, ("SKU VERY nice indeed", "PRODUCT name", cat, 500, 1),
                                 ("SKU VERY nice indeed", "PRODUCT name", cat, 500, 2),
                                 ("SKU WILL BE DELETED", "BLABLA DELETED", "", 5000000, 20)))
    send(s1, v1, 2, url, order("937nsjusu 3894", 1111.11, ("SKU VERY nice indeed", "PRODUCT name", many, 500, 2),
                               ("ANOTHER SKU HERE", "PRODUCT name BIS", "", 100, 6),
                               st=1000, tx=111, sh=0.11, dt=666))
    send(s1, v1, 2.1, url, order("1037nsjusu4s3894", 2000, ("SKU2", "Canon SLR", cat, 1500, 1),
                                 ("SKU VERY nice indeed", "PRODUCT name", "", 11.22, 1),
                                 st=1500, tx=400, sh=100))
    # The same order id again: Matomo's tracker refuses it.
    send(s1, v1, 2.2, url, order("1037nsjusu4s3894", 20000000,
                                 ("SKU2", "Canon SLR NOT!", cat + " NOT!", 15000000000, 10000),
                                 st=1500, tx=400, sh=100))
    send(s1, v1, 2.3, url, cart(1000, ("SKU IN ABANDONED CART ONE", "PRODUCT ONE LEFT in cart", "", 500.11111112, 2)))
    for offset in (0, 5, 24):
        if offset >= 24:
            send(s1, v1, offset + 2.4, url, order("1037nsjusu4s3894", 20000000,
                                                  ("SKU2", "Canon SLR", cat, 1500, 1), st=1500, tx=400, sh=100))
        send(s1, v1, offset + 2.5, url, {"action_name": "View product left in cart",
                                         **view("SKU VERY nice indeed", "PRODUCT THREE LEFT in cart", "", 999)})
        send(s1, v1, offset + 2.55, url, {"action_name": "View product left in cart",
                                          **view("SKU VERY nice indeed", "PRODUCT THREE LEFT in cart", "", 333)})
        send(s1, v1, offset + 2.6, url, {"action_name": "View product left in cart",
                                         **view("SKU IN ABANDONED CART TWO", "PRODUCT TWO LEFT in cart",
                                                ["Category TWO LEFT in cart", "second category"])})
        send(s1, v1, offset + 2.7, url, cart(2510.11111112,
                                             ("SKU IN ABANDONED CART ONE", "PRODUCT ONE LEFT in cart", "", 500.11111112, 1),
                                             ("SKU IN ABANDONED CART TWO", "PRODUCT TWO LEFT in cart",
                                              ["Category TWO LEFT in cart", "second category"], 1000, 2),
                                             ("SKU VERY nice indeed", "PRODUCT THREE LEFT in cart", cat, 10, 1)))
    send(s1, v1, 30.7, url, order("666", 240, ("TRIPOD SKU", "TRIPOD - bought day after", "Tools", 100, 2),
                                  st=200, tx=20, sh=20, dt=20))
    send(s1, v1, 30.8, url, order("777", 10000))
    # Site 2: a page view, then an order with an id site 1 used, the next
    # day. The fixture's second tracker has a random visitor id, but the
    # same address, agent and settings: Matomo's tracker recognises the
    # visitor by its fingerprint (`config_id`), so the order's visit is
    # the same visitor's returning visit.
    state["lang"] = "fr"
    send(2, "b2c3d4e5f6071829", 1, "http://example-site2.com/index.htm", {"action_name": "one page visit"})
    send(2, "b2c3d4e5f6071829", 30.9, "http://example-site2.com/index.htm",
         order("777", 250, ("TRIPOD SKU", "TRIPOD - bought day after", "Tools", 100, 2)))
    return "\n".join(lines) + "\n"


# InvalidVisits' site as the fixture leaves it: renamed, two URLs, its
# excluded IPs and user agents (Matomo's global lists given to the site:
# hitmap has no store-wide lists).
NO_VISIT_SITE = ["--site", "1", "--name", "new site name", "--main-url", "http://piwik.net",
                 "--host", "piwik.net", "--host", "my.stuff.com",
                 "--exclude-ip", "154.1.12.34", "--exclude-ip", "1.2.3.4", "--exclude-ip", "145.5.3.4",
                 "--exclude-user-agent", "excludeduseragentstring",
                 "--exclude-user-agent", "globalexcludeduseragent"]

# ManySitesImportedLogs with ImportLogsTest's options, step by step
# through hitmap's CLI.
# Matomo's importer's visitors and visits: a line joins the visit of its
# address and agent (or user id) as Matomo's tracker recognises it, in
# the order the lines arrive, also a visit of an earlier import (the
# state kept beside the store); else a new visitor (Matomo's tracker gives
# it a random id). A replayed tracking request keeps its own visitor
# (`--replay-tracking` ignores the option).
MATOMO_VISITORS = ["--matomo-visitors-state", "{store}.matomo-visitors"]

IMPORT_LOGS_SETUP = [
    ["init", "{store}", "--site", "1", "--host", "piwik.net", "--ecommerce",
     "--name", "Piwik test", "--main-url", "http://piwik.net"],
    ["init", "{store}", "--site", "2", "--host", "example-site-two.com",
     "--name", "Piwik test two", "--main-url", "http://example-site-two.com"],
    ["init", "{store}", "--site", "3", "--host", "example-site-three.com",
     "--name", "Piwik test three", "--main-url", "http://example-site-three.com"],
    # APIGoals::addGoal(1, 'all', 'url', 'http', 'contains', false, 5)
    ["goals", "add", "{store}", "--site", "1", "--id", "1", "--name", "all", "--match", "url",
     "--pattern-type", "contains", "--pattern", "http", "--revenue", "5"],
    # logVisitsWithStaticResolver
    ["ingest", "{store}", "{logs}/fake_logs.log", "--log-format", "auto", "--idsite", "1",
     "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
    # logVisitsWithAllEnabled
    # (Matomo's harness passes an option set to false as a flag:
    # --force-lowercase-path is on.)
    ["ingest", "{store}", "{logs}/fake_logs_enable_all.log", "--log-format", "auto", "--idsite", "1",
     "--enable-static", "--enable-bots", "--enable-http-errors", "--enable-http-redirects",
     "--force-lowercase-path",
     "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
    # replayLogFile(), then replayLogFile(['--idsite' => 3]): tracking requests
    *[["ingest", "{store}", "{logs}/" + log, "--log-format", "auto", "--replay-tracking",
       "--exclude-older-than", "2012-01-01 08:10:39 +0000", "--exclude-host", "excluded.com",
       *site, "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS]
      for site in ([], ["--idsite", "3"])
      for log in ("fake_logs_replay.log", "fake_logs_replay_host.log")],
    # logCustomFormat
    ["ingest", "{store}", "{logs}/fake_logs_custom.log", "--idsite", "1", "--log-format-regex",
     r'(?P<ip>\S+) - - \[(?P<date>.*?) (?P<timezone>.*?)\] (?P<status>\S+) '
     r'\"\S+ (?P<path>.*?) \S+\" (?P<generation_time_micro>\S+)',
     "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
    # logIisWithCustomFormat
    ["ingest", "{store}", "{logs}/fake_logs_custom_iis.log", "--log-format", "auto", "--idsite", "1",
     "--w3c-map-field", "date-local=date", "--w3c-map-field", "time-local=time",
     "--w3c-map-field", "cs(Host)=cs-host", "--w3c-map-field", "TimeTakenMS=time-taken",
     "--enable-http-errors", "--enable-http-redirects",
     "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
    # logNetscaler
    ["ingest", "{store}", "{logs}/fake_logs_netscaler.log", "--log-format", "auto", "--idsite", "1",
     "--enable-http-redirects", "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
    # logCloudfront, logCloudfrontRtmp
    ["ingest", "{store}", "{logs}/fake_logs_cloudfront.log", "--log-format", "auto", "--idsite", "1",
     "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
    ["ingest", "{store}", "{logs}/fake_logs_cloudfront_rtmp.log", "--log-format", "auto", "--idsite", "1",
     "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
    # logNginxJsonLog (sites by host)
    ["ingest", "{store}", "{logs}/fake_logs_nginx_json.log", "--log-format", "auto",
     "--idsite-fallback", "1", "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
    # logIisWithCustomFormat(mapToCustom): the same log again, its user ids
    # ignored (the custom variables it maps are not kept)
    ["ingest", "{store}", "{logs}/fake_logs_custom_iis.log", "--log-format", "auto", "--idsite", "1",
     "--w3c-map-field", "date-local=date", "--w3c-map-field", "time-local=time",
     "--w3c-map-field", "cs(Host)=cs-host", "--w3c-map-field", "TimeTakenMS=time-taken",
     "--enable-http-errors", "--enable-http-redirects", "--ignore-groups", "userid",
     "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
    # logWithIncludeFilters
    ["ingest", "{store}", "{logs}/filter_include_logs.log", "--log-format", "auto", "--idsite", "1",
     "--include-host", "included3.com", "--include-host", "www.included4.com",
     "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
    # logWithExcludeFilters
    ["ingest", "{store}", "{logs}/filter_exclude_logs.log", "--log-format", "auto", "--idsite", "1",
     "--exclude-host", "filtered1.com", "--exclude-host", "www.filtered2.com",
     "--exclude-older-than", "2012-08-09 08:10:39 +0000",
     "--exclude-newer-than", "2012-08-31 00:00:00 +0000",
     "--geoip", "{data}/GeoIP2-City.mmdb", "--no-progress", "--force", *MATOMO_VISITORS],
        ]

# DataComparisonTest's segments (urlencode()d, as the test sends them).
DC_SEGMENTS = ["browserCode%3D%3Dff", "browserCode%3D%3Die", "browserName%3D%3Dicedragon",
               "operatingSystemCode%3D%3DWIN"]

# DataComparisonTest's usual comparison: two segments, a day and a week.
DC_SEGMENTS_AND_PERIODS = {"compare": "1", "compareSegments": DC_SEGMENTS[:2],
                           "compareDates": ["2012-08-10", "2012-08-16"], "comparePeriods": ["day", "week"]}

FIXTURES = {
    "ImportLogs": {
        "matomo": "tests/PHPUnit/Fixtures/ManySitesImportedLogs.php (with ImportLogsTest's options), "
                  "tests/PHPUnit/System/ImportLogsTest.php",
        # Matomo's fixture, step by step, through hitmap's CLI.
        "setup": IMPORT_LOGS_SETUP,
        # What hitmap cannot replay of the fixture yet, and so misses.
        "not_replayed": [
            "the custom variables logIisWithCustomFormat(mapToCustom) maps from log fields "
            "(--regex-group-to-visit-cvar/--regex-group-to-page-cvar: hitmap keeps none)",
            "the segments the fixture pre-archives (nothing to do: hitmap answers any segment)",
        ],
        # Matomo's requests, by the expected files' test suffix and period.
        "requests": [
            {"suffix": "", "period": "month", "date": "2012-08-09", "site": 1},
            # Methods without a period (Goals.getGoals).
            {"suffix": "", "period": None, "date": "2012-08-09", "site": 1},
            {"suffix": "", "period": "day", "date": "2012-09-30", "site": 1},
            {"suffix": "", "period": "range", "date": "2012-08-09,2014-04-01", "site": 1,
             "params": {"filter_limit": "1000"}, "xml_fields_to_remove": ["fingerprint"]},
            {"suffix": "_siteIdThree_TrackedUsingLogReplayWithFixedSiteId", "period": "range",
             "date": "2012-08-09,2014-04-01", "site": 3, "params": {"filter_limit": "1000"}},
            {"suffix": "_siteIdTwo_TrackedUsingLogReplay", "period": "month", "date": "2012-08-09", "site": 2},
            {"suffix": "_complexActionSegment", "period": "month", "date": "2012-08-09", "site": 1,
             "segment": "pageUrl=@/docs/,pageUrl=@/blog;pageUrl!@/docs/manage",
             "params": {"filter_limit": "5"}},
            # setDateLastN: the date and six periods after it.
            {"suffix": "_withEnhancedAndLast7", "period": "month", "date": "2012-08-09,2013-02-09", "site": 1,
             "params": {"enhanced": "1"}},
        ],
        # Per method, the day file's own date (Referrers.getNumberOfDistinctWebsites: setDateLastN).
        "dates": {"Referrers.getNumberOfDistinctWebsites": "2012-08-09,2012-08-15"},
    },
    "OneVisitorTwoVisits": {
        "matomo": "tests/PHPUnit/Fixtures/OneVisitorTwoVisits.php, tests/PHPUnit/System/OneVisitorTwoVisitsTest.php "
                  "('all' for period day)",
        "log": one_visitor_two_visits,
        "setup": [
            # updateSite(..., 'excluded_parameter,anotherParameter', ...);
            # the test's config: action_title_category_delimiter = "/".
            ["init", "{store}", "--site", "1", "--host", "site.com",
             "--name", "new name", "--main-url", "http://site.com",
             "--exclude-parameter", "excluded_parameter", "--exclude-parameter", "anotherParameter",
             "--title-category-delimiter", "/"],
            ["init", "{store}", "--site", "2", "--name", "Piwik test", "--main-url", "http://piwik.net"],
            ["init", "{store}", "--site", "3", "--name", "Piwik test", "--main-url", "http://piwik.net"],
            # addGoal($idSite, 'triggered js', 'manually', '', '')
            ["goals", "add", "{store}", "--site", "1", "--id", "1", "--name", "triggered js", "--match", "manually"],
            # addGoal($idSite, 'matching purchase.htm', 'url', '(.*)store\/purchase\.(.*)', 'regex', false, 1)
            ["goals", "add", "{store}", "--site", "1", "--id", "2", "--name", "matching purchase.htm", "--match", "url",
             "--pattern-type", "regex", "--pattern", r"(.*)store\/purchase\.(.*)", "--revenue", "1"],
            ["ingest", "{store}", "{log}", "--log-format", "auto", "--replay-tracking", "--no-progress", "--force"],
        ],
        "requests": [
            {"suffix": "", "period": "day", "date": "2010-03-06", "site": 1,
             "params": {"hideColumns": "nb_users,sum_bandwidth,nb_hits_with_bandwidth,min_bandwidth,max_bandwidth"}},
            {"suffix": "", "period": None, "date": "2010-03-06", "site": 1},
        ],
    },
    "Transitions": {
        "matomo": "tests/PHPUnit/Fixtures/SomeVisitsManyPageviewsWithTransitions.php, "
                  "plugins/Transitions/tests/System/TransitionsTest.php",
        "log": transitions,
        "setup": [
            ["init", "{store}", "--site", "1", "--host", "example.org",
             "--name", "Piwik test", "--main-url", "http://piwik.net"],
            ["ingest", "{store}", "{log}", "--log-format", "auto", "--replay-tracking", "--no-progress", "--force"],
        ],
        "not_replayed": [],
        "requests": [
            {"suffix": "_noLimit", "period": period, "date": "2010-03-06", "site": 1,
             "method_params": {
                 "Transitions.getTransitionsForPageUrl": {"pageUrl": "http://example.org/page/one.html"},
                 "Transitions.getTransitionsForPageTitle": {"pageTitle": "page title - page/one.html"}}}
            for period in ("day", "month")
        ] + [
            {"suffix": "_noData", "period": period, "date": "2010-03-06", "site": 1,
             "method_params": {
                 "Transitions.getTransitionsForPageUrl": {"pageUrl": "http://example.org/not/a/page.html"},
                 "Transitions.getTransitionsForPageTitle": {"pageTitle": "not a page title"}}}
            for period in ("day", "month")
        ] + [
            {"suffix": "", "period": period, "date": "2010-03-06", "site": 1,
             "params": {"pageUrl": "http://example.org/page/one.html", "limitBeforeGrouping": "2"}}
            for period in ("day", "month")
        ] + [
            {"suffix": "_withSegment", "period": "day", "date": "2010-03-06", "site": 1,
             "method_params": {
                 "Transitions.getTransitionsForPageUrl": {
                     "pageUrl": "http://example.org/page/one.html", "limitBeforeGrouping": "2",
                     "segment": "visitConvertedGoalId!=2"},
                 "Transitions.getTransitionsForPageTitle": {"pageTitle": "page title - page/one.html"}}},
        ],
    },
    "EcommerceOrderWithItems": {
        "matomo": "tests/PHPUnit/Fixtures/TwoSitesEcommerceOrderWithItems.php, "
                  "plugins/Ecommerce/tests/System/EcommerceOrderWithItemsTest.php",
        "prefix": "ecommerceOrderWithItems",
        "log": ecommerce_order_with_items,
        "setup": [
            ["init", "{store}", "--site", "1", "--ecommerce", "--name",
             "A very long name for a very tiny test site, that also reaches the 90 character limit fully",
             "--main-url", "http://piwik.net"],
            ["init", "{store}", "--site", "2", "--name", "Piwik test", "--main-url", "http://piwik.net"],
            # addGoal($idSite, 'title match, triggered ONCE', 'title', 'incredible', 'contains', false, 10, true)
            ["goals", "add", "{store}", "--site", "1", "--id", "1", "--name", "title match, triggered ONCE",
             "--match", "title", "--pattern", "incredible", "--pattern-type", "contains", "--revenue", "10",
             "--allow-multiple"],
            ["ingest", "{store}", "{log}", "--log-format", "auto", "--replay-tracking", "--no-progress", "--force"],
        ],
        "not_replayed": [
            "the custom variables (hitmap keeps none: `CustomVariables.getCustomVariables` is unsupported)",
            "the scheduled reports (`ScheduledReports.generateReport`: not analytics answers)",
        ],
        "requests": [
            *({"suffix": suffix, "period": period, "date": "2011-04-05", "site": 1, "segment": segment,
               **({"params": params} if params else {})}
              for suffix, periods, segment, params in [
                  ("_SegmentPageUrlContains", ("day", "week"), "pageUrl=@example.org%2Findex.htm", None),
                  ("_EcommerceOrderGoal_SegmentPageUrlContains", ("day", "week"),
                   "pageTitle==Looking%20at%20product%20page", {"idGoal": "ecommerceOrder"}),
                  ("_SegmentCountryIsFr", ("day", "week"), "countryCode==fr", None),
                  ("", ("day", "week"), None, None),
                  ("_AbandonedCarts", ("day", "week"), None, {"abandonedCarts": "1"}),
                  ("_GoalAbandonedCart", ("day", "week"), None, {"idGoal": "ecommerceAbandonedCart"}),
                  ("_GoalOrder", ("day", "week"), None, {"idGoal": "ecommerceOrder"}),
                  ("_GoalMatchTitle", ("day", "week"), None, {"idGoal": "1"}),
                  ("_GoalOverall", ("day", "week"), None, {"idGoal": ""}),
                  ("_SegmentNoEcommerce", ("day",), "visitEcommerceStatus==none", None),
                  ("_SegmentOrderedSomething", ("day",),
                   "visitEcommerceStatus==ordered,visitEcommerceStatus==orderedThenAbandonedCart", None),
                  ("_SegmentAbandonedCart", ("day",),
                   "visitEcommerceStatus==abandonedCart,visitEcommerceStatus==orderedThenAbandonedCart", None),
                  ("_SegmentConvertedGoalId1", ("day", "week"), "visitConvertedGoalId==1", None),
                  ("_SegmentDidNotConvertGoalId1", ("day",), "visitConvertedGoalId!=1", None),
                  ("_SegmentNewVisitors", ("week",), "visitorType==new", None),
                  ("_SegmentReturningVisitors", ("week",), "visitorType==returning", None),
                  ("_SegmentReturningCustomers", ("week",), "visitorType==returningCustomer", None),
                  ("_SegmentVisitHasConvertedGoal", ("week",), "visitConvertedGoalId==1;visitConvertedGoalId!=2",
                   None),
                  ("_SegmentNoVisit_HaveConvertedNonExistingGoal", ("week",), "visitConvertedGoalId==666", None),
                  ("_SegmentVisitHasNotOrderedAndConvertedGoal", ("week",),
                   "visitEcommerceStatus!=ordered;visitConvertedGoalId==1", None),
                  ("_SegmentPageTitleMatch", ("day",), "pageTitle==incredible title!", None),
                  ("_API_get", ("day", "week"), None,
                   {"columns": "nb_pageviews,nb_visits,avg_time_on_site,nb_visits_converted"}),
                  ("_AvgOrderRevenue", ("week",), None, {"idGoal": "ecommerceOrder", "columns": "avg_order_revenue"}),
                  ("_productCategorySegment", ("week",), "productCategory==Tools", None),
                  # Matomo decodes a definition twice when the decoded one parses as
                  # well (Segment::__construct): the test's urlencode(urlencode(v))
                  # values are sent as Matomo reads them (hitmap decodes once).
                  ("_productNameSegment", ("week",), "productName=@bought+day+after", None),
                  ("_productSkuSegment", ("week",), "productSku==SKU+VERY+nice+indeed", None),
                  ("_productSkuSegmentSorted", ("week",), "productSku==SKU+VERY+nice+indeed",
                   {"filter_sort_column": "nb_visits"}),
                  ("_productSkuSegmentDeleted", ("week",), "productSku==SKU+WILL+BE+DELETED", None),
                  ("_productPrice", ("week",), "productPrice>500", None),
                  ("_SegmentRevenueOrder", ("day",), "revenueOrder>500", None),
                  ("_SegmentCartRevenueOrder", ("day",), "revenueAbandonedCart>100", None),
              ]
              for period in periods),
            *({"suffix": suffix, "period": "day", "date": "2011-04-05", "site": 1, "params": params}
              for suffix, params in [
                  ("_Metadata_ItemsSku", {"apiModule": "Goals", "apiAction": "getItemsSku"}),
                  ("_Metadata_ItemsCategory", {"apiModule": "Goals", "apiAction": "getItemsCategory"}),
                  ("_Metadata_Goals.Get_Order", {"apiModule": "Goals", "apiAction": "get", "idGoal": "ecommerceOrder"}),
                  ("_Metadata_Goals.Get_AbandonedCart",
                   {"apiModule": "Goals", "apiAction": "get", "idGoal": "ecommerceAbandonedCart"}),
                  ("_Metadata_Goals.Get_NormalGoal", {"apiModule": "Goals", "apiAction": "get", "idGoal": "1"}),
                  ("_Metadata_Goals.Get_NotExistingGoal",
                   {"apiModule": "Goals", "apiAction": "get", "idGoal": "FAKE IDGOAL"}),
                  ("_Metadata_VisitTime.getVisitInformationPerServerTime",
                   {"apiModule": "VisitTime", "apiAction": "getVisitInformationPerServerTime"}),
              ]),
            # setDateLastN: the seven days from the fixture's day.
            {"suffix": "multipleDates", "period": "day", "date": "2011-04-05,2011-04-11", "site": 1},
            {"suffix": "multipleDates_andMultipleWebsites", "period": "day", "date": "2011-04-05,2011-04-11",
             "site": "1,2"},
            {"suffix": "_LiveEcommerceStatusOrdered", "period": "day", "date": "2011-04-06", "site": 1},
            {"suffix": "_Website2", "period": "week", "date": "2011-04-05", "site": 2},
        ],
    },
    "CustomEvents": {
        "matomo": "tests/PHPUnit/Fixtures/ThreeVisitsWithCustomEvents.php, "
                  "tests/PHPUnit/System/CustomEventsTest.php",
        "log": fixtures.three_visits_with_custom_events,
        "setup": [
            ["init", "{store}", "--site", "1", "--name", "Piwik test", "--main-url", "http://piwik.net"],
            # addGoal(1, 'triggered js', 'url', 'webradio', 'contains')
            ["goals", "add", "{store}", "--site", "1", "--id", "1", "--name", "triggered js", "--match", "url",
             "--pattern-type", "contains", "--pattern", "webradio"],
            # addGoal(1, 'triggered js', 'title', 'Music', 'contains')
            ["goals", "add", "{store}", "--site", "1", "--id", "2", "--name", "triggered js", "--match", "title",
             "--pattern-type", "contains", "--pattern", "Music"],
            # addGoal(1, 'event matching', 'event_category', 'CategoryTriggersGoal', 'contains', false, 8,
            #         true, '', true): several a visit, the event's value as revenue
            ["goals", "add", "{store}", "--site", "1", "--id", "3", "--name", "event matching",
             "--match", "event_category", "--pattern-type", "contains", "--pattern", "CategoryTriggersGoal",
             "--revenue", "8", "--allow-multiple", "--event-value-as-revenue"],
            ["ingest", "{store}", "{log}", "--log-format", "auto", "--replay-tracking", "--no-progress", "--force"],
        ],
        "not_replayed": [
            "the custom variables of events (hitmap keeps none)",
        ],
        "requests": [
            *({"suffix": "", "period": period, "date": "2010-01-03", "site": 1,
               "xml_fields_to_remove": ["idsubdatatable"],
               "method_params": {"Goals.get": {"idGoal": "3"}}}
              for period in ("day", "month")),
            *({"suffix": suffix, "period": "day", "date": "2010-01-03", "site": 1, "segment": segment,
               "xml_fields_to_remove": ["idsubdatatable"]}
              for suffix, segment in [
                  # urlencode('La fiancée de l\'eau') in the definition, as the test sends it
                  ("_eventCategoryOrNameMatch", "eventCategory==Movie,eventName==La+fianc%C3%A9e+de+l%27eau"),
                  ("_eventValueMatch", "eventAction==rating;eventValue>9"),
                  ("_segmentMatchesEventActionPlay", "eventAction=@play"),
              ]),
            *({"suffix": f"_{module}.{action}_{kind}", "period": "day", "date": "2010-01-03,2010-01-09", "site": 1,
               "params": {"apiModule": module, "apiAction": action, **({"flat": "1"} if kind == "flat" else {})}}
              for module, action in (("Events", "getCategory"), ("Events", "getAction"), ("Events", "getName"),
                                     ("Actions", "getPageUrls"))
              for kind in ("lastN", "flat")),
            *({"suffix": "_secondaryDimensionIs" + dim[0].upper() + dim[1:], "period": period, "date": "2010-01-03",
               "site": 1, "params": {"secondaryDimension": dim}, "xml_fields_to_remove": ["idsubdatatable"]}
              for dim in ("eventCategory", "eventAction", "eventName")
              for period in ("day", "month")),
        ],
    },
    "UrlNormalization": {
        "matomo": "tests/PHPUnit/Fixtures/OneVisitWithAbnormalPageviewUrls.php, "
                  "tests/PHPUnit/System/UrlNormalizationTest.php",
        "log": fixtures.one_visit_with_abnormal_pageview_urls,
        "setup": [
            ["init", "{store}", "--site", "1", "--name", "Piwik test", "--main-url", "http://piwik.net"],
            ["ingest", "{store}", "{log}", "--log-format", "auto", "--replay-tracking", "--no-progress", "--force"],
        ],
        "not_replayed": [],
        "requests": [
            {"suffix": "_urls", "period": "day", "date": "2010-03-06", "site": 1},
            {"suffix": "_titles", "period": "day", "date": "2010-03-06", "site": 1},
            # Its four segmented requests write the same file: the last one's.
            {"suffix": "_pagesSegmented", "period": "day", "date": "2010-03-06", "site": 1,
             "params": {"segment": "pageUrl==example.org%2Ffoo%2Fbar2.html"}},
            {"suffix": "_pagesSegmentedRef", "period": "day", "date": "2010-03-06", "site": 1,
             "params": {"segment": "referrerUrl==http://www.google.com/search?q=piwik"}},
            {"suffix": "_keywords", "period": "day", "date": "2010-03-06", "site": 1},
        ],
    },
    "VisitsOverSeveralDays": {
        "matomo": "tests/PHPUnit/Fixtures/VisitsOverSeveralDays.php, "
                  "tests/PHPUnit/System/OneVisitorOneWebsiteSeveralDaysDateRangeTest.php and "
                  "OneVisitorOneWebsiteSeveralDaysDateRangeArchivingTest.php",
        "prefix": "oneVisitor_oneWebsite_severalDays_DateRange",
        "log": fixtures.visits_over_several_days,
        "setup": [
            ["init", "{store}", "--site", "1", "--name", "Site AAAAAA", "--main-url", "http://piwik.net"],
            ["init", "{store}", "--site", "2", "--name", "SITE BBbbBB", "--main-url", "http://piwik.net"],
            ["ingest", "{store}", "{log}", "--log-format", "auto", "--replay-tracking", "--no-progress", "--force"],
        ],
        "not_replayed": [],
        "requests": [
            # The archiving test's reports (flat=0, expanded=0; its segments
            # that select every visit write the same files) and the range
            # test's, each with its own date and sites.
            {"suffix": "", "period": "range", "date": "2010-12-15,2011-01-15", "site": 1,
             "params": {"flat": "0", "expanded": "0"},
             "per_method": {
                 "MultiSites.getAll": {"params": {}},
                 "MultiSites.getOne": {"params": {}},
                 "Referrers.getSocials": {"date": "2010-12-13,2011-01-18", "site": "all", "params": {}},
                 "Referrers.getUrlsForSocial": {"date": "2010-12-13,2011-01-18", "params": {},
                                                "supertable": "Referrers.getSocials"},
                 "UserCountry.getCountry": {"date": "2010-12-01,2011-01-15", "params": {}},
             }},
            {"suffix": "_Truncated", "period": "range", "date": "2010-12-15,2011-01-15", "site": 1,
             "params": {"filter_truncate": "0"}},
            {"suffix": "_IndexedByDate", "period": "day", "date": "2010-12-15", "site": 1,
             "params": {"pattern": "aAa"},
             "per_method": {
                 # setDateLastN: the seven days from the test's day.
                 "Referrers.getSocials": {"date": "2010-12-10,2010-12-16", "site": "all", "params": {}},
             }},
            {"suffix": "_MultipleDatesNotSupported", "period": "day", "date": "2010-12-15,2011-01-15", "site": 1},
            {"suffix": "_showColumns", "period": "day", "date": "2010-12-15", "site": 1,
             "params": {"showColumns": "nb_visits,visits_evolution"}},
            {"suffix": "_Flattened", "period": "range", "date": "2010-12-13,2011-01-18", "site": 1,
             "params": {"flat": "1"}},
            {"suffix": "_noIdSubtable", "period": "range", "date": "2010-12-13,2011-01-18", "site": "all"},
            {"suffix": "_periodIsRange_flattened_", "period": "range", "date": "2011-01-01,2011-02-01", "site": 1,
             "params": {"flat": "1", "expanded": "0"}},
            {"suffix": "_periodIsRange_expanded_", "period": "range", "date": "2011-01-01,2011-02-01", "site": 1,
             "params": {"flat": "0", "expanded": "1"}},
        ],
    },
    "AbandonedCart": {
        "matomo": "plugins/Ecommerce/tests/Fixtures/AbandonedCartWithoutConversions.php, "
                  "plugins/Ecommerce/tests/System/AbandonedCartWithoutConversionsTest.php",
        "prefix": "abandonedCartWithoutConversions",
        "log": fixtures.abandoned_cart_without_conversions,
        "setup": [
            ["init", "{store}", "--site", "1", "--ecommerce", "--name", "test site", "--main-url", "http://piwik.net"],
            # addGoal(1, 'title match, triggered NEVER', 'title', 'saldkfjaslkdfjsalkdjf', 'contains',
            #         false, 10, true)
            ["goals", "add", "{store}", "--site", "1", "--id", "1", "--name", "title match, triggered NEVER",
             "--match", "title", "--pattern-type", "contains", "--pattern", "saldkfjaslkdfjsalkdjf",
             "--revenue", "10", "--allow-multiple"],
            ["ingest", "{store}", "{log}", "--log-format", "auto", "--replay-tracking", "--no-progress", "--force"],
        ],
        "not_replayed": [],
        "requests": [
            # Every Goals method, with idGoal=ecommerceAbandonedCart.
            *({"suffix": "", "period": period, "date": "2011-04-05", "site": 1,
               "params": {"idGoal": "ecommerceAbandonedCart"}}
              for period in ("day", "week", None)),
            *({"suffix": "_AbandonedCarts", "period": period, "date": "2011-04-05", "site": 1,
               "params": {"abandonedCarts": "1"}}
              for period in ("day", "week")),
        ],
    },
    "TrackGoalsPages": {
        "matomo": "tests/PHPUnit/Fixtures/SomePageGoalVisitsWithConversions.php, "
                  "plugins/Goals/tests/System/TrackGoalsPagesTest.php and TrackGoalsPagesSegmentTest.php",
        "prefix": "trackGoals_pages",
        "log": fixtures.some_page_goal_visits_with_conversions,
        "setup": [
            ["init", "{store}", "--site", "1", "--name", "Piwik test", "--main-url", "http://piwik.net"],
            # addGoal(1, 'Goal 1', 'event_action', 'click', 'contains', false, 10)
            ["goals", "add", "{store}", "--site", "1", "--id", "1", "--name", "Goal 1",
             "--match", "event_action", "--pattern-type", "contains", "--pattern", "click", "--revenue", "10"],
            # addGoal(1, 'Goal "<2~$%+"', 'event_action', 'press', 'contains', false, 10)
            ["goals", "add", "{store}", "--site", "1", "--id", "2", "--name", 'Goal "<2~$%+"',
             "--match", "event_action", "--pattern-type", "contains", "--pattern", "press", "--revenue", "10"],
            ["ingest", "{store}", "{log}", "--log-format", "auto", "--replay-tracking", "--no-progress", "--force"],
        ],
        "not_replayed": [
            "the stored segment `goalsByCountry` the fixture pre-archives (nothing to do: hitmap answers any segment)",
        ],
        "requests": [
            {"suffix": "", "period": "week", "date": "2009-01-05", "site": 1, "params": {"idGoal": "1"}},
            {"suffix": "", "period": "day", "date": "2009-01-05", "site": 1,
             "params": {"idGoal": "1", "filter_update_columns_when_show_all_goals": "1"}},
            {"suffix": "_segment", "period": "week", "date": "2009-01-05", "site": 1, "segment": "countryCode==jp",
             "params": {"idGoal": "1"},
             "method_params": {m: {"idGoal": "1", "filter_update_columns_when_show_all_goals": "1"}
                               for m in ("Actions.getEntryPageUrls", "Actions.getEntryPageTitles")}},
            *({"suffix": suffix, "period": "day", "date": "2009-01-05", "site": 1,
               "params": {"filter_update_columns_when_show_all_goals": "1", "apiModule": "Actions",
                          "apiAction": action, **extra}}
              for suffix, action, extra in [
                  ("showGoalsMetricsSingleGoal", "getEntryPageTitles", {"filter_show_goal_columns_process_goals": "1"}),
                  ("showGoalsMetricsAllGoals", "getEntryPageTitles", {}),
                  ("showGoalsMetricsPageReport", "getPageTitles", {"filter_show_goal_columns_process_goals": "1"}),
              ]),
        ],
    },
    "TrackGoalsOneConversion": {
        "matomo": "tests/PHPUnit/Fixtures/TwoVisitsWithCustomVariables.php, "
                  "plugins/Goals/tests/System/TrackGoalsOneConversionPerVisitTest.php",
        "prefix": "trackGoals_oneConversionPerVisit",
        "log": fixtures.two_visits_with_custom_variables,
        "setup": [
            ["init", "{store}", "--site", "1", "--name", "Piwik test", "--main-url", "http://piwik.net"],
            # addGoal(1, 'triggered js', 'manually', '', ''), addGoal(1, 'second goal', 'manually', '', '')
            ["goals", "add", "{store}", "--site", "1", "--id", "1", "--name", "triggered js", "--match", "manually"],
            ["goals", "add", "{store}", "--site", "1", "--id", "2", "--name", "second goal", "--match", "manually"],
            ["ingest", "{store}", "{log}", "--log-format", "auto", "--replay-tracking", "--no-progress", "--force"],
        ],
        "not_replayed": [
            "the custom variables (hitmap keeps none)",
        ],
        "requests": [
            {"suffix": "", "period": "day", "date": "2010-01-03", "site": 1},
            {"suffix": "showAllGoalSpecificMetrics", "period": "day", "date": "2010-01-03", "site": 1,
             "params": {"showAllGoalSpecificMetrics": "1"}},
            {"suffix": "showAllGoalSpecificMetrics_requestedColumns", "period": "day", "date": "2010-01-03",
             "site": 1, "params": {"showAllGoalSpecificMetrics": "1", "columns": "goal_1_conversion_rate"}},
            {"suffix": "_withLogLinkVisitActionSegment", "period": "day", "date": "2010-01-03", "site": 1,
             "segment": "pageUrl=@/"},
            {"suffix": "_withLogLinkVisitActionAndLogVisitSegment", "period": "day", "date": "2010-01-03",
             "site": 1, "segment": "visitCount>=1;pageUrl=@/"},
            *({"suffix": suffix, "period": "day", "date": "2010-01-03", "site": 1,
               "params": {"filter_update_columns_when_show_all_goals": "1", "apiModule": "DevicesDetection",
                          "apiAction": "getBrowsers", **extra}}
              for suffix, extra in [
                  ("showGoalsMetricsSingleGoal", {"filter_show_goal_columns_process_goals": "1"}),
                  ("showGoalsMetricsAllGoals", {}),
              ]),
        ],
    },
    "DataComparison": {
        "matomo": "tests/PHPUnit/Fixtures/ManySitesImportedLogs.php (includeCloudfront), "
                  "tests/PHPUnit/System/DataComparisonTest.php",
        "prefix": "DataComparisonTest",
        # ManySitesImportedLogs with its default options and the CloudFront
        # log: ImportLogs' steps without the IIS, Netscaler, RTMP and nginx logs.
        "setup": [step for step in IMPORT_LOGS_SETUP
                  if not any(name in " ".join(step) for name in (
                      "fake_logs_custom_iis.log", "fake_logs_netscaler.log", "fake_logs_cloudfront_rtmp.log",
                      "fake_logs_nginx_json.log"))],
        "not_replayed": [
            "the visit-scope custom dimension and its stored segment the test adds (no request uses them)",
        ],
        "requests": [
            *({"suffix": suffix, "period": period, "date": date, "site": site, "params": params}
              for suffix, site, date, period, params in [
                  ("_noData_againstWithData", 1, "2013-05-06", "day",
                   {"compare": "1", "compareDates": ["2012-08-10"], "comparePeriods": ["day"],
                    "compareSegments": [DC_SEGMENTS[0]]}),
                  ("_noData_againsNoData", 1, "2013-05-06", "day",
                   {"compare": "1", "compareDates": ["2013-05-16"], "comparePeriods": ["day"],
                    "compareSegments": [DC_SEGMENTS[2]]}),
                  ("_segments", 1, "2012-08-09", "month",
                   {"compare": "1", "compareSegments": DC_SEGMENTS[:2]}),
                  ("_periods", 1, "2012-08-09", "month",
                   {"compare": "1", "compareDates": ["2012-08-10", "2012-08-16"], "comparePeriods": ["day", "week"]}),
                  ("_segmentsAndPeriods", 1, "2012-08-09", "month",
                   DC_SEGMENTS_AND_PERIODS),
                  ("_multipleSites_multipleCompare", "all", "2012-08-09", "month",
                   DC_SEGMENTS_AND_PERIODS),
                  ("_multiplePeriods_multipleCompare", 1, "2012-08-09,2012-08-16", "day",
                   DC_SEGMENTS_AND_PERIODS),
                  ("_multipleSitesPeriods_multipleCompare", "all", "2012-08-09,2012-08-16", "day",
                   DC_SEGMENTS_AND_PERIODS),
                  ("_multipleMultiPeriods", 1, "2012-08-09,2012-08-16", "day",
                   {"compare": "1", "compareSegments": DC_SEGMENTS[:2],
                    "compareDates": ["2012-08-09,2012-08-16", "2012-08-12,2012-08-15"],
                    "comparePeriods": ["day", "day"]}),
                  ("_rangePeriodAgainstSingle", 1, "2012-08-09,2012-08-16", "range",
                   DC_SEGMENTS_AND_PERIODS),
                  ("_rangePeriodAgainstMultiple", 1, "2012-08-09,2012-08-16", "range",
                   {"compare": "1", "compareDates": ["2012-08-10", "2012-08-09,2012-08-16"],
                    "comparePeriods": ["day", "day"]}),
                  ("_singleAgainstRange", 1, "2012-08-10", "day",
                   {"compare": "1", "compareDates": ["2012-08-09,2012-08-16"], "comparePeriods": ["range"]}),
                  ("_multipleAgainstRange", 1, "2012-08-09,2012-08-16", "day",
                   {"compare": "1", "compareDates": ["2012-08-09,2012-08-16"], "comparePeriods": ["range"]}),
                  ("_multipleAgainstLongMultiple", 1, "2012-08-12,2012-08-15", "day",
                   {"compare": "1", "compareDates": ["2012-08-09,2012-08-16", "2012-08-13,2012-08-14"],
                    "comparePeriods": ["day", "day"]}),
                  ("_invertCompare", 1, "2012-08-09", "month",
                   {"compare": "1", "compareSegments": DC_SEGMENTS[:2], "compareDates": ["2012-08-10"],
                    "comparePeriods": ["day"], "invert_compare_change_compute": "1"}),
                  ("_labelFilter", 1, "2012-08-16", "month",
                   {"compare": "1", "compareDates": ["2012-08-16"], "comparePeriods": ["week"],
                    "label": ["blog", "faq"]}),
                  ("_labelFilterWithSeries", 1, "2012-08-16", "month",
                   {"compare": "1", "compareDates": ["2012-08-16"], "comparePeriods": ["week"],
                    "compareSegments": [DC_SEGMENTS[3]], "label": ["blog", "faq"], "labelSeries": "1,2"}),
                  ("_flat", 1, "2012-08-16", "month",
                   {"compare": "1", "compareDates": ["2012-08-16"], "comparePeriods": ["week"],
                    "compareSegments": [DC_SEGMENTS[3]], "flat": "1", "expanded": "0"}),
              ]),
        ],
    },
    "NoVisit": {
        "matomo": "tests/PHPUnit/Fixtures/InvalidVisits.php, tests/PHPUnit/System/NoVisitTest.php "
                  "('all' for the day)",
        "prefix": "noVisit",
        "log": fixtures.invalid_visits,
        # The site as the fixture leaves it (renamed, two URLs, its excluded
        # IPs and user agents; Matomo's global lists given to the site, as
        # hitmap has none), "only track visits to the site's URLs" on for
        # the second log only, as the fixture turns it on and off.
        "setup": [
            ["init", "{store}", *NO_VISIT_SITE],
            ["ingest", "{store}", "{log_before}", "--log-format", "auto", "--replay-tracking", "--no-progress",
             "--force"],
            ["init", "{store}", *NO_VISIT_SITE, "--exclude-unknown-urls"],
            ["ingest", "{store}", "{log_after}", "--log-format", "auto", "--replay-tracking", "--no-progress",
             "--force"],
            ["init", "{store}", *NO_VISIT_SITE],
        ],
        "not_replayed": [
            "Matomo's global excluded IPs and user agents are given to the site (hitmap has no store-wide lists)",
        ],
        "requests": [
            {"suffix": "", "period": "day", "date": "2009-01-04", "site": 1},
            {"suffix": "", "period": None, "date": "2009-01-04", "site": 1},
            # NoVisitTest's second request (`setDateLastN`): every method
            # over seven days and seven weeks from the fixture's date, a
            # result per period.
            {"suffix": "_PeriodIsLast", "period": "day", "date": "2009-01-04,2009-01-10", "site": 1},
            {"suffix": "_PeriodIsLast", "period": "week", "date": "2009-01-04,2009-02-15", "site": 1},
            {"suffix": "_PeriodIsLast", "period": None, "date": "2009-01-04", "site": 1},
        ],
    },
}

# Parameters Matomo's harness sends to every request that the method
# uses (hitmap refuses a parameter a method cannot honour).
METHOD_PARAMS = {
    "Actions.getPageUrl": {"pageUrl": "http://example.org/index.htm?sessionid=this is also ignored by default"},
    "Actions.getPageTitle": {"pageName": " Checkout / Purchasing... "},
    "Actions.getDownload": {"downloadUrl": "http://piwik.org/path/again/latest.zip?phpsessid=this is ignored when searching"},
    "Actions.getOutlink": {"outlinkUrl": "http://dev.piwik.org/svn"},
    "Referrers.getKeywordsForPageUrl": {"url": "http://example.org/store/purchase.htm"},
    # Matomo's MultiSites.getAll and getAllWithGroups take no idSite: every
    # site (hitmap narrows to the idSite given, which `--site` always
    # gives); getAllWithGroups lists filter_limit sites, none by default
    # (`hitmap report` asks for every row unless told).
    "MultiSites.getAll": {"idSite": "all"},
    "MultiSites.getAllWithGroups": {"idSite": "all", "filter_limit": "0"},
}

# Documented intended differences: (what, why, how a file is compared
# once it is applied).
# Parameters a Matomo method does not take: Matomo's dispatcher passes a
# method only the parameters of its signature, so these are ignored
# there, and not sent to hitmap (which refuses a parameter a method
# cannot honour).
IGNORED_PARAMS = {
    **{m: ("idGoal",) for m in ("Goals.getGoals", "Goals.getItemsSku", "Goals.getItemsName",
                                "Goals.getItemsCategory")},
}

# Methods Matomo has removed: their expected files are left over in
# Matomo's repository (last written before the removal), and Matomo's own
# system tests no longer ask for them, so they are not scored.
REMOVED_METHODS = {
    "DevicesDetection.getBrowserFamilies":
        "removed in Matomo 4.0 (its CHANGELOG: use DevicesDetection.getBrowsers)",
    "Referrers.getKeywordsForPageUrl":
        "removed in Matomo 4.0 (its CHANGELOG: Referrers.getKeywords with an entryPageUrl segment)",
    "VisitsSummary.getColumns":
        "no longer a method of VisitsSummary's API (its file was last written in 2014)",
}

# Methods hitmap refuses on purpose: a refusal by name is `intended`.
INTENDED_REFUSALS = {
    "ExamplePlugin.getExampleReport":
        "ExamplePlugin is Matomo's template for plugin authors (fixed example rows), not a report",
    "ExamplePlugin.getExampleArchivedMetric":
        "ExamplePlugin is Matomo's template for plugin authors (example metrics), not a report",
    "Provider.getProvider":
        "Matomo's Provider plugin names a visit's internet provider by a reverse DNS lookup of its "
        "IP address while tracking; hitmap never keeps an address (the visitor key is a keyed hash) "
        "and does no DNS lookups while ingesting",
}

# Methods Matomo refuses over several periods (or sites) and hitmap
# answers on purpose, a result per period or site: such a file is
# `intended` when hitmap's answer is one (`period_results`), or when
# hitmap, having answered the method, meets the error Matomo gives the
# same request's other methods (comparing several periods with single
# ones: `other_methods_error`).
INTENDED_ANSWERS = {
    "Referrers.getAll":
        "Matomo refuses several sites or dates ('not supported (yet)'); hitmap gives each site's "
        "and each period's rows",
    "VisitTime.getByDayOfWeek":
        "Matomo refuses several dates; hitmap gives each period's visits by day of the week",
}


def period_results(xml):
    """Whether an XML answer is a result per period or per site
    (`<results>` of `<result date=...>` or `<result idSite=...>`)."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return False
    return root.tag == "results" and len(root) > 0 and all(
        c.tag == "result" and ("date" in c.attrib or "idSite" in c.attrib) for c in root)


def other_methods_error(folder, prefix, name, said):
    """Whether `said` holds the error Matomo's expected files give another
    method of the same request (test suffix and period) as file `name`."""
    suffix, _, period = parse_name(prefix, name)
    for f in sorted(os.listdir(folder)):
        if f == name or not f.startswith("test_" + prefix):
            continue
        other_suffix, _, other_period = parse_name(prefix, f)
        if (other_suffix, other_period) != (suffix, period):
            continue
        error = expected_error(open(os.path.join(folder, f), encoding="utf-8").read())
        if error is not None and error in said:
            return True
    return False


# The changes of a comparison row's distinct visitors and users.
UNIQUE_CHANGES = [f"{c}{suffix}" for c in ("nb_uniq_visitors", "nb_users", "entry_nb_uniq_visitors",
                                           "exit_nb_uniq_visitors", "nb_uniq_visitors_new", "nb_users_new",
                                           "nb_uniq_visitors_returning", "nb_users_returning")
                  for suffix in ("_change", "_change_from")]

INTENDED = [
    {
        "name": "exact range uniques",
        "why": "For weeks, months, years and ranges hitmap's report rows give exact distinct "
               "visitors and users (`nb_uniq_visitors`, `nb_users`, and a page's entering and "
               "leaving visitors `entry_nb_uniq_visitors`, `exit_nb_uniq_visitors`); Matomo's give "
               "the sum of each day's (`sum_daily_nb_uniq_visitors`, `sum_daily_nb_users`, "
               "`sum_daily_entry_nb_uniq_visitors`, `sum_daily_exit_nb_uniq_visitors`).",
        "drop_expected": ["sum_daily_nb_uniq_visitors", "sum_daily_nb_users",
                          "sum_daily_entry_nb_uniq_visitors", "sum_daily_exit_nb_uniq_visitors"],
        "drop_actual": ["nb_uniq_visitors", "nb_users", "entry_nb_uniq_visitors",
                        "exit_nb_uniq_visitors"],
        "periods": ["week", "month", "year", "range"],
    },
    {
        "name": "exact uniques in comparisons",
        "why": "A comparison row (`compare=1`) of a week, month, year or range: hitmap's gives "
               "exact distinct visitors and users and their changes, Matomo's the sums of each "
               "day's (`sum_daily_*`), or none for a range.",
        "drop_expected": ['sum_daily_nb_uniq_visitors', 'sum_daily_nb_uniq_visitors_change', 'sum_daily_nb_uniq_visitors_change_from', 'sum_daily_nb_users', 'sum_daily_nb_users_change', 'sum_daily_nb_users_change_from', 'sum_daily_entry_nb_uniq_visitors', 'sum_daily_entry_nb_uniq_visitors_change', 'sum_daily_entry_nb_uniq_visitors_change_from', 'sum_daily_exit_nb_uniq_visitors', 'sum_daily_exit_nb_uniq_visitors_change', 'sum_daily_exit_nb_uniq_visitors_change_from'],
        "drop_actual": ['nb_uniq_visitors', 'nb_uniq_visitors_change', 'nb_uniq_visitors_change_from', 'nb_users', 'nb_users_change', 'nb_users_change_from', 'entry_nb_uniq_visitors', 'entry_nb_uniq_visitors_change', 'entry_nb_uniq_visitors_change_from', 'exit_nb_uniq_visitors', 'exit_nb_uniq_visitors_change', 'exit_nb_uniq_visitors_change_from', 'nb_uniq_visitors_new', 'nb_uniq_visitors_new_change', 'nb_uniq_visitors_new_change_from', 'nb_users_new', 'nb_users_new_change', 'nb_users_new_change_from', 'nb_uniq_visitors_returning', 'nb_uniq_visitors_returning_change', 'nb_uniq_visitors_returning_change_from', 'nb_users_returning', 'nb_users_returning_change', 'nb_users_returning_change_from'],
        "compared_period": True,
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "changes of exact uniques in comparisons",
        "why": "The changes of distinct visitors and users in a comparison row (`compare=1`) of "
               "a request for a week, month, year or range: they are the changes from the "
               "request's own uniques, which are hitmap's exact ones where Matomo's are the sums "
               "of each day's, or none for a range (so Matomo's changes are from 0).",
        "drop_expected": UNIQUE_CHANGES,
        "drop_actual": UNIQUE_CHANGES,
        "compared_changes": True,
        "periods": ["week", "month", "year", "range"],
    },
    {
        "name": "exact new and returning uniques of a range",
        "why": "VisitFrequency.get of a range: Matomo gives no distinct new and returning visitors "
               "and users; hitmap gives them exactly.",
        "drop_expected": [],
        "drop_actual": ["nb_uniq_visitors_new", "nb_users_new", "nb_uniq_visitors_returning",
                        "nb_users_returning"],
        # Rows of new and returning visits without their uniques.
        "requires": ["nb_visits_new"],
        "periods": ["range"],
    },
    {
        "name": "exact uniques of a range",
        "why": "For a range, Matomo's VisitsSummary.get gives no distinct visitors and users "
               "(its range archives leave them out); hitmap gives them exactly.",
        "drop_expected": [],
        "drop_actual": ["nb_uniq_visitors", "nb_users"],
        "requires": ["nb_visits", "nb_actions"],
        "periods": ["range"],
    },
    {
        "name": "exact uniques of folder rows",
        "why": "A folder's row (a page URL folder, a download's or outlink's domain) gives the "
               "exact distinct visitors of its pages (`nb_uniq_visitors`, and a page folder's "
               "entering and leaving visitors), and so do its comparison rows (`compare=1`); "
               "Matomo's, a sum of its children, has none.",
        "drop_expected": [],
        "drop_actual": ["nb_uniq_visitors", "entry_nb_uniq_visitors", "exit_nb_uniq_visitors"],
        # Rows with a subtable that Matomo gives no unique visitors.
        "folders": True,
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "exact uniques of rows with a subtable",
        "why": "A row with a subtable (a social network's or website's row over its URLs, ...) gives "
               "the exact distinct visitors of its visits; Matomo's day row gives the sum of its "
               "subtable rows' visitors, so a visitor who came by two URLs counts twice there.",
        "drop_expected": ["nb_uniq_visitors"],
        "drop_actual": ["nb_uniq_visitors"],
        # Rows whose expected visitors are the sum of their subtable's.
        "summed": True,
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "subtable ids of comparison rows",
        "why": "A comparison row (`compare=1`) names its series row's subtable (`idsubdatatable`): "
               "hitmap numbers a report's subtables depth first in the report's order, Matomo "
               "in the order its archive stored them. Either id names that subtable for its own "
               "`idSubtable=` requests; a row without a subtable is -1 in both.",
        "drop_expected": ["idsubdatatable"],
        "drop_actual": ["idsubdatatable"],
        "subtable_ids": True,
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "subtable ids of a range",
        "why": "A range's rows with a subtable carry its id (`idsubtable`) in hitmap, which answers "
               "a range's subtable (`idSubtable=`) as a day's; Matomo's range rows have none (its "
               "range archives are not stored, so their subtables cannot be asked for).",
        "drop_expected": [],
        "drop_actual": ["idsubtable"],
        "range_subtables": True,
        "periods": ["range"],
    },
    {
        "name": "hitmap's added columns",
        "why": "hitmap adds a few columns Matomo does not have: `nb_uniq_visitors_converted` "
               "(Goals.get: exact distinct converting visitors) and `nb_events` (Actions.get).",
        "drop_expected": [],
        "drop_actual": ["nb_uniq_visitors_converted", "nb_events"],
        "added": True,
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "exact uniques of event rows",
        "why": "An event row's `nb_uniq_visitors` is the exact number of distinct visitors with "
               "such an event; Matomo's is the sum of each event combination's (category, action, "
               "name) under the row, so a visitor with two combinations counts twice. (Its "
               "`nb_visits` is Matomo's: a visit counts once per combination.)",
        "drop_expected": ["nb_uniq_visitors"],
        "drop_actual": ["nb_uniq_visitors"],
        "methods": ["Events.getCategory", "Events.getAction", "Events.getName"],
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "exact uniques of continents and unknown places",
        "why": "Matomo's continent rows add up its country rows (a GroupBy over them), and its "
               "region and city rows of an unknown place add up those of several countries, "
               "`nb_uniq_visitors` included, so a visitor seen in two countries counts twice; "
               "hitmap's are the exact distinct visitors of the row's visits.",
        "drop_expected": ["nb_uniq_visitors"],
        "drop_actual": ["nb_uniq_visitors"],
        # Rows where Matomo's sum is at least the exact count and at most the visits.
        "overcount": True,
        "methods": ["UserCountry.getContinent", "UserCountry.getRegion", "UserCountry.getCity"],
        "periods": [None, "day"],
    },
    {
        "name": "exact average price over several days",
        "why": "A product row's `avg_price` over a week, month, year or range: Matomo adds up "
               "each day's average price of the product (a row seen on two days at 666 is "
               "1332); hitmap's is the average over the period.",
        "drop_expected": ["avg_price"],
        "drop_actual": ["avg_price"],
        # Rows where Matomo's value is a whole multiple (2 or more) of hitmap's.
        "multiple": "avg_price",
        "methods": ["Goals.getItemsName", "Goals.getItemsSku", "Goals.getItemsCategory"],
        "periods": ["week", "month", "year", "range"],
    },
    {
        "name": "least and most bandwidth of a domain",
        "why": "A download's or outlink's domain row gives the least and most bytes of its URLs' "
               "actions (`min_bandwidth`, `max_bandwidth`); Matomo's adds up its URL rows' least "
               "and most (a domain of two URLs of 100 and 200 bytes shows 300 for both).",
        "drop_expected": ["min_bandwidth", "max_bandwidth"],
        "drop_actual": ["min_bandwidth", "max_bandwidth"],
        # Domain rows whose expected least and most are the sums of their URL rows' and
        # hitmap's the least and most of those.
        "summed_extremes": True,
        "methods": ["Actions.getDownloads", "Actions.getOutlinks"],
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "entries and exits of untitled page views",
        "why": "A page titles report's row of page views without a title (`Page Name not "
               "defined`) counts the visits that entered and left on such a view, with their "
               "bounce and exit rates; Matomo's has none (a visit's entry and exit title are "
               "empty there, which no row counts).",
        "drop_expected": ["bounce_rate", "exit_rate"],
        "drop_actual": ["entry_nb_visits", "entry_nb_actions", "entry_sum_visit_length",
                        "entry_bounce_count", "exit_nb_visits", "bounce_rate", "exit_rate"],
        "untitled": True,
        "methods": ["Actions.getPageTitles"],
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "page goal cells over several days and of folders",
        "why": "A page row's goal cells (`goals`) over a week, month, year or range, and a folder's: "
               "hitmap's `nb_conv_pages_before` is the most pages any of the row's conversions had "
               "before it, `nb_conversions_entry_rate` and `revenue_per_entry` the row's entry "
               "conversions and revenue per visit that entered there in the period; Matomo adds up "
               "each day's and each child page's values (a rate of `5.999`). Matomo's is never the "
               "smaller.",
        "drop_expected": ["nb_conv_pages_before", "nb_conversions_entry_rate", "revenue_per_entry"],
        "drop_actual": ["nb_conv_pages_before", "nb_conversions_entry_rate", "revenue_per_entry"],
        # Goal cells where Matomo's values are at least hitmap's.
        "summed_page_goals": True,
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "page goal rates of subtable rows",
        "why": "Matomo works out a page row's `nb_conversions_page_rate` (its conversions over the "
               "goal's) on the rows of the table it was asked for only: the rows of an expanded "
               "subtable keep 0. hitmap gives every row its rate.",
        "drop_expected": ["nb_conversions_page_rate"],
        "drop_actual": ["nb_conversions_page_rate"],
        # Goal cells where Matomo's rate is 0 and hitmap's is not.
        "zero_page_rate": True,
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "visits in time order",
        "why": "A visit's actions are in time order: its exit page is its latest page view and "
               "its length runs to its latest action, and a page's time runs to the next action by "
               "time, whatever order the requests arrived in. "
               "Matomo's tracker takes the last request to arrive as the visit's last action, "
               "even one with an earlier time (UrlNormalization's fixture sends its last page view "
               "with a time before the two sent before it; ImportLogs' custom-format log lists a "
               "visit's requests of 10:10:38 to 10:12:03, then 10:10:40 to 10:12:04, then "
               "10:10:41 ...), so its exit page, visit length and time on page differ there.",
        "drop_expected": ["exit_nb_visits", "exit_nb_uniq_visitors", "exit_rate",
                          "entry_sum_visit_length", "sum_time_spent", "avg_time_on_page"],
        "drop_actual": ["exit_nb_visits", "exit_nb_uniq_visitors", "exit_rate",
                        "entry_sum_visit_length", "sum_time_spent", "avg_time_on_page"],
        # The fixtures that send a request with an earlier time than one before it.
        "fixtures": ["UrlNormalization", "ImportLogs"],
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "no IP address",
        "why": "hitmap never stores a visitor's IP address (the visitor key is a keyed hash of "
               "it, docs/logs.md), nor Matomo's device fingerprint (`config_id`): Live's visits "
               "have no `visitIp` and no `fingerprint`.",
        "drop_expected": ["visitIp", "fingerprint"],
        "drop_actual": [],
        "periods": [None, "day", "week", "month", "year", "range"],
    },
    {
        "name": "no segment on a products report's not-defined row",
        "why": "A products report's row of products without a name or category (`Product Name "
               "not defined`, `Product Category not defined`) has no `segment` in hitmap: Matomo's "
               "(`productCategory==Product+Category+not+defined`) names the label and selects no visit.",
        "drop_expected": ["segment"],
        "drop_actual": [],
        "not_defined": True,
        "periods": [None, "day", "week", "month", "year", "range"],
    },
]


# Matomo's tracker adds seconds to a visit's length when a request of a
# visit it already knows converts a goal (plugins/CoreHome/Columns/
# VisitTotalTime.php, onConvertedVisit: `idgoal + 2` over the length so
# far, to force its UPDATE), so Matomo's lengths depend on the goals
# defined when the hits arrived. hitmap's visit length is the time from
# first to last action (docs/hits.md), whatever the goals. A file is
# `intended` under this rule when only visit-length columns differ, each
# by Matomo's value being longer by no more than that addition could
# make it: the request's converted visits times (the largest goal id + 1).
CONVERSION_SECONDS = {
    "name": "visit length without Matomo's conversion seconds",
    "columns": ("sum_visit_length", "avg_time_on_site", "entry_sum_visit_length"),
    "methods": ("VisitsSummary.getSumVisitsLength", "VisitsSummary.getSumVisitsLengthPretty",
                "VisitsSummary.getAvgVisitDuration"),
}


def seconds(text):
    """A duration as Matomo writes it (`551`, `9 min 11s`, `1 hours 2 min`,
    `27s`), in seconds; None if it is not one."""
    t = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        return float(t)
    m = re.fullmatch(r"(?:(\d+) days? )?(?:(\d+) hours? ?)?(?:(\d+) min ?)?(?:(\d+)s)?", t)
    if not m or not any(m.groups()):
        return None
    d, h, mi, se = (int(g or 0) for g in m.groups())
    return float(((d * 24 + h) * 60 + mi) * 60 + se)


def within_conversion_seconds(exp, act, slack, scalar):
    """Whether exp and act differ only in visit-length cells, each by
    Matomo's being longer by at most `slack` seconds."""
    if isinstance(exp, list) and isinstance(act, list):
        return len(exp) == len(act) and all(
            within_conversion_seconds(e, a, slack, scalar) for e, a in zip(exp, act))
    if isinstance(exp, dict) and isinstance(act, dict):
        if set(exp) != set(act):
            return False
        for k in exp:
            if exp[k] == act[k]:
                continue
            if isinstance(exp[k], str) and any(k.startswith(c) for c in CONVERSION_SECONDS["columns"]):
                if k.endswith(("_change", "_change_from")):
                    # A comparison's change of a visit length (`compare=1`):
                    # it follows the lengths, which are checked themselves.
                    if not (exp[k].endswith("%") and isinstance(act[k], str) and act[k].endswith("%")):
                        return False
                elif not longer_by_at_most(exp[k], act[k], slack):
                    return False
            elif not within_conversion_seconds(exp[k], act[k], slack, False):
                return False
        return True
    if isinstance(exp, str) and isinstance(act, str):
        return exp == act or (scalar and longer_by_at_most(exp, act, slack))
    return exp == act


def longer_by_at_most(exp, act, slack):
    e, a = seconds(exp), seconds(act)
    return e is not None and a is not None and 0 < e - a <= slack


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def build(bin_, fixture, store):
    # The fixture's log (`{log}`), or its logs by name (`{log_NAME}`) when
    # its settings change between them.
    logs = {"log": ""}
    if "log" in fixture:
        made = fixture["log"]()
        for name, text in (made.items() if isinstance(made, dict) else [("", made)]):
            path = os.path.join(os.path.dirname(store), f"fixture{'-' + name if name else ''}.log")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            logs["log_" + name if name else "log"] = path
    for step in fixture["setup"]:
        args = [a.format(store=store, logs=LOGS, data=DATA, **logs) for a in step]
        r = run([bin_, *args])
        if r.returncode != 0:
            sys.exit(f"setup step failed: hitmap {' '.join(args)}\n{r.stdout}\n{r.stderr}")


def parse_name(fixture, name):
    """(suffix, method, period) of test_<fixture><suffix>__<Method>[_<period>].xml."""
    stem = name[len("test_" + fixture):-len(".xml")]
    # A suffix may end with `_` (`_periodIsRange_flattened_`): the last `__`.
    suffix, rest = stem.rsplit("__", 1)
    m = re.match(r"^(.*?)(?:_(day|week|month|year|range))?$", rest)
    return suffix, m.group(1), m.group(2)


def request_for(fixture, suffix, method, period):
    for r in fixture["requests"]:
        if r["suffix"] == suffix and r["period"] == period:
            r = dict(r)
            if period == "day" and method in fixture.get("dates", {}):
                r["date"] = fixture["dates"][method]
            # A method of the suffix asked with its own date, sites,
            # parameters or subtable (`supertable`: the first row's of that
            # report, as Matomo's harness's `supertableApi`).
            r.update(r.pop("per_method", {}).get(method, {}))
            return r
    return None


def ask(bin_, store, req, method, fmt="xml"):
    # Several sites (`idSite=1,2`, `all`): `--site` takes one, the parameter the list.
    sites = str(req["site"])
    first = "1" if sites == "all" else sites.split(",")[0]
    cmd = [bin_, "report", store, "--site", first, "--date", req["date"], "--method", method,
           "--format", fmt, "--param", "expanded=1", "--param", "language=en"]
    if "," in sites or sites == "all":
        cmd += ["--param", f"idSite={sites}"]
    if req.get("supertable"):
        top = ask(bin_, store, {**req, "supertable": None, "params": {"expanded": "0"}}, req["supertable"], "json")
        rows = json.loads(top.stdout) if top.returncode == 0 else []
        ids = [r.get("idsubdatatable", r.get("idsubtable")) for r in rows
               if isinstance(r, dict) and ("idsubdatatable" in r or "idsubtable" in r)]
        if ids:
            cmd += ["--param", f"idSubtable={ids[0]}"]
    if req.get("period"):
        cmd += ["--period", req["period"]]
    if req.get("segment"):
        cmd += ["--segment", req["segment"]]
    params = dict(req.get("params", {}))
    params.update(METHOD_PARAMS.get(method, {}))
    params.update(req.get("method_params", {}).get(method, {}))
    for k in IGNORED_PARAMS.get(method, ()):
        params.pop(k, None)
    for k, v in params.items():
        # A list is PHP's array parameter: `k[]=a&k[]=b`.
        for one in (v if isinstance(v, list) else [v]):
            cmd += ["--param", f"{k}[]={one}" if isinstance(v, list) else f"{k}={one}"]
    return run(cmd)


def tree(elem):
    """An XML element as plain data: text, a list of rows, or a dict of
    columns (attributes such as idgoal='1' become part of the key)."""
    children = list(elem)
    if not children:
        return (elem.text or "").strip()
    if all(c.tag == "row" and not c.attrib for c in children) or all(c.tag == "result" for c in children):
        return [tree(c) for c in children]
    out = {}
    for c in children:
        key = c.tag + "".join(f"[{k}={v}]" for k, v in sorted(c.attrib.items()))
        out[key] = tree(c)
    return out


def first_difference(exp, act, path="result"):
    if type(exp) is not type(act):
        return f"{path}: expected {short(exp)}, hitmap {short(act)}"
    if isinstance(exp, list):
        if len(exp) != len(act):
            return f"{path}: {len(exp)} rows expected, hitmap has {len(act)}"
        for i, (e, a) in enumerate(zip(exp, act)):
            d = first_difference(e, a, f"{path}[{i}]")
            if d:
                return d
        return None
    if isinstance(exp, dict):
        label = exp.get("label")
        where = f"{path}({label})" if isinstance(label, str) else path
        missing = [k for k in exp if k not in act]
        extra = [k for k in act if k not in exp]
        if missing or extra:
            return f"{where}: columns missing {missing[:8]}, extra {extra[:8]}"
        for k in exp:
            d = first_difference(exp[k], act[k], f"{where}.{k}")
            if d:
                return d
        return None
    return None if exp == act else f"{path}: expected {short(exp)}, hitmap {short(act)}"


def short(x):
    s = json.dumps(x)
    return s if len(s) < 80 else s[:77] + "..."


def summed_uniques(row):
    """Whether an expected row's visitors are the sum of its subtable
    rows' (and it has more than one such row)."""
    sub = row.get("subtable")
    if not isinstance(sub, list) or len(sub) < 2 or "nb_uniq_visitors" not in row:
        return False
    try:
        total = sum(int(c["nb_uniq_visitors"]) for c in sub if isinstance(c, dict))
        return int(row["nb_uniq_visitors"]) == total and total > 0 and all(
            isinstance(c, dict) and "nb_uniq_visitors" in c for c in sub)
    except (KeyError, ValueError, TypeError):
        return False


def summed_extremes(exp, act):
    """Whether an expected domain row's least and most bandwidth are the
    sums of its URL rows' and hitmap's row has their least and most."""
    sub = exp.get("subtable")
    if not isinstance(sub, list) or not sub or not all(isinstance(c, dict) for c in sub):
        return False
    try:
        mins = [int(c["min_bandwidth"]) for c in sub]
        maxs = [int(c["max_bandwidth"]) for c in sub]
        return (int(exp["min_bandwidth"]) == sum(mins) and int(exp["max_bandwidth"]) == sum(maxs)
                and int(act["min_bandwidth"]) == min(mins) and int(act["max_bandwidth"]) == max(maxs))
    except (KeyError, ValueError, TypeError):
        return False


def overcounted_uniques(exp, act):
    """Whether an expected row's visitors may be a sum over finer rows of
    hitmap's exact count: no fewer than it, no more than the row's visits,
    the visits equal."""
    try:
        e, a = int(exp["nb_uniq_visitors"]), int(act["nb_uniq_visitors"])
        return exp.get("nb_visits") == act.get("nb_visits") and a <= e <= int(exp["nb_visits"])
    except (KeyError, ValueError, TypeError):
        return False


def summed_page_goals(exp, act):
    """Whether a page row's expected goal cell may add up days or child
    pages of hitmap's: its pages before a conversion and entry rates are
    no smaller than hitmap's (a rate to its rounding), and some differ."""
    columns = ("nb_conv_pages_before", "nb_conversions_entry_rate", "revenue_per_entry")
    if not any(c in exp or c in act for c in columns) or "nb_conversions_entry" not in exp and (
            "nb_conversions_page_uniq" not in exp):
        return False
    try:
        for c in columns:
            if (c in exp) != (c in act):
                return False
            if c in exp and float(exp[c]) < float(act[c]) - 0.0015:
                return False
        return any(exp.get(c) != act.get(c) for c in columns)
    except (ValueError, TypeError):
        return False


def whole_multiple(exp, act, column):
    """Whether an expected row's `column` is 2 or more times hitmap's."""
    try:
        e, a = float(exp[column]), float(act[column])
    except (KeyError, ValueError, TypeError):
        return False
    k = e / a if a else 0
    return a > 0 and k >= 2 and abs(k - round(k)) < 1e-9


def drop_pair(exp, act, rule):
    """The rule applied row by row: where an expected row has one of the
    rule's columns, those leave it and the rule's hitmap columns leave
    the matching hitmap row."""
    if isinstance(exp, list) and isinstance(act, list) and len(exp) == len(act):
        pairs = [drop_pair(e, a, rule) for e, a in zip(exp, act)]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if isinstance(exp, dict) and isinstance(act, dict):
        # A folder: hitmap's row has a subtable, or its id (a range's
        # folder rows, which Matomo's give no id: see "subtable ids of a
        # range"), or Matomo names it by a folder's segment (`pageUrl=^`,
        # `pageTitle=^`: a folder row a `label` filter picked, without
        # its subtable).
        folder_segment = str(exp.get("segment", "")).startswith(("pageUrl=^", "pageTitle=^"))
        folder = rule.get("folders") and (
            (("subtable" in exp or "idsubtable" in act) and ("subtable" in act or "idsubtable" in act))
            or (folder_segment and exp.get("segment") == act.get("segment"))) and not any(
            k in exp for k in rule["drop_actual"])
        not_defined = rule.get("not_defined") and str(exp.get("label", "")).endswith(" not defined") and (
            "segment" in exp and "segment" not in act)
        if rule.get("summed"):
            applies = summed_uniques(exp) and "nb_uniq_visitors" in act
        elif rule.get("summed_extremes"):
            applies = summed_extremes(exp, act)
        elif rule.get("subtable_ids"):
            applies = "comparePeriod" in exp and all(
                str(x.get("idsubdatatable", "")).isdigit() and str(x.get("idsubdatatable")) != "0"
                for x in (exp, act))
        elif rule.get("range_subtables"):
            applies = "idsubtable" in act and "idsubtable" not in exp and "idsubdatatable" not in exp
        elif rule.get("untitled"):
            applies = str(exp.get("label", "")).strip() == "Page Name not defined" and not any(
                k in exp for k in ("entry_nb_visits", "exit_nb_visits"))
        elif rule.get("overcount"):
            applies = overcounted_uniques(exp, act)
        elif rule.get("summed_page_goals"):
            applies = summed_page_goals(exp, act)
        elif rule.get("zero_page_rate"):
            applies = exp.get("nb_conversions_page_rate") == "0" and act.get(
                "nb_conversions_page_rate") not in (None, "0")
        elif rule.get("compared_period"):
            applies = "comparePeriod" in exp and not any(k in exp for k in rule["drop_actual"]) and (
                exp["comparePeriod"] in ("week", "month", "year", "range")
                or any(k in exp for k in rule["drop_expected"]))
        elif rule.get("compared_changes"):
            applies = "comparePeriod" in exp
        elif rule.get("multiple"):
            applies = whole_multiple(exp, act, rule["multiple"])
        else:
            applies = folder or not_defined or (
                rule.get("added") and not any(k in exp for k in rule["drop_actual"])) or (
                not rule.get("not_defined") and any(k in exp for k in rule["drop_expected"])) or (
                bool(rule.get("requires")) and all(k in exp for k in rule["requires"])
                and not any(k in exp for k in rule["drop_actual"]))
        e2, a2 = {}, {}
        for k, v in exp.items():
            if applies and k in rule["drop_expected"]:
                continue
            e2[k] = v
        for k, v in act.items():
            if applies and k in rule["drop_actual"]:
                continue
            a2[k] = v
        if folder and isinstance(e2.get("comparisons"), list) and isinstance(a2.get("comparisons"), list):
            # A folder's comparison rows are its rows in the other
            # series: the same exact uniques (and their changes).
            dropped = [f"{k}{s}" for k in rule["drop_actual"] for s in ("", "_change", "_change_from")]
            e2["comparisons"], a2["comparisons"] = e2["comparisons"], [
                {k: v for k, v in c.items() if k not in dropped or k in e} if isinstance(c, dict) else c
                for c, e in zip(a2["comparisons"], e2["comparisons"] + [{}] * len(a2["comparisons"]))]
        for k in set(e2) & set(a2):
            e2[k], a2[k] = drop_pair(e2[k], a2[k], rule)
        return e2, a2
    return exp, act


# What Matomo's system-test harness removes from every answer before it
# compares it with (or writes) an expected file
# (tests/PHPUnit/Framework/TestRequest/Response.php, normalizeApiResponse):
# ids that change from run to run, and for Live's methods its dates.
REMOVED_ALWAYS = {"idsubdatatable_in_db", "idpageview", "visitorId", "nextVisitorId",
                  "previousVisitorId", "idvisitor"}
REMOVED_FROM_LIVE = {"serverDate", "firstActionTimestamp", "lastActionTimestamp",
                     "lastActionDateTime", "serverTimestamp", "serverTimePretty", "daysAgo",
                     "serverDatePretty", "serverDatePrettyFirstAction", "serverTimePrettyFirstAction",
                     "goalTimePretty", "visitServerHour", "timestamp", "date", "prettyDate",
                     "serverDateTimePrettyFirstAction"}
LIVE_METHODS = {"Live.getLastVisits", "Live.getLastVisitsDetails", "Live.getVisitorProfile"}


def without(x, keys):
    """An answer's tree without the elements named `keys`, at any depth."""
    if isinstance(x, list):
        return [without(v, keys) for v in x]
    if isinstance(x, dict):
        return {k: without(v, keys) for k, v in x.items() if k not in keys}
    return x


def normalized(x, method, removed=()):
    """An answer as Matomo's harness compares it (REMOVED_ALWAYS, Live's
    dates, and the request's own `xmlFieldsToRemove`)."""
    keys = set(REMOVED_ALWAYS) | set(removed)
    if method in LIVE_METHODS:
        keys |= REMOVED_FROM_LIVE
    return without(x, keys)


def compare(expected_xml, actual_xml, period, slack=0, method="", removed=(), fixture=""):
    exp = normalized(tree(ET.fromstring(expected_xml)), method, removed)
    act = normalized(tree(ET.fromstring(actual_xml)), method, removed)
    d = first_difference(exp, act)
    if d is None:
        return "equal", None
    # Every intended difference that applies, one after the other.
    applied = []
    for rule in INTENDED:
        if period in rule["periods"] and method in rule.get("methods", [method]) and (
                fixture in rule.get("fixtures", [fixture])):
            e2, a2 = drop_pair(exp, act, rule)
            if (e2, a2) != (exp, act):
                applied.append(rule["name"])
            exp, act = e2, a2
    d2 = first_difference(exp, act)
    if d2 is not None and slack > 0 and within_conversion_seconds(
            exp, act, slack, method in CONVERSION_SECONDS["methods"]):
        applied.append(CONVERSION_SECONDS["name"])
        d2 = None
    if d2 is None:
        return "intended", "; ".join(applied)
    # The first difference that is not intended.
    return "differing", d2


def expected_error(xml):
    """The first line of the error an expected file holds, or None."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None
    e = root.find("error")
    if e is None or "message" not in e.attrib:
        return None
    # The message's first line (XML turns its line breaks into spaces).
    return re.split(r"\s{2,}|\s-->", e.attrib["message"])[0].strip()


def score_fixture(bin_, name, fixture, keep=None):
    folder = os.path.join(ROOT, "matomo", name, "expected")
    tmp = tempfile.mkdtemp(prefix=f"hitmap-conformance-{name}-")
    store = os.path.join(keep, name) if keep else os.path.join(tmp, "store")
    if keep:
        shutil.rmtree(store, ignore_errors=True)
        # The importer's visitors state beside it (MATOMO_VISITORS).
        if os.path.exists(store + ".matomo-visitors"):
            os.remove(store + ".matomo-visitors")
    try:
        build(bin_, fixture, store)
        files = {}
        for f in sorted(os.listdir(folder)):
            suffix, method, period = parse_name(fixture.get("prefix", name), f)
            if method in REMOVED_METHODS:
                continue
            req = request_for(fixture, suffix, method, period)
            if req is None:
                files[f] = {"status": "unsupported", "why": "request not replayed by the harness"}
                continue
            r = ask(bin_, store, req, method)
            expected = open(os.path.join(folder, f), encoding="utf-8").read()
            error = expected_error(expected)
            if error is not None:
                # Matomo's answer is an error: hitmap's must be the same one
                # (its message starts with Matomo's first line).
                said = (r.stderr.strip() or r.stdout.strip()).splitlines()
                said = said[-1] if said else ""
                same = r.returncode != 0 and error in said
                if not same and method in INTENDED_ANSWERS and (
                        period_results(r.stdout) if r.returncode == 0
                        else other_methods_error(folder, fixture.get("prefix", name), f, said)):
                    files[f] = {"status": "intended", "why": f"answered on purpose: {INTENDED_ANSWERS[method]}"}
                    continue
                files[f] = {"status": "equal" if same else "differing",
                            "why": None if same else f"expected the error {error!r}, hitmap: {said[:120]}"}
                continue
            if r.returncode != 0:
                why = (r.stderr.strip() or r.stdout.strip()).splitlines()
                why = why[-1][:200] if why else "error"
                if method in INTENDED_REFUSALS and method in why:
                    files[f] = {"status": "intended", "why": f"refused on purpose: {why}"}
                else:
                    files[f] = {"status": "unsupported", "why": why}
                continue
            try:
                status, why = compare(expected, r.stdout, period, conversion_slack(bin_, store, fixture, req),
                                      method, req.get("xml_fields_to_remove", ()), name)
            except ET.ParseError as e:
                status, why = "differing", f"unreadable XML: {e}"
            files[f] = {"status": status, "why": why}
        return files
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def conversion_slack(bin_, store, fixture, req, cache={}):
    """The most seconds Matomo's conversion updates can have added to the
    visit lengths of a request's answer (CONVERSION_SECONDS): its
    converted visits times (the largest goal id + 1)."""
    key = (store, json.dumps(req, sort_keys=True))
    if key not in cache:
        ids = [int(step[step.index("--id") + 1]) for step in fixture["setup"]
               if step[:2] == ["goals", "add"] and "--id" in step]
        converted = 0
        # The request's periods, and those it compares with (`compare=1`).
        params = req.get("params", {})
        asked = [(req.get("date"), req.get("period"))] + list(
            zip(params.get("compareDates", []), params.get("comparePeriods", [])))
        for date, period in asked if ids and req.get("period") else []:
            r = ask(bin_, store, {**req, "date": date, "period": period, "params": {}},
                    "VisitsSummary.getVisitsConverted")
            if r.returncode == 0:
                # One number, or one per period or site (`date=A,B`,
                # `idSite=all`): the largest, as each cell is one period's.
                try:
                    root = ET.fromstring(r.stdout)
                    cells = [e.text for e in root.iter() if e.text and e.text.strip()]
                    converted = max(converted, int(max((float(t) for t in cells), default=0)))
                except (ET.ParseError, ValueError):
                    pass
        cache[key] = converted * (max(ids, default=0) + 1) + requests_after_last_action(bin_, store, req)
    return cache[key]


def requests_after_last_action(bin_, store, req):
    """The seconds Matomo's visit lengths run past hitmap's in the
    request's visits: the conversion rows in Live before a visit's first
    action or after its last (Matomo's visit length runs from its first
    request to its last, an order or a cart update included; hitmap's
    from the first action to the last), and a visit of conversions only
    from its first conversion to its last, plus 1."""
    if not req.get("period"):
        return 0
    cmd = [bin_, "report", store, "--site", str(req["site"]), "--date", req["date"], "--period", req["period"],
           "--method", "Live.getLastVisitsDetails", "--format", "json", "--param", "filter_limit=-1"]
    if req.get("segment"):
        cmd += ["--segment", req["segment"]]
    r = run(cmd)
    if r.returncode != 0:
        return 0
    try:
        visits = json.loads(r.stdout)
    except ValueError:
        return 0
    total = 0
    for v in visits if isinstance(visits, list) else []:
        rows = v.get("actionDetails", [])
        acts = [a["timestamp"] for a in rows if a.get("type") not in ("goal", "ecommerceOrder", "ecommerceAbandonedCart")]
        convs = [a["timestamp"] for a in rows if a.get("type") in ("goal", "ecommerceOrder", "ecommerceAbandonedCart")]
        if not convs:
            continue
        if acts:
            # Conversions after the last action or before the first.
            total += max(0, max(convs) - max(acts)) + max(0, min(acts) - min(convs))
        elif len(convs) > 1:
            # A visit of conversions only: Matomo's length is 1 + last -
            # first request; hitmap's is 0.
            total += 1 + max(convs) - min(convs)
    return total


def summary(files):
    out = {s: 0 for s in RANK}
    for v in files.values():
        out[v["status"]] += 1
    return out


def write_doc(result):
    lines = ["<!-- score table: written by `python3 conformance/run.py --update` -->", "",
             "| fixture | files | equal | intended | differing | unsupported |", "|---|---|---|---|---|---|"]
    for name, files in result.items():
        s = summary(files)
        lines.append(f"| {name} | {len(files)} | {s['equal']} | {s['intended']} | {s['differing']} | "
                     f"{s['unsupported']} |")
    table = "\n".join(lines) + "\n"
    text = open(DOC, encoding="utf-8").read()
    start = text.index("<!-- score table")
    end = text.index("<!-- end of score table -->")
    open(DOC, "w", encoding="utf-8").write(text[:start] + table + "\n" + text[end:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "target", "debug", "hitmap"))
    ap.add_argument("--update", action="store_true", help="write score.json and docs/conformance.md")
    ap.add_argument("--check", action="store_true", help="fail if a file's status is worse than score.json")
    ap.add_argument("--verbose", action="store_true", help="print every file's status and first difference")
    ap.add_argument("--keep", metavar="DIR", help="build each fixture's store in DIR/<fixture> and keep it")
    ap.add_argument("--only", metavar="FIXTURE", help="score one fixture (not with --update or --check)")
    a = ap.parse_args()
    # Matomo names browsers, systems and devices with DeviceDetector: the
    # imports and the tracker read its rules (scripts/test-all installs
    # them; HITMAP_DEVICE_DETECTOR, which the CLI reads, may name others).
    rules = os.environ.setdefault("HITMAP_DEVICE_DETECTOR", DEVICE_DETECTOR)
    if not os.path.isdir(rules):
        sys.exit(f"no DeviceDetector rules at {rules}: run scripts/test-all once (it installs "
                 "PyPI's device_detector there) or set HITMAP_DEVICE_DETECTOR")
    if a.only and (a.update or a.check):
        sys.exit("--only scores one fixture: --update and --check need them all")
    if a.only and a.only not in FIXTURES:
        sys.exit(f"no fixture {a.only!r}: {', '.join(FIXTURES)}")
    result = {name: score_fixture(a.bin, name, f, a.keep) for name, f in FIXTURES.items()
              if not a.only or name == a.only}
    for name, files in result.items():
        s = summary(files)
        print(f"{name}: {len(files)} files: {s['equal']} equal, {s['intended']} intended, "
              f"{s['differing']} differing, {s['unsupported']} unsupported")
        if a.verbose:
            for f, v in files.items():
                print(f"  {v['status']:<11} {f}: {v['why'] or ''}")
    if a.update:
        with open(SCORE, "w", encoding="utf-8") as out:
            json.dump({"matomo": MATOMO_COMMIT, "fixtures": result}, out, indent=1, sort_keys=True)
            out.write("\n")
        write_doc(result)
        print(f"wrote {os.path.relpath(SCORE, REPO)} and {os.path.relpath(DOC, REPO)}")
    if a.check:
        recorded = json.load(open(SCORE, encoding="utf-8"))["fixtures"]
        worse, better = [], []
        for name, files in result.items():
            for f, v in files.items():
                was = recorded.get(name, {}).get(f, {}).get("status", "unsupported")
                if RANK[v["status"]] > RANK[was]:
                    worse.append(f"{name}/{f}: {was} -> {v['status']}: {v['why']}")
                elif RANK[v["status"]] < RANK[was]:
                    better.append(f"{name}/{f}: {was} -> {v['status']}")
        for b in better:
            print(f"better: {b}")
        if better:
            print("(run `python3 conformance/run.py --update` to record them)")
        if worse:
            print("\n".join(f"WORSE: {w}" for w in worse))
            sys.exit(1)


if __name__ == "__main__":
    main()
