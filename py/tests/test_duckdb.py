"""Differential tests: hitmap against DuckDB SQL (duckdb_model.py) on
generated hits, four sites in four time zones over six months (and ecommerce
orders on two of them). Every
number must be equal, not close."""

from __future__ import annotations

import datetime as dt
import itertools
import urllib.parse

import duckdb
import pytest

import duckdb_model as model
import hitmap

START = dt.date(2024, 1, 1)
DAYS = 182
VISITORS = 6000  # per site: about 300,000 hits in all

PERIODS = [
    ("day", "2024-03-31"),  # London's spring DST change
    ("day", "2024-04-07"),  # Lord Howe's 30-minute change
    ("week", "2024-03-10"),  # New York's change
    ("month", "2024-04-01"),
    ("year", "2024-01-01"),
    ("range", "2024-02-15,2024-05-20"),
]
SECTIONS = [None, "/news", "Work"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    hits = model.generate(seed=7, visitors=VISITORS, start=START, days=DAYS)
    path = str(tmp_path_factory.mktemp("hits") / "hits.ndjson")
    model.write_ndjson(hits, path)
    eng = hitmap.Engine.in_memory()
    for s in model.TEST_SITES:
        eng.add_site(s.id, timezone=s.timezone, hosts=[s.host], sections=s.sections,
                     dimensions=list(s.dimensions))
    res = eng.ingest_ndjson(path)
    assert res.rejected == [] and res.accepted == len(hits) > 250_000
    con = duckdb.connect()
    model.load(con, path, model.TEST_SITES, ["department"])
    assert con.execute("SELECT count(*) FROM hv").fetchone()[0] == len(hits)
    return eng, con, hits


def prefixes(site, section):
    if section is None:
        return None
    s = next(s for s in model.TEST_SITES if s.id == site)
    return s.sections.get(section, [section])


def bounds(period, date):
    from hitmap import _dates

    return _dates.period_bounds(period, date)


def split(period, date):
    """report()'s date and period arguments for an API period."""
    if period == "range":
        return tuple(date.split(",")), None
    return date, period


def engine_counts(summary, keys):
    return {k: summary[k] for k in keys}


def test_every_local_day_of_every_site(data):
    eng, con, _ = data
    keys = ("nb_visits", "nb_uniq_visitors", "nb_users", "nb_actions", "max_actions",
            "bounce_count", "sum_visit_length")
    for s in model.TEST_SITES:
        want = model.daily(con, s.id)
        series = eng.series(s.id, period="day", date=START - dt.timedelta(days=1),
                            end=START + dt.timedelta(days=DAYS), metrics=list(keys))
        got = {p["date"]: tuple(p[k] for k in keys) for p in series if p["nb_visits"]}
        assert len(want) > DAYS - 2
        assert got == want, s.timezone


@pytest.mark.parametrize("period, date", PERIODS)
def test_summaries_under_segments_and_sections(data, period, date):
    eng, con, _ = data
    first, last = bounds(period, date)
    segments = [(None, None)] + model.SEGMENTS
    checked = 0
    for s, (segment, sql), section in itertools.product(model.TEST_SITES, segments, SECTIONS):
        pre = prefixes(s.id, section)
        want = model.visits_summary(con, s.id, first, last, sql, pre)
        got = eng.visits_summary(s.id, (first, last), segment=segment, section=section)
        assert engine_counts(got, want) == want, (s.id, period, date, segment, section)
        want_actions = model.actions_summary(con, s.id, first, last, sql, pre)
        got_actions = eng.actions_summary(s.id, (first, last), segment=segment, section=section)
        assert got_actions.to_dict() == want_actions, (s.id, period, date, segment, section)
        checked += want["nb_visits"]
    assert checked > 1000


@pytest.mark.parametrize("period, date", [p for p in PERIODS if p[0] in ("day", "month", "range")])
def test_page_reports_row_by_row(data, period, date):
    eng, con, _ = data
    first, last = bounds(period, date)
    date_arg, period_arg = split(period, date)
    for s, (segment, sql), section in itertools.product(
        model.TEST_SITES[:2], [(None, None)] + model.SEGMENTS[:4], SECTIONS
    ):
        want = model.pages(con, s.id, first, last, sql, prefixes(s.id, section))
        report = eng.report("pages", s.id, date_arg, period=period_arg, segment=segment,
                            section=section)
        # A page without entries or exits leaves those columns out.
        got = {r["label"]: tuple(r.get(k, 0) for k in model.PAGE_KEYS) for r in report}
        assert got == want, (s.id, period, date, segment, section)


@pytest.mark.parametrize(
    "report, column",
    [("device_type", "device"), ("referrer_type", "referrer_type"), ("country", "country"),
     ("custom_dimension", '"dim_department"'), ("browser", "browser")],
)
def test_dimension_reports(data, report, column):
    eng, con, _ = data
    keys = ("nb_visits", "nb_uniq_visitors", "nb_actions", "bounce_count", "sum_visit_length")
    for (period, date), s, section in itertools.product(PERIODS[3:], model.TEST_SITES, SECTIONS[:2]):
        first, last = bounds(period, date)
        want = model.by_dimension(con, column, s.id, first, last, None, prefixes(s.id, section))
        want = {("Unknown" if k is None else k): v for k, v in want.items()}
        date_arg, period_arg = split(period, date)
        got_report = eng.report(report, s.id, date_arg, period=period_arg,
                                section=section,
                                dimension="department" if report == "custom_dimension" else None)
        # Rows are keyed by the stored value their segment names (labels
        # are Matomo's names: "Direct Entry", "United Kingdom", "Desktop");
        # Matomo's device type rows: "Unknown" has no segment, and every
        # type without visits follows with its visits (0) only.
        # Browser rows are segmented by Matomo's code (browserCode==FF):
        # keyed by their label, the stored name.
        def key(r):
            if report == "browser":
                return r["label"]
            segment = r.get("segment")
            value = urllib.parse.unquote(segment.split("==", 1)[1]) if segment else ""
            # Matomo's placeholder for no country (countryCode==xx).
            if report == "country" and value == "xx":
                value = ""
            return value or "Unknown"

        got = {key(r): tuple(r[k] for k in keys) for r in got_report if r["nb_visits"] > 0}
        assert got == want, (report, s.id, period, section)


def test_sections_report_counts_distinct_visits(data):
    eng, con, _ = data
    first, last = bounds("month", "2024-05-01")
    for s in model.TEST_SITES:
        rows = {r["label"]: r for r in eng.report("sections", s.id, "2024-05")}
        for name, pre in s.sections.items():
            want = model.visits_summary(con, s.id, first, last, None, pre)
            assert {k: rows[name][k] for k in want} == want, (s.id, name)


def test_dataframe_ingest_equals_ndjson_ingest(data):
    pd = pytest.importorskip("pandas")
    eng, _, hits = data
    site1 = [h for h in hits if h["site"] == 1]
    df = pd.DataFrame(site1)
    df["ts"] = pd.to_datetime(df["ts"], unit="s", utc=True)  # aware timestamps
    other = hitmap.Engine.in_memory()
    s = model.TEST_SITES[0]
    other.add_site(1, timezone=s.timezone, hosts=[s.host], sections=s.sections,
                   dimensions=list(s.dimensions))
    assert other.ingest(df).accepted == len(site1)
    for q in ("method=VisitsSummary.get&idSite=1&period=month&date=2024-01-01,2024-06-01",
              "method=Actions.getPageUrls&flat=1&idSite=1&period=year&date=2024-01-01",
              "method=CustomDimensions.getCustomDimension&dimension=department&idSite=1&period=range&date=2024-01-01,2024-06-30"):
        assert other.api(q) == eng.api(q), q


def test_dataframes_go_in_as_arrow_columns(data):
    """polars and pandas (with pyarrow) DataFrames take the Arrow path:
    the same answers as the records, the same rejects with row numbers,
    re-runs skipped, unreadable columns refused before anything goes in."""
    pl = pytest.importorskip("polars")
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    eng, _, hits = data
    site1 = [dict(h) for h in hits if h["site"] == 1]
    site1[3]["visitor"] = ""  # rejected: row 4
    site1[7]["site"] = 0  # rejected: row 8
    s = model.TEST_SITES[0]

    def fresh():
        e = hitmap.Engine.in_memory()
        e.add_site(1, timezone=s.timezone, hosts=[s.host], sections=s.sections,
                   dimensions=list(s.dimensions))
        return e

    by_records = fresh()
    want = by_records.ingest(site1)
    assert [r[0] for r in want.rejected] == [4, 8]
    frames = {
        "polars": pl.DataFrame(site1).with_columns(pl.from_epoch("ts", time_unit="s").dt.replace_time_zone("UTC")),
        "pandas": pd.DataFrame(site1),
    }
    frames["pandas"]["ts"] = pd.to_datetime(frames["pandas"]["ts"], unit="s", utc=True)
    queries = ("method=VisitsSummary.get&idSite=1&period=month&date=2024-01-01,2024-06-01",
               "method=Actions.getPageUrls&flat=1&idSite=1&period=year&date=2024-01-01",
               "method=Events.getCategory&idSite=1&period=year&date=2024-01-01",
               "method=CustomDimensions.getCustomDimension&dimension=department&idSite=1&period=range&date=2024-01-01,2024-06-30")
    for name, frame in frames.items():
        assert hasattr(frame, "__arrow_c_stream__"), name
        e = fresh()
        got = e.ingest(frame)
        assert (got.accepted, got.rejected) == (want.accepted, want.rejected), name
        for q in queries:
            assert e.api(q) == by_records.api(q), (name, q)
        again = e.ingest(frame)
        assert (again.accepted, again.skipped_lines) == (0, len(site1)), name
    import datetime as _dt

    naive = pl.DataFrame({"site": [1], "visitor": ["a"], "ts": [_dt.datetime(2024, 6, 1)],
                          "url": ["https://intranet.example.org/"]})
    with pytest.raises(ValueError, match="colour"):
        fresh().ingest(pl.DataFrame({"site": [1], "visitor": ["a"], "ts": [1], "colour": ["red"]}))
    e = fresh()
    with pytest.raises(ValueError, match="time zone"):
        e.ingest(naive)
    assert e.visits_summary(1, "2024-06-01")["nb_visits"] == 0


@pytest.mark.parametrize("period, date", [p for p in PERIODS if p[0] in ("day", "month", "year", "range")])
def test_goals_equal_sql_under_segments_and_sections(data, period, date):
    """Goals defined after the data (docs/goals.md) against the same
    definitions written as SQL over the sessionized hits."""
    eng, con, _ = data
    first, last = bounds(period, date)
    for s in model.TEST_SITES[:2]:
        for g in model.TEST_GOALS:
            eng.set_goal(s.id, g["idgoal"], g["name"], match=g["match_attribute"], pattern=g.get("pattern", ""),
                         pattern_type=g.get("pattern_type", "contains"),
                         case_sensitive=g.get("case_sensitive", False),
                         allow_multiple=g.get("allow_multiple", False), revenue=float(g.get("revenue", 0)),
                         event_value_as_revenue=g.get("event_value_as_revenue", False))
    converted = 0
    try:
        for s, (segment, sql), section in itertools.product(
            model.TEST_SITES[:2], [(None, None)] + model.SEGMENTS[:3], SECTIONS
        ):
            want = model.goals(con, s.id, first, last, model.TEST_GOALS, sql, prefixes(s.id, section))
            q = f"idSite={s.id}&period=range&date={first},{last}&format_metrics=0"
            if segment:
                q += "&segment=" + urllib.parse.quote(segment)
            if section:
                q += "&section=" + urllib.parse.quote(section)
            for goal in [None] + [g["idgoal"] for g in model.TEST_GOALS]:
                got = eng.api(f"method=Goals.get&{q}" + (f"&idGoal={goal}" if goal else ""))
                for t, suffix in (("all", ""), ("new", "_new_visit"), ("returning", "_returning_visit")):
                    uniq = got["nb_uniq_visitors_converted"] if t == "all" else want[goal][t][2]
                    row = (got[f"nb_conversions{suffix}"], got[f"nb_visits_converted{suffix}"], uniq,
                           round(float(got[f"revenue{suffix}"]), 2))
                    assert row == want[goal][t], (s.id, period, date, segment, section, goal, t)
            converted += want[None]["all"][1]
    finally:
        for s in model.TEST_SITES[:2]:
            for g in model.TEST_GOALS:
                eng.remove_goal(s.id, g["idgoal"])
    assert converted > 100


# --------------------------------------------------------------------------
# recorded conversions: ecommerce orders against SQL (docs/hits.md,
# "Conversions": the visit an order falls in, an order id once in the site)


def _orders(hits, seed):
    """Orders for some of the generated visitors: at the time of one of
    their hits (inside its visit, so that the SQL below attaches them as
    the engine does: orders that keep a visit open or make a visit of
    their own are the Rust goals proptest's, `conversions.rs`), an id
    reused now and then by the same visitor, or by another visitor on
    another day."""
    import random

    rng = random.Random(seed)
    by_visitor = {}
    for h in hits:
        by_visitor.setdefault((h["site"], h["visitor"]), []).append(h["ts"])
    out = []
    for (site, visitor), times in sorted(by_visitor.items()):
        if rng.random() > 0.3:
            continue
        last_id = None
        for _ in range(rng.choice([1, 1, 2, 3])):
            ts = rng.choice(times)
            roll = rng.random()
            if last_id and roll < 0.3:
                oid = last_id
            elif out and roll < 0.4:
                oid = rng.choice(out)["order"]["id"]
            else:
                oid = f"o{len(out)}"
            last_id = oid
            qty = rng.randrange(1, 4)
            out.append({"site": site, "visitor": visitor, "ts": ts, "type": "order",
                        "order": {"id": oid, "tax": rng.randrange(0, 400) / 4},
                        "revenue": rng.randrange(100, 40000) / 4,
                        "items": [{"sku": f"sku{rng.randrange(5)}", "price": 1.5, "quantity": qty}]})
    return out


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    sites = model.TEST_SITES[:2]
    hits = model.generate(seed=11, visitors=1500, start=START, days=60, sites=sites)
    orders = _orders(hits, seed=12)
    path = str(tmp_path_factory.mktemp("shop") / "hits.ndjson")
    model.write_ndjson(hits + orders, path)
    eng = hitmap.Engine.in_memory()
    for s in sites:
        eng.add_site(s.id, timezone=s.timezone, hosts=[s.host], sections=s.sections,
                     dimensions=list(s.dimensions), ecommerce=True)
    res = eng.ingest_ndjson(path)
    assert res.rejected == [] and res.accepted == len(hits) + len(orders)
    con = duckdb.connect()
    actions = str(tmp_path_factory.mktemp("shop-actions") / "hits.ndjson")
    model.write_ndjson(hits, actions)
    model.load(con, actions, sites, ["department"])
    con.execute("CREATE TABLE orders (site INTEGER, visitor VARCHAR, ts BIGINT, oid VARCHAR, revenue DOUBLE, "
                "tax DOUBLE, qty INTEGER)")
    con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(o["site"], o["visitor"], o["ts"], o["order"]["id"], o["revenue"], o["order"]["tax"],
                      o["items"][0]["quantity"]) for o in orders])
    # Each order's visit: the visitor's last visit of its local day that
    # started at or before it (the visit of the hit it falls on); an id
    # counts once in the site: the earliest by time, then visitor, then
    # revenue.
    con.execute("""
        CREATE TABLE counted AS
        WITH o AS (
            SELECT o.*, CAST(timezone(s.tz, to_timestamp(o.ts)) AS DATE) AS day
            FROM orders o JOIN sites s USING (site)
        ), attached AS (
            SELECT r.*, coalesce(
                (SELECT max_by(v.vid, v.first_ts) FROM visits v
                  WHERE v.site = r.site AND v.visitor = r.visitor AND v.day = r.day AND v.first_ts <= r.ts),
                (SELECT min_by(v.vid, v.first_ts) FROM visits v
                  WHERE v.site = r.site AND v.visitor = r.visitor AND v.day = r.day)) AS vid
            FROM o r
        ), ranked AS (
            SELECT a.*, row_number() OVER (PARTITION BY site, oid ORDER BY ts, visitor, revenue, tax) AS rn
            FROM attached a WHERE vid IS NOT NULL
        )
        SELECT * FROM ranked WHERE rn = 1
    """)
    return eng, con, orders


