"""Stores built on Spark (``pyspark``, which needs a Java runtime).

The same three phases as :mod:`hitmap.dask` (docs/scale.md), on a Spark
DataFrame of hits: ``mapInArrow`` interns each partition into dictionaries
of its own, merged on the driver in partition order; the rows, keyed by
(site, local day) and numbered in input order, are repartitioned by day
task and sorted back into input order, and ``mapInArrow`` builds each
task's days with the broadcast dictionaries; the driver adopts the
collected day files in one commit of the store. The result equals one
process's ingest of the same hits in partition order, day file for day
file.

Example::

    from pyspark.sql import SparkSession
    import hitmap.spark

    spark = SparkSession.builder.getOrCreate()
    hits = spark.read.parquet("s3a://logs/2025/")
    hitmap.spark.build(hits, "./metrics", sites=[{"site": 1, "timezone": "Europe/London"}])
"""

from __future__ import annotations

import os
import pickle
import time
import warnings
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ._build import (
    DAY_KEY_SITE,
    BuildResult,
    Writer,
    key_day,
    table_day_keys,
    worker,
)

__all__ = ["BuildResult", "build"]

_ROW = "_hitmap_row"
_TASK = "_hitmap_task"


def _partition() -> int:
    """The running Spark task's partition index."""
    from pyspark import TaskContext

    ctx = TaskContext.get()
    if ctx is None:
        raise RuntimeError("hitmap.spark's functions run inside Spark tasks")
    return ctx.partitionId()


def _whole(batches: Iterator[Any]) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    tables = [pa.Table.from_batches([b]) for b in batches if b.num_rows]
    if not tables:
        return None
    return pa.concat_tables(tables)


def build(
    hits: Any,
    store: Union[str, "os.PathLike[str]"],
    sites: Sequence[Mapping[str, Any]] = (),
    *,
    tasks: Optional[int] = None,
    batch_id: Optional[str] = None,
) -> BuildResult:
    """Builds (or adds to) a store from a Spark DataFrame of hits, as
    :func:`hitmap.dask.build` does on Dask.

    Parameters
    ----------
    hits : pyspark.sql.DataFrame
        The hits, with the input contract's columns, partitions in the
        order one process would ingest them.
    store, sites, batch_id
        As for :func:`hitmap.dask.build`.
    tasks : int, optional
        Day-building partitions; defaults to Spark's default parallelism.

    Returns
    -------
    BuildResult
    """
    with Writer(store, sites, batch_id) as w, warnings.catch_warnings():
        # mapInArrow checks pandas' version though it hands over Arrow
        # batches; this module's pandas use is its own.
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
        )
        if w.skipped:
            return BuildResult(skipped=True)
        return _build(hits, w, tasks, batch_id)


