"""Cold and big (issue 31): a long-running Python writer's resident memory
while its store grows from one year to ten.

One process opens a store with a cache budget, then ingests sample
traffic a month at a time (as a collector that flushes monthly would),
year after year, answering a month's summary after each month (a
dashboard asking). After each year it prints the process's resident
memory (VmRSS), the engine's own accounting (`memory_usage`) and the
store's size on disk. Memory should follow the budget and the size of
one site's dictionaries and visitor history, not the number of days.

Usage: target/py-venv/bin/python benches/writer_memory.py [--years 10]
    [--visitors 3000] [--cache-mb 64] [--dir DIR]
(the installed `hitmap` package: `pip install .` or scripts/test-all)
"""

import argparse
import os
import shutil
import tempfile

import hitmap
from hitmap import sample


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def disk_mb(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total / (1 << 20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--visitors", type=int, default=3000)
    ap.add_argument("--cache-mb", type=int, default=64)
    ap.add_argument("--dir")
    a = ap.parse_args()
    dir = a.dir or tempfile.mkdtemp(prefix="hitmap-writer-memory-")
    shutil.rmtree(dir, ignore_errors=True)
    e = hitmap.Engine(dir, cache_mb=a.cache_mb)
    e.add_site(1, **sample.SITE)
    print(f"store {dir}, cache {a.cache_mb} MiB, {a.visitors} visitors a year, a month per ingest")
    print("| years | hits | RSS MiB | engine's accounting MiB | store on disk MiB |")
    print("|---|---|---|---|---|")
    hits = 0
    for y in range(a.years):
        year = 2016 + y
        for m in range(1, 13):
            days = 31 if m in (1, 3, 5, 7, 8, 10, 12) else 30 if m != 2 else 28
            out = e.ingest_ndjson(sample.ndjson(days=days, visitors=a.visitors, seed=y * 12 + m,
                                                start=f"{year}-{m:02d}-01"))
            hits += out.accepted
            e.visits_summary(1, f"{year}-{m:02d}")
        e.seal()
        own = sum(e.memory_usage().values()) / (1 << 20)
        print(f"| {y + 1} | {hits:,} | {rss_mb():.0f} | {own:.0f} | {disk_mb(dir):.0f} |", flush=True)
    parts = ", ".join(f"{k} {v / (1 << 20):.1f}" for k, v in sorted(e.memory_usage().items()))
    print(f"\nthe engine's accounting at the end, MiB: {parts}")
    if not a.dir:
        shutil.rmtree(dir, ignore_errors=True)


if __name__ == "__main__":
    main()
