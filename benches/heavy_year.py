"""A heavy year, side by side with DuckDB in one run (issue 37).

    scripts/bench-heavy            # builds, generates (once) and runs this
    target/py-venv/bin/python benches/heavy_year.py --dir target/bench-heavy

The data: ``hitmap sample --profile heavy`` over a year of 30,000
visitors, about 11.7 million hits in 4 GB of NDJSON (RFC 3339 timestamps
with the site's offset; title, user, device, browser, OS, country and
language on every hit; two visit dimensions on three hits in four; 8,000
pages with long URLs and titles; about 347 bytes a line). DuckDB's input
is the same hits as Parquet (typed columns, timestamps already integers:
its best input, written once before timing).

Timed, each in a process of its own (cold: nothing cached but the OS's
page cache, which holds the input for both):

- ``hitmap ingest STORE year.ndjson``: NDJSON into the durable store
  (parse, visits, day archives, dictionaries, written and synced);
- ``Engine.ingest_ndjson`` from Python into a durable store (the file's
  bytes read before timing);
- ``Engine.ingest`` of a polars DataFrame (Arrow columns) into an engine
  in memory, on the first ``--frame-rows`` rows;
- DuckDB on ``--threads`` threads sessionizing the Parquet hits into its
  visit tables (``py/tests/duckdb_model.py``: the SQL the differential
  tests check hitmap against).

The year's ``VisitsSummary.get`` answers of hitmap's store and DuckDB's
tables are checked equal before anything is printed. Printed: seconds,
wall and CPU, million hits per second, and DuckDB's time over hitmap's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "py" / "tests"))

import duckdb  # noqa: E402

import duckdb_model as model  # noqa: E402

TZ = "Europe/London"
HOST = "intranet.example.org"
SECTIONS = {"News": ["/news"], "HR": ["/teams/hr", "/policies", "/jobs"], "IT": ["/teams/it", "/it-help"]}
DIMENSIONS = ["department", "office", "role"]
KEYS = ("nb_visits", "nb_uniq_visitors", "nb_users", "nb_actions", "max_actions", "bounce_count",
        "sum_visit_length")


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_process(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds of a child process, and its stdout."""
    cpu, t = children_cpu(), time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return time.perf_counter() - t, children_cpu() - cpu, out.stdout + out.stderr


def init_store(bin_: str, store: pathlib.Path) -> None:
    shutil.rmtree(store, ignore_errors=True)
    cmd = [bin_, "init", str(store), "--site", "1", "--timezone", TZ, "--host", HOST]
    for name, prefixes in SECTIONS.items():
        cmd += ["--section", f"{name}={','.join(prefixes)}"]
    for d in DIMENSIONS:
        cmd += ["--dimension", d]
    subprocess.run(cmd, check=True, capture_output=True)


PY_INGEST = """
import json, sys, time, hitmap
store, path = sys.argv[1], sys.argv[2]
data = open(path, 'rb').read()
eng = hitmap.Engine(store)
t = time.perf_counter()
res = eng.ingest_ndjson(data)
print(json.dumps({"s": time.perf_counter() - t, "accepted": res.accepted, "rejected": len(res.rejected)}))
"""

