"""Cold and big (issue 31): the tracking server's resident memory on a store
of one year and on a store of ten.

For each store (a copy, so the original stays as it was) this starts
`hitmap serve --track --cache-mb N`, reads its resident memory once it
listens, then sends bulk tracking requests (100 hits each, new and
returning visitors of today) and asks a year's VisitsSummary and page
report between them, as a dashboard would, and reads the resident memory
(VmRSS) and its peak (VmHWM) again. Memory should follow the cache budget
and the site's dictionaries and visitor history, not the number of days.

Usage: python3 benches/track_memory.py --bin target/release/hitmap \
    --store target/bench-year/store.warm --store /work/bench/y10 \
    [--cache-mb 64] [--batches 50]
"""

import argparse
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def years_of(store):
    days = os.listdir(os.path.join(store, "site-1", "days"))
    return sorted({d[:4] for d in days})


def bulk(conn, batch, visitors):
    reqs = []
    for i in range(100):
        n = (batch * 100 + i) * 7919 % visitors
        reqs.append(
            f"?idsite=1&rec=1&_id={n:016x}&url=https%3A%2F%2Fintranet.example.org%2Fnews%2F{i % 40}"
            f"&action_name=News%20{i % 40}"
        )
    body = json.dumps({"requests": reqs})
    conn.request("POST", "/matomo.php", body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise SystemExit(f"tracking answered {r.status}")


def ask(conn, query):
    conn.request("GET", "/?module=API&format=json&" + query)
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise SystemExit(f"{query} answered {r.status}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--store", action="append", required=True)
    ap.add_argument("--cache-mb", type=int, default=64)
    ap.add_argument("--batches", type=int, default=50)
    a = ap.parse_args()
    print(f"cache {a.cache_mb} MiB, {a.batches} bulk requests of 100 hits each")
    print("| store | years | files MiB | RSS listening MiB | RSS after tracking and queries MiB | peak MiB |")
    print("|---|---|---|---|---|---|")
    for store in a.store:
        work = tempfile.mkdtemp(prefix="hitmap-track-memory-")
        copy = os.path.join(work, "store")
        shutil.copytree(store, copy)
        size = sum(
            os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(copy) for f in fs
        ) / (1 << 20)
        years = years_of(copy)
        server = subprocess.Popen(
            [a.bin, "serve", copy, "--track", "--listen", "127.0.0.1:0", "--cache-mb", str(a.cache_mb)],
            stdout=subprocess.PIPE, text=True,
        )
        try:
            base = server.stdout.readline().strip().removeprefix("listening on http://")
            host, port = base.rstrip("/").split(":")
            listening = status_kb(server.pid, "VmRSS")
            conn = http.client.HTTPConnection(host, int(port), timeout=120)
            year = years[-2] if len(years) > 1 else years[-1]
            for b in range(a.batches):
                bulk(conn, b, 30000)
                if b % 10 == 0:
                    ask(conn, f"method=VisitsSummary.get&idSite=1&period=year&date={year}-01-01")
                    ask(conn, f"method=Actions.getPageUrls&idSite=1&period=year&date={year}-01-01&flat=1&filter_limit=100")
            time.sleep(1.5)  # a seal by age, if one is due
            after = status_kb(server.pid, "VmRSS")
            peak = status_kb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait()
            shutil.rmtree(work, ignore_errors=True)
        print(f"| {store} | {years[0]}-{years[-1]} ({len(years)}) | {size:,.0f} | {listening / 1024:,.0f} "
              f"| {after / 1024:,.0f} | {peak / 1024:,.0f} |")


if __name__ == "__main__":
    main()
