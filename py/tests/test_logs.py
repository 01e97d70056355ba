"""Engine.ingest_log: access logs through Python, with the same rules and
numbers as the Rust importer and the CLI (Matomo's fixture logs)."""

import bz2
import gzip
import pathlib

import pytest

import hitmap

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOGS = ROOT / "intake/tests/data/matomo-logs/matomo-core/access-logs"


def visits(eng, date):
    s = eng.visits_summary(1, *date.split(","))
    return s.nb_visits, s.nb_actions


def engine():
    eng = hitmap.Engine.in_memory()
    eng.add_site(1, hosts=["piwik.net"])
    return eng


def test_fake_logs_by_the_default_rules():
    eng = engine()
    r = eng.ingest_log(LOGS / "fake_logs.log", idsite=1)
    assert (r.pageviews, r.downloads, r.invalid, r.comments) == (17, 0, 1, 7)
    assert r.skipped == {
        "static file": 2,
        "HTTP error (4xx, 5xx)": 3,
        "HTTP redirect (3xx)": 2,
    }
    assert r.invalid_lines[0][1] == 3
    assert r.formats == {str(LOGS / "fake_logs.log"): "ncsa_extended (recognised)"}
    assert visits(eng, "2012-08-09,2012-08-11") == (17, 17)
    # A second run changes nothing.
    again = eng.ingest_log(str(LOGS / "fake_logs.log"), idsite=1)
    assert (again.hits, again.skipped_batches) == (0, 1)
    assert visits(eng, "2012-08-09,2012-08-11") == (17, 17)


def test_switches_lists_and_compressed_files(tmp_path):
    raw = (LOGS / "fake_logs.log").read_bytes()
    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress(raw))
    bz = tmp_path / "b.log.bz2"
    bz.write_bytes(bz2.compress((LOGS / "fake_logs_custom.log").read_bytes()))
    eng = engine()
    r = eng.ingest_log(
        [gz],
        format="combined",
        idsite=1,
        enable_static=True,
        enable_http_errors=True,
        enable_http_redirects=True,
        exclude_path=["/docs/*", "/faq/*"],
    )
    assert r.downloads == 2
    assert r.skipped == {"path filtered out": 8}  # 4 under /docs/, 4 under /faq/
    eng2 = engine()
    r = eng2.ingest_log(
        bz,
        log_format_regex=r'(?P<ip>\S+) - - \[(?P<date>.*?) (?P<timezone>.*?)\] (?P<status>\S+) "\S+ (?P<path>.*?) \S+" (?P<generation_time_micro>\S+)',
    )
    assert (r.pageviews, r.invalid) == (10, 0)
    assert visits(eng2, "2012-09-30,2012-09-30") == (1, 10)
    s = eng2.visits_summary(1, "2012-09-30", "2012-09-30")
    assert s.sum_visit_length == 87


def test_bad_options_raise_intake_errors():
    eng = engine()
    with pytest.raises(hitmap.IntakeError, match="unknown format"):
        eng.ingest_log(LOGS / "fake_logs.log", format="apache")
    with pytest.raises(hitmap.IntakeError, match="unknown log option"):
        eng.ingest_log(LOGS / "fake_logs.log", exclude_paths="/x")
    with pytest.raises(hitmap.IntakeError, match="cannot open"):
        eng.ingest_log("/no/such/file.log")
    with pytest.raises(hitmap.IntakeError, match="site 4 is not in the store"):
        eng.ingest_log(LOGS / "fake_logs.log", idsite=4)


def test_dry_run_and_time_filters():
    eng = engine()
    r = eng.ingest_log(LOGS / "filter_exclude_logs.log", idsite=1, dry_run=True,
                       exclude_older_than="2012-08-09 08:10:39 +0000",
                       exclude_newer_than="2012-08-31 00:00:00 +0000")
    assert (r.pageviews, r.batches, r.skipped) == (3, 0, {"date filtered out": 4})
    assert eng.visits_summary(1, "2012-08-01", "2012-09-30").nb_visits == 0
    r = eng.ingest_log(LOGS / "filter_exclude_logs.log", idsite=1,
                       exclude_older_than="2012-08-09 08:10:39 +0000",
                       exclude_newer_than="2012-08-31 00:00:00 +0000")
    assert eng.visits_summary(1, "2012-08-01", "2012-09-30").nb_visits == 3


