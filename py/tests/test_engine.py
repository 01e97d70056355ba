"""The Python package through the built extension module."""

import datetime as dt
import json
import pathlib

import pytest

import hitmap

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "php" / "tests" / "fixtures"


def fixture_engine() -> hitmap.Engine:
    eng = hitmap.Engine.in_memory()
    eng.add_site(1, timezone="Europe/London", hosts=["intranet.example.org"],
                 sections={"News": ["/news"]}, dimensions=["department"])
    res = eng.ingest_ndjson(FIXTURES / "hits.ndjson")
    assert res.rejected == [] and res.accepted > 100
    return eng


def test_answers_equal_the_rust_surface():
    # The same requests and answers the PHP tests check: every host agrees.
    expected = json.loads((FIXTURES / "expected.json").read_text())
    eng = fixture_engine()
    assert len(expected) == 8
    for request, answer in expected.items():
        assert eng.api(request) == answer, request


def test_every_report_kind_gives_every_row_with_its_columns():
    eng = fixture_engine()
    visits = eng.visits_summary(1, "2024-06").nb_visits
    for kind, (method, _) in hitmap.REPORTS.items():
        report = eng.report(kind, 1, "2024-06", dimension="department")
        frame = report.to_pandas()
        assert list(frame.columns) == list(hitmap._report_columns(kind)), kind
        if kind in ("server_time", "day_of_week", "visit_duration", "pages_per_visit", "visit_number",
                    "device_type", "browser", "country", "continent", "referrer_type"):
            # Each visit in exactly one row.
            assert sum(r["nb_visits"] for r in report) == visits, kind
        if kind == "referrers":
            # Matomo's getAll: every visit but the direct entries.
            types = eng.report("referrer_type", 1, "2024-06")
            direct = sum(r["nb_visits"] for r in types if r["label"] == "Direct Entry")
            assert sum(r["nb_visits"] for r in report) == visits - direct
    # Every row, not Matomo's default of 100.
    pages = eng.report("pages", 1, "2024-06")
    assert len(pages) == len(eng.api("method=Actions.getPageUrls&flat=1&idSite=1&period=month&date=2024-06-01&filter_limit=-1"))
    hours = eng.report("server_time", 1, "2024-06")
    assert [r["label"] for r in hours][:2] == ["00", "01"]


def test_ingest_sources_and_rejects(tmp_path):
    import gzip

    lines = b'{"site":1,"visitor":"a","ts":1717200000,"url":"https://x.org/"}\n{"site":1}\n'
    gz = tmp_path / "hits.ndjson.gz"
    gz.write_bytes(gzip.compress(lines))
    with open(gz, "rb") as file_object:
        for source in (lines, gz, file_object):
            eng = hitmap.Engine.in_memory()
            eng.add_site(1)
            res = eng.ingest_ndjson(source)
            assert (res.accepted, [line for line, _ in res.rejected]) == (1, [2])
            assert res.rejected[0][1] == "missing required field `ts`"
    assert repr(res) == "IngestResult(accepted=1, rejected=1)"


def test_records_with_aware_datetimes_and_naive_ones_refused():
    eng = hitmap.Engine.in_memory()
    eng.add_site(1, timezone="Europe/London")
    when = dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.timezone.utc)
    res = eng.ingest([{"site": 1, "visitor": "a", "ts": when, "url": "https://x.org/a", "user": None}])
    assert res.accepted == 1
    assert eng.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01")["nb_visits"] == 1
    with pytest.raises(ValueError, match="naive datetime"):
        eng.ingest([{"site": 1, "visitor": "a", "ts": dt.datetime(2024, 6, 1), "url": "u"}])


@pytest.mark.parametrize(
    "query, error, text",
    [
        ("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&segment=nope%3D%3Dx", hitmap.SegmentError, "unknown segment field"),
        ("method=VisitsSummary.get&idSite=9&period=day&date=today", hitmap.UnknownSiteError, r"call add_site\(9, timezone=...\) first"),
        ("method=Nope&idSite=1&period=day&date=today", hitmap.RequestError, "unknown method"),
        ("method=VisitsSummary.get&idSite=1&period=day&date=2024-02-30", hitmap.RequestError, "YYYY-MM-DD"),
    ],
)
def test_errors_are_hitmap_exceptions(query, error, text):
    eng = fixture_engine()
    with pytest.raises(error, match=text) as info:
        eng.api(query)
    assert isinstance(info.value, hitmap.HitmapError)
    assert eng.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-03")["nb_visits"] > 0


def test_store_on_disk_lock_and_readers(tmp_path):
    eng = hitmap.Engine(tmp_path / "metrics")
    eng.add_site(1)
    eng.ingest_ndjson(b'{"site":1,"visitor":"a","ts":1717200000,"url":"https://x.org/"}\n')
    with pytest.raises(hitmap.StoreError, match="locked by pid"):
        hitmap.Engine(tmp_path / "metrics")
    reader = hitmap.Engine.open_read_only(tmp_path / "metrics")
    assert reader.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01")["nb_visits"] == 1
    with pytest.raises(hitmap.StoreError, match="read-only"):
        reader.add_site(2)
    assert eng.forget_visitor(1, "a") == 1
    assert repr(eng) == "hitmap.Engine(sites=[1])"
    assert hitmap.__version__.count(".") == 2


