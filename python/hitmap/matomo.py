"""Migrate from Matomo: import its raw log tables into a hitmap store.

The queries, the mapping of Matomo's columns onto hits and the checkpoint
are the engine's own (the ``hitmap-intake`` crate, the same code as
``hitmap import-matomo``); this module only runs the queries on a DB-API
connection you opened, e.g. with PyMySQL::

    import pymysql, hitmap, hitmap.matomo
    conn = pymysql.connect(host="127.0.0.1", user="matomo", password="...", database="matomo")
    engine = hitmap.Engine("./metrics")
    result = hitmap.matomo.import_logs(conn, engine, sites=[1], keep_visits=True)
    print(result.rows, result.hits)

Run it again (from cron, say) and it imports only the rows added since:
the store keeps a checkpoint per site, committed with each batch.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

__all__ = ["import_logs", "ImportResult", "SiteImport"]


@dataclass(frozen=True)
class SiteImport:
    """What one run imported for one Matomo site."""

    site: int
    #: Rows of ``log_link_visit_action`` read.
    rows: int
    #: Hits the engine accepted.
    hits: int
    #: Rows that are not hits (content impressions, ecommerce items, ...), by reason.
    skipped: Dict[str, int]
    #: Rows the engine rejected, by reason (none on a sound database).
    rejected: Dict[str, int]
    #: The last committed ``idlink_va``: the next run starts after it.
    cursor: int
    #: Whether rows younger than ``settle_secs`` were left for the next run.
    settling: bool


@dataclass(frozen=True)
class ImportResult:
    """What one run imported, per site."""

    sites: List[SiteImport]

    @property
    def rows(self) -> int:
        """Rows read over all sites."""
        return sum(s.rows for s in self.sites)

    @property
    def hits(self) -> int:
        """Hits accepted over all sites."""
        return sum(s.hits for s in self.sites)


def _day(value: Union[None, str, _dt.date]) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


def import_logs(
    conn: Any,
    engine: Any,
    *,
    sites: Optional[Sequence[int]] = None,
    from_: Union[None, str, _dt.date] = None,
    to: Union[None, str, _dt.date] = None,
    keep_visits: bool = False,
    prefix: str = "matomo_",
    batch_rows: int = 100_000,
    settle_secs: int = 60,
    progress: Optional[Callable[[int, int, int, int], object]] = None,
) -> ImportResult:
    """Imports Matomo's raw data from ``conn`` into ``engine``.

    Parameters
    ----------
    conn : DB-API connection
        An open connection to Matomo's MariaDB/MySQL database (PyMySQL,
        mysqlclient, mysql-connector). Only ``SELECT`` statements are sent.
    engine : hitmap.Engine
        The store to import into. A missing site is added with Matomo's
        time zone, hosts and custom dimensions.
    sites : list of int, optional
        Matomo site ids; default every site.
    from_, to : date or "YYYY-MM-DD", optional
        The local days to import. Fixed for a store once its first batch
        is in: another window on the same store raises
        :class:`hitmap.IntakeError`.
    keep_visits : bool
        Keep Matomo's visits (``idvisit``) so that numbers match Matomo's
        to the visit; by default hitmap sessionizes with its own rules.
    prefix : str
        Matomo's table prefix.
    batch_rows : int
        Rows per committed batch.
    settle_secs : int
        Rows younger than this (by the database's clock) wait for the next
        run, so that the checkpoint never passes a row still being written.
    progress : callable, optional
        ``progress(site, rows, hits, cursor)`` after every batch.

    Returns
    -------
    ImportResult

    Raises
    ------
    hitmap.IntakeError
        The database, its schema or the store's checkpoint does not allow
        the import; what was committed before stays.
    """
    engine = getattr(engine, "_engine", engine)

    def query(sql: str) -> List[Any]:
        cur = conn.cursor()
        try:
            cur.execute(sql)
            return list(cur.fetchall())
        finally:
            cur.close()

    out = engine.import_matomo(
        query,
        sites=list(sites) if sites is not None else None,
        from_day=_day(from_),
        to_day=_day(to),
        keep_visits=keep_visits,
        prefix=prefix,
        batch_rows=batch_rows,
        settle_secs=settle_secs,
        progress=progress,
    )
    return ImportResult([SiteImport(*s) for s in out])
