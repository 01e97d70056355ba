"""Result objects: a summary, a report and a time series, each with
``to_dict()``, ``to_pandas()`` and ``to_polars()`` (imported lazily, so
neither library is needed until asked for) and notebook reprs."""

from __future__ import annotations

import datetime as _dt
import html
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

#: Metrics that are ratios (floats); every other metric is an exact count.
RATIO_METRICS = frozenset(
    {
        "bounce_rate",
        "exit_rate",
        "interaction_rate",
        "nb_actions_per_visit",
        "avg_time_on_site",
        "avg_time_on_page",
        "avg_event_value",
        "sum_event_value",
        "min_event_value",
        "max_event_value",
    }
)

#: VisitsSummary.get metrics, in the order tables show them.
VISIT_METRICS: Tuple[str, ...] = (
    "nb_visits",
    "nb_uniq_visitors",
    "nb_users",
    "nb_actions",
    "max_actions",
    "bounce_count",
    "sum_visit_length",
    "bounce_rate",
    "nb_actions_per_visit",
    "avg_time_on_site",
)

#: Actions.get metrics.
ACTION_METRICS: Tuple[str, ...] = (
    "nb_pageviews",
    "nb_uniq_pageviews",
    "nb_downloads",
    "nb_uniq_downloads",
    "nb_outlinks",
    "nb_uniq_outlinks",
    "nb_searches",
    "nb_keywords",
    "nb_events",
)

#: Columns of an action report row (pages and titles have all of them).
ACTION_ROW_METRICS: Tuple[str, ...] = (
    "nb_visits",
    "nb_uniq_visitors",
    "nb_hits",
    "sum_time_spent",
    "entry_nb_visits",
    "entry_nb_uniq_visitors",
    "entry_bounce_count",
    "exit_nb_visits",
    "exit_nb_uniq_visitors",
    "avg_time_on_page",
    "bounce_rate",
    "exit_rate",
)


def _optional(module: str, call: str) -> Any:
    """Imports an optional dependency, or says how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"{call} needs {module}, which is not installed: pip install {module}"
        ) from e


def _kind_of(column: str) -> str:
    if column in ("date", "date_end"):
        return "date"
    if column in ("label", "segment", "code"):
        return "str"
    return "float" if column in RATIO_METRICS else "int"


def _zero(column: str) -> Any:
    """What a row that lacks a column shows: 0 for a metric, None for text."""
    kind = _kind_of(column)
    if kind in ("str", "date"):
        return None
    return 0.0 if kind == "float" else 0


class _Table:
    """Columns in a fixed order; the shared DataFrame conversions."""

    _columns: Tuple[str, ...]

    def _rows(self) -> List[Dict[str, Any]]:
        raise NotImplementedError

    def _column_values(self) -> Dict[str, list]:
        rows = self._rows()
        return {c: [r.get(c, _zero(c)) for r in rows] for c in self._columns}

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame``.

        Counts are ``int64``, ratios ``float64``, labels ``object`` strings
        and dates ``datetime64[ns]`` (midnight of the site's local day).

        Returns
        -------
        pandas.DataFrame
        """
        pd = _optional("pandas", "to_pandas()")

        data = {}
        for column, values in self._column_values().items():
            kind = _kind_of(column)
            if kind == "date":
                data[column] = pd.to_datetime(pd.Series(values, dtype="object"))
            elif kind == "str":
                data[column] = pd.Series(values, dtype="object")
            else:
                data[column] = pd.Series(values, dtype="int64" if kind == "int" else "float64")
        return pd.DataFrame(data, columns=list(self._columns))

    def to_polars(self) -> Any:
        """The rows as a ``polars.DataFrame`` (``Int64`` counts, ``Float64``
        ratios, ``Utf8`` labels, ``Date`` dates).

        Returns
        -------
        polars.DataFrame
        """
        pl = _optional("polars", "to_polars()")

        types = {"date": pl.Date, "str": pl.Utf8, "int": pl.Int64, "float": pl.Float64}
        schema = {c: types[_kind_of(c)] for c in self._columns}
        return pl.DataFrame(self._column_values(), schema=schema)

    def _html_rows(self, limit: int = 10) -> str:
        rows = self._rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self._columns)
        body = []
        for r in rows[:limit]:
            cells = "".join(
                f"<td>{html.escape(str(r.get(c, _zero(c))))}</td>" for c in self._columns
            )
            body.append(f"<tr>{cells}</tr>")
        more = ""
        if len(rows) > limit:
            more = f"<p>{len(rows) - limit} more rows; .to_pandas() has them all.</p>"
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _scope(segment: Optional[str], section: Optional[str]) -> str:
    parts = []
    if segment:
        parts.append(f"segment={segment!r}")
    if section:
        parts.append(f"section={section!r}")
    return "".join(", " + p for p in parts)


