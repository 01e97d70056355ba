"""What the distributed builds share (:mod:`hitmap.dask`,
:mod:`hitmap.spark`; docs/scale.md): a row's (site, local day) key, the
build's result, a worker's in-memory engine and the store's writer."""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._hitmap import Engine as _Engine

#: A day key is ``site * DAY_KEY_SITE + days since 1970-01-01 + DAY_KEY_OFFSET``.
DAY_KEY_SITE = 4_000_000
DAY_KEY_OFFSET = 1_000_000
_EPOCH = _dt.date(1970, 1, 1)


@dataclass
class BuildResult:
    """What a distributed build (:func:`hitmap.dask.build`,
    :func:`hitmap.spark.build`) did."""

    #: Hits the day builds took.
    accepted: int = 0
    #: Rejected rows: ``(partition, row in it from 1, reason)``.
    rejected: List[Tuple[int, int, str]] = field(default_factory=list)
    #: (site, day) buckets built and committed.
    days: int = 0
    #: Input partitions (phase 1 tasks) and day-building tasks (phase 2).
    partitions: int = 0
    tasks: int = 0
    #: Seconds of each phase, as the client saw them.
    seconds: Dict[str, float] = field(default_factory=dict)
    #: The build's identity was already in the store: nothing was done.
    skipped: bool = False


def day_keys(df: Any, zones: Mapping[int, str]) -> Any:
    """Each row's (site, local day) as one integer (a pandas Series), or -1
    where the row has no site of ``zones`` or no readable ``ts`` (the
    engine rejects those rows with its own reason). ``ts`` may be integer
    or float Unix seconds, RFC 3339 text, or aware datetimes.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"site": [1, 1, 2], "ts": [1717199000, "2024-06-01T00:30:00+02:00", 0]})
    >>> [int(k) % DAY_KEY_SITE - DAY_KEY_OFFSET for k in day_keys(df, {1: "Europe/London"})[:2]]
    [19875, 19874]
    >>> int(day_keys(df, {1: "UTC"})[2])
    -1
    """
    import pandas as pd  # type: ignore[import-untyped]

    if "ts" not in df.columns or "site" not in df.columns:
        return pd.Series(-1, index=df.index, dtype="int64")  # every row is rejected
    ts = df["ts"]
    if pd.api.types.is_numeric_dtype(ts):
        secs = pd.to_numeric(ts, errors="coerce")
        when = pd.to_datetime(secs.floordiv(1), unit="s", utc=True, errors="coerce")
    elif isinstance(ts.dtype, pd.DatetimeTZDtype):
        when = ts.dt.tz_convert("UTC")
    else:
        def one(v: Any) -> Any:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return pd.to_datetime(int(v // 1), unit="s", utc=True)
            return pd.to_datetime(v, utc=True, format="ISO8601", errors="coerce")

        when = ts.map(one)
        when = pd.to_datetime(when, utc=True, errors="coerce")
    sites = pd.to_numeric(df["site"], errors="coerce")
    keys = pd.Series(-1, index=df.index, dtype="int64")
    for site, zone in zones.items():
        rows = (sites == site) & when.notna()
        if not rows.any():
            continue
        local = when[rows].dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
        days = (local - pd.Timestamp(_EPOCH)).dt.days
        keys[rows] = site * DAY_KEY_SITE + days.astype("int64") + DAY_KEY_OFFSET
    return keys


def table_day_keys(table: Any, zones: Mapping[int, str]) -> Any:
    """:func:`day_keys` of an Arrow table's rows (its ``site`` and ``ts``
    columns alone go to pandas)."""
    placing = table.select([c for c in ("site", "ts") if c in table.column_names])
    # Without the pandas metadata of the other columns.
    return day_keys(placing.replace_schema_metadata(None).to_pandas(), zones)


def key_day(key: int) -> Tuple[int, str]:
    site, days = divmod(int(key), DAY_KEY_SITE)
    return site, (_EPOCH + _dt.timedelta(days=days - DAY_KEY_OFFSET)).isoformat()


def worker(configs: Mapping[int, bytes]) -> _Engine:
    e = _Engine.in_memory()
    # One thread per task: the cluster runs as many tasks as a worker has threads.
    e.set_query_threads(1)
    for c in configs.values():
        e.add_site_from(c)
    return e


class Writer:
    """The store's writer for a build (a with-block closes it): the sites
    added or updated first, whether the build's identity is already in
    the store, and what the workers need of each site (its configuration
    and time zone)."""

    def __init__(
        self,
        store: Union[str, "os.PathLike[str]"],
        sites: Sequence[Mapping[str, Any]],
        batch_id: Optional[str],
    ) -> None:
        from . import Engine

        self.engine = Engine(os.fspath(store))
        self.raw = self.engine._engine
        try:
            for s in sites:
                kw = dict(s)
                self.engine.add_site(kw.pop("site"), **kw)
            self.skipped = batch_id is not None and self.raw.has_batch(batch_id)
            ids = self.raw.site_ids()
            self.configs: Dict[int, bytes] = {s: self.raw.site_configuration(s) for s in ids}
            self.zones: Dict[int, str] = {s: self.raw.site_timezone(s) for s in ids}
        except BaseException:
            self.engine.close()
            raise

    def commit(
        self,
        built: List[Tuple[int, str, int, bytes]],
        result: BuildResult,
        placed: int,
        batch_id: Optional[str],
        started: float,
        days_started: float,
    ) -> BuildResult:
        """Phase 3: the built days adopted in one commit, once the day tasks
        are seen to have taken every hit the first pass accepted."""
        import time

        from ._hitmap import HitmapError

        if result.accepted != placed:
            raise HitmapError(
                f"the day tasks took {result.accepted} hits where the first pass accepted {placed}: "
                "some rows' local day was read differently (their `ts`); nothing was committed"
            )
        result.seconds["days"] = time.perf_counter() - days_started
        t = time.perf_counter()
        self.raw.adopt_days(built, batch_id)
        result.days = len(built)
        result.seconds["commit"] = time.perf_counter() - t
        result.seconds["total"] = time.perf_counter() - started
        return result

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.engine.close()
