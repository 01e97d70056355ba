"""A Matomo Reporting API client from PyPI (``matomo-api``) and plain HTTP
requests as Matomo's documentation shows them, against ``hitmap serve`` on
loopback: the shapes a dashboard or script expects, and the same numbers
the engine answers in-process."""

import json
import os
import pathlib
import subprocess

import matomo_api as ma
import pytest
import requests

import hitmap
import hitmap.sample

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("HITMAP_BIN", ROOT / "target/debug/hitmap"))
WEEK = "2025-01-01,2025-01-07"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assert BIN.exists(), f"{BIN} is missing: build it with cargo build -p hitmap-cli (or set HITMAP_BIN)"
    store = tmp_path_factory.mktemp("store") / "metrics"
    eng = hitmap.Engine(str(store))
    eng.add_site(1, timezone="Europe/London", hosts=["intranet.example.org"],
                 dimensions=["department", "office", "role"])
    eng.add_site(2, timezone="UTC", hosts=["shop.example"])
    eng.ingest_ndjson(hitmap.sample.ndjson(days=7, visitors=300))
    eng.seal()
    del eng
    with subprocess.Popen([str(BIN), "serve", str(store), "--listen", "127.0.0.1:0"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as child:
        line = child.stdout.readline().strip()
        assert line.startswith("listening on "), line
        reader = hitmap.Engine.open_read_only(str(store))
        yield line.removeprefix("listening on "), reader
        child.terminate()
        child.wait(timeout=10)


def same(reader, query):
    return reader.api(query)


def test_the_matomo_api_package_gets_matomos_shapes(server):
    url, reader = server
    api = ma.MatomoApi(url, "anonymous")
    week = ma.idSite.one_or_more(1) | ma.period.range | ma.date.YMD(WEEK) | ma.format.json

    summary = api.VisitsSummary().get(week).json()
    assert summary == same(reader, f"method=VisitsSummary.get&idSite=1&period=range&date={WEEK}")
    assert {"nb_visits", "nb_uniq_visitors", "bounce_rate", "avg_time_on_site"} <= set(summary)

    # Matomo's default: a folder tree with subtable ids, 100 rows at most.
    tree = api.Actions().getPageUrls(week).json()
    folder = next(r for r in tree if "idsubtable" in r)
    assert "subtable" not in folder
    sub = api.Actions().getPageUrls(week | ma.idSubtable(folder["idsubtable"])).json()
    assert sub and all("label" in r and "nb_hits" in r for r in sub)
    flat = api.Actions().getPageUrls(week | ma.flat() | ma.filter_limit(5)).json()
    assert len(flat) == 5 and all(r["label"].startswith("/") for r in flat)
    shown = api.Actions().getPageUrls(week | ma.flat() | ma.showColumns(ma.col.nb_hits)).json()
    assert set(shown[0]) == {"label", "nb_hits"}

    exits = api.Actions().getExitPageUrls(week | ma.translateColumnNames() | ma.language.da).json()
    assert exits == same(reader, f"method=Actions.getExitPageUrls&idSite=1&period=range&date={WEEK}")
    assert {"exit_nb_visits", "exit_rate"} <= set(exits[0])

    events = api.Events().getCategory(week | ma.expanded()).json()
    assert events[0]["subtable"] and "nb_events" in events[0]

    countries = api.UserCountry().getCountry(week).json()
    assert countries[0]["code"] == "gb" and countries[0]["label"] == "United Kingdom"
    assert countries[0]["segment"] == "countryCode==gb"

    both = ma.idSite.one_or_more(1, 2) | ma.period.day | ma.date.YMD("2025-01-02") | ma.format.json
    per_site = api.VisitsSummary().get(both).json()
    assert set(per_site) == {"1", "2"} and per_site["2"]["nb_visits"] == 0

    version = api.API().getMatomoVersion(ma.format.json).json()
    assert version["value"].startswith("5.")


def test_plain_http_as_the_documentation_shows(server):
    url, reader = server

    def get(**params):
        r = requests.get(f"{url}/index.php", params={"module": "API", "format": "json", **params}, timeout=30)
        return r.status_code, r.headers["content-type"], r.text

    status, kind, body = get(method="Referrers.getReferrerType", idSite=1, period="month", date="2025-01-01")
    assert (status, kind.split(";")[0]) == (200, "application/json")
    labels = [r["label"] for r in json.loads(body)]
    assert "Direct Entry" in labels

    # The same request in every format carries the same numbers.
    q = dict(method="VisitTime.getByDayOfWeek", idSite=1, period="range", date=WEEK)
    rows = json.loads(get(**q)[2])
    csv = get(**q, format="csv")[2].splitlines()
    header = csv[0].split(",")
    visits = [int(line.split(",")[header.index("nb_visits")]) for line in csv[1:]]
    assert visits == [r["nb_visits"] for r in rows]
    xml = get(**q, format="xml")[2]
    assert xml.count("<row>") == 7 and "<label>Monday</label>" in xml

    # A bulk request, as Matomo documents it.
    inner = [
        "method=VisitsSummary.get&idSite=1&period=day&date=2025-01-02",
        "method=Live.getLastVisitsDetails&idSite=1&period=day&date=2025-01-02&filter_limit=2",
    ]
    params = {"method": "API.getBulkRequest", "module": "API", "format": "json"}
    params.update({f"urls[{i}]": u for i, u in enumerate(inner)})
    bulk = requests.get(f"{url}/index.php", params=params, timeout=30).json()
    assert bulk[0] == same(reader, inner[0])
    assert len(bulk[1]) == 2 and bulk[1][0]["actionDetails"]

    # What hitmap cannot honour is an error that names it, never ignored.
    status, _, body = get(method="VisitsSummary.get", idSite=1, period="day", date="2025-01-02", pivotBy="x")
    assert status == 400 and "pivotBy" in json.loads(body)["message"]
    status, _, body = get(method="DevicesDetection.getBrowserFamilies", idSite=1, period="day", date="2025-01-02")
    assert status == 400 and "not supported" in json.loads(body)["message"]

    meta = json.loads(get(method="API.getReportMetadata", idSites=1)[2])
    names = {f"{r['module']}.{r['action']}" for r in meta}
    assert {"Actions.getPageUrls", "Events.getName", "VisitorInterest.getNumberOfVisitsPerPage"} <= names
    processed = json.loads(get(method="API.getProcessedReport", idSite=1, period="range", date=WEEK,
                               apiModule="DevicesDetection", apiAction="getType")[2])
    assert processed["reportData"] == same(
        reader, f"method=DevicesDetection.getType&idSite=1&period=range&date={WEEK}")
