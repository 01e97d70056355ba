"""hitmap: exact web analytics on roaring bitmaps.

Hits in (NDJSON files, bytes, file objects, lists of dicts), exact visit,
visitor, page and section reports out, as the same JSON that Matomo's
Reporting API gives::

    import hitmap
    eng = hitmap.Engine("./metrics")          # or hitmap.Engine.in_memory()
    eng.add_site(1, timezone="Europe/London", sections={"News": ["/news"]})
    res = eng.ingest_ndjson("hits.ndjson.gz")
    res.accepted, res.rejected[:3]
    s = eng.visits_summary(1, "2026-01-01", "2026-03-31", segment="deviceType==smartphone")
    s.nb_uniq_visitors, s.to_dict()
    eng.report("pages", 1, "2026-03").to_pandas()
    eng.series(1, period="day", date="last90").to_pandas()
    eng.api("method=VisitsSummary.get&idSite=1&period=month&date=last12")
"""

from __future__ import annotations

import datetime as _dt
import gzip
import io
import json
import os
import urllib.parse
import warnings
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import _dates
from ._export import ExportMixin
from ._frames import without_null_columns
from ._goals import GoalsMixin
from ._results import (
    ACTION_METRICS,
    ACTION_ROW_METRICS,
    RATIO_METRICS,
    VISIT_METRICS,
    Report,
    Series,
    Summary,
    _optional,
)

from ._hitmap import (
    DeadlineError,
    Engine as _Engine,
    HitmapError,
    IntakeError,
    RequestError,
    SegmentError,
    StoreError,
    UnknownSiteError,
    __version__,
)

