"""Build time of a year on Dask (hitmap.dask.build) against one process.

The sample year (``hitmap demo``'s store, 10M hits) is exported as twelve
monthly Parquet files with hitmap's own export (the input contract's typed
columns), then built three ways in one run, each into a new store:

* one process: ``Engine.ingest`` of each month's Parquet table, in order;
* Dask, a LocalCluster of 1 worker process (1 thread);
* Dask, a LocalCluster of 2 worker processes (1 thread each).

It prints each phase's seconds (the client's: dictionaries merged, days
built on the workers, the commit), the serial fraction (what the client
does alone: merging, the commit) and Amdahl's model for N workers. The
stores must answer the year's VisitsSummary and page report alike, and
their day files must be equal (the script fails otherwise).

    python benches/dask_build.py --store target/bench-year/store --out target/bench-dask
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import time

import hitmap
import hitmap.dask
from hitmap import sample

QUESTIONS = [
    "method=VisitsSummary.get&idSite=1&period=year&date=2025-01-01",
    "method=Actions.getPageUrls&flat=1&idSite=1&period=year&date=2025-01-01&filter_limit=50",
    "method=VisitFrequency.get&idSite=1&period=range&date=2025-03-01,2025-10-31",
]


def answers(path: pathlib.Path) -> list:
    e = hitmap.Engine.open_read_only(str(path))
    return [json.dumps(e.api(q + "&format=json")) for q in QUESTIONS]


def new_store(path: pathlib.Path) -> hitmap.Engine:
    shutil.rmtree(path, ignore_errors=True)
    e = hitmap.Engine(str(path))
    e.add_site(1, **sample.SITE)
    return e


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default="target/bench-year/store")
    ap.add_argument("--out", default="target/bench-dask")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src = hitmap.Engine.open_read_only(args.store)
    files = []
    for m in range(1, 13):
        f = out / f"hits-2025-{m:02d}.parquet"
        if not f.exists():
            last = (
                (f"2025-{m + 1:02d}-01" if m < 12 else "2026-01-01")
            )
            import datetime as dt

            end = dt.date.fromisoformat(last) - dt.timedelta(days=1)
            src.export_parquet(f, 1, f"2025-{m:02d}-01", end)
        files.append(str(f))
    size = sum(os.path.getsize(f) for f in files)
    print(f"input: 12 monthly Parquet files, {size / 1e6:.0f} MB")

    import pyarrow.parquet as pq

    one = new_store(out / "one")
    t0 = time.perf_counter()
    rows = 0
    for f in files:
        table = pq.read_table(f)
        rows += table.num_rows
        one.ingest(table)
    one.close()
    single = time.perf_counter() - t0
    print(f"one process: {rows:,} hits in {single:.1f} s ({rows / single / 1e6:.2f} M hits/s)")
    want = answers(out / "one")

    from dask.distributed import Client, LocalCluster

    for workers in (1, 2):
        with LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster, Client(cluster) as client:
            new_store(out / f"dask-{workers}").close()
            t0 = time.perf_counter()
            r = hitmap.dask.build(files, out / f"dask-{workers}", client=client)
            total = time.perf_counter() - t0
        assert r.accepted == rows, (r.accepted, rows)
        assert answers(out / f"dask-{workers}") == want, "answers differ from one process"
        s = r.seconds
        serial = s["commit"]
        print(
            f"dask, {workers} worker(s): {total:.1f} s = dictionaries {s['dictionaries']:.1f}"
            f" + days {s['days']:.1f} + commit {s['commit']:.1f}"
            f" ({single / total:.2f}x one process; {r.tasks} tasks)"
        )
        if workers == 1:
            parallel = total - serial
            print(
                f"  serial fraction (the client's commit) {serial / total:.0%};"
                " model for N workers: "
                + ", ".join(
                    f"N={n}: {serial + parallel / n:.1f} s" for n in (2, 4, 8, 16)
                )
            )


if __name__ == "__main__":
    main()
