"""Goals over a year (issue 34's benchmark): five pattern goals added to
the 10M-hit sample year's store, answered cold (each figure a new
process) and warm (one process asking again), beside DuckDB computing the
same conversions with the goals written as SQL over the raw hits in
Parquet (sessionized with window functions: a visit is a visitor's hits
on one local day with gaps under 30 minutes), cold and warm. The numbers
of both must be equal. Also: what a definition change costs (`hitmap goals
add` rewrites the site's configuration and counts the goal rollups of
every complete month and year again; no day is rebuilt).

Usage: scripts/bench-year first (it builds target/bench-year), then
python3 benches/goals_year.py --bin target/release/hitmap \
    --store target/bench-year/store --parquet target/bench-year/year.parquet
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from cold_start import run  # a command's wall time, peak RSS and stderr

HOME = "https://intranet.example.org/"
# (id, name, match, pattern type, pattern, allow multiple, revenue) and
# the same goal as a SQL condition on a hit.
GOALS = [
    (1, "Story", "url", "contains", "/news/2025/story-1", False, 1.0,
     "type = 'pageview' AND contains(lower(url), '/news/2025/story-1')"),
    (2, "Team pages", "url", "regex", "/teams/[^/]+/page-[0-9]$", True, 0.0,
     "type = 'pageview' AND regexp_matches(url, '/teams/[^/]+/page-[0-9]$', 'i')"),
    (3, "Form", "file", "contains", "form-1", False, 5.0,
     "type = 'download' AND contains(lower(url), 'form-1')"),
    (4, "Partners", "external_website", "regex", r"partner[1-3]\.example", False, 0.0,
     r"type = 'outlink' AND regexp_matches(url, 'partner[1-3]\.example', 'i')"),
    (5, "Home", "url", "exact", HOME, True, 0.5,
     f"type = 'pageview' AND lower(url) = lower('{HOME}')"),
]

SQL = """
WITH h AS (
    SELECT visitor, type, url, epoch(ts)::BIGINT AS t,
           CAST(timezone('Europe/London', ts) AS DATE) AS day
    FROM read_parquet('{parquet}')
), y AS (
    SELECT * FROM h WHERE day BETWEEN DATE '2025-01-01' AND DATE '2025-12-31'
), g AS (
    SELECT *, t - lag(t) OVER (PARTITION BY visitor, day ORDER BY t) AS gap FROM y
), v AS (
    SELECT *, sum(CASE WHEN gap IS NULL OR gap >= 1800 THEN 1 ELSE 0 END)
               OVER (PARTITION BY visitor, day ORDER BY t ROWS UNBOUNDED PRECEDING) AS vno
    FROM g
), m AS (
    {matches}
), pv AS (
    SELECT goal, visitor, day, vno,
           CASE WHEN any_value(multiple) THEN count(DISTINCT t) ELSE 1 END AS conv,
           any_value(revenue) AS revenue
    FROM m GROUP BY goal, visitor, day, vno
)
SELECT (SELECT count(*) FROM (SELECT DISTINCT visitor, day, vno FROM v)) AS visits,
       sum(conv), count(DISTINCT (visitor, day, vno)), count(DISTINCT visitor), sum(conv * revenue)
FROM pv
"""


def duckdb_sql(parquet):
    parts = [
        f"SELECT {i} AS goal, {str(multiple).lower()} AS multiple, {revenue} AS revenue, visitor, day, vno, t "
        f"FROM v WHERE {cond}"
        for (i, _, _, _, _, multiple, revenue, cond) in GOALS
    ]
    return SQL.format(parquet=parquet, matches=" UNION ALL ".join(parts))


def best_median(xs):
    return min(xs), statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--parquet", required=True)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    env = dict(os.environ, HITMAP_THREADS=str(a.threads))
    tmp = tempfile.mkdtemp(prefix="hitmap-goals-")
    store = os.path.join(tmp, "store")
    shutil.copytree(a.store, store)
    try:
        added = []
        for (i, name, match, ptype, pattern, multiple, revenue, _) in GOALS:
            cmd = [a.bin, "goals", "add", store, "--site", "1", "--id", str(i), "--name", name, "--match", match,
                   "--pattern-type", ptype, "--pattern", pattern, "--revenue", str(revenue)]
            if multiple:
                cmd.append("--allow-multiple")
            wall, rss, _ = run(cmd, env)
            added.append(wall)
        year = ["--site", "1", "--period", "year", "--date", "2025-01-01"]
        rows = []

        def cold(label, cmd):
            walls, rsss = [], []
            for _ in range(a.repeat):
                wall, rss, _ = run(cmd, env)
                walls.append(wall)
                rsss.append(rss)
            b, m = best_median(walls)
            rows.append((label, b * 1000, m * 1000, max(rsss)))

        cold("year page report (flat, limit 100)",
             [a.bin, "pages", store, *year, "--limit", "100", "--param", "flat=1"])
        cold("year Goals.get, five goals", [a.bin, "report", store, *year, "--method", "Goals.get"])
        cold("year Goals.get, one goal (idGoal=2)",
             [a.bin, "report", store, *year, "--method", "Goals.get", "--param", "idGoal=2"])
        cold("year VisitsSummary.get of a site with goals", [a.bin, "report", store, *year])
        # Visit reports carry goal columns on a site with goals (from the
        # goal rollups); the same store without goals answers from rollups.
        for method in ["DevicesDetection.getType", "Referrers.getReferrerType"]:
            cold(f"year {method}, no goals", [a.bin, "report", a.store, *year, "--method", method])
            cold(f"year {method} with goal columns", [a.bin, "report", store, *year, "--method", method])
        out = subprocess.run([a.bin, "report", store, *year, "--method", "Goals.get", "--format", "json"],
                             capture_output=True, text=True, env=env, check=True).stdout
        hm = json.loads(out)
        visits = json.loads(subprocess.run([a.bin, "report", store, *year, "--format", "json"], capture_output=True,
                                           text=True, env=env, check=True).stdout)["nb_visits"]
        # Warm: one process asking again.
        warm = subprocess.run([a.python, "-c", f"""
