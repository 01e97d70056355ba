"""Stores built on a Dask cluster (hitmap.dask): a LocalCluster of two
worker processes builds two sites in different time zones, then new days
and late hits; the store equals one process's ingest of the same hits, day
file for day file and answer for answer, also when a worker dies mid-build.
A build that fails commits nothing. Parquet out: what DuckDB and polars
read, and what comes back in as the same store."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any, Dict, List

import pytest

import hitmap
from hitmap import sample

pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")
import hitmap.dask  # noqa: E402

SITES: List[Dict[str, Any]] = [
    {"site": 1, **sample.SITE},
    {"site": 2, **{**sample.SITE, "timezone": "Asia/Tokyo"}},
]
DAYS = 40


def records(seed: int, site: int) -> List[Dict[str, Any]]:
    out = []
    for line in sample.ndjson(days=DAYS, visitors=150, seed=seed).splitlines():
        r = json.loads(line)
        r["site"] = site
        out.append(r)
    return out


def frame(rows: List[Dict[str, Any]]) -> Any:
    """Rows as a pandas DataFrame with Arrow types (``event`` and ``dims``
    structs), which Dask keeps as they are."""
    pa = pytest.importorskip("pyarrow")
    table = pa.Table.from_pandas(pd.DataFrame.from_records(rows), preserve_index=False)
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def engine_at(path: pathlib.Path) -> hitmap.Engine:
    e = hitmap.Engine(str(path))
    for s in SITES:
        kw = dict(s)
        e.add_site(kw.pop("site"), **kw)
    e.set_goal(1, 1, "help", pattern="/it-help")
    return e


QUESTIONS = [
    "method=VisitsSummary.get",
    "method=VisitFrequency.get",
    "method=Actions.getPageUrls&flat=1&filter_limit=-1",
    "method=Actions.getPageTitles&flat=1&filter_limit=-1",
    "method=Referrers.getAll&filter_limit=-1",
    "method=DevicesDetection.getType",
    "method=CustomDimensions.getCustomDimension&idDimension=1",
    "method=Goals.get&idGoal=1",
    "method=Hitmap.getSections",
    "method=VisitsSummary.get&segment=visitorType==returning",
    "method=Actions.getPageUrls&flat=1&segment=deviceType==smartphone",
    "method=Events.getCategory",
]


def answers(path: pathlib.Path) -> List[str]:
    e = hitmap.Engine.open_read_only(str(path))
    out = []
    for site in (1, 2):
        for q in QUESTIONS:
            if "Goals" in q and site == 2:
                continue
            for period in ("period=range&date=2025-01-01,2025-02-28", "period=month&date=2025-01-15"):
                query = f"{q}&idSite={site}&{period}&format=json"
                out.append(query + "\n" + json.dumps(e.api(query)))
    return out


def day_files(path: pathlib.Path) -> List[Any]:
    e = hitmap.Engine(str(path))._engine  # the writer (no other is open)
    out = []
    for site in (1, 2):
        for i in range(DAYS + 20):
            day = f"2025-{1 + i // 31:02d}-{1 + i % 31:02d}"
            try:
                out.append((site, day, e.encoded_day(site, day)))
            except hitmap.HitmapError:  # 2025-02-29 and the like
                pass
    return out


def waves() -> Any:
    """Two sites' hits in two waves: the first until 2025-01-25 without
    every 30th hit; the second the rest (new days, and late hits for the
    first wave's days)."""
    rows = records(42, 1) + records(43, 2)
    rows.sort(key=lambda r: r["ts"])
    cut = next(i for i, r in enumerate(rows) if r["ts"] >= 1_737_763_200)  # 2025-01-25
    first = [r for i, r in enumerate(rows) if i < cut and i % 30]
    second = [r for i, r in enumerate(rows) if i >= cut or not i % 30]
    return first, second


@pytest.fixture(scope="module")
def client() -> Any:
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def kill_once(marker: str) -> Any:
    def before(task: int) -> None:
        if task == 1 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies mid-build

    return before


def test_a_cluster_build_and_its_increment_equal_one_process(
    client: Any, tmp_path: pathlib.Path
) -> None:
    first, second = waves()
    engine_at(tmp_path / "one").ingest(frame(first))
    engine_at(tmp_path / "many")  # the store's sites and goals, then closed
    marker = str(tmp_path / "killed")
    done = hitmap.dask.build(
        dd.from_pandas(frame(first), npartitions=5, sort=False),
        tmp_path / "many",
        client=client,
        tasks=4,
        batch_id="wave-1",
        before_task=kill_once(marker),
    )
    assert os.path.exists(marker), "a worker died in phase 2"
    assert done.accepted == len(first) and done.partitions == 5 and done.tasks == 4
    assert done.days == 2 * 24  # each site's days of the first wave
    assert day_files(tmp_path / "one") == day_files(tmp_path / "many")
    assert answers(tmp_path / "one") == answers(tmp_path / "many")

    # New days and late hits for stored ones; the same build again is skipped.
    engine_at(tmp_path / "one").ingest(frame(second))
    again = hitmap.dask.build(
        dd.from_pandas(frame(second), npartitions=3, sort=False),
        tmp_path / "many",
        client=client,
        batch_id="wave-2",
    )
    assert again.accepted == len(second)
    assert day_files(tmp_path / "one") == day_files(tmp_path / "many")
    assert answers(tmp_path / "one") == answers(tmp_path / "many")
    skipped = hitmap.dask.build(
        dd.from_pandas(frame(second), npartitions=3, sort=False),
        tmp_path / "many",
        client=client,
        batch_id="wave-2",
    )
    assert skipped.skipped
    assert answers(tmp_path / "one") == answers(tmp_path / "many")


def test_a_failed_build_commits_nothing(client: Any, tmp_path: pathlib.Path) -> None:
    rows = records(7, 1)
    engine_at(tmp_path / "store").ingest(frame(rows[: len(rows) // 2]))
    before = answers(tmp_path / "store")

    def fail(task: int) -> None:
        if task == 0:
            raise RuntimeError("task 0 cannot build")

    with pytest.raises(RuntimeError, match="task 0 cannot build"):
        hitmap.dask.build(
            dd.from_pandas(frame(rows[len(rows) // 2 :]), npartitions=2, sort=False),
            tmp_path / "store",
            client=client,
            tasks=2,
            before_task=fail,
        )
    assert answers(tmp_path / "store") == before
    # Rows the contract refuses are named by partition and row; the rest
    # is built.
    bad = frame(rows[len(rows) // 2 :])
    bad.loc[3, "visitor"] = ""
    done = hitmap.dask.build(
        dd.from_pandas(bad, npartitions=2, sort=False), tmp_path / "store", client=client
    )
    assert [(p, line) for p, line, _ in done.rejected] == [(0, 4)]
    assert "visitor" in done.rejected[0][2]
    assert done.accepted == len(bad) - 1


def test_files_on_disk_build_the_same_store(client: Any, tmp_path: pathlib.Path) -> None:
    rows = records(11, 1)
    half = len(rows) // 2
    paths = []
    for i, part in enumerate((rows[:half], rows[half:])):
        p = tmp_path / f"hits-{i}.ndjson"
        p.write_text("".join(json.dumps(r) + "\n" for r in part))
        paths.append(str(p))
    one = engine_at(tmp_path / "one")
    for p in paths:
        one.ingest_ndjson(p)
    del one
    engine_at(tmp_path / "many")
    hitmap.dask.build(paths, tmp_path / "many", client=client)
    assert answers(tmp_path / "one") == answers(tmp_path / "many")


def test_parquet_out_reads_in_duckdb_and_polars_and_back(tmp_path: pathlib.Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    pl = pytest.importorskip("polars")
    e = engine_at(tmp_path / "store")
    rows = records(5, 1)
    e.ingest(frame(rows))
    hits = tmp_path / "hits.parquet"
    visits = tmp_path / "visits.parquet"
    wrote = e.export_parquet(hits, 1, "2025-01-01", "2025-02-28")
    e.export_parquet(visits, 1, "2025-01-01", "2025-02-28", what="visits")
    summary = e.api("method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-02-28")
    con = duckdb.connect()
    days = con.execute(f"select count(distinct date) from '{visits}'").fetchone()[0]
    assert wrote == {"rows": len(rows), "row_groups": days} and days > 30
    n_visits, n_visitors = con.execute(
        f"select count(*), count(distinct visitor) from '{visits}'"
    ).fetchone()
    assert n_visits == summary["nb_visits"]
    assert n_visitors == summary["nb_uniq_visitors"]
    assert con.execute(f"select count(*) from '{hits}'").fetchone()[0] == len(rows)
    # Back in through polars: the same store.
    copy = engine_at(tmp_path / "copy")
    copy.ingest(pl.read_parquet(hits))
    del copy, e
    assert answers(tmp_path / "store") == answers(tmp_path / "copy")
    table = hitmap.Engine.open_read_only(str(tmp_path / "store")).export(
        1, "2025-01-05", what="visits"
    )
    assert table.num_rows == con.execute(
        f"select count(*) from '{visits}' where date = DATE '2025-01-05'"
    ).fetchone()[0]
    with pytest.raises(ValueError, match="hits' or 'visits"):
        hitmap.Engine.in_memory().export_parquet(tmp_path / "x.parquet", 1, "2025-01-01", what="rows")
