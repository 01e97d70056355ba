"""hitmap and DuckDB side by side on the same hits, in one process run.

    python benches/compare.py                       # the sample year: ~10M hits
    python benches/compare.py --days 30 --visitors 3000 --repeat 3   # a quick look

Both engines get the same NDJSON file (the project's seeded sample, see
``hitmap.sample``). DuckDB sessionizes with window functions exactly per
spec (``py/tests/duckdb_model.py``, the SQL the differential tests check
against hitmap) and answers from its materialized visit tables; hitmap
answers from its day archives. Every answer is checked to be identical
before its time counts. Prints medians, the DuckDB/hitmap ratio (how many
times faster hitmap is) and bytes on disk per hit.

hitmap is timed through its Python API (``Engine.api``, JSON decoding
included); its queries use every core (``Engine.query_threads``), its
ingest one. DuckDB runs with each of ``--duckdb-threads`` (default 1 and
2) and archives from NDJSON and from Parquet (its best input: typed
columns, written once before timing); queries are timed on each thread
count, and each ratio is against DuckDB on that many threads.
"""

from __future__ import annotations

import argparse
import io
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time
import urllib.parse
from typing import Any, Callable, List, Tuple

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "py" / "tests"))

import duckdb  # noqa: E402

import duckdb_model as model  # noqa: E402
import hitmap  # noqa: E402
from hitmap import sample  # noqa: E402

SEGMENT = "deviceType==desktop;department==HR,department==IT;countryCode==gb"
SEGMENT_SQL = "v.device = 'desktop' AND v.\"dim_department\" IN ('HR', 'IT') AND v.country = 'gb'"
SECTION = "News"
DIMENSIONS = ["department", "office", "role"]
SUMMARY_KEYS = ("nb_visits", "nb_uniq_visitors", "nb_users", "nb_actions", "max_actions",
                "bounce_count", "sum_visit_length")