@pytest.mark.parametrize("period, date", [("day", "2024-01-15"), ("week", "2024-01-22"),
                                          ("month", "2024-02-01"), ("range", "2024-01-10,2024-02-20")])
def test_orders_equal_sql_under_segments_and_sections(shop, period, date):
    eng, con, orders = shop
    first, last = bounds(period, date)
    seen = 0
    for s, (segment, sql), section in itertools.product(
        model.TEST_SITES[:2], [(None, None)] + model.SEGMENTS[:3], SECTIONS
    ):
        cut = model._cut(s.id, first, last, sql, prefixes(s.id, section))
        row = con.execute(
            f"""WITH {cut}
            SELECT count(*), count(DISTINCT o.vid), coalesce(sum(o.revenue), 0), coalesce(sum(o.tax), 0),
                   coalesce(sum(o.qty), 0), count(DISTINCT o.visitor)
            FROM counted o JOIN cv USING (vid)"""
        ).fetchone()
        q = f"idSite={s.id}&period=range&date={first},{last}&format_metrics=0&idGoal=ecommerceOrder"
        if segment:
            q += "&segment=" + urllib.parse.quote(segment)
        if section:
            q += "&section=" + urllib.parse.quote(section)
        got = eng.api(f"method=Goals.get&{q}")
        assert (got["nb_conversions"], got["nb_visits_converted"], round(float(got["revenue"]), 2),
                round(float(got["revenue_tax"]), 2), got["items"], got["nb_uniq_visitors_converted"]) == (
            row[0], row[1], round(row[2], 2), round(row[3], 2), row[4], row[5]), (s.id, segment, section)
        seen += row[0]
    assert seen > (0 if period == "day" else 50)
