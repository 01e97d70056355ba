"""Raw data out: a site's stored hits or visits as an Arrow table or a
Parquet file (typed columns, a row group per local day) that Dask, Spark,
DuckDB, polars and BI tools read natively. Exported hits have the input
contract's columns (``docs/hits.md``): read back and passed to
:meth:`hitmap.Engine.ingest`, they give the same reports."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional, Union

from . import _dates
from ._results import _optional

WHAT = ("hits", "visits")


class ExportMixin:
    """The export methods of :class:`hitmap.Engine`."""

    _engine: Any

    def _timezone(self, site: int) -> str:  # pragma: no cover - Engine's
        raise NotImplementedError

    def _export_days(self, site: int, start: Any, end: Any) -> tuple:
        tz = self._timezone(site)
        first = _dates.day(start, tz, "start")
        last = _dates.day(end if end is not None else start, tz, "end")
        return first.isoformat(), last.isoformat()

    def export(self, site: int, start: Any, end: Any = None, *, what: str = "hits") -> Any:
        """A site's stored hits (the input contract's records) or visits
        (one row per visit) of local days ``start..end`` as a
        ``pyarrow.Table``: ``ts`` and ``first_ts`` UTC timestamps, ``date``
        a date, counts unsigned, ``event``, ``campaign``, ``order`` and
        ``dims`` structs, ``items`` a list of structs.

        Parameters
        ----------
        site : int
        start, end : date or str
            The site's first and last local day (``end`` defaults to
            ``start``).
        what : str
            ``"hits"`` or ``"visits"``.

        Returns
        -------
        pyarrow.Table
            ``polars.from_arrow(t)`` or ``t.to_pandas()`` for a DataFrame.

        Examples
        --------
        >>> from hitmap import Engine
        >>> e = Engine.in_memory()
        >>> e.add_site(1)
        >>> _ = e.ingest([{"site": 1, "visitor": "a", "ts": 1717200000, "url": "https://x.org/"},
        ...               {"site": 1, "visitor": "a", "ts": 1717200060, "url": "https://x.org/b"}])
        >>> t = e.export(1, "2024-06-01", what="visits")
        >>> t.column("actions").to_pylist(), str(t.schema.field("first_ts").type)
        ([2], 'timestamp[s, tz=UTC]')
        """
        pa = _optional("pyarrow", "export()")
        if what not in WHAT:
            raise ValueError(f"what={what!r}: export 'hits' or 'visits'")
        first, last = self._export_days(site, start, end)
        return pa.table(self._engine.export_arrow(site, first, last, what))

    def export_parquet(
        self,
        path: Union[str, "os.PathLike[str]"],
        site: int,
        start: Any,
        end: Any = None,
        *,
        what: str = "hits",
    ) -> Dict[str, int]:
        """Writes :meth:`export`'s table to a Parquet file (zstd pages, a
        row group per local day), without pyarrow. The file appears whole
        or not at all: it is written beside ``path`` and renamed.

        Returns
        -------
        dict
            ``{"rows": ..., "row_groups": ...}``.

        Examples
        --------
        >>> import os, tempfile
        >>> from hitmap import Engine
        >>> e = Engine.in_memory()
        >>> e.add_site(1)
        >>> _ = e.ingest([{"site": 1, "visitor": "a", "ts": 1717200000, "url": "https://x.org/"}])
        >>> path = os.path.join(tempfile.mkdtemp(), "hits.parquet")
        >>> e.export_parquet(path, 1, "2024-06-01")
        {'rows': 1, 'row_groups': 1}
        """
        if what not in WHAT:
            raise ValueError(f"what={what!r}: export 'hits' or 'visits'")
        first, last = self._export_days(site, start, end)
        rows, groups = self._engine.export_parquet(site, first, last, what, os.fspath(path))
        return {"rows": rows, "row_groups": groups}