def dir_bytes(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def timed(f: Callable[[], Any]) -> Tuple[float, Any]:
    t = time.perf_counter()
    out = f()
    return time.perf_counter() - t, out


def median_ms(f: Callable[[], Any], repeat: int) -> Tuple[float, Any]:
    out = f()  # warm: first-touch costs are not the steady state
    times = []
    for _ in range(repeat):
        t, out = timed(f)
        times.append(t * 1e3)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--visitors", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--duckdb-threads", default="1,2",
                    help="comma-separated thread counts for DuckDB (default 1,2)")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="hitmap-compare-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: pathlib.Path) -> None:
    start = "2025-01-01"
    gen_s, data = timed(lambda: sample.ndjson(days=args.days, visitors=args.visitors, start=start))
    path = work / "hits.ndjson"
    path.write_bytes(data)
    n_hits = data.count(b"\n")
    print(f"data: {n_hits:,} hits, {args.visitors:,} visitors, {args.days} days, "
          f"{len(data) / n_hits:.0f} bytes/line NDJSON (generated in {gen_s:.1f} s)")
    threads = [int(t) for t in str(args.duckdb_threads).split(",")]
    print(f"hitmap {hitmap.__version__}, DuckDB {duckdb.__version__} with {threads} thread(s), "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} cores\n")

    # ---- archive everything: NDJSON in, sessionized and aggregated --------
    store = work / "store"
    eng = hitmap.Engine(store)
    eng.add_site(1, **sample.SITE)
    hm_s, res = timed(lambda: eng.ingest_ndjson(data))
    assert res.rejected == [] and res.accepted == n_hits, res
    mem = hitmap.Engine.in_memory()
    mem.add_site(1, **sample.SITE)
    hm_mem_s, _ = timed(lambda: mem.ingest_ndjson(data))
    del mem

    site = model.Site(1, sample.SITE["timezone"], sample.SITE["hosts"][0], sample.SITE["sections"])
    # DuckDB's best input: the raw hits as Parquet, written before timing.
    raw = work / "raw.parquet"
    prep = duckdb.connect()
    model.load(prep, str(path), [site], DIMENSIONS)
    prep.execute(f"COPY raw TO '{raw}' (FORMAT parquet, COMPRESSION zstd)")
    prep.close()
    cons = {}
    archive = {}
    duck_full_bytes = 0
    for t in threads:
        for fmt in ("NDJSON", "Parquet"):
            db_path = work / f"duck-{fmt}-{t}.db"
            con = duckdb.connect(str(db_path))
            con.execute(f"SET threads = {t}")
            if fmt == "NDJSON":
                archive[fmt, t], _ = timed(lambda: model.load(con, str(path), [site], DIMENSIONS))
            else:
                archive[fmt, t], _ = timed(lambda: model.load_parquet(con, str(raw), [site], DIMENSIONS))
            con.execute("CHECKPOINT")
            duck_full_bytes = db_path.stat().st_size
            if fmt == "Parquet":
                cons[t] = con
            else:
                con.close()
                db_path.unlink()

    rows: List[Tuple[str, float, List[float], str]] = []
    for fmt in ("NDJSON", "Parquet"):
        rows.append((f"archive all: hitmap NDJSON -> visits (in memory); DuckDB from {fmt}", hm_mem_s * 1e3,
                     [archive[fmt, t] * 1e3 for t in threads], f"hitmap {n_hits / hm_mem_s / 1e6:.2f} M hits/s"))
        rows.append((f"archive all: hitmap NDJSON -> durable store; DuckDB from {fmt}", hm_s * 1e3,
                     [archive[fmt, t] * 1e3 for t in threads], f"hitmap {n_hits / hm_s / 1e6:.2f} M hits/s"))

    def duck(f: Callable[[Any], Any]) -> Tuple[List[float], Any]:
        """``f(con)`` timed on each DuckDB thread count; its answers agree."""
        times, answers = [], []
        for t in threads:
            ms, out = median_ms(lambda: f(cons[t]), args.repeat)
            times.append(ms)
            answers.append(out)
        assert all(a == answers[0] for a in answers), "DuckDB answers differ between thread counts"
        return times, answers[0]

    # ---- queries ----------------------------------------------------------
    import datetime as dt

    d0 = dt.date.fromisoformat(start)
    last = d0 + dt.timedelta(days=args.days - 1)

    def at(n: int) -> dt.date:
        return min(d0 + dt.timedelta(days=n), last)

    spans = [("1 day", at(40), at(40)), ("30 days", at(59), at(88)), ("365 days", d0, at(364))]
    for label, a, b in spans:
        for variant, segment, seg_sql, section in [
            ("", None, None, None),
            (" +segment", SEGMENT, SEGMENT_SQL, None),
            (" +section", None, None, SECTION),
            (" +segment +section", SEGMENT, SEGMENT_SQL, SECTION),
        ]:
            q = f"method=VisitsSummary.get&idSite=1&period=range&date={a},{b}&format_metrics=0"
            if segment:
                q += "&segment=" + urllib.parse.quote(segment, safe="")
            if section:
                q += "&section=" + section
            prefixes = sample.SITE["sections"][section] if section else None
            hm_ms, hm = median_ms(lambda: eng.api(q), args.repeat)
            dk_ms, dk = duck(lambda c: model.visits_summary(c, 1, a, b, seg_sql, prefixes))
            got = {k: (hm or {}).get(k, 0) for k in SUMMARY_KEYS}
            assert got == dk, (label, variant, got, dk)
            rows.append((f"VisitsSummary {label}{variant}", hm_ms, dk_ms, f"{dk['nb_uniq_visitors']:,} uniq"))

    a, b = at(59), at(88)
    for variant, segment, seg_sql in [("", None, None), (" +segment", SEGMENT, SEGMENT_SQL)]:
        q = f"method=Actions.getPageUrls&flat=1&idSite=1&period=range&date={a},{b}&format_metrics=0&filter_limit=-1"
        if segment:
            q += "&segment=" + urllib.parse.quote(segment, safe="")
        hm_ms, hm = median_ms(lambda: eng.api(q), args.repeat)
        dk_ms, dk = duck(lambda c: model.pages(c, 1, a, b, seg_sql))
        # A page without entries or exits leaves those columns out (Matomo's shape).
        got = {r["label"]: tuple(r.get(k, 0) for k in model.PAGE_KEYS) for r in hm}
        assert got == dk, ("pages", variant)
        rows.append((f"page report, 30 days{variant}", hm_ms, dk_ms, f"{len(got):,} rows"))
        # The same rows as a pyarrow table (Engine.report(...).to_arrow()): no JSON.
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            continue
        hm_ms, table = median_ms(lambda: eng.report("pages", 1, a, b, segment=segment).to_arrow(),
                                 args.repeat)
        cols = table.to_pydict()
        got = {label: tuple(cols[k][i] for k in model.PAGE_KEYS) for i, label in enumerate(cols["label"])}
        assert got == dk, ("pages as Arrow", variant)
        rows.append((f"page report, 30 days{variant}, as Arrow", hm_ms, dk_ms, f"{len(got):,} rows"))

    q = f"method=VisitsSummary.get&idSite=1&period=day&date={d0},{at(364)}&format_metrics=0"
    hm_ms, hm = median_ms(lambda: eng.api(q), args.repeat)
    dk_ms, dk = duck(lambda c: model.daily(c, 1, d0, at(364)))
    got = {dt.date.fromisoformat(k): tuple(v[k2] for k2 in SUMMARY_KEYS) for k, v in hm.items() if v}
    assert got == dk, "daily series"
    rows.append(("daily series, every day", hm_ms, dk_ms, f"{len(got)} days"))

    # ---- Python ingest paths ----------------------------------------------
    sub = data[: data.index(b"\n", min(len(data) - 1, 40_000_000)) + 1]
    sub_n = sub.count(b"\n")
    e2 = hitmap.Engine.in_memory()
    e2.add_site(1, **sample.SITE)
    nd_s, _ = timed(lambda: e2.ingest_ndjson(sub))
    import json

    records = [json.loads(line) for line in sub[: sub.index(b"\n", min(len(sub) - 1, 20_000_000)) + 1].splitlines()]
    e3 = hitmap.Engine.in_memory()
    e3.add_site(1, **sample.SITE)
    rec_s, _ = timed(lambda: e3.ingest(records))
    # A polars DataFrame goes in as Arrow columns (no JSON in between).
    try:
        import polars as pl
    except ImportError:
        pl = None
    frame_note = "polars not installed"
    if pl is not None:
        frame = pl.read_ndjson(io.BytesIO(sub))
        e4 = hitmap.Engine.in_memory()
        e4.add_site(1, **sample.SITE)
        df_s, out = timed(lambda: e4.ingest(frame))
        assert out.accepted == sub_n, "DataFrame ingest accepted every row"
        q = f"method=VisitsSummary.get&idSite=1&period=range&date={d0},{at(args.days - 1)}"
        assert e4.api(q) == e2.api(q), "DataFrame ingest answers like NDJSON ingest"
        del e4

        def fresh_ingest() -> None:
            e = hitmap.Engine.in_memory()
            e.add_site(1, **sample.SITE)
            e.ingest(frame)

        warm_ms, _ = median_ms(fresh_ingest, args.repeat)
        frame_note = (f"{sub_n / df_s / 1e6:.2f} M rows/s first call, {sub_n / warm_ms / 1e3:.2f} M rows/s "
                      f"warm (median of {args.repeat}, a fresh engine each) ({sub_n:,} rows, answers equal to "
                      f"ingest_ndjson's)")

    # ---- report -----------------------------------------------------------
    width = max(len(r[0]) for r in rows)
    print(f"hitmap queries on {eng.query_threads} thread(s); ratio = DuckDB time / hitmap time")
    head = "".join(f"  {f'DuckDB {t}t ms':>12}  {f'ratio {t}t':>9}" for t in threads)
    print(f"{'':{width}}  {'hitmap ms':>10}{head}")
    for name, h, ds, note in rows:
        cells = "".join(f"  {d:12.2f}  {d / h:8.1f}x" for d in ds)
        print(f"{name:{width}}  {h:10.2f}{cells}  {note}")
    print()
    con = cons[threads[0]]
    con.execute("DROP TABLE hv")
    con.execute("DROP TABLE visits")
    for c in cons.values():
        c.close()
    con = duckdb.connect(str(work / "raw-only.db"))
    con.execute(f"CREATE TABLE raw AS SELECT * FROM '{raw}'")
    con.close()
    heap = sum(eng.memory_usage().values())
    print(f"engine heap after the year (Engine.memory_usage, the store's engine): {heap / n_hits:.1f} bytes/hit ({heap / 1e6:.0f} MB)")
    print("bytes on disk per hit (everything each needs to answer the reports above):")
    print(f"  hitmap store (day archives, dictionaries, indexes): {dir_bytes(store) / n_hits:6.2f}")
    print(f"  DuckDB database with raw hits + visit tables:        {duck_full_bytes / n_hits:6.2f}")
    print(f"  DuckDB database with raw hits only:                  {(work / 'raw-only.db').stat().st_size / n_hits:6.2f}")
    print(f"  Parquet (zstd) of the raw hits:                      {raw.stat().st_size / n_hits:6.2f}")
    print(f"  NDJSON input:                                        {len(data) / n_hits:6.2f}")
    print()
    print("ingest from Python (in memory, one batch):")
    print(f"  ingest_ndjson(bytes): {sub_n / nd_s / 1e6:.2f} M lines/s ({sub_n:,} lines)")
    print(f"  ingest(list of dicts): {len(records) / rec_s / 1e6:.2f} M records/s ({len(records):,} records)")
    print(f"  ingest(polars DataFrame): {frame_note}")


if __name__ == "__main__":
    main()
