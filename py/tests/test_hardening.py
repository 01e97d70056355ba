"""Issue 10 from Python: no panic crosses the boundary, error classes are
exact, a request has a time budget, loose input is refused."""

import pytest

import hitmap


@pytest.fixture()
def engine() -> hitmap.Engine:
    e = hitmap.Engine.in_memory()
    e.add_site(1, timezone="Pacific/Kiritimati", sections={"News": ["/news"]})
    e.ingest([
        {"site": 1, "visitor": "a", "ts": 1717200000, "url": "https://x.org/news/a"},
        {"site": 1, "visitor": "b", "ts": 1717300000, "url": "https://x.org/about"},
    ])
    return e


@pytest.mark.parametrize(
    "period,date",
    [
        ("week", "%2B262142-12-31"),
        ("month", "%2B262142-12-31"),
        ("day", "-262143-01-01"),
        ("month", "-262143-01-01,1970-01-01"),
        ("day", "last10000"),
    ],
)
def test_dates_that_used_to_panic_are_request_errors(engine: hitmap.Engine, period: str, date: str) -> None:
    with pytest.raises(hitmap.RequestError):
        engine.api(f"method=VisitsSummary.get&idSite=1&period={period}&date={date}")


def test_an_unknown_section_is_a_request_error(engine: hitmap.Engine) -> None:
    with pytest.raises(hitmap.RequestError, match="unknown section 'Nope'"):
        engine.api("method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01&section=Nope")


def test_a_timeout_stops_a_long_request(engine: hitmap.Engine) -> None:
    q = "method=Hitmap.getSections&idSite=1&period=day&date=last3660&section=/news"
    with pytest.raises(hitmap.DeadlineError, match="ran out of time"):
        engine.api(q, timeout=0.0)
    assert issubclass(hitmap.DeadlineError, hitmap.RequestError)
    assert engine.api(q, timeout=600.0) == engine.api(q)
    with pytest.raises(ValueError, match="timeout"):
        engine.api(q, timeout=-1.0)


def test_loose_lines_are_rejected_with_reasons(engine: hitmap.Engine) -> None:
    lines = [
        '{"site":1,"visitor":"f","ts":1717200000,"type":"","url":"https://x.org/"}',
        '{"site":1,"visitor":"f","ts":1717200000,"url":"https://x.org/","visitor":"g"}',
        "\x0b",
        "\u00a0",
        '{"site":18446744073709551616,"visitor":"f","ts":1,"url":"u"}',
        '{"site":1,"visitor":"k","ts":"9999-12-31T23:59:59Z","url":"https://x.org/"}',
        "",
    ]
    out = engine.ingest_ndjson("\n".join(lines).encode())
    assert out.accepted == 0
    reasons = dict(out.rejected)
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6]
    assert "`type` must be" in reasons[1]
    assert reasons[2] == "the key `visitor` appears twice"
    assert reasons[5].endswith("got 18446744073709551616")
    assert "10000-01-01" in reasons[6]


def test_other_formats_come_back_as_text(engine: hitmap.Engine) -> None:
    q = "method=VisitsSummary.get&idSite=1&period=day&date=2024-06-01,2024-06-02"
    as_json = engine.api(q)
    csv = engine.api(q + "&format=csv")
    assert isinstance(csv, str) and csv.startswith("date,nb_uniq_visitors")
    assert engine.api(q + "&format=xml").startswith('<?xml version="1.0" encoding="utf-8" ?>\n<results>')
    assert len(csv.strip().splitlines()) == 1 + sum(1 for v in as_json.values() if v)


def test_a_missing_optional_library_says_how_to_install_it(engine: hitmap.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def no_pandas(name: str, *args: object, **kwargs: object) -> object:
        if name == "pandas":
            raise ImportError("No module named 'pandas'")
        return real(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib, "import_module", no_pandas)
    with pytest.raises(ImportError, match="pip install pandas"):
        engine.visits_summary(1, "2024-06-01").to_pandas()