PY_FRAME = """
import io, json, sys, time, hitmap, polars as pl
path, rows = sys.argv[1], int(sys.argv[2])
with open(path, 'rb') as f:
    head = b''.join(line for _, line in zip(range(rows), f))
frame = pl.read_ndjson(io.BytesIO(head), schema_overrides={"ts": pl.Utf8})
frame = frame.with_columns(pl.col("ts").str.to_datetime("%%Y-%%m-%%dT%%H:%%M:%%S%%:z", time_zone="UTC"))
eng = hitmap.Engine.in_memory()
eng.add_site(1, timezone=%r, hosts=[%r], sections=%r, dimensions=%r)
t = time.perf_counter()
res = eng.ingest(frame)
print(json.dumps({"s": time.perf_counter() - t, "accepted": res.accepted, "rows": frame.height}))
""" % (TZ, HOST, SECTIONS, DIMENSIONS)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=str(ROOT / "target" / "bench-heavy"))
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "hitmap"))
    ap.add_argument("--visitors", type=int, default=30_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--threads", type=int, default=2, help="DuckDB's threads (hitmap uses every core)")
    ap.add_argument("--frame-rows", type=int, default=3_000_000)
    a = ap.parse_args()
    d = pathlib.Path(a.dir)
    d.mkdir(parents=True, exist_ok=True)
    ndjson = d / f"heavy-{a.days}d-{a.visitors}v.ndjson"
    parquet = ndjson.with_suffix(".parquet")
    start = dt.date(2025, 1, 1)
    last = start + dt.timedelta(days=a.days - 1)
    if not ndjson.exists():
        subprocess.run([a.bin, "sample", str(ndjson), "--profile", "heavy", "--days", str(a.days),
                        "--visitors", str(a.visitors), "--start", str(start)], check=True)
    site = model.Site(1, TZ, HOST, SECTIONS)
    if not parquet.exists():
        prep = duckdb.connect()
        model.load(prep, str(ndjson), [site], DIMENSIONS, rfc3339=True, sessionize_too=False)
        prep.execute(f"COPY raw TO '{parquet}' (FORMAT parquet, COMPRESSION zstd)")
        prep.close()
    size = ndjson.stat().st_size
    with open(ndjson, "rb") as f:
        n_hits = sum(1 for _ in f)
    print(f"data: {n_hits:,} hits, {a.visitors:,} visitors, {a.days} days, {size / n_hits:.0f} bytes/line "
          f"NDJSON ({size / 1e9:.2f} GB), RFC 3339 timestamps; DuckDB {duckdb.__version__} on {a.threads} "
          f"thread(s), {os.cpu_count()} cores")
    # Warm the page cache for both: neither is timed reading a cold disk.
    with open(ndjson, "rb") as f:
        while f.read(1 << 24):
            pass

    rows = []
    store = d / "store"
    init_store(a.bin, store)
    wall, cpu, out = timed_process([a.bin, "ingest", str(store), str(ndjson), "--no-progress"])
    rows.append(("hitmap ingest (CLI): NDJSON -> durable store", wall, cpu))
    answer = subprocess.run([a.bin, "report", str(store), "--site", "1", "--period", "range",
                             "--date", f"{start},{last}", "--method", "VisitsSummary.get",
                             "--format", "json", "--param", "format_metrics=0"],
                            check=True, capture_output=True, text=True).stdout
    hm = json.loads(answer)

    py = sys.executable
    store2 = d / "store-py"
    init_store(a.bin, store2)
    r = json.loads(subprocess.run([py, "-c", PY_INGEST, str(store2), str(ndjson)], check=True,
                                  capture_output=True, text=True).stdout)
    assert r["accepted"] == n_hits and r["rejected"] == 0, r
    rows.append(("Python Engine.ingest_ndjson -> durable store", r["s"], None))
    shutil.rmtree(store2, ignore_errors=True)

    frame_row = None
    try:
        r = json.loads(subprocess.run([py, "-c", PY_FRAME, str(ndjson), str(a.frame_rows)], check=True,
                                      capture_output=True, text=True).stdout)
        assert r["accepted"] == r["rows"], r
        frame_row = (f"Python Engine.ingest(polars DataFrame), {r['rows']:,} rows, in memory", r["s"], r["rows"])
    except (subprocess.CalledProcessError, ImportError) as e:
        print(f"(polars DataFrame ingest not measured: {e})")

    db = d / "duck.db"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute(f"SET threads = {a.threads}")
    cpu_before = time.process_time()
    t = time.perf_counter()
    model.load_parquet(con, str(parquet), [site], DIMENSIONS)
    duck_wall = time.perf_counter() - t
    duck_cpu = time.process_time() - cpu_before
    dk = model.visits_summary(con, 1, start, last, None, None)
    got = {k: (hm or {}).get(k, 0) for k in KEYS}
    assert got == dk, ("the year's VisitsSummary differs", got, dk)
    con.close()
    db.unlink(missing_ok=True)

    print(f"answers equal: the year's VisitsSummary.get ({dk['nb_visits']:,} visits, "
          f"{dk['nb_uniq_visitors']:,} visitors) from hitmap's store and DuckDB's tables\n")
    print(f"{'':52} {'wall s':>8} {'CPU s':>8} {'M hits/s':>9} {'DuckDB/hitmap':>14}")
    print(f"{'DuckDB from Parquet -> visit tables':52} {duck_wall:8.1f} {duck_cpu:8.1f} "
          f"{n_hits / duck_wall / 1e6:9.2f} {'':>14}")
    for name, wall, cpu in rows:
        cpu_s = f"{cpu:8.1f}" if cpu is not None else f"{'':>8}"
        print(f"{name:52} {wall:8.1f} {cpu_s} {n_hits / wall / 1e6:9.2f} {duck_wall / wall:13.1f}x")
    if frame_row:
        name, s, n = frame_row
        print(f"{name:52} {s:8.1f} {'':>8} {n / s / 1e6:9.2f} {'':>14}")


if __name__ == "__main__":
    main()