import hitmap, time, json
e = hitmap.Engine.open_read_only({store!r})
e.query_threads = {a.threads}
q = 'method=Goals.get&idSite=1&period=year&date=2025-01-01'
e.api(q)
ts = []
for _ in range({a.repeat}):
    t = time.perf_counter(); e.api(q); ts.append(time.perf_counter() - t)
print(json.dumps(sorted(ts)))
"""], capture_output=True, text=True, env=env, check=True).stdout
        warm = json.loads(warm)
        rows.append(("year Goals.get, five goals, warm (same process)", warm[0] * 1000,
                     statistics.median(warm) * 1000, None))
        # DuckDB: cold (a new process) and warm (the same connection again).
        sql = duckdb_sql(a.parquet)
        script = f"""
import duckdb, json, time, sys
t0 = time.perf_counter()
con = duckdb.connect()
con.execute("SET threads TO {a.threads}")
con.execute("SET enable_progress_bar = false")
sql = {sql!r}
r = con.execute(sql).fetchone()
cold = time.perf_counter() - t0
ts = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter(); con.execute(sql).fetchone(); ts.append(time.perf_counter() - t)
print(json.dumps({{"row": [float(x) for x in r], "cold": cold, "warm": sorted(ts)}}))
"""
        # Cold: a new process that answers once; warm: the same query
        # again on its connection.
        colds = []
        for _ in range(a.repeat):
            t = time.perf_counter()
            subprocess.run([a.python, "-c", script, "0"], capture_output=True, text=True, env=env, check=True)
            colds.append(time.perf_counter() - t)
        res = json.loads(subprocess.run([a.python, "-c", script, str(a.repeat)], capture_output=True, text=True,
                                        env=env, check=True).stdout)
        row = res["row"]
        rows.append(("DuckDB: the five goals as SQL over the Parquet year, new Python process",
                     min(colds) * 1000, statistics.median(colds) * 1000, None))
        rows.append(("DuckDB: the same query again on its connection (warm)", res["warm"][0] * 1000,
                     statistics.median(res["warm"]) * 1000, None))
        print(f"{a.threads} thread(s), best of {a.repeat}; goals added in "
              f"{', '.join(f'{w * 1000:.0f}' for w in added)} ms each (hitmap goals add: a new configuration, "
              "the goal rollups counted again)")
        print("| query | best ms | median ms | peak RSS MiB |")
        print("|---|---|---|---|")
        for label, b, m, rss in rows:
            print(f"| {label} | {b:.0f} | {m:.0f} | {'' if rss is None else f'{rss:.0f}'} |")
        same = (int(row[0]), int(row[1]), int(row[2]), round(row[4], 2)) == (
            visits, hm["nb_conversions"], hm["nb_visits_converted"], round(float(hm["revenue"]), 2))
        print(f"\nhitmap: {visits} visits, {hm['nb_conversions']} conversions, {hm['nb_visits_converted']} converted "
              f"visits, {hm['nb_uniq_visitors_converted']} converting visitors, revenue {hm['revenue']}")
        print(f"DuckDB: {int(row[0])} visits, {int(row[1])} conversions, {int(row[2])} converted visits, "
              f"{int(row[3])} converting visitors, revenue {row[4]:.2f}; equal: {same}")
        if not same or int(row[3]) != hm["nb_uniq_visitors_converted"]:
            sys.exit("hitmap and DuckDB disagree")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