class Summary(_Table):
    """One period's totals (``VisitsSummary.get`` or ``Actions.get``).

    Metrics are attributes (``s.nb_uniq_visitors``) and keys
    (``s["nb_visits"]``); an empty period gives zeros.

    Attributes
    ----------
    site : int
    start, end : datetime.date
        First and last local day of the period.
    segment, section : str or None
    metrics : dict
        Metric name to value, in table order.
    """

    def __init__(
        self,
        site: int,
        start: _dt.date,
        end: _dt.date,
        metrics: Sequence[str],
        answer: Any,
        segment: Optional[str] = None,
        section: Optional[str] = None,
    ) -> None:
        values = answer if isinstance(answer, dict) else {}
        self.site = site
        self.start = start
        self.end = end
        self.segment = segment
        self.section = section
        self.metrics: Dict[str, Any] = {m: values.get(m, _zero(m)) for m in metrics}
        self._columns = ("date", "date_end") + tuple(metrics)

    def __getattr__(self, name: str) -> Any:
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return metrics[name]
        raise AttributeError(f"no metric {name!r}; metrics are {', '.join(metrics)}")

    def __getitem__(self, name: str) -> Any:
        return self.metrics[name]

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(self.metrics))

    def _rows(self) -> List[Dict[str, Any]]:
        return [{"date": self.start, "date_end": self.end, **self.metrics}]

    def to_dict(self) -> Dict[str, Any]:
        """The metrics as a plain dict (``{"nb_visits": 12, ...}``).

        Returns
        -------
        dict
        """
        return dict(self.metrics)

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in list(self.metrics.items())[:4])
        return (
            f"Summary(site={self.site}, {self.start}..{self.end}"
            f"{_scope(self.segment, self.section)}: {shown}, ...)"
        )

    def _repr_html_(self) -> str:
        caption = html.escape(f"site {self.site}, {self.start} to {self.end}{_scope(self.segment, self.section)}")
        cells = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in self.metrics.items()
        )
        return f"<table><caption>{caption}</caption>{cells}</table>"


def _without_nulls(row: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None}


