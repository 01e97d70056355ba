"""Cold start: a new process, then its first answer.

Runs `hitmap report` as a new process for each query, from a store folder
and from the same store published to an S3-compatible server, and prints
the best and median wall time, the files and bytes the process read from
the store (`--read-stats`) and its peak resident memory. Beside it: the
whole-year read every open did before readers were lazy (`hitmap check`
reads and validates every day), and DuckDB answering the 30-day summary
from a persisted table of the same year's visits (already sessionized:
DuckDB's best input), on the same threads.

Usage: scripts/bench-cold (builds the store, starts moto, publishes) or
python3 benches/cold_start.py --bin target/release/hitmap --store DIR --url s3://...
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

QUERIES = [
    ("1-day VisitsSummary", ["report", "--site", "1", "--date", "2025-06-11"]),
    ("30-day VisitsSummary", ["report", "--site", "1", "--period", "range", "--date", "2025-06-01,2025-06-30"]),
    ("month page report", ["pages", "--site", "1", "--date", "2025-06", "--limit=-1"]),
]


def run(cmd, env=None):
    """Wall seconds, peak RSS (MiB), stderr of a command run to completion."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode()
    p.stderr.close()
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed: {err}")
    return wall, usage.ru_maxrss / 1024, err


def measure(cmd, repeat, env=None):
    runs = [run(cmd, env) for _ in range(repeat)]
    walls = sorted(r[0] for r in runs)
    rss = max(r[1] for r in runs)
    m = re.search(r"read (\d+) file\(s\), (\d+) bytes", runs[-1][2])
    files, nbytes = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    return walls[0], statistics.median(walls), files, nbytes, rss


def duckdb_table(args, tmp):
    """The year's visits in a DuckDB file (from `hitmap export`)."""
    csv = os.path.join(tmp, "visits.csv")
    with open(csv, "wb") as out:
        subprocess.run(
            [args.bin, "export", args.store, "--site", "1", "--from", "2025-01-01", "--to", "2025-12-31",
             "--what", "visits", "--format", "csv"],
            stdout=out, check=True)
    db = os.path.join(tmp, "visits.duckdb")
    subprocess.run([args.python, "-c", f"""
import duckdb
con = duckdb.connect({db!r})
con.execute("CREATE TABLE visits AS SELECT * FROM read_csv_auto({csv!r})")
con.execute("CHECKPOINT")
"""], check=True)
    return db


DUCK_QUERY = """
import sys, time, duckdb
t0 = time.perf_counter()
con = duckdb.connect(sys.argv[1], read_only=True, config={'threads': int(sys.argv[2])})
row = con.execute(\"\"\"SELECT count(*), count(DISTINCT visitor), sum(actions), max(actions),
    sum(CASE WHEN actions = 1 THEN 1 ELSE 0 END), sum(length)
    FROM visits WHERE date BETWEEN DATE '2025-06-01' AND DATE '2025-06-30'\"\"\").fetchone()
print(f"inside {time.perf_counter() - t0:.4f}", file=sys.stderr)
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/hitmap")
    ap.add_argument("--store", required=True)
    ap.add_argument("--url", help="the store published to an object store (env: AWS_*)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--python", default=sys.executable, help="a Python with duckdb")
    args = ap.parse_args()
    locations = [("local disk", args.store)] + ([("S3 (moto, loopback)", args.url)] if args.url else [])
    print(f"| query | from | best ms | median ms | files read | bytes read | peak RSS MiB |")
    print(f"|---|---|---|---|---|---|---|")
    for name, q in QUERIES:
        for where, loc in locations:
            best, med, files, nbytes, rss = measure([args.bin, q[0], loc, *q[1:], "--read-stats"], args.repeat)
            print(f"| {name} | {where} | {best * 1000:.0f} | {med * 1000:.0f} | {files} | {nbytes} | {rss:.0f} |")
    best, med, _, _, rss = measure([args.bin, "check", args.store], max(1, args.repeat // 2))
    print(f"| whole year read and checked (`hitmap check`: every open before lazy readers) | local disk | "
          f"{best * 1000:.0f} | {med * 1000:.0f} | all | all | {rss:.0f} |")
    with tempfile.TemporaryDirectory() as tmp:
        db = duckdb_table(args, tmp)
        cmd = [args.python, "-c", DUCK_QUERY, db, str(args.threads)]
        runs = [run(cmd) for _ in range(args.repeat)]
        inside = sorted(float(re.search(r"inside ([\d.]+)", r[2]).group(1)) for r in runs)
        walls = sorted(r[0] for r in runs)
        imp = sorted(run([args.python, "-c", "import duckdb"])[0] for _ in range(args.repeat))
        print(f"| 30-day VisitsSummary, DuckDB ({args.threads} threads) from a persisted visits table: "
              f"connect + query (process incl. Python and `import duckdb`: {walls[0] * 1000:.0f} ms, "
              f"of which the import {imp[0] * 1000:.0f} ms) | local disk | {inside[0] * 1000:.0f} | "
              f"{statistics.median(inside) * 1000:.0f} | | {os.path.getsize(db)} (file) | "
              f"{max(r[1] for r in runs):.0f} |")


if __name__ == "__main__":
    main()
