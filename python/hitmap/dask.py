"""Stores built on a Dask cluster (``pip install hitmap[dask]``).

:func:`build` turns a Dask DataFrame of hits (or NDJSON or Parquet files)
into a store's day archives on the cluster's workers, in three phases
(docs/scale.md):

1. **Dictionaries.** Every input partition is interned on a worker into
   dictionaries of its own (no hits are kept); the client merges them in
   partition order into the store's dictionaries, so each value gets the id
   one process reading the input in that order would give it. The same
   task cuts its partition into the (site, local day) buckets of the
   build's tasks.
2. **Days.** Each task takes whole (site, local day) buckets: the store's
   dictionaries (broadcast once), the stored days its hits fall on (late
   hits rebuild their day whole), and builds the day files.
3. **Commit.** The client adopts every built day in one commit of the
   store: the visitor history, rollups and manifest follow. Readers see the
   old commit or the new one, never a part.

The result equals a store built by one process from the same hits in the
same order, day file for day file. The store folder is written by the
client alone (it holds the writer's lock); the workers need not reach it.

Example, on a real cluster::

    import dask.dataframe as dd
    from dask.distributed import Client
    import hitmap.dask

    client = Client("tcp://scheduler:8786")
    hits = dd.read_parquet("s3://logs/2025/*.parquet")
    hitmap.dask.build(hits, "./metrics", sites=[{"site": 1, "timezone": "Europe/London"}])
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._build import (
    DAY_KEY_SITE,
    BuildResult,
    Writer,
    day_keys,
    key_day,
    table_day_keys,
    worker,
)

__all__ = ["BuildResult", "build", "day_keys"]

def _first_pass(
    part: Any, configs: Mapping[int, bytes], zones: Mapping[int, str], tasks: int
) -> Tuple[Dict[int, bytes], List[Any], List[int], int, List[Tuple[int, str]]]:
    """Phase 1 on a worker: the partition's own dictionaries of the sites
    it holds, its rows cut into the build's tasks (Arrow tables, in input
    order), the day keys it holds, the hits it accepted and the rows the
    contract refuses. ``part`` is a pandas DataFrame or a file's path."""
    import pyarrow as pa  # type: ignore[import-untyped]

    table = _read_file(part) if isinstance(part, str) else _arrow(part)
    e = worker(configs)
    e.set_dictionaries_only(True)
    accepted = 0
    rejected: List[Tuple[int, str]] = []
    if table.num_rows:
        accepted, rejected, _, _, _ = e.ingest_arrow(table, force=True)
    keys = table_day_keys(table, zones)
    seen = sorted(int(k) for k in keys.unique() if k >= 0)
    present = {k // DAY_KEY_SITE for k in seen}
    dicts = {s: e.site_dictionaries(s) for s in present}
    pieces = [table]
    if tasks > 1:
        import numpy as np

        # One stable reordering by task, then zero-copy slices: rows keep
        # their input order within each task.
        task_of = (keys % tasks).to_numpy()
        ordered = table.take(pa.array(np.argsort(task_of, kind="stable")))
        ends = np.cumsum(np.bincount(task_of, minlength=tasks))
        starts = np.concatenate(([0], ends[:-1]))
        pieces = [ordered.slice(int(a), int(b - a)) for a, b in zip(starts, ends)]
    return dicts, pieces, seen, accepted, rejected


def _arrow(part: Any) -> Any:
    import pyarrow as pa  # type: ignore[import-untyped]

    return pa.Table.from_pandas(part, preserve_index=False)


def _build_days(
    task: int,
    pieces: Sequence[Any],
    configs: Mapping[int, bytes],
    dicts: Mapping[int, bytes],
    stored: Mapping[Tuple[int, str], bytes],
    before: Optional[Callable[[int], None]],
) -> Tuple[List[Tuple[int, str, int, bytes]], int]:
    """Phase 2 on a worker: whole (site, day) buckets of the sites in
    ``dicts`` into day files, and the hits they took."""
    import pyarrow as pa  # type: ignore[import-untyped]

    if before is not None:
        before(task)
    e = worker(configs)
    for s, d in dicts.items():
        e.install_dictionaries(s, d)
    for (s, day), data in stored.items():
        e.install_day(s, day, data)
    tables = [p for p in pieces if p.num_rows]
    accepted = 0
    if tables:
        # Pieces of different files may differ in columns and struct keys.
        whole = pa.concat_tables(tables, promote_options="permissive")
        accepted = e.ingest_arrow(whole, force=True)[0]
    built = []
    for s in dicts:
        built.extend(e.encoded_days(s))
    return built, accepted


def _read_file(path: str) -> Any:
    """One NDJSON or Parquet file as an Arrow table (nested objects stay
    structs; RFC 3339 ``ts`` text of NDJSON becomes UTC instants)."""
    import pyarrow as pa  # type: ignore[import-untyped]

    if path.endswith(".parquet"):
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        return pq.read_table(path)
    import pyarrow.json as pj  # type: ignore[import-untyped]

    table = pj.read_json(path)
    ts = table.schema.field("ts") if "ts" in table.column_names else None
    if ts is not None and pa.types.is_timestamp(ts.type) and ts.type.tz is None:
        # pyarrow reads RFC 3339 text as UTC instants without a zone.
        i = table.column_names.index("ts")
        table = table.set_column(i, "ts", table.column(i).cast(pa.timestamp(ts.type.unit, tz="UTC")))
    return table


def _parts(hits: Any) -> List[Any]:
    """The input's partitions, in order: a Dask DataFrame's (delayed pandas
    frames), or file paths (each file one partition, read by its task)."""
    if hasattr(hits, "to_delayed") and hasattr(hits, "npartitions"):
        return list(hits.to_delayed())
    paths = [os.fspath(hits)] if isinstance(hits, (str, os.PathLike)) else [os.fspath(p) for p in hits]
    if not paths:
        raise ValueError("hits: give a Dask DataFrame or at least one NDJSON or Parquet file")
    if not all(p.endswith((".parquet", ".ndjson", ".jsonl", ".json")) for p in paths):
        raise ValueError(
            "hits: files must be Parquet (.parquet) or NDJSON (.ndjson, .jsonl, .json); "
            f"got {paths[:3]}"
        )
    # Read by the workers: local paths they reach (a shared folder), or
    # URLs pyarrow reads (s3://…, Parquet).
    return [p if "://" in p else os.path.abspath(p) for p in paths]


def build(
    hits: Any,
    store: Union[str, "os.PathLike[str]"],
    sites: Sequence[Mapping[str, Any]] = (),
    *,
    client: Any = None,
    tasks: Optional[int] = None,
    batch_id: Optional[str] = None,
    before_task: Optional[Callable[[int], None]] = None,
) -> BuildResult:
    """Builds (or adds to) a store from hits on a Dask cluster.

    Parameters
    ----------
    hits : dask.dataframe.DataFrame, str or list of str
        The hits, with the input contract's columns (``docs/hits.md``), in
        the order one process would ingest them (partition by partition);
        or NDJSON / Parquet files, read with ``dask.dataframe``.
    store : path
        The store folder, written by this process (the client) alone.
    sites : sequence of dict
        Sites to add (or update) first, as :meth:`hitmap.Engine.add_site`
        takes them (``{"site": 1, "timezone": "Europe/London", ...}``);
        the store's own sites are built too.
    client : dask.distributed.Client, optional
        Defaults to the current client.
    tasks : int, optional
        Day-building tasks (phase 2); defaults to twice the workers'
        threads.
    batch_id : str, optional
        The build's identity: recorded with its commit, and a build whose
        identity the store holds is skipped (``BuildResult.skipped``).
    before_task : callable, optional
        Called on the worker with the task number before each phase 2 task
        (logging, tests).

    Returns
    -------
    BuildResult

    Raises
    ------
    HitmapError
        A task failed for good (after Dask's retries) or a built day did
        not fit the store: nothing was committed.
    """
    from dask.distributed import default_client

    client = client or default_client()
    with Writer(store, sites, batch_id) as w:
        if w.skipped:
            return BuildResult(skipped=True)
        return _build(client, w, hits, tasks, batch_id, before_task)


def _build(
    client: Any,
    w: Writer,
    hits: Any,
    tasks: Optional[int],
    batch_id: Optional[str],
    before_task: Optional[Callable[[int], None]],
) -> BuildResult:
    started = time.perf_counter()
    raw, configs, zones = w.raw, w.configs, w.zones
    parts = _parts(hits)
    if tasks is None:
        threads = sum(client.nthreads().values()) or 1
        tasks = max(1, 2 * threads)
    result = BuildResult(partitions=len(parts), tasks=tasks)

    # Phase 1: dictionaries, merged in partition order.
    firsts = [
        client.compute(_delayed(_first_pass)(p, configs, zones, tasks))
        if not isinstance(p, str)
        else client.submit(_first_pass, p, configs, zones, tasks, pure=False)
        for p in parts
    ]
    heads = client.gather(
        [client.submit(lambda r: (r[0], r[2], r[3], r[4]), f, pure=False) for f in firsts]
    )
    keys = set()
    placed = 0
    for j, (dicts, seen, accepted, rejected) in enumerate(heads):
        for s, d in dicts.items():
            raw.merge_dictionaries(s, d)
        keys.update(seen)
        placed += accepted
        result.rejected.extend((j, line, why) for line, why in rejected)
    result.seconds["dictionaries"] = time.perf_counter() - started

    # Phase 2: whole (site, day) buckets per task, with the sites'
    # dictionaries and the stored days their hits fall on.
    t2 = time.perf_counter()
    task_sites: Dict[int, set] = {t: set() for t in range(tasks)}
    stored: Dict[int, Dict[Tuple[int, str], bytes]] = {t: {} for t in range(tasks)}
    for k in keys:
        site, day = key_day(k)
        task_sites[k % tasks].add(site)
        data = raw.encoded_day(site, day)
        if data is not None:
            stored[k % tasks][(site, day)] = data
    # Each site's dictionaries once on the cluster, to the tasks that need
    # them, under keys of their own (`hash=False`): an earlier build's
    # futures never stand in, and the same bytes scattered again while the
    # scheduler still forgets an earlier build's copy cannot cancel this
    # build ("already forgotten"). Broadcast to every worker: a copy on
    # one worker alone is lost with it, and every task that needs it is
    # cancelled instead of retried on another worker.
    needed = sorted(set().union(*task_sites.values()))
    scattered = dict(
        zip(
            needed,
            client.scatter(
                [raw.site_dictionaries(s) for s in needed], hash=False, broadcast=True
            ),
        )
    )
    builds = []
    for t in range(tasks):
        pieces = [client.submit(lambda r, t=t: r[1][t], f, pure=False) for f in firsts]
        mine = sorted(task_sites[t])
        builds.append(
            client.submit(
                _build_days,
                t,
                pieces,
                {s: configs[s] for s in mine},
                {s: scattered[s] for s in mine},
                stored[t],
                before_task,
                pure=False,
            )
        )
    built: List[Tuple[int, str, int, bytes]] = []
    for days, accepted in client.gather(builds):
        built.extend(days)
        result.accepted += accepted
    del firsts
    return w.commit(built, result, placed, batch_id, started, t2)


def _delayed(f: Callable[..., Any]) -> Any:
    from dask import delayed

    return delayed(f, pure=True)
