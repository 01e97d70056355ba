"""Safe re-runs and streaming ingest from Python (issue 11)."""

import gzip
import io
import pathlib

import pytest

import hitmap
from hitmap import sample

Q = "method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-01-10"


def engine_at(path: pathlib.Path) -> hitmap.Engine:
    e = hitmap.Engine(str(path))
    e.add_site(1, timezone="Europe/London", sections={"News": ["/news"]})
    return e


def test_ingesting_the_same_file_twice_counts_once(tmp_path: pathlib.Path) -> None:
    data = sample.ndjson(days=10, visitors=100)
    gz = tmp_path / "hits.ndjson.gz"
    gz.write_bytes(gzip.compress(data))
    e = engine_at(tmp_path / "store")
    first = e.ingest_ndjson(gz)
    assert first.accepted > 500 and first.batches == 1 and first.skipped_batches == 0
    before = e.api(Q)
    again = e.ingest_ndjson(gz)
    assert (again.accepted, again.skipped_batches, again.skipped_lines) == (0, 1, first.accepted)
    assert e.api(Q) == before
    # The same content as bytes, or through a file object, is the same batch.
    assert e.ingest_ndjson(data).skipped_batches == 1
    with open(gz, "rb") as f:
        assert e.ingest_ndjson(f).skipped_batches == 1
    assert e.ingest_ndjson(data, force=True).accepted == first.accepted
    assert e.api(Q) != before


def test_records_ingested_twice_count_once() -> None:
    e = hitmap.Engine.in_memory()
    e.add_site(1)
    rows = [{"site": 1, "visitor": "a", "ts": 1717200000 + i, "url": "https://x.org/"} for i in range(5)]
    assert e.ingest(rows).accepted == 5
    assert e.ingest(rows).skipped_batches == 1
    assert e.ingest(rows, batch_id="run-7").accepted == 5
    assert e.ingest(rows, batch_id="run-7").skipped_batches == 1
    assert e.visits_summary(1, "2024-06-01").nb_actions == 10


def test_streaming_sources_agree_and_text_mode_is_refused(tmp_path: pathlib.Path) -> None:
    data = sample.ndjson(days=5, visitors=80)
    plain = tmp_path / "hits.ndjson"
    plain.write_bytes(data)
    answers = []
    for source in [data, plain, io.BytesIO(gzip.compress(data)), str(plain)]:
        e = hitmap.Engine.in_memory()
        e.add_site(1, timezone="Europe/London")
        e.ingest_ndjson(source)
        answers.append(e.api(Q))
    assert all(a == answers[0] for a in answers)
    e = hitmap.Engine.in_memory()
    e.add_site(1)
    with open(plain, "r") as text, pytest.raises(TypeError, match="'rb'"):
        e.ingest_ndjson(text)


def test_a_long_running_writer_of_small_batches_seals_on_its_own(tmp_path: pathlib.Path) -> None:
    """Twenty calls of about 14,000 hits: each lands in the write-ahead log,
    which the writer seals by itself once it holds a quarter of the store's
    bytes and then starts a new segment, so the unsealed log (what every
    reader's open replays) stays small. Before, one segment took the whole
    input (49 MB here). Sealed segments stay a minute for readers of the
    older commit."""
    lines = sample.ndjson(days=60, visitors=5000).splitlines(keepends=True)
    eng = engine_at(tmp_path / "store")
    wal = tmp_path / "store" / "wal"
    largest = 0
    for i in range(0, len(lines), 14_000):
        eng.ingest_ndjson(b"".join(lines[i : i + 14_000]))
        largest = max(largest, max(f.stat().st_size for f in wal.glob("*.log")))
    files = sum(f.stat().st_size for f in (tmp_path / "store").rglob("*.bin")) + sum(
        f.stat().st_size for f in (tmp_path / "store").rglob("*.day")
    )
    assert len(list(wal.glob("*.log"))) > 1, "sealed at least once"
    assert largest < files // 4 + (256 << 10) + 300_000, (largest, files)
    reader = hitmap.Engine.open_read_only(str(tmp_path / "store"))
    assert reader.visits_summary(1, "2025-01-01", "2025-03-01").nb_actions == len(lines)