__all__ = [
    "Engine",
    "IngestResult",
    "LogResult",
    "Report",
    "Series",
    "Summary",
    "REPORTS",
    "HitmapError",
    "RequestError",
    "DeadlineError",
    "SegmentError",
    "StoreError",
    "UnknownSiteError",
    "IntakeError",
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
    batches : int
        Chunks committed (each one atomic).
    skipped_batches : int
        Chunks skipped because the store already holds them: the same
        input ingested again (a re-run) counts nothing twice.
    skipped_lines : int
        Lines inside the skipped chunks.
    """

    accepted: int
    rejected: list = field(default_factory=list)
    batches: int = 0
    skipped_batches: int = 0
    skipped_lines: int = 0

    def __repr__(self) -> str:
        skipped = f", skipped_batches={self.skipped_batches}" if self.skipped_batches else ""
        return f"IngestResult(accepted={self.accepted}, rejected={len(self.rejected)}{skipped})"


@dataclass(frozen=True)
class LogResult:
    """What an access-log import did (:meth:`Engine.ingest_log`).

    Attributes
    ----------
    lines : int
        Lines read.
    hits, pageviews, downloads, events : int
        Hits that went in, and of which kind (events: a streaming
        server's, such as CloudFront RTMP's, and replayed tracking
        requests').
    comments, invalid : int
        Blank or comment lines; lines that are not requests of the format.
    skipped : dict of str to int
        Requests that are not hits, by reason (``"static file"``,
        ``"robot"``, ``"HTTP error (4xx, 5xx)"``, ...).
    invalid_lines : list of (str, int, str)
        ``(input, line, reason)`` of the first invalid lines.
    formats : dict of str to str
        Each input's format, as named or recognised.
    batches, skipped_batches, skipped_lines : int
        Chunks committed; chunks (and their lines) the store already held,
        and the lines a file imported again skipped (the part the store
        holds: a file that grew resumes after it).
    rejected : int
        Hits the store refused.
    held_back : int
        Last lines without their line end that do not read yet (still being
        written), left for the next run.
    """

    lines: int
    hits: int
    pageviews: int
    downloads: int
    comments: int
    invalid: int
    skipped: Dict[str, int]
    invalid_lines: List[Tuple[str, int, str]]
    formats: Dict[str, str]
    batches: int
    skipped_batches: int
    skipped_lines: int
    rejected: int
    held_back: int = 0
    events: int = 0


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


#: Report names of :meth:`Engine.report`: API method and extra parameters.
REPORTS: Dict[str, Tuple[str, str]] = {
    "pages": ("Actions.getPageUrls", "flat=1"),
    "page_titles": ("Actions.getPageTitles", ""),
    "entry_pages": ("Actions.getEntryPageUrls", "flat=1"),
    "exit_pages": ("Actions.getExitPageUrls", "flat=1"),
    "entry_page_titles": ("Actions.getEntryPageTitles", ""),
    "exit_page_titles": ("Actions.getExitPageTitles", ""),
    "downloads": ("Actions.getDownloads", "flat=1"),
    "outlinks": ("Actions.getOutlinks", "flat=1"),
    "site_search_keywords": ("Actions.getSiteSearchKeywords", ""),
    "site_search_no_result_keywords": ("Actions.getSiteSearchNoResultKeywords", ""),
    "site_search_categories": ("Actions.getSiteSearchCategories", ""),
    "event_categories": ("Events.getCategory", ""),
    "event_actions": ("Events.getAction", ""),
    "event_names": ("Events.getName", ""),
    "content_names": ("Contents.getContentNames", ""),
    "content_pieces": ("Contents.getContentPieces", ""),
    "device_type": ("DevicesDetection.getType", ""),
    "browser": ("DevicesDetection.getBrowsers", ""),
    "browser_version": ("DevicesDetection.getBrowserVersions", ""),
    "os": ("DevicesDetection.getOsFamilies", ""),
    "os_version": ("DevicesDetection.getOsVersions", ""),
    "device_brand": ("DevicesDetection.getBrand", ""),
    "device_model": ("DevicesDetection.getModel", ""),
    "browser_engine": ("DevicesDetection.getBrowserEngines", ""),
    "resolution": ("Resolution.getResolution", ""),
    "plugins": ("DevicePlugins.getPlugin", ""),
    "country": ("UserCountry.getCountry", ""),
    "continent": ("UserCountry.getContinent", ""),
    "region": ("UserCountry.getRegion", ""),
    "city": ("UserCountry.getCity", ""),
    "language": ("UserLanguage.getLanguageCode", ""),
    "browser_language": ("UserLanguage.getLanguage", ""),
    "referrer_type": ("Referrers.getReferrerType", ""),
    "referrers": ("Referrers.getAll", ""),
    "search_engines": ("Referrers.getSearchEngines", ""),
    "search_keywords": ("Referrers.getKeywords", ""),
    "websites": ("Referrers.getWebsites", ""),
    "social_networks": ("Referrers.getSocials", ""),
    "campaigns": ("Referrers.getCampaigns", ""),
    "ai_assistants": ("Referrers.getAIAssistants", ""),
    "server_time": ("VisitTime.getVisitInformationPerServerTime", ""),
    "local_time": ("VisitTime.getVisitInformationPerLocalTime", ""),
    "day_of_week": ("VisitTime.getByDayOfWeek", ""),
    "visit_duration": ("VisitorInterest.getNumberOfVisitsPerVisitDuration", ""),
    "pages_per_visit": ("VisitorInterest.getNumberOfVisitsPerPage", ""),
    "visit_number": ("VisitorInterest.getNumberOfVisitsByVisitCount", ""),
    "days_since_last_visit": ("VisitorInterest.getNumberOfVisitsByDaysSinceLast", ""),
    "sections": ("Hitmap.getSections", ""),
    "custom_dimension": ("CustomDimensions.getCustomDimension", ""),
}

_ACTION_REPORTS = ("pages", "page_titles", "downloads", "outlinks", "site_search_keywords",
                   "site_search_no_result_keywords")
# Matomo's entry and exit page reports are page reports cut to the pages
# visits entered (left) on.
_PAGE_REPORTS = ("pages", "page_titles", "entry_pages", "exit_pages", "entry_page_titles",
                 "exit_page_titles")
_EVENT_METRICS = ("nb_events", "nb_visits", "nb_uniq_visitors", "sum_event_value", "min_event_value",
                  "max_event_value", "nb_events_with_value", "avg_event_value")
_OTHER_COLUMNS: Dict[str, Tuple[str, ...]] = {
    "site_search_categories": ("nb_visits", "nb_actions", "nb_pages_per_search", "segment"),
    "event_categories": _EVENT_METRICS + ("segment",),
    "content_names": ("nb_uniq_visitors", "nb_visits", "nb_impressions", "nb_interactions", "interaction_rate",
                      "segment"),
    "visit_duration": ("nb_visits", "segment"),
    "day_of_week": VISIT_METRICS + ("day_of_week",),
    "country": VISIT_METRICS + ("code", "segment"),
    "referrers": VISIT_METRICS + ("referer_type", "segment"),
}
for _same, _as in (("event_actions", "event_categories"), ("event_names", "event_categories"),
                   ("content_pieces", "content_names"),
                   ("pages_per_visit", "visit_duration"), ("visit_number", "visit_duration"),
                   ("days_since_last_visit", "visit_duration"), ("continent", "country")):
    _OTHER_COLUMNS[_same] = _OTHER_COLUMNS[_as]


def _report_columns(kind: str) -> Tuple[str, ...]:
    if kind in _PAGE_REPORTS:
        return ("label",) + ACTION_ROW_METRICS
    if kind in _ACTION_REPORTS:
        return ("label",) + ACTION_ROW_METRICS[:3]
    if kind == "sections":
        return ("label",) + VISIT_METRICS
    if kind in _OTHER_COLUMNS:
        return ("label",) + _OTHER_COLUMNS[kind]
    return ("label",) + VISIT_METRICS + ("segment",)


def _progress_bar(enabled: bool, total: Optional[int], desc: str) -> Optional[Any]:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]
    except ImportError:
        warnings.warn(
            "progress=True needs tqdm (pip install tqdm, or hitmap's extra: pip install 'hitmap[progress]'); ingesting without a progress bar",
            RuntimeWarning,
            stacklevel=3,
        )
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc=desc)


Source = Union[str, "os.PathLike[str]", bytes, bytearray, IO[bytes]]


class _Prepended(io.RawIOBase):
    """A binary stream with a few bytes already read put back in front."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self._head = head
        self._rest = rest

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            if size is None or size < 0:
                return head + self._rest.read()
            if size <= len(head):
                self._head = head[size:]
                return head[:size]
            return head + self._rest.read(size - len(head))
        return bytes(self._rest.read(size))

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


class Engine(GoalsMixin, ExportMixin):
    """A hitmap engine: a store folder, or memory only.

    Parameters
    ----------
    path : str or path-like
        The store folder (created if missing). One writer at a time; use
        :meth:`open_read_only` for readers.
    cache_mb : int, default 256
        Day archives kept in memory between batches and queries, in MiB.
        A writer reads the days a batch or a query touches, not the whole
        history, so its memory stays near this budget however many days
        the store holds.
    """

    def __init__(self, path: Union[str, "os.PathLike[str]"], cache_mb: int = 256) -> None:
        self._engine = _Engine(os.fspath(path), cache_mb)

    @classmethod
    def in_memory(cls) -> "Engine":
        """An engine that keeps everything in memory (notebooks, tests).

        Returns
        -------
        Engine

        Examples
        --------
        >>> eng = Engine.in_memory()
        >>> eng.add_site(1, timezone="Europe/London")
        >>> eng
        hitmap.Engine(sites=[1])
        """
        self = cls.__new__(cls)
        self._engine = _Engine.in_memory()
        return self

    @classmethod
    def open_read_only(
        cls,
        location: Union[str, "os.PathLike[str]"],
        *,
        cache_mb: int = 256,
        max_age: Optional[float] = None,
        storage_options: Optional[Mapping[str, str]] = None,
    ) -> "Engine":
        """Opens an existing store for queries while a writer ingests.

        The reader is lazy: it reads the store's manifest and each site's
        configuration, dictionaries and visitor history, then the day
        archives a query needs, keeping recent ones within ``cache_mb``.

        Parameters
        ----------
        location : str or path-like
            A store folder written by ``Engine(path)``, or the object store
            URL it was published to (``s3://bucket/prefix``, ``gs://…``,
            ``az://…``; see :meth:`publish`).
        cache_mb : int
            Memory for day archives between queries.
        max_age : float, optional
            Seconds after which a query first picks up newer commits
            (:meth:`refresh`); by default only :meth:`refresh` does.
        storage_options : mapping, optional
            object_store settings over the environment's, as in pandas and
            polars: ``{"aws_endpoint": "http://127.0.0.1:9000",
            "aws_allow_http": "true"}``.

        Returns
        -------
        Engine
            Ingesting or adding sites raises :class:`StoreError`.

        Raises
        ------
        StoreError
            The location holds no store or a damaged one.

        Examples
        --------
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> writer = Engine(folder)
        >>> writer.add_site(1)
        >>> _ = writer.ingest([{"site": 1, "visitor": "a", "ts": 1717200000, "url": "https://x.org/"}])
        >>> reader = Engine.open_read_only(folder, cache_mb=16)
        >>> reader.visits_summary(1, "2024-06-01").nb_visits
        1
        """
        self = cls.__new__(cls)
        self._engine = _Engine.open_read_only(
            os.fspath(location), cache_mb, max_age, dict(storage_options or {})
        )
        return self

    def refresh(self) -> bool:
        """Picks up the store's newest commit (a reader); cached days whose
        files did not change stay. Returns whether there was a newer one.

        Examples
        --------
        >>> Engine.in_memory().refresh()
        False
        """
        return self._engine.refresh()

    @property
    def query_threads(self) -> int:
        """How many threads one query may use. Reports over many days or
        visits split into runs, one per thread, whose counts add up exactly;
        small ones stay on the calling thread. The default is the
        ``HITMAP_THREADS`` environment variable, else one per core; set 1
        where the host forbids threads or already runs a query per core, 0
        for one per core.

        Examples
        --------
        >>> e = Engine.in_memory()
        >>> e.query_threads = 1
        >>> e.query_threads
        1
        """
        return self._engine.query_threads()

    @query_threads.setter
    def query_threads(self, threads: int) -> None:
        if threads < 0:
            raise ValueError(f"query_threads must be 0 (one per core) or more, got {threads}")
        self._engine.set_query_threads(threads)

    def read_stats(self) -> Dict[str, int]:
        """Files and bytes this engine has read from its store.

        Examples
        --------
        >>> Engine.in_memory().read_stats()
        {'requests': 0, 'bytes': 0}
        """
        requests, nbytes = self._engine.read_stats()
        return {"requests": requests, "bytes": nbytes}

    def publish(
        self,
        url: str,
        *,
        retain: float = 3600.0,
        storage_options: Optional[Mapping[str, str]] = None,
    ) -> Dict[str, int]:
        """Publishes this store's current commit to an object store for
        readers (:meth:`open_read_only` with the URL, ``hitmap serve URL``,
        the serverless function): seals live data, uploads the files the
        bucket lacks, then the manifest. This store is the one writer of
        that prefix.

        Parameters
        ----------
        url : str
            ``s3://bucket/prefix``, ``gs://bucket/prefix`` or ``az://container/prefix``.
        retain : float
            Seconds superseded files stay for readers of older manifests.
        storage_options : mapping, optional
            As for :meth:`open_read_only`.

        Returns
        -------
        dict
            ``generation``, ``uploaded`` (files), ``bytes``, ``deleted``.
        """
        generation, uploaded, nbytes, deleted = self._engine.publish(
            url, retain, dict(storage_options or {})
        )
        return {"generation": generation, "uploaded": uploaded, "bytes": nbytes, "deleted": deleted}

    def add_site(
        self,
        site: int,
        timezone: str = "UTC",
        visit_timeout: int = 1800,
        hosts: Sequence[str] = (),
        sections: Mapping[str, Sequence[str]] | None = None,
        dimensions: Sequence[str] = (),
        ecommerce: bool = False,
        name: str | None = None,
        main_url: str | None = None,
        excluded_ips: Sequence[str] = (),
        excluded_user_agents: Sequence[str] = (),
        exclude_unknown_urls: bool = False,
        excluded_parameters: Sequence[str] = (),
        title_category_delimiter: str | None = None,
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
        ecommerce : bool
            An ecommerce site: its ``order`` and ``cart`` hits are reported
            (``Goals.get`` with ``idGoal=ecommerceOrder``, the products
            reports).
        name : str, optional
            The site's name (``MultiSites``, ``SitesManager``); kept by an
            update without one.
        main_url : str, optional
            The site's main URL with its scheme (``http://example.org``);
            access logs' URLs take its scheme.
        excluded_ips : sequence of str
            Matomo's excluded IPs: addresses, ranges (``10.0.0.0/8``) and
            wildcards (``192.168.*.*``) whose tracking requests are dropped.
        excluded_user_agents : sequence of str
            Tracking requests whose user agent holds one (any case) are
            dropped.
        exclude_unknown_urls : bool
            Tracking requests to URLs off the site's hosts and main URL are
            dropped.
        excluded_parameters : sequence of str
            Matomo's excluded query parameters: stripped (any case) from the
            page URLs the tracker and the access-log importer record, with
            Matomo's default session and click ids (``gclid``,
            ``phpsessid``, ``sid``, ...).
        title_category_delimiter : str, optional
            Matomo's ``action_title_category_delimiter`` (``"/"``,
            ``" | "``): page titles are categories joined by it, and the
            page title reports are a tree of them (``report("page_titles")``
            gives its top level: a row per first category, its counts the
            sums of the titles under it, and the titles without one;
            ``api("method=Actions.getPageTitles&flat=1...")`` gives the
            titles as stored).
        """
        self._engine.add_site(
            site,
            timezone,
            visit_timeout,
            list(hosts),
            {k: list(v) for k, v in (sections or {}).items()},
            list(dimensions),
            ecommerce,
            name,
            main_url,
            list(excluded_ips),
            list(excluded_user_agents),
            exclude_unknown_urls,
            list(excluded_parameters),
            title_category_delimiter,
        )

    def ingest_ndjson(
        self,
        source: Source,
        progress: bool = False,
        batch_id: Optional[str] = None,
        force: bool = False,
    ) -> IngestResult:
        """Ingests NDJSON hits (one JSON object per line), streamed.

        The input is read in slices and committed in chunks of 64 MiB, so
        memory stays bounded whatever its size. Each chunk is atomic and
        has an identity (the hash of its bytes, or ``batch_id#n``) that
        the store remembers: ingesting the same input again skips what is
        already in (``skipped_batches``), and an interrupted ingest resumes
        where it stopped when run again.

        Parameters
        ----------
        source : path, bytes or binary file object
            Gzip-compressed input (``.gz``) is recognised by its magic bytes
            and decompressed on the fly (bzip2 and zstd too for a path). A
            file given by path and ingested again resumes after the part
            the store holds: one that grew (a cron job over a log still
            being written), was renamed or compressed counts each line
            once, and a last line still being written is left for the next
            run.
        progress : bool
            Show a ``tqdm.auto`` progress bar over the bytes parsed (a
            warning, not an error, when tqdm is not installed).
        batch_id : str, optional
            Name the input (an ETL run id) instead of recognising it by
            content.
        force : bool
            Ingest even chunks the store already holds.

        Returns
        -------
        IngestResult
            Accepted count, rejected lines with their reasons, and the
            chunks committed and skipped.

        Raises
        ------
        KeyboardInterrupt
            Ctrl-C stops the chunk being parsed (nothing of it is stored);
            chunks committed before stay, and a re-run skips them.
        StoreError
            The store is read-only or damaged.

        Examples
        --------
        >>> eng = Engine.in_memory(); eng.add_site(1)
        >>> line = b'{"site":1,"visitor":"v","ts":1717200000,"url":"https://x.org/"}\\n{"site":1}\\n'
        >>> eng.ingest_ndjson(line)
        IngestResult(accepted=1, rejected=1)
        >>> eng.ingest_ndjson(line)
        IngestResult(accepted=0, rejected=0, skipped_batches=1)
        """
        total: Optional[int] = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            data = bytes(source)
            total = len(data)
            stream: Any = io.BytesIO(data)
            opened = None
        elif isinstance(source, (str, os.PathLike)):
            # A file by path is read by the engine, which resumes after the
            # part the store holds when the file was ingested before and
            # has grown (a cron over a log still written), or was renamed
            # or compressed: each line counts once.
            path = os.fspath(source)
            with open(path, "rb") as f:
                plain = f.read(2) not in (b"\x1f\x8b", b"BZ", b"\x28\xb5")
            file_bar = _progress_bar(progress, os.path.getsize(path) if plain else None, "hitmap ingest")
            on_bytes: Optional[Callable[[int], None]] = None
            if file_bar is not None:
                on_bytes = lambda done: file_bar.update(done - file_bar.n)  # noqa: E731
            try:
                result = self._engine.ingest_ndjson_path(path, on_bytes, batch_id, force)
            finally:
                if file_bar is not None:
                    file_bar.close()
            accepted, rejected, batches, skipped, skipped_lines = result
            return IngestResult(accepted, list(rejected), batches, skipped, skipped_lines)
        elif hasattr(source, "read"):
            stream, opened = source, None
        else:
            raise TypeError(
                f"source: expected a path, bytes or a binary file object, got {type(source).__name__}"
            )
        try:
            head = stream.read(2)
            if isinstance(head, str):
                raise TypeError("source: the file object is in text mode; open it with 'rb'")
            stream = _Prepended(head, stream)
            if head == b"\x1f\x8b":
                stream = gzip.GzipFile(fileobj=stream, mode="rb")
                total = None
            bar = _progress_bar(progress, total, "hitmap ingest")
            callback: Optional[Callable[[int], None]] = None
            if bar is not None:
                callback = lambda done: bar.update(done - bar.n)  # noqa: E731
            try:
                accepted, rejected, batches, skipped, skipped_lines = self._engine.ingest_ndjson_stream(
                    stream, callback, batch_id, force
                )
            finally:
                if bar is not None:
                    bar.close()
        finally:
            if opened is not None:
                opened.close()
        return IngestResult(accepted, list(rejected), batches, skipped, skipped_lines)

    def ingest_log(
        self,
        paths: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]],
        format: Optional[str] = None,
        **options: Any,
    ) -> LogResult:
        """Imports web-server access logs, with the rules of Matomo's log
        importer.

        Files are streamed (gzip, bzip2 and zstd recognised by their first
        bytes; ``"-"`` is stdin) and committed in chunks, so memory stays
        bounded; a file imported again is skipped chunk by chunk. Comment,
        blank and invalid lines are counted, never fatal. Visitors are a
        keyed hash of IP and user agent (or the logged user id); the IP is
        never stored.

        Parameters
        ----------
        paths : path or list of paths
        format : str, optional
            ``"auto"`` (the default) or a format name: ``common``,
            ``common_vhost``, ``ncsa_extended`` (``combined``),
            ``common_complete``, ``w3c_extended`` (``iis``, ...), ``elb``,
            ``alb``, ``s3``, ``nginx_json``, ``traefik_json``,
            ``caddy_json``, ``haproxy``, ``ovh``, ``gandi``, ``icecast2``.
        **options
            The CLI's flags with ``_`` for ``-``: ``idsite``,
            ``idsite_fallback``, ``log_format_regex``, ``log_date_format``,
            ``enable_static``, ``enable_bots``, ``enable_http_errors``,
            ``enable_http_redirects``, ``include_host``, ``exclude_host``,
            ``include_path``, ``exclude_path``, ``useragent_exclude``,
            ``exclude_older_than``, ``exclude_newer_than``,
            ``w3c_map_field`` (lists or one value), ``force_lowercase_path``,
            ``strip_query_string``, ``encoding``, ``visitor_secret``,
            ``anonymize_ip``, ``matomo_visitors``, ``matomo_visitors_state`` (a file
            that keeps the visits ``matomo_visitors`` recognises between
            imports), ``geoip`` (a ``.mmdb`` path), ``device_detector``
            (a directory of Matomo's DeviceDetector rules: browsers,
            systems and devices named as Matomo names them, with brand,
            model and engine), ``force``, ``dry_run``, ``show_invalid``.

        Examples
        --------
        >>> import os, tempfile
        >>> log = os.path.join(tempfile.mkdtemp(), "access.log")
        >>> _ = open(log, "w").write(
        ...     '1.2.3.4 - - [10/Feb/2012:16:42:07 -0500] "GET /a HTTP/1.1" 200 368 "-" "Mozilla/5.0"\\n'
        ...     '1.2.3.4 - - [10/Feb/2012:16:42:09 -0500] "GET /admin/x HTTP/1.1" 200 368 "-" "Mozilla/5.0"\\n'
        ...     'oops\\n')
        >>> eng = Engine.in_memory()
        >>> eng.add_site(1, hosts=["example.org"])
        >>> r = eng.ingest_log(log, format="combined", exclude_path=["/admin/*"])
        >>> r.pageviews, r.skipped, [line for _, line, _ in r.invalid_lines]
        (1, {'path filtered out': 1}, [3])
        """
        if isinstance(paths, (str, os.PathLike)):
            paths = [paths]
        pairs: List[Tuple[str, str]] = []
        if format is not None:
            pairs.append(("log-format", format))
        for name, value in options.items():
            values = value if isinstance(value, (list, tuple)) else [value]
            for v in values:
                if isinstance(v, bool):
                    v = "true" if v else "false"
                pairs.append((name, str(v)))
        s = json.loads(self._engine.ingest_log([os.fspath(p) for p in paths], pairs))
        return LogResult(
            lines=s["lines"],
            hits=s["hits"],
            pageviews=s["pageviews"],
            downloads=s["downloads"],
            events=s["events"],
            comments=s["comments"],
            invalid=s["invalid"],
            skipped=dict(s["skipped"]),
            invalid_lines=[(e["input"], e["line"], e["reason"]) for e in s["examples"]],
            formats={f["input"]: f["format"] for f in s["formats"]},
            batches=s["batches"],
            skipped_batches=s["skipped_batches"],
            skipped_lines=s["skipped_lines"],
            rejected=s["rejected"],
            held_back=s.get("held_back", 0),
        )

    def ingest(
        self,
        records: Any,
        progress: bool = False,
        batch_id: Optional[str] = None,
        force: bool = False,
    ) -> IngestResult:
        """Ingests hits given as records with the spec's fields: a list of
        dicts, or a pandas or polars DataFrame with those columns.

        A DataFrame (polars, pyarrow, or pandas with pyarrow installed) goes
        in as Arrow columns through the Arrow C stream interface, with no
        JSON in between: strings of any Arrow string type, ``ts`` as a
        time-zone-aware datetime column or integer Unix seconds, ``event``
        and ``campaign`` as struct columns, ``dims`` as a struct column
        (one field per dimension) or a map; conversions (``type`` goal,
        order or cart) with ``goal``, ``revenue``, ``order`` as a struct
        (``id``, ``subtotal``, ``tax``, ``shipping``, ``discount``) and
        ``items`` as a list of structs (``sku``, ``name``, ``category`` a
        string or a list, ``price``, ``quantity``) or JSON text. A column the contract does not
        know, or a naive datetime column, raises ``ValueError`` before
        anything is ingested.

        ``ts`` may be an aware ``datetime`` (or pandas ``Timestamp``) or Unix
        seconds; missing values (``None``, ``NaN``) are left out. Rejected
        records are numbered from 1 in the order given. The same records
        ingested again are skipped, as for :meth:`ingest_ndjson`.

        Parameters
        ----------
        records : list of dict, pandas.DataFrame or polars.DataFrame
        progress, batch_id, force
            As for :meth:`ingest_ndjson`.

        Returns
        -------
        IngestResult

        Raises
        ------
        ValueError
            For a naive datetime (it names no instant).
        TypeError
            When ``records`` is not a sequence of mappings.
        """
        if hasattr(records, "__arrow_c_stream__"):
            # polars, pyarrow, pandas with pyarrow, DuckDB: Arrow columns
            # straight into the engine, no JSON in between.
            try:
                accepted, rejected, batches, skipped, skipped_lines = self._engine.ingest_arrow(
                    without_null_columns(records), batch_id=batch_id, force=force
                )
            except ImportError:  # pandas without pyarrow cannot export
                pass
            else:
                return IngestResult(
                    accepted=accepted,
                    rejected=rejected,
                    batches=batches,
                    skipped_batches=skipped,
                    skipped_lines=skipped_lines,
                )
        if hasattr(records, "to_dicts"):  # polars
            records = records.to_dicts()
        elif hasattr(records, "to_dict") and not isinstance(records, Mapping):  # pandas
            records = records.to_dict("records")
        if isinstance(records, (Mapping, str, bytes)):
            raise TypeError("records: expected a list of dicts or a DataFrame, not a single value")
        lines = []
        for i, r in enumerate(records, 1):
            if not isinstance(r, Mapping):
                raise TypeError(f"record {i}: expected a dict, got {type(r).__name__}")
            hit = {k: _timestamp(v) for k, v in r.items() if v is not None and v == v}
            lines.append(json.dumps(hit, default=str))
        return self.ingest_ndjson(
            ("\n".join(lines) + "\n").encode(), progress=progress, batch_id=batch_id, force=force
        )

    def _timezone(self, site: int) -> str:
        return self._engine.site_timezone(site)

    @staticmethod
    def _query(method: str, site: int, period: str, date: str, extra: str = "",
               segment: Optional[str] = None, section: Optional[str] = None) -> str:
        # Visit reports with their ratios (Matomo's API leaves them out
        # unless asked): the columns a Report declares.
        params = {"method": method, "idSite": str(site), "period": period, "date": date,
                  "format_metrics": "0", "filter_limit": "-1",
                  "filter_add_columns_when_show_all_columns": "1"}
        if segment:
            params["segment"] = segment
        if section:
            params["section"] = section
        query = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        return query + ("&" + extra if extra else "")

    def _ask(self, method: str, site: int, period: str, date: str, extra: str = "",
             segment: Optional[str] = None, section: Optional[str] = None) -> Any:
        return self.api(self._query(method, site, period, date, extra, segment, section))

    def visits_summary(self, site: int, start: Any, end: Any = None, *,
                       segment: Optional[str] = None, section: Optional[str] = None) -> Summary:
        """Visits, exact unique visitors and users, actions, bounces and
        time on site for a day, a month, a year or any range.

        Parameters
        ----------
        site : int
        start : date, str or aware datetime
            With ``end``: the first day of a range. Alone: a day
            (``"2026-03-05"``), a month (``"2026-03"``), a year (``"2026"``)
            or a ``(start, end)`` tuple.
        end : date, str or aware datetime, optional
            The last day of the range (inclusive).
        segment : str, optional
            A Matomo segment, e.g. ``"deviceType==smartphone;countryCode==gb"``.
        section : str, optional
            A section name or URL path prefix (``"/news"``).

        Returns
        -------
        Summary
            ``s.nb_visits``, ``s.nb_uniq_visitors``, ... ; ``s.to_dict()``.

        Examples
        --------
        >>> eng = Engine.in_memory()
        >>> eng.add_site(1, sections={"News": ["/news"]})
        >>> eng.ingest([{"site": 1, "visitor": v, "ts": 1767268800 + i * 60,
        ...              "url": f"https://x.org/{p}"}
        ...             for i, (v, p) in enumerate([("a", "news/1"), ("a", "about"), ("b", "about")])])
        IngestResult(accepted=3, rejected=0)
        >>> s = eng.visits_summary(1, "2026-01-01", "2026-03-31", section="/news")
        >>> s.nb_uniq_visitors, s.nb_actions
        (1, 1)
        """
        return self._summary("VisitsSummary.get", VISIT_METRICS, site, start, end, segment, section)

    def actions_summary(self, site: int, start: Any, end: Any = None, *,
                        segment: Optional[str] = None, section: Optional[str] = None) -> Summary:
        """Page views, unique page views, downloads, outlinks, searches,
        distinct keywords and events (``Actions.get``).

        Parameters and result as for :meth:`visits_summary`.

        Returns
        -------
        Summary
        """
        return self._summary("Actions.get", ACTION_METRICS, site, start, end, segment, section)

    def _summary(self, method: str, metrics: Sequence[str], site: int, start: Any, end: Any,
                 segment: Optional[str], section: Optional[str]) -> Summary:
        period, date = _dates.period_and_date(start, end, timezone=self._timezone(site))
        first, last = _dates.period_bounds(period, date)
        answer = self._ask(method, site, period, date, segment=segment, section=section)
        return Summary(site, first, last, metrics, answer, segment, section)

    def report(self, kind: str, site: int, date: Any, end: Any = None, *,
               period: Optional[str] = None, segment: Optional[str] = None,
               section: Optional[str] = None, dimension: Optional[str] = None) -> Report:
        """Every row of a report for one period, with exact per-row
        distinct visits and visitors.

        Parameters
        ----------
        kind : str
            One of ``hitmap.REPORTS`` (each a Reporting API method):
            ``"pages"`` (flat page URLs), ``"page_titles"``,
            ``"entry_pages"``, ``"exit_pages"``, ``"entry_page_titles"``,
            ``"exit_page_titles"``, ``"downloads"``, ``"outlinks"``,
            ``"site_search_keywords"``, ``"site_search_no_result_keywords"``,
            ``"site_search_categories"``, ``"event_categories"``,
            ``"event_actions"``, ``"event_names"``, ``"content_names"``,
            ``"content_pieces"``, ``"device_type"``,
            ``"browser"``, ``"browser_version"``, ``"os"``,
            ``"os_version"``, ``"resolution"``, ``"country"``,
            ``"continent"``, ``"region"``, ``"city"``, ``"language"``, ``"browser_language"``,
            ``"referrer_type"``, ``"referrers"``, ``"search_engines"``,
            ``"search_keywords"``, ``"websites"``, ``"social_networks"``,
            ``"campaigns"``, ``"ai_assistants"``, ``"server_time"``,
            ``"local_time"``, ``"day_of_week"``, ``"visit_duration"``,
            ``"pages_per_visit"``, ``"visit_number"``,
            ``"days_since_last_visit"``, ``"sections"``,
            ``"custom_dimension"`` (with ``dimension=``).
        site : int
        date : date, str or aware datetime
            ``"2026-03"`` (a month), ``"2026"`` (a year), a day, or the first
            day of a range ending at ``end``; with ``period="week"`` the week
            holding the day.
        end : optional
            Last day of a range.
        period : str, optional
            ``day``, ``week``, ``month``, ``year`` or ``range``.
        segment, section : str, optional
            As for :meth:`visits_summary`.
        dimension : str, optional
            The custom dimension of ``kind="custom_dimension"``.

        Returns
        -------
        Report
            Rows sorted by ``nb_visits`` (descending); ``.to_pandas()``,
            ``.to_polars()``, ``.to_arrow()``. With pyarrow installed the
            rows come from the engine as Arrow columns, not JSON.

        Raises
        ------
        ValueError
            For an unknown report name.
        """
        if kind not in REPORTS:
            raise ValueError(f"unknown report {kind!r}; choose one of {', '.join(REPORTS)}")
        method, extra = REPORTS[kind]
        if kind == "custom_dimension":
            if not dimension:
                raise ValueError("report('custom_dimension', ...) needs dimension='name'")
            extra = urllib.parse.urlencode({"dimension": dimension})
        p, d = _dates.period_and_date(date, end, period, timezone=self._timezone(site))
        if p != "range" and ("," in d or d.startswith(("last", "previous"))):
            raise ValueError("report() answers one period; use series() for several")
        first, last = _dates.period_bounds(*self._resolve(site, p, d))
        query = self._query(method, site, p, d, extra, segment, section)
        try:
            import pyarrow  # type: ignore[import-untyped]  # noqa: F401
        except ImportError:
            return Report(kind, site, first, last, _report_columns(kind), self.api(query),
                          segment, section)
        return Report(kind, site, first, last, _report_columns(kind), None, segment, section,
                      arrow=self.api_arrow(query))

    def _resolve(self, site: int, period: str, date: str) -> Tuple[str, str]:
        """Replaces ``today``/``yesterday`` by the site's local day."""
        if date in ("today", "yesterday"):
            from zoneinfo import ZoneInfo

            today = _dt.datetime.now(ZoneInfo(self._timezone(site))).date()
            if date == "yesterday":
                today -= _dt.timedelta(days=1)
            return period, today.isoformat()
        return period, date

    def series(self, site: int, period: str = "day", date: Any = "last30",
               metrics: Optional[Sequence[str]] = None, *, end: Any = None,
               segment: Optional[str] = None, section: Optional[str] = None) -> Series:
        """Metrics per day, week, month or year: one row per period.

        Parameters
        ----------
        site : int
        period : str
            ``"day"``, ``"week"``, ``"month"`` or ``"year"``.
        date : str or date
            ``"last90"``, ``"previous12"``, or the first day of a span ending
            at ``end`` (``date="2026-01-01", end="2026-03-31"``).
        metrics : sequence of str, optional
            Any of ``VisitsSummary.get`` and ``Actions.get``'s metrics
            (default: all of VisitsSummary's).
        end : optional
            The last day of the span.
        segment, section : str, optional

        Returns
        -------
        Series
            ``.to_pandas()``: ``date``, ``date_end`` and one column per metric.

        Examples
        --------
        >>> eng = Engine.in_memory()
        >>> eng.add_site(1)
        >>> eng.ingest([{"site": 1, "visitor": "a", "ts": 1767268800, "url": "https://x.org/"},
        ...             {"site": 1, "visitor": "b", "ts": 1767355200, "url": "https://x.org/"}])
        IngestResult(accepted=2, rejected=0)
        >>> s = eng.series(1, period="day", date="2026-01-01", end="2026-01-03",
        ...                metrics=["nb_visits", "nb_uniq_visitors"])
        >>> [(str(p["date"]), p["nb_visits"]) for p in s]
        [('2026-01-01', 1), ('2026-01-02', 1), ('2026-01-03', 0)]
        """
        if period not in ("day", "week", "month", "year"):
            raise ValueError(f"period must be day, week, month or year, got {period!r}")
        wanted = tuple(metrics) if metrics is not None else VISIT_METRICS
        unknown = [m for m in wanted if m not in VISIT_METRICS and m not in ACTION_METRICS]
        if unknown:
            raise ValueError(
                f"unknown metric(s) {', '.join(unknown)}; choose from "
                f"{', '.join(VISIT_METRICS + ACTION_METRICS)}"
            )
        tz = self._timezone(site)
        if end is not None:
            date = f"{_dates.day(date, tz, 'date')},{_dates.day(end, tz, 'end')}"
        elif not (isinstance(date, str) and (date.startswith(("last", "previous")) or "," in date)):
            raise ValueError("series() needs date='lastN', 'previousN', or date= and end=")
        answers: List[Dict[str, Any]] = []
        for method, names in (("VisitsSummary.get", VISIT_METRICS), ("Actions.get", ACTION_METRICS)):
            if any(m in names for m in wanted):
                answers.append(self._ask(method, site, period, str(date), segment=segment, section=section))
        points = []
        for label in answers[0]:
            first, last = _dates.label_bounds(label)
            values: Dict[str, Any] = {}
            for a in answers:
                if isinstance(a[label], dict):
                    values.update(a[label])
            point: Dict[str, Any] = {"date": first, "date_end": last}
            point.update({m: values.get(m, 0.0 if m in RATIO_METRICS else 0) for m in wanted})
            points.append(point)
        return Series(site, period, wanted, points, segment, section)

    def api(self, query: str, timeout: Optional[float] = None) -> Any:
        """Answers a Matomo-style Reporting API request.

        Parameters
        ----------
        query : str
            ``method=...&idSite=...&period=...&date=...`` (and ``segment``,
            ``section``, ``filter_*``).
        timeout : float, optional
            Seconds the request may take; past them it stops with
            :class:`DeadlineError` (a :class:`RequestError`). At most
            3660 periods are answered per request in any case.

        Returns
        -------
        dict, list or str
            The decoded JSON, the same as every other host returns; with
            ``format=csv``, ``tsv`` or ``xml`` in the query, that text.

        Examples
        --------
        >>> import hitmap
        >>> e = hitmap.Engine.in_memory()
        >>> e.add_site(1)
        >>> e.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01", timeout=5.0)["nb_visits"]
        0
        """
        text = self._engine.api_json(query, timeout)
        fmt = urllib.parse.parse_qs(query.lstrip("?")).get("format", ["json"])[-1]
        return json.loads(text) if fmt.lower() == "json" else text

    def api_arrow(self, query: str, timeout: Optional[float] = None) -> Any:
        """Answers a Reporting API request for one period as a
        ``pyarrow.Table``: a column per key of the rows (``int64`` counts,
        ``float64`` ratios, ``string`` labels), a row per report row,
        straight from the engine's columns without JSON.

        Parameters
        ----------
        query : str
            As for :meth:`api`, without ``format=``; one period and one
            site (``period=range`` covers several days).
        timeout : float, optional
            As for :meth:`api`.

        Returns
        -------
        pyarrow.Table
            ``polars.from_arrow(t)`` or ``t.to_pandas()`` for a DataFrame.

        Raises
        ------
        RequestError
            For an answer keyed by period or site (``date=last7``).

        Examples
        --------
        >>> e = Engine.in_memory()
        >>> e.add_site(1)
        >>> e.ingest([{"site": 1, "visitor": v, "ts": 1717200000 + i, "url": "https://x.org/a"}
        ...           for i, v in enumerate("abca")])
        IngestResult(accepted=4, rejected=0)
        >>> t = e.api_arrow("method=Actions.getPageUrls&flat=1&idSite=1&period=day&date=2024-06-01")
        >>> t.column("label").to_pylist(), t.column("nb_uniq_visitors").to_pylist()
        (['/a'], [3])
        """
        pa = _optional("pyarrow", "api_arrow()")
        return pa.table(self._engine.api_arrow(query, timeout))

    def memory_usage(self) -> Dict[str, int]:
        """Heap bytes the engine holds, by part: dictionaries, the visitor
        table, visit and action columns, indexes, section cuts (for a
        read-only store, the days it has loaded). Close estimates from
        capacities; what the allocator keeps after frees is not counted.

        Returns
        -------
        dict
            Part name to bytes; ``sum(...values())`` is the total.

        Examples
        --------
        >>> e = Engine.in_memory()
        >>> e.add_site(1)
        >>> e.ingest([{"site": 1, "visitor": "a", "ts": 1717200000, "url": "https://x.org/"}])
        IngestResult(accepted=1, rejected=0)
        >>> parts = e.memory_usage()
        >>> parts["dictionaries"] > 0 and sum(parts.values()) > parts["dictionaries"]
        True
        """
        return dict(self._engine.memory_usage())

    def forget_visitor(self, site: int, visitor: str) -> int:
        """Forgets a visitor everywhere (right to erasure): every hit, and
        the key itself from every store file.

        Parameters
        ----------
        site : int
        visitor : str
            The ``visitor`` key of the hits.

        Returns
        -------
        int
            The number of hits removed.
        """
        return self._engine.forget_visitor(site, visitor)

    def export_day(self, site: int, day: Any) -> bytes:
        """One local day of a site as a self-contained, checksummed bundle:
        the site's configuration, that day's dictionaries and its archive.
        :meth:`import_day` loads it into another engine or store (a
        replica, a reader in object storage).

        Parameters
        ----------
        site : int
        day : date or str
            The site's local day (``"2026-03-05"``).

        Returns
        -------
        bytes

        Examples
        --------
        >>> src = Engine.in_memory()
        >>> src.add_site(1, timezone="Europe/London")
        >>> _ = src.ingest([{"site": 1, "visitor": "a", "ts": 1717200000, "url": "https://x.org/"}])
        >>> dst = Engine.in_memory()
        >>> dst.import_day(src.export_day(1, "2024-06-01"))
        datetime.date(2024, 6, 1)
        >>> dst.visits_summary(1, "2024-06-01").nb_visits
        1
        """
        return self._engine.export_day(site, _dates.day(day, self._timezone(site), "day").isoformat())

    def import_day(self, bundle: bytes) -> _dt.date:
        """Imports a day bundle from :meth:`export_day` (any engine, any
        store). A missing site is added from the bundle; an existing one
        must have the same time zone and timeout, and must not hold that
        day yet. A damaged or foreign bundle raises :class:`HitmapError`.

        Parameters
        ----------
        bundle : bytes

        Returns
        -------
        datetime.date
            The bundle's day.
        """
        return _dt.date.fromisoformat(self._engine.import_day(bytes(bundle)))

    def seal(self) -> int:
        """Seals live data into day files; returns the hits that were live.

        Small ingests land in the store's write-ahead log and in live day
        parts first (one append and one fsync, whatever the day holds) and
        are sealed on their own as they grow; call this before a backup,
        or when a writer stops for good.

        >>> e = Engine.in_memory()
        >>> e.add_site(1)
        >>> _ = e.ingest([{"site": 1, "ts": 1717200000, "visitor": "a", "url": "https://x.org/"}])
        >>> e.seal()
        1
        >>> e.seal()
        0
        """
        return self._engine.seal()

    def close(self) -> None:
        """Seals live data and releases the store (its writer's lock): the
        engine is empty and in memory afterwards. ``with Engine(path) as e:``
        closes it at the block's end.

        Examples
        --------
        >>> import tempfile
        >>> path = tempfile.mkdtemp()
        >>> with Engine(path) as e:
        ...     e.add_site(1)
        >>> Engine(path).close()  # the lock was released
        """
        self._engine.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"hitmap.Engine(sites={self._engine.site_ids()})"