def test_a_cron_over_a_growing_and_rotated_log_counts_each_line_once(tmp_path):
    # A store ingesting an access log and an NDJSON file every few
    # minutes while they grow, then after rotation and compression: each
    # line counts once, as the whole files ingested at once.
    log_bytes = (LOGS / "fake_logs.log").read_bytes()
    lines = log_bytes.splitlines(keepends=True)
    ndjson = "".join(
        f'{{"site":1,"visitor":"v{i % 7}","ts":{1717200000 + 97 * i},"url":"https://piwik.net/p{i % 5}"}}\n'
        for i in range(200)
    ).encode()
    nd_lines = ndjson.splitlines(keepends=True)
    store = tmp_path / "store"
    eng = hitmap.Engine(store)
    eng.add_site(1, hosts=["piwik.net"])
    log, nd = tmp_path / "access.log", tmp_path / "hits.ndjson"
    log.write_bytes(b"".join(lines[:10]) + lines[10][:12])
    nd.write_bytes(b"".join(nd_lines[:80]) + nd_lines[80][:20])
    assert eng.ingest_log(log, idsite=1).held_back == 1
    assert eng.ingest_ndjson(nd).accepted == 80
    log.write_bytes(log_bytes)
    nd.write_bytes(ndjson)
    assert eng.ingest_log(log, idsite=1).skipped_lines == 10
    again = eng.ingest_ndjson(nd)
    assert (again.accepted, again.skipped_lines) == (120, 80)
    # Rotated and compressed: nothing new.
    (tmp_path / "access.log.1.gz").write_bytes(gzip.compress(log_bytes))
    (tmp_path / "hits.ndjson.1.gz").write_bytes(gzip.compress(ndjson))
    log.unlink()
    nd.unlink()
    r = eng.ingest_log(tmp_path / "access.log.1.gz", idsite=1)
    assert r.pageviews + r.downloads == 0
    assert eng.ingest_ndjson(tmp_path / "hits.ndjson.1.gz").accepted == 0

    once = hitmap.Engine.in_memory()
    once.add_site(1, hosts=["piwik.net"])
    once.ingest_log(LOGS / "fake_logs.log", idsite=1)
    once.ingest_ndjson(ndjson)
    for date in ("2012-08-09,2012-08-11", "2024-06-01,2024-06-02"):
        assert visits(eng, date) == visits(once, date)


def device_detector_rules():
    """Matomo's DeviceDetector rules, where scripts/test-all installs them."""
    import os

    d = os.environ.get("HITMAP_DEVICE_DETECTOR") or str(ROOT / "target/device-detector/device_detector")
    assert os.path.isdir(d), f"{d}: run scripts/test-all once (it installs PyPI's device_detector)"
    return d


def test_device_detector_names_devices_as_matomo():
    eng = engine()
    eng.ingest_log(LOGS / "fake_logs.log", idsite=1, device_detector=device_detector_rules())
    query = "method={}&idSite=1&period=range&date=2012-08-09,2012-08-11&format=json"
    brands = {r["label"]: r["nb_visits"] for r in eng.api(query.format("DevicesDetection.getBrand"))}
    engines = {r["label"] for r in eng.api(query.format("DevicesDetection.getBrowserEngines"))}
    browsers = {r["label"] for r in eng.api(query.format("DevicesDetection.getBrowsers"))}
    assert brands.get("Apple", 0) > 0
    assert "Blink (Chrome, Opera)" in engines or "WebKit (Safari)" in engines
    # Matomo's names, which the built-in rules do not have.
    assert "RockMelt" in browsers
    plain = engine()
    plain.ingest_log(LOGS / "fake_logs.log", idsite=1)
    assert "RockMelt" not in {r["label"] for r in plain.api(query.format("DevicesDetection.getBrowsers"))}


def test_a_sites_exclusions_drop_replayed_tracking_requests(tmp_path):
    eng = hitmap.Engine.in_memory()
    eng.add_site(1, hosts=["x.org"], excluded_ips=["10.9.*.*"], excluded_user_agents=["HeadlessChrome"],
                 exclude_unknown_urls=True, excluded_parameters=["ref"])
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"

    def line(ip, url, agent):
        return (f'{ip} - - [01/Jun/2024:10:00:00 +0000] "GET /matomo.php?idsite=1&rec=1&url={url}&action_name=A '
                f'HTTP/1.1" 200 43 "-" "{agent}"\n')

    log = tmp_path / "tracking.log"
    log.write_text(line("10.9.1.1", "https%3A%2F%2Fx.org%2F", firefox)
                   + line("10.1.1.1", "https%3A%2F%2Fx.org%2F", "Mozilla/5.0 HeadlessChrome/120")
                   + line("10.1.1.2", "https%3A%2F%2Fy.org%2F", firefox)
                   + line("10.1.1.3", "https%3A%2F%2Fx.org%2Fa%3FREF%3D1%26q%3D2", firefox))
    eng.ingest_log(log, replay_tracking=True)
    summary = eng.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&format=json")
    assert summary["nb_visits"] == 1
    # The excluded parameter left the page URL (any case).
    pages = eng.api("method=Actions.getPageUrls&idSite=1&period=day&date=2024-06-01&flat=1&format=json")
    assert [r["label"] for r in pages] == ["/a?q=2"]
    with pytest.raises(Exception, match="10.1.2"):
        bad = hitmap.Engine.in_memory()
        bad.add_site(1, excluded_ips=["10.1.2"])
        bad.ingest_log(log, replay_tracking=True)