def test_small_ingests_are_live_in_the_log_until_sealed(tmp_path) -> None:
    store = tmp_path / "store"
    writer = hitmap.Engine(store)
    writer.add_site(1)
    writer.ingest([{"site": 1, "ts": 1717200000, "visitor": "a", "url": "https://x.org/"}])
    assert (store / "wal").is_dir() and not (store / "site-1" / "days").exists()
    reader = hitmap.Engine.open_read_only(store)
    assert reader.visits_summary(1, "2024-06-01").nb_visits == 1
    assert writer.seal() == 1
    assert writer.seal() == 0
    assert (store / "site-1" / "days").is_dir()


def test_a_day_bundle_carries_a_day_to_another_engine():
    src = fixture_engine()
    bundle = src.export_day(1, "2024-06-03")
    assert isinstance(bundle, bytes) and len(bundle) > 100
    dst = hitmap.Engine.in_memory()
    assert dst.import_day(bundle) == dt.date(2024, 6, 3)
    q = "method=Actions.getPageUrls&flat=1&idSite=1&period=day&date=2024-06-03&filter_limit=-1"
    assert dst.api(q) == src.api(q)
    with pytest.raises(hitmap.HitmapError):
        dst.import_day(bundle)  # the day is there already
    damaged = bytearray(bundle)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(hitmap.HitmapError):
        hitmap.Engine.in_memory().import_day(bytes(damaged))


def test_query_threads_change_no_answer():
    """Reports big enough to split into runs on two threads (tens of
    thousands of visits) answer exactly as on one."""
    from hitmap import sample

    e = hitmap.Engine.in_memory()
    e.add_site(1, **sample.SITE)
    res = e.ingest_ndjson(sample.ndjson(days=28, visitors=10_000))
    assert res.rejected == []
    seg = "&segment=deviceType%3D%3Ddesktop"
    queries = [
        f"method={m}&idSite=1&period=range&date=2025-01-01,2025-01-28&format_metrics=0&filter_limit=-1{extra}"
        for m in ("VisitsSummary.get", "Actions.getPageUrls&flat=1", "Actions.getDownloads&flat=1",
                  "VisitFrequency.get")
        for extra in ("", seg, "&section=News", seg + "&section=News")
    ]
    e.query_threads = 1
    one = [e.api(q) for q in queries]
    assert one[0]["nb_visits"] > 40_000, "too few visits for the reports to split"
    e.query_threads = 2
    assert e.query_threads == 2
    assert [e.api(q) for q in queries] == one
    with pytest.raises(ValueError, match="query_threads"):
        e.query_threads = -1


def test_memory_usage_reports_the_engine_by_part():
    empty = hitmap.Engine.in_memory()
    assert sum(empty.memory_usage().values()) == 0
    eng = fixture_engine()
    parts = eng.memory_usage()
    assert {"dictionaries", "visitor table", "visit columns", "action columns",
            "section cuts"} <= set(parts)
    assert all(isinstance(b, int) and b >= 0 for b in parts.values())
    assert parts["action columns"] > 0 and parts["section cuts"] == 0
    # A section summary keeps its per-day cuts, which count.
    eng.visits_summary(1, "2024-06", section="News")
    assert eng.memory_usage()["section cuts"] > 0


def test_locations_from_a_dataframe_answer_the_region_and_city_reports():
    pl = pytest.importorskip("polars")
    df = pl.DataFrame({
        "site": [1, 1, 1],
        "ts": [1717200000, 1717200060, 1717200100],
        "visitor": ["a", "a", "b"],
        "url": ["https://x.org/", "https://x.org/b", "https://x.org/"],
        "country": ["us", None, None],
        "region": ["VA", None, None],
        "region_name": ["Virginia", None, None],
        "city": ["Ashburn", None, None],
        "latitude": [39.0438, None, None],
        "longitude": [-77.4874, None, None],
    })
    eng = hitmap.Engine.in_memory()
    eng.add_site(1)
    assert eng.ingest(df).accepted == 3
    rows = eng.api("method=UserCountry.getCity&idSite=1&period=day&date=2024-06-01")
    assert [(r["label"], r["nb_visits"]) for r in rows] == [
        ("Ashburn, Virginia, United States", 1), ("Unknown", 1)]
    assert (rows[0]["lat"], rows[0]["long"]) == (39.044, -77.487)
    regions = eng.report("region", 1, "2024-06-01")
    assert "Virginia, United States" in [r["label"] for r in regions]


def test_site_search_categories_and_keywords_without_results():
    eng = hitmap.Engine.in_memory()
    eng.add_site(1)
    day = 1_717_200_000
    search = {"site": 1, "type": "search", "url": "https://x.org/search"}
    eng.ingest([
        dict(search, visitor="a", ts=day, search="vpn", search_category="IT", search_count=0),
        dict(search, visitor="a", ts=day + 60, search="vpn", search_category="IT", search_count=0),
        dict(search, visitor="b", ts=day, search="payroll", search_category="HR", search_count=4),
        dict(search, visitor="b", ts=day + 60, search="printer", search_count=0),
        dict(search, visitor="c", ts=day, search="printer", search_count=2),
    ])
    cats = {r["label"]: (r["nb_visits"], r["nb_actions"], r["nb_pages_per_search"])
            for r in eng.report("site_search_categories", 1, "2024-06-01")}
    assert cats == {"IT": (1, 2, 2), "HR": (1, 1, 1)}
    # printer found results once: only vpn never did.
    none = [r["label"] for r in eng.report("site_search_no_result_keywords", 1, "2024-06-01")]
    assert none == ["vpn"]
    # The category and the count select visits.
    seg = eng.visits_summary(1, "2024-06-01", segment="siteSearchCategory==HR")
    assert seg.nb_visits == 1
    seg = eng.visits_summary(1, "2024-06-01", segment="siteSearchCount>1")
    assert seg.nb_visits == 2
