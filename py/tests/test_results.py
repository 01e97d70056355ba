"""Result objects, DataFrames, dates, progress and Ctrl-C."""

from __future__ import annotations

import _thread
import io
import builtins
import datetime as dt
import json
import signal
import threading

import pytest

import hitmap
from test_engine import fixture_engine

MONTH = "2024-06"


def test_summary_matches_the_api_and_has_typed_frames():
    eng = fixture_engine()
    s = eng.visits_summary(1, "2024-06-01", "2024-06-30", section="News")
    api = eng.api("method=VisitsSummary.get&idSite=1&period=range&date=2024-06-01,2024-06-30"
                  "&section=News&format_metrics=0")
    assert s.to_dict() == {k: api[k] for k in s.to_dict()}
    assert s.nb_visits == s["nb_visits"] == api["nb_visits"] > 0
    assert (s.start, s.end) == (dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    assert repr(s).startswith("Summary(site=1, 2024-06-01..2024-06-30, section='News': nb_visits=")
    assert "<table>" in s._repr_html_()
    with pytest.raises(AttributeError, match="no metric 'nb_vists'"):
        s.nb_vists

    df = s.to_pandas()
    assert list(df.columns[:4]) == ["date", "date_end", "nb_visits", "nb_uniq_visitors"]
    assert str(df["nb_visits"].dtype) == "int64" and str(df["bounce_rate"].dtype) == "float64"
    assert str(df["date"].dtype).startswith("datetime64")
    assert df.iloc[0].to_dict()["nb_uniq_visitors"] == s.nb_uniq_visitors

    import polars as pl

    pf = s.to_polars()
    assert pf.schema["date"] == pl.Date and pf.schema["nb_visits"] == pl.Int64
    assert pf.row(0, named=True)["date"] == dt.date(2024, 6, 1)


def test_all_date_forms_name_the_same_period():
    eng = fixture_engine()
    june = eng.visits_summary(1, MONTH).to_dict()
    assert eng.visits_summary(1, dt.date(2024, 6, 1), dt.date(2024, 6, 30)).to_dict() == june
    assert eng.visits_summary(1, ("2024-06-01", "2024-06-30")).to_dict() == june
    # aware datetimes are instants, placed in the site's zone (London, +1 in June)
    start = dt.datetime(2024, 5, 31, 23, 30, tzinfo=dt.timezone.utc)
    end = dt.datetime(2024, 6, 30, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert eng.visits_summary(1, start, end).start == dt.date(2024, 6, 1)
    assert eng.visits_summary(1, start, end).to_dict() == june
    year = eng.visits_summary(1, "2024")
    assert (year.start, year.end) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    with pytest.raises(ValueError, match="naive datetime"):
        eng.visits_summary(1, dt.datetime(2024, 6, 1), "2024-06-30")
    with pytest.raises(TypeError, match="expected a datetime.date"):
        eng.visits_summary(1, 20240601, "2024-06-30")
    with pytest.raises(ValueError, match="not a calendar day"):
        eng.visits_summary(1, "2024-02-30", "2024-03-01")


def without_nulls(rows):
    return [{k: v for k, v in r.items() if v is not None} for r in rows]


def test_report_rows_frames_and_dict():
    eng = fixture_engine()
    segment = "deviceType==desktop"
    r = eng.report("pages", 1, MONTH, segment=segment)
    api = eng.api("method=Actions.getPageUrls&flat=1&idSite=1&period=month&date=2024-06-01"
                  "&format_metrics=0&segment=deviceType%3D%3Ddesktop")
    # A row leaves out a column without a value (an empty min_bandwidth).
    assert r.rows == without_nulls(api) and len(r) == len(api) > 10
    df = r.to_pandas()
    assert list(df.columns[:4]) == ["label", "nb_visits", "nb_uniq_visitors", "nb_hits"]
    assert df["label"].tolist() == [row["label"] for row in api]
    assert df["nb_uniq_visitors"].dtype == "int64" and df["exit_rate"].dtype == "float64"
    assert r.to_polars().height == len(api)
    d = r.to_dict()
    assert (d["report"], d["start"], d["segment"], len(d["rows"])) == ("pages", "2024-06-01", segment, len(api))
    json.dumps(d)
    assert repr(r).startswith("Report('pages', site=1, 2024-06-01..2024-06-30, segment='deviceType==desktop': ")
    assert r._repr_html_().count("<tr>") == 11  # header + 10 rows, then a count of the rest

    dims = eng.report("custom_dimension", 1, MONTH, dimension="department").to_pandas()
    assert dims.columns[-1] == "segment" and dims["segment"].iloc[0].startswith("department==")
    empty = eng.report("downloads", 1, "2023-01")
    assert len(empty) == 0 and list(empty.to_pandas().columns) == ["label", "nb_visits", "nb_uniq_visitors", "nb_hits"]
    with pytest.raises(ValueError, match="unknown report 'page'"):
        eng.report("page", 1, MONTH)
    with pytest.raises(ValueError, match="dimension="):
        eng.report("custom_dimension", 1, MONTH)
    with pytest.raises(hitmap.SegmentError):
        eng.report("pages", 1, MONTH, segment="nope==1")


def test_series_rows_per_period_with_zeros():
    eng = fixture_engine()
    se = eng.series(1, period="day", date="2024-06-01", end="2024-06-10",
                    metrics=["nb_visits", "nb_uniq_visitors", "nb_pageviews"])
    assert len(se) == 10
    df = se.to_pandas()
    assert list(df.columns) == ["date", "date_end", "nb_visits", "nb_uniq_visitors", "nb_pageviews"]
    by_day = eng.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01,2024-06-10")
    assert df["nb_visits"].tolist() == [v["nb_visits"] if v else 0 for v in by_day.values()]
    assert df["nb_visits"].dtype == "int64" and df["nb_visits"].sum() > 0
    assert se.to_dict()["date"][0] == dt.date(2024, 6, 1)
    months = eng.series(1, period="month", date="last3")
    assert len(months) == 3 and months.metrics[0] == "nb_visits"
    with pytest.raises(ValueError, match="unknown metric"):
        eng.series(1, metrics=["nb_visitz"])
    with pytest.raises(ValueError, match="period must be"):
        eng.series(1, period="range")


def test_progress_bar_and_the_warning_without_tqdm(monkeypatch, capsys):
    data = (hitmap_root() / "php/tests/fixtures/hits.ndjson").read_bytes()
    eng = new_engine()
    assert eng.ingest_ndjson(data, progress=True).accepted == 201
    assert "hitmap ingest: 100%" in capsys.readouterr().err

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    eng = new_engine()
    with pytest.warns(RuntimeWarning, match="pip install tqdm"):
        assert eng.ingest_ndjson(data, progress=True).accepted == 201


def big_input(lines=300_000):
    row = '{{"site":1,"visitor":"v{0}","ts":{1},"url":"https://x.org/p/{0}","title":"Page {0}"}}\n'
    return "".join(row.format(i % 5000, 1717200000 + i) for i in range(lines)).encode()


@pytest.fixture
def ctrl_c():
    """Python's own SIGINT handler for the test: a suite started in the
    background (or by a service) inherits SIGINT ignored, and then
    `_thread.interrupt_main` does nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_cancels_the_whole_batch_and_the_engine_goes_on(ctrl_c):
    data = big_input()
    eng = new_engine()
    seen = []

    def interrupt_at_first_check(done):
        seen.append(done)
        if len(seen) == 1:
            _thread.interrupt_main()  # what Ctrl-C does

    with pytest.raises(KeyboardInterrupt):
        eng._engine.ingest_ndjson_stream(io.BytesIO(data), interrupt_at_first_check)
    assert 0 < seen[-1] < len(data)  # stopped part-way through the parse
    assert eng.api("method=VisitsSummary.get&idSite=1&period=year&date=2024-01-01")["nb_visits"] == 0
    assert eng.ingest_ndjson(data[:1000].rsplit(b"\n", 1)[0]).accepted > 0


def test_ctrl_c_from_another_thread_without_progress(ctrl_c):
    data = big_input()
    eng = new_engine()
    timer = threading.Timer(0.01, _thread.interrupt_main)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            eng.ingest_ndjson(data)
            eng.ingest_ndjson(data)  # in case the first one won the race
    finally:
        timer.cancel()
    # whole batches only: none, or the first one that won the race
    once = new_engine()
    once.ingest_ndjson(data)
    assert eng.visits_summary(1, "2024").nb_visits in (0, once.visits_summary(1, "2024").nb_visits)
    assert eng.ingest_ndjson(b'{"site":1,"visitor":"z","ts":1,"url":"https://x.org/"}\n').accepted == 1


@pytest.mark.parametrize(
    "records, error, text",
    [
        ({"site": 1}, TypeError, "list of dicts"),
        ([1, 2], TypeError, "record 1: expected a dict"),
        ([{"site": 1, "visitor": "a", "ts": dt.datetime(2024, 1, 1)}], ValueError, "naive datetime"),
    ],
)
def test_bad_records_raise_the_right_exception(records, error, text):
    eng = new_engine()
    with pytest.raises(error, match=text):
        eng.ingest(records)
    assert eng.ingest([{"site": 1, "visitor": "a", "ts": 1, "url": "https://x.org/"}]).accepted == 1


def test_wrong_argument_types_raise_type_errors():
    eng = new_engine()
    with pytest.raises(TypeError, match="source"):
        eng.ingest_ndjson(12)
    with pytest.raises(TypeError):
        eng.add_site("one")
    with pytest.raises(hitmap.HitmapError, match="time zone"):
        eng.add_site(2, timezone="Mars/Olympus")
    with pytest.raises(hitmap.UnknownSiteError):
        eng.visits_summary(9, MONTH)


def test_polars_round_trip_ingest():
    import polars as pl

    eng = fixture_engine()
    report = eng.report("pages", 1, MONTH)
    frame = pl.DataFrame({
        "site": [1, 1], "visitor": ["p", "p"], "ts": [1717225200, 1717225260],
        "url": ["https://intranet.example.org/new-page", "https://intranet.example.org/"],
    })
    assert eng.ingest(frame).accepted == 2
    after = {r["label"]: r for r in eng.report("pages", 1, MONTH)}
    assert after["/new-page"]["nb_uniq_visitors"] == 1
    assert after["/"]["nb_hits"] == {r["label"]: r for r in report}["/"]["nb_hits"] + 1


def hitmap_root():
    import pathlib

    return pathlib.Path(__file__).resolve().parents[2]


def new_engine():
    eng = hitmap.Engine.in_memory()
    eng.add_site(1)
    return eng


def test_reports_come_as_arrow_columns_equal_to_the_json_rows():
    import pyarrow as pa
    import polars as pl

    eng = fixture_engine()
    for kind, (method, extra) in hitmap.REPORTS.items():
        for segment in (None, "deviceType==desktop"):
            arrow = eng.report(kind, 1, "2024-06", dimension="department", segment=segment)
            assert arrow._arrow is not None, kind
            # The same report built from the JSON rows, as without pyarrow.
            query = hitmap.Engine._query(method, 1, "month", "2024-06-01",
                                         "dimension=department" if kind == "custom_dimension" else extra,
                                         segment)
            json_rows = eng.api(query)
            from_json = hitmap.Report(kind, 1, arrow.start, arrow.end, arrow._columns, json_rows, segment)
            assert arrow.rows == without_nulls(json_rows) == from_json.rows, kind
            table = arrow.to_arrow()
            assert table.column_names == list(hitmap._report_columns(kind))
            assert table.equals(from_json.to_arrow()), kind
            for c in table.column_names:
                want = {"str": pa.string(), "int": pa.int64(), "float": pa.float64()}[
                    hitmap._results._kind_of(c)]
                assert table.schema.field(c).type == want, (kind, c)
            assert arrow.to_polars().equals(from_json.to_polars()), kind
            assert isinstance(arrow.to_polars(), pl.DataFrame)

    q = ("method=Actions.getPageUrls&flat=1&idSite=1&period=month&date=2024-06-01"
         "&format_metrics=0&filter_limit=-1")
    t = eng.api_arrow(q)
    assert t.to_pylist() == [{k: r.get(k) for k in t.column_names} for r in eng.api(q)]
    one = eng.api_arrow("method=VisitsSummary.get&idSite=1&period=month&date=2024-06-01")
    assert one.num_rows == 1 and one.column("nb_visits").to_pylist() == [eng.visits_summary(1, "2024-06").nb_visits]
    with pytest.raises(hitmap.RequestError, match="one period"):
        eng.api_arrow("method=VisitsSummary.get&idSite=1&period=day&date=last7")
    with pytest.raises(hitmap.RequestError, match="format"):
        eng.api_arrow(q + "&format=csv")


def test_reports_without_pyarrow_use_the_json_rows(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError("no pyarrow here")
        return real_import(name, *args, **kwargs)

    eng = fixture_engine()
    with_arrow = eng.report("pages", 1, "2024-06")
    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    plain = eng.report("pages", 1, "2024-06")
    assert plain._arrow is None and plain.rows == with_arrow.rows
    assert plain.to_polars().equals(with_arrow.to_polars())
