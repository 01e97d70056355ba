"""The project's seeded sample traffic: an intranet with departments,
offices and roles, weekday and office-hour seasonality, Zipf page
popularity, returning visitors, searches, downloads and events.

Examples
--------
>>> import hitmap
>>> from hitmap import sample
>>> eng = hitmap.Engine.in_memory()
>>> eng.add_site(1, **sample.SITE)
>>> eng.ingest_ndjson(sample.ndjson(days=2, visitors=100)).rejected
[]
"""

from __future__ import annotations

from typing import Any, Dict

from ._hitmap import sample_ndjson

#: ``add_site`` keyword arguments of the sample site (id 1).
SITE: Dict[str, Any] = {
    "timezone": "Europe/London",
    "hosts": ["intranet.example.org"],
    "sections": {
        "News": ["/news"],
        "HR": ["/teams/hr", "/policies", "/jobs"],
        "IT": ["/teams/it", "/it-help"],
    },
    "dimensions": ["department", "office", "role"],
}


def ndjson(days: int = 30, visitors: int = 2000, seed: int = 42, start: str = "2025-01-01",
           profile: str = "intranet") -> bytes:
    """Sample hits of site 1 as NDJSON bytes.

    Parameters
    ----------
    days : int
        Number of local days from ``start``.
    visitors : int
        Distinct visitors (a year of 30,000 is about 10 million hits).
    seed : int
        The same seed gives the same hits on every machine.
    start : str
        First day, ``YYYY-MM-DD``.
    profile : str
        ``"intranet"`` (integer timestamps, a visit's fields on its first
        hit, about 176 bytes a line) or ``"heavy"`` (RFC 3339 timestamps,
        the visit's fields on every hit, 8,000 long URLs and titles, about
        330 bytes a line: what a big client's collector sends).

    Returns
    -------
    bytes

    Examples
    --------
    >>> line = ndjson(days=1, visitors=50, profile="heavy").splitlines()[0]
    >>> b'"ts":"2025-01-01T' in line
    True
    """
    return sample_ndjson(days, visitors, seed, start, profile)