def _build(hits: Any, w: Writer, tasks: Optional[int], batch_id: Optional[str]) -> BuildResult:
    import pyarrow as pa  # type: ignore[import-untyped]

    started = time.perf_counter()
    spark = hits.sparkSession
    sc = spark.sparkContext
    tasks = tasks or max(1, sc.defaultParallelism)
    configs, zones = w.configs, w.zones
    result = BuildResult(partitions=hits.rdd.getNumPartitions(), tasks=tasks)

    # Phase 1: each partition's dictionaries, merged in partition order.
    def first(batches: Iterator[Any]) -> Iterator[Any]:
        part = _partition()
        table = _whole(batches)
        e = worker(configs)
        e.set_dictionaries_only(True)
        accepted = 0
        rejected: List[Tuple[int, str]] = []
        seen: List[int] = []
        dicts: Dict[int, bytes] = {}
        if table is not None:
            accepted, rejected, _, _, _ = e.ingest_arrow(table, force=True)
            keys = table_day_keys(table, zones)
            seen = sorted(int(k) for k in keys.unique() if k >= 0)
            dicts = {s: e.site_dictionaries(s) for s in {k // DAY_KEY_SITE for k in seen}}
        blob = pickle.dumps((dicts, seen, accepted, rejected))
        yield pa.RecordBatch.from_pydict({"part": [part], "blob": [blob]})

    heads = sorted(
        (r["part"], pickle.loads(r["blob"]))
        for r in hits.mapInArrow(first, "part long, blob binary").collect()
    )
    keys = set()
    placed = 0
    for part, (dicts, seen, accepted, rejected) in heads:
        for s, d in dicts.items():
            w.raw.merge_dictionaries(s, d)
        keys.update(seen)
        placed += accepted
        result.rejected.extend((part, line, why) for line, why in rejected)
    result.seconds["dictionaries"] = time.perf_counter() - started

    # Phase 2: rows numbered in input order, keyed by day task,
    # repartitioned by task and sorted back into input order.
    t2 = time.perf_counter()
    stored: Dict[int, bytes] = {}
    for k in keys:
        site, day = key_day(k)
        data = w.raw.encoded_day(site, day)
        if data is not None:
            stored[k] = data
    shared = sc.broadcast(
        (
            {s: w.raw.site_dictionaries(s) for s in sorted({k // DAY_KEY_SITE for k in keys})},
            stored,
        )
    )

    def number(batches: Iterator[Any]) -> Iterator[Any]:
        part = _partition()
        offset = 0
        for b in batches:
            table = pa.Table.from_batches([b])
            task = (table_day_keys(table, zones) % tasks).to_numpy()
            rows = pa.array(range((part << 32) + offset, (part << 32) + offset + b.num_rows), pa.int64())
            offset += b.num_rows
            out = table.append_column(_ROW, rows).append_column(_TASK, pa.array(task, pa.int64()))
            yield from out.to_batches()

    from pyspark.sql.types import LongType, StructField, StructType

    numbered_schema = StructType(
        list(hits.schema.fields) + [StructField(_ROW, LongType()), StructField(_TASK, LongType())]
    )
    numbered = hits.mapInArrow(number, numbered_schema)
    grouped = numbered.repartition(tasks, _TASK).sortWithinPartitions(_ROW)

    def days(batches: Iterator[Any]) -> Iterator[Any]:
        dicts_all, stored_all = shared.value
        table = _whole(batches)
        out: Dict[str, List[Any]] = {"site": [], "day": [], "key": [], "bytes": [], "accepted": []}
        if table is not None:
            table = table.drop_columns([_ROW, _TASK])
            mine = [int(k) for k in table_day_keys(table, zones).unique() if k >= 0]
            sites = sorted({k // DAY_KEY_SITE for k in mine})
            e = worker({s: configs[s] for s in sites})
            for s in sites:
                e.install_dictionaries(s, dicts_all[s])
            for k in mine:
                if k in stored_all:
                    site, day = key_day(k)
                    e.install_day(site, day, stored_all[k])
            accepted = e.ingest_arrow(table, force=True)[0]
            built = [d for s in sites for d in e.encoded_days(s)]
            out = {
                "site": [b[0] for b in built] + [0],
                "day": [b[1] for b in built] + [""],
                "key": [str(b[2]) for b in built] + [""],
                "bytes": [b[3] for b in built] + [b""],
                "accepted": [0] * len(built) + [accepted],
            }
        yield pa.RecordBatch.from_pydict(
            out,
            schema=pa.schema(
                [
                    ("site", pa.int64()),
                    ("day", pa.string()),
                    ("key", pa.string()),
                    ("bytes", pa.binary()),
                    ("accepted", pa.int64()),
                ]
            ),
        )

    rows = grouped.mapInArrow(
        days, "site long, day string, key string, bytes binary, accepted long"
    ).collect()
    built: List[Tuple[int, str, int, bytes]] = []
    for r in rows:
        result.accepted += r["accepted"]
        if r["day"]:
            built.append((r["site"], r["day"], int(r["key"]), bytes(r["bytes"])))
    shared.destroy()
    return w.commit(built, result, placed, batch_id, started, t2)
