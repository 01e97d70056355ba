"""hitmap: exact web analytics on roaring bitmaps.

Hits in (NDJSON files, bytes, file objects, lists of dicts), exact visit,
visitor, page and section reports out, as the same JSON that Matomo's
Reporting API gives::

    import hitmap
    eng = hitmap.Engine("./metrics")          # or hitmap.Engine.in_memory()
    eng.add_site(1, timezone="Europe/London", sections={"News": ["/news"]})
    res = eng.ingest_ndjson("hits.ndjson.gz")
    res.accepted, res.rejected[:3]
    eng.api("method=VisitsSummary.get&idSite=1&period=month&date=last12")
"""

from __future__ import annotations

import datetime as _dt
import gzip
import json
import os
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Mapping, Sequence, Union

from ._hitmap import (
    Engine as _Engine,
    HitmapError,
    RequestError,
    SegmentError,
    StoreError,
    UnknownSiteError,
    __version__,
)

__all__ = [
    "Engine",
    "IngestResult",
    "HitmapError",
    "RequestError",
    "SegmentError",
    "StoreError",
    "UnknownSiteError",
    "__version__",
]


@dataclass(frozen=True)
class IngestResult:
    """What an ingest did.

    Attributes
    ----------
    accepted : int
        Hits that went in.
    rejected : list of (int, str)
        ``(line, reason)`` for every line (or record, 1-based) that did not.
    """

    accepted: int
    rejected: list = field(default_factory=list)

    def __repr__(self) -> str:
        return f"IngestResult(accepted={self.accepted}, rejected={len(self.rejected)})"


def _timestamp(value: Any) -> Any:
    """Aware datetimes become RFC 3339 strings; naive ones are refused."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(
                f"naive datetime {value!r}: give a time zone (e.g. datetime(..., tzinfo=timezone.utc))"
            )
        return value.isoformat()
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return _timestamp(value.to_pydatetime())
    return value


Source = Union[str, "os.PathLike[str]", bytes, bytearray, IO[bytes]]


class Engine:
    """A hitmap engine: a store folder, or memory only.

    Parameters
    ----------
    path : str or path-like
        The store folder (created if missing). One writer at a time; use
        :meth:`open_read_only` for readers.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        self._engine = _Engine(os.fspath(path))

    @classmethod
    def in_memory(cls) -> "Engine":
        """An engine that keeps everything in memory (notebooks, tests)."""
        self = cls.__new__(cls)
        self._engine = _Engine.in_memory()
        return self

    @classmethod
    def open_read_only(cls, path: Union[str, "os.PathLike[str]"]) -> "Engine":
        """Opens an existing store for queries while a writer ingests."""
        self = cls.__new__(cls)
        self._engine = _Engine.open_read_only(os.fspath(path))
        return self

    def add_site(
        self,
        site: int,
        timezone: str = "UTC",
        visit_timeout: int = 1800,
        hosts: Sequence[str] = (),
        sections: Mapping[str, Sequence[str]] | None = None,
        dimensions: Sequence[str] = (),
    ) -> None:
        """Adds or updates a site.

        Parameters
        ----------
        site : int
            The site id (Matomo ``idSite``).
        timezone : str
            IANA time zone of the site's days, weeks, months and years.
        visit_timeout : int
            Seconds of silence that end a visit.
        hosts : sequence of str
            The site's own host names (referrers from them are direct).
        sections : mapping of str to list of str
            Named sections: name to URL path prefixes.
        dimensions : sequence of str
            Custom dimensions segments may name before any hit carries them.
        """
        self._engine.add_site(
            site,
            timezone,
            visit_timeout,
            list(hosts),
            {k: list(v) for k, v in (sections or {}).items()},
            list(dimensions),
        )

    def ingest_ndjson(self, source: Source) -> IngestResult:
        """Ingests NDJSON hits as one batch.

        Parameters
        ----------
        source : path, bytes or binary file object
            Gzip-compressed input (``.gz``) is recognised and decompressed.

        Returns
        -------
        IngestResult
            Accepted count and rejected lines with their reasons.
        """
        if isinstance(source, (bytes, bytearray)):
            data = bytes(source)
        elif hasattr(source, "read"):
            data = source.read()
        else:
            with open(os.fspath(source), "rb") as f:
                data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        accepted, rejected = self._engine.ingest_ndjson_bytes(data)
        return IngestResult(accepted, list(rejected))

    def ingest(self, records: Any) -> IngestResult:
        """Ingests hits given as dicts with the spec's fields (or a pandas
        or polars DataFrame of them). ``ts`` may be an aware datetime.

        Raises
        ------
        ValueError
            For a naive datetime.
        """
        if hasattr(records, "to_dicts"):  # polars
            records = records.to_dicts()
        elif hasattr(records, "to_dict"):  # pandas
            records = records.to_dict("records")
        lines = []
        for r in records:
            hit = {k: _timestamp(v) for k, v in r.items() if v is not None and v == v}
            lines.append(json.dumps(hit, default=str))
        return self.ingest_ndjson(("\n".join(lines) + "\n").encode())

    def api(self, query: str) -> Any:
        """Answers a Matomo-style Reporting API request.

        Parameters
        ----------
        query : str
            ``method=...&idSite=...&period=...&date=...`` (and ``segment``,
            ``section``, ``filter_*``).

        Returns
        -------
        dict or list
            The decoded JSON, the same as every other host returns.
        """
        return json.loads(self._engine.api_json(query))

    def forget_visitor(self, site: int, visitor: str) -> int:
        """Forgets a visitor everywhere (right to erasure); hits removed."""
        return self._engine.forget_visitor(site, visitor)

    def __repr__(self) -> str:
        return f"hitmap.Engine(sites={self._engine.site_ids()})"