class Report(_Table):
    """Every row of a report for one period: pages, titles, downloads,
    devices, countries, sections, ... Each row has exact distinct
    ``nb_visits`` and ``nb_uniq_visitors``; nothing is truncated.

    Iterating gives the rows as dicts; ``len()`` counts them.

    Attributes
    ----------
    kind : str
        The report name given to :meth:`hitmap.Engine.report`.
    site : int
    start, end : datetime.date
    segment, section : str or None
    rows : list of dict
        The rows as the Reporting API gives them (``format_metrics=0``).
    """

    def __init__(
        self,
        kind: str,
        site: int,
        start: _dt.date,
        end: _dt.date,
        columns: Sequence[str],
        rows: Optional[List[Dict[str, Any]]] = None,
        segment: Optional[str] = None,
        section: Optional[str] = None,
        arrow: Any = None,
    ) -> None:
        self.kind = kind
        self.site = site
        self.start = start
        self.end = end
        self.segment = segment
        self.section = section
        # A column without a value (Matomo's empty `min_bandwidth`) is left
        # out of its row, as an Arrow table's null is.
        self._row_list = None if rows is None else [_without_nulls(r) for r in rows]
        # The engine's Arrow table of the rows (pyarrow), when it gave one.
        self._arrow = arrow
        self._columns = tuple(columns)

    @property
    def rows(self) -> List[Dict[str, Any]]:
        """The rows as dicts (made from the Arrow table on first use)."""
        if self._row_list is None:
            table = self._arrow.to_pylist() if self._arrow is not None else []
            self._row_list = [_without_nulls(r) for r in table]
        return self._row_list

    def to_arrow(self) -> Any:
        """The rows as a ``pyarrow.Table`` with the report's columns
        (``int64`` counts, ``float64`` ratios, ``string`` labels; a
        metric a row lacks is 0). Built from the engine's Arrow columns,
        without a JSON round trip.

        Returns
        -------
        pyarrow.Table
        """
        pa = _optional("pyarrow", "to_arrow()")
        types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "date": pa.date32()}
        if self._arrow is None:
            values = self._column_values()
            return pa.table(
                [pa.array(values[c], type=types[_kind_of(c)]) for c in self._columns],
                names=list(self._columns),
            )
        table, columns = self._arrow, []
        for c in self._columns:
            kind = _kind_of(c)
            if c not in table.column_names:
                columns.append(pa.array([_zero(c)] * table.num_rows, type=types[kind]))
                continue
            column = table.column(c)
            if _zero(c) is not None:
                column = column.fill_null(_zero(c))
            columns.append(column.cast(types[kind]))
        return pa.table(columns, names=list(self._columns))

    def to_polars(self) -> Any:
        """The rows as a ``polars.DataFrame`` (``Int64`` counts, ``Float64``
        ratios, ``Utf8`` labels), from the engine's Arrow columns when
        pyarrow is installed (no copy).

        Returns
        -------
        polars.DataFrame
        """
        if self._arrow is None:
            return super().to_polars()
        pl = _optional("polars", "to_polars()")
        return pl.from_arrow(self.to_arrow())

    def _rows(self) -> List[Dict[str, Any]]:
        return self.rows

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self.rows)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        return self.rows[i]

    def to_dict(self) -> Dict[str, Any]:
        """The report as a plain dict: its scope and its rows.

        Returns
        -------
        dict
            ``{"report", "site", "start", "end", "segment", "section",
            "rows"}`` with ISO date strings, ready for ``json.dumps``.
        """
        return {
            "report": self.kind,
            "site": self.site,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "segment": self.segment,
            "section": self.section,
            "rows": [{c: r.get(c, _zero(c)) for c in self._columns} for r in self.rows],
        }

    def __repr__(self) -> str:
        top = ""
        if self.rows:
            first = self.rows[0]
            top = f"; top {first.get('label')!r} nb_visits={first.get('nb_visits')}"
        return (
            f"Report({self.kind!r}, site={self.site}, {self.start}..{self.end}"
            f"{_scope(self.segment, self.section)}: {len(self.rows)} rows{top})"
        )

    def _repr_html_(self) -> str:
        caption = html.escape(
            f"{self.kind}, site {self.site}, {self.start} to {self.end}"
            f"{_scope(self.segment, self.section)}: {len(self.rows)} rows"
        )
        return f"<p>{caption}</p>{self._html_rows()}"


class Series(_Table):
    """Metrics per period (one row per day, week, month or year).

    Attributes
    ----------
    site : int
    period : str
    metrics : tuple of str
    segment, section : str or None
    points : list of dict
        One dict per period: ``date`` (first day), ``date_end`` (last day)
        and the metrics; empty periods give zeros.
    """

    def __init__(
        self,
        site: int,
        period: str,
        metrics: Sequence[str],
        points: List[Dict[str, Any]],
        segment: Optional[str] = None,
        section: Optional[str] = None,
    ) -> None:
        self.site = site
        self.period = period
        self.metrics = tuple(metrics)
        self.points = points
        self.segment = segment
        self.section = section
        self._columns = ("date", "date_end") + self.metrics

    def _rows(self) -> List[Dict[str, Any]]:
        return self.points

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self.points)

    def to_dict(self) -> Dict[str, Any]:
        """Columns as lists: ``{"date": [...], "nb_visits": [...], ...}``.

        Returns
        -------
        dict
            Dates as ``datetime.date``, metrics as ints or floats.
        """
        return self._column_values()

    def __repr__(self) -> str:
        span = f"{self.points[0]['date']}..{self.points[-1]['date_end']}" if self.points else "empty"
        return (
            f"Series(site={self.site}, {len(self.points)} x {self.period}, {span}"
            f"{_scope(self.segment, self.section)}: {', '.join(self.metrics)})"
        )

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(repr(self))}</p>{self._html_rows()}"
