"""Dates and periods given from Python, turned into the Reporting API's
``period`` and ``date`` parameters, and period labels turned back into
dates."""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from typing import Any, Optional, Tuple, Union

DateLike = Union[_dt.date, str]
"""A day: ``datetime.date``, ``"YYYY-MM-DD"`` or an aware ``datetime``."""

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^\d{4}$")


def day(value: Any, timezone: Optional[str] = None, name: str = "date") -> _dt.date:
    """A day from a ``date``, an ISO string or an aware ``datetime``.

    An aware datetime is an instant: it becomes the day it falls on in the
    site's time zone (``timezone``). Naive datetimes are refused because
    they name no instant.
    """
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise ValueError(
                f"{name}: naive datetime {value!r}; give a date, an ISO day "
                "string or an aware datetime (tzinfo=...)"
            )
        if timezone:
            from zoneinfo import ZoneInfo

            value = value.astimezone(ZoneInfo(timezone))
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return day(value.to_pydatetime(), timezone, name)
    if isinstance(value, str) and _DAY.match(value):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError as e:
            raise ValueError(f"{name}: {value!r} is not a calendar day ({e})") from None
    raise TypeError(
        f"{name}: expected a datetime.date, an aware datetime or 'YYYY-MM-DD', "
        f"got {type(value).__name__} {value!r}"
    )


def period_and_date(
    date: Any, end: Any = None, period: Optional[str] = None, timezone: Optional[str] = None
) -> Tuple[str, str]:
    """``(period, date)`` API parameters from friendly arguments.

    - ``end`` given: the range ``date..end``.
    - ``(a, b)``: the range ``a..b``.
    - ``"2026"``: that year; ``"2026-03"``: that month.
    - a day: that day, or the week/month/year holding it when ``period``
      says so.
    - with ``period``, API words too: ``"last90"``, ``"previous7"``,
      ``"today"``, ``"yesterday"``.
    """
    if end is not None:
        return "range", f"{day(date, timezone, 'start')},{day(end, timezone, 'end')}"
    if isinstance(date, (tuple, list)):
        if len(date) != 2:
            raise ValueError(f"a range is (start, end), got {date!r}")
        return period_and_date(date[0], date[1], timezone=timezone)
    if isinstance(date, str) and period is None:
        if _YEAR.match(date):
            return "year", f"{date}-01-01"
        m = _MONTH.match(date)
        if m:
            if not 1 <= int(m.group(2)) <= 12:
                raise ValueError(f"date: {date!r} is not a month (YYYY-MM)")
            return "month", f"{date}-01"
    if isinstance(date, str) and period is not None and not _DAY.match(date):
        return period, date  # lastN, previousN, today, yesterday, A,B
    return period or "day", day(date, timezone).isoformat()


def label_bounds(label: str) -> Tuple[_dt.date, _dt.date]:
    """First and last day of a period label as the API writes them
    (``YYYY-MM-DD``, ``A,B``, ``YYYY-MM``, ``YYYY``)."""
    if "," in label:
        a, b = label.split(",", 1)
        return _dt.date.fromisoformat(a), _dt.date.fromisoformat(b)
    if _DAY.match(label):
        d = _dt.date.fromisoformat(label)
        return d, d
    m = _MONTH.match(label)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        return _dt.date(y, mo, 1), _dt.date(y, mo, calendar.monthrange(y, mo)[1])
    if _YEAR.match(label):
        y = int(label)
        return _dt.date(y, 1, 1), _dt.date(y, 12, 31)
    raise ValueError(f"not a period label: {label!r}")


def period_bounds(period: str, date: str) -> Tuple[_dt.date, _dt.date]:
    """First and last day of one period given as API parameters."""
    if period == "range":
        return label_bounds(date)
    start = _dt.date.fromisoformat(date)
    if period == "day":
        return start, start
    if period == "week":
        monday = start - _dt.timedelta(days=start.weekday())
        return monday, monday + _dt.timedelta(days=6)
    if period == "month":
        return label_bounds(start.strftime("%Y-%m"))
    if period == "year":
        return label_bounds(str(start.year))
    raise ValueError(f"period must be day, week, month, year or range, got {period!r}")
