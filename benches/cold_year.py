"""Cold and big (issue 31): each figure a new process on a 10M-hit year.

hitmap answers from a store folder (and, with --url, from the same store
published to an S3-compatible server); DuckDB opens the same hits cold
from Parquet in a new process on the same threads and counts distinct
visitors, its best case for the year summary's hardest number. Every row
is the best and median of --repeat runs, with the peak resident memory
(wait4) and, for hitmap, the files and bytes it read (--read-stats).

Usage: scripts/bench-year (builds everything), or
python3 benches/cold_year.py --bin target/release/hitmap --store DIR \
    --parquet year.parquet --append hits.ndjson [--url s3://...] [--python PY]
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile

from cold_start import run  # a command's wall time, peak RSS and stderr


def measure(cmd, repeat, env=None, before=None):
    runs = []
    for _ in range(repeat):
        if before:
            before()
        runs.append(run(cmd, env))
    walls = sorted(r[0] for r in runs)
    rss = max(r[1] for r in runs)
    m = re.search(r"read (\d+) file\(s\), (\d+) bytes", runs[-1][2])
    files = f"{m.group(1)} / {int(m.group(2)):,}" if m else ""
    return walls[0], statistics.median(walls), rss, files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--parquet", required=True)
    ap.add_argument("--append", required=True, help="an NDJSON file of about 1,000 new hits")
    ap.add_argument("--append-now", help="the same hits on the store's last day")
    ap.add_argument("--url")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    env = dict(os.environ, HITMAP_THREADS=str(a.threads))
    year = ["--site", "1", "--period", "year", "--date", "2025-01-01", "--read-stats"]
    queries = [
        ("year VisitsSummary", ["report", *year]),
        ("month VisitsSummary", ["report", "--site", "1", "--period", "month", "--date", "2025-06-01", "--read-stats"]),
        ("range cutting two months (2025-01-15..2025-11-20)",
         ["report", "--site", "1", "--period", "range", "--date", "2025-01-15,2025-11-20", "--read-stats"]),
        ("year page report (flat, limit 100)",
         ["pages", "--site", "1", "--period", "year", "--date", "2025-01-01", "--limit", "100",
          "--param", "flat=1", "--read-stats"]),
        ("year page titles (limit 100)",
         ["report", *year, "--method", "Actions.getPageTitles", "--limit", "100"]),
        ("year browsers", ["report", *year, "--method", "DevicesDetection.getBrowsers"]),
        ("year countries", ["report", *year, "--method", "UserCountry.getCountry"]),
        ("year referrer websites", ["report", *year, "--method", "Referrers.getWebsites"]),
        ("year visits per server hour", ["report", *year, "--method", "VisitTime.getVisitInformationPerServerTime"]),
        ("year events by category", ["report", *year, "--method", "Events.getCategory"]),
        ("year visits by visit count", ["report", *year, "--method", "VisitorInterest.getNumberOfVisitsByVisitCount"]),
        ("year sections", ["report", *year, "--method", "Hitmap.getSections"]),
        ("year entry pages (limit 100)",
         ["report", *year, "--method", "Actions.getEntryPageUrls", "--limit", "100"]),
        ("page report, range cutting two months (limit 100)",
         ["pages", "--site", "1", "--period", "range", "--date", "2025-01-15,2025-11-20", "--limit", "100",
          "--param", "flat=1", "--read-stats"]),
        ("year, 3-condition segment + section",
         ["report", *year, "--segment", "deviceType==desktop;department==HR,department==IT;browserName!=Safari",
          "--section", "News"]),
        ("month under a segment",
         ["report", "--site", "1", "--period", "month", "--date", "2025-06-01", "--read-stats",
          "--segment", "deviceType==desktop"]),
    ]
    rows = []
    for label, args in queries:
        rows.append((label, "folder", *measure([a.bin, args[0], a.store, *args[1:]], a.repeat, env)))
    if a.url:
        label, args = queries[0]
        rows.append((label, "S3 (moto)", *measure([a.bin, args[0], a.url, *args[1:]], a.repeat, env)))
    # Appending: each run on a fresh copy of the store, so each appends
    # to the same history (the copy is not timed).
    work = tempfile.mkdtemp(prefix="hitmap-append-")
    copy = os.path.join(work, "store")

    def fresh():
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(a.store, copy)

    fresh()
    # The first commit on a store written before year rollups builds them:
    # done once, outside the timings.
    run([a.bin, "ingest", copy, a.append, "--no-progress"], env)
    shutil.rmtree(a.store + ".warm", ignore_errors=True)
    shutil.copytree(copy, a.store + ".warm")
    base = a.store + ".warm"

    def fresh_warm():
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(base, copy)

    rows.append(("append 1,000 hits to a day of a complete past year (hitmap ingest: read, commit, seal)",
                 "folder",
                 *measure([a.bin, "ingest", copy, a.append, "--no-progress", "--force"], a.repeat, env,
                          before=fresh_warm)))
    if a.append_now:
        rows.append(("append 1,000 hits to the current day", "folder",
                     *measure([a.bin, "ingest", copy, a.append_now, "--no-progress", "--force"], a.repeat,
                              env, before=fresh_warm)))
    shutil.rmtree(work, ignore_errors=True)
    duck = (
        "import duckdb, sys; c = duckdb.connect(); c.execute('SET threads=%d'); "
        "print(c.execute(\"SELECT count(DISTINCT visitor), count(*) FROM read_parquet('%s')\").fetchall())"
        % (a.threads, a.parquet)
    )
    rows.append(("DuckDB: count(DISTINCT visitor) over the year's Parquet (new Python process)", "folder",
                 *measure([a.python, "-c", duck], a.repeat)))
    imp = "import duckdb"
    rows.append(("  of which Python starting and importing duckdb", "",
                 *measure([a.python, "-c", imp], a.repeat)))
    print(f"{a.threads} thread(s), best of {a.repeat}")
    print("| query | from | best ms | median ms | peak RSS MiB | files / bytes read |")
    print("|---|---|---|---|---|---|")
    for label, where, best, med, rss, files in rows:
        print(f"| {label} | {where} | {best * 1e3:.0f} | {med * 1e3:.0f} | {rss:.0f} | {files} |")
    duck_best = rows[-2][2] - rows[-1][2]
    print(f"\nDuckDB's query alone (process minus start and import): {duck_best * 1e3:.0f} ms; "
          f"year VisitsSummary, whole hitmap process: {rows[0][2] * 1e3:.0f} ms "
          f"({duck_best / rows[0][2]:.1f}x)")


if __name__ == "__main__":
    main()
