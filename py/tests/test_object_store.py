"""Stores in object storage from Python: publish to a real S3-compatible
server on loopback (moto, started by scripts/moto), open by URL, refresh."""

import os
import pathlib
import subprocess

import pytest

import hitmap

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def storage_options():
    out = subprocess.run(
        [str(ROOT / "scripts/moto"), str(ROOT / "target/moto"), str(os.getpid())],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        "aws_endpoint": out.stdout.strip(),
        "aws_allow_http": "true",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
        "aws_region": "us-east-1",
    }


def test_a_published_store_reads_by_url_and_refreshes(tmp_path, storage_options):
    writer = hitmap.Engine(tmp_path / "metrics")
    writer.add_site(1, **hitmap.sample.SITE)
    writer.ingest_ndjson(hitmap.sample.ndjson(days=10, visitors=50))
    url = f"s3://hitmap/python-{os.getpid()}"
    published = writer.publish(url, storage_options=storage_options)
    assert published["uploaded"] > 10 and published["generation"] > 0

    reader = hitmap.Engine.open_read_only(url, cache_mb=8, storage_options=storage_options)
    folder = hitmap.Engine.open_read_only(tmp_path / "metrics")
    for kind in ["pages", "entry_pages", "referrers"]:
        got = reader.report(kind, 1, "2025-01-01", "2025-01-10")
        want = folder.report(kind, 1, "2025-01-01", "2025-01-10")
        assert got.rows == want.rows and len(got) > 0
    # One GET for a one-day query.
    before = reader.read_stats()["requests"]
    reader.visits_summary(1, "2025-01-04")
    assert reader.read_stats()["requests"] == before + 1

    writer.ingest([{"site": 1, "visitor": "late", "ts": 1735900000, "url": "https://intranet.example.org/"}])
    writer.publish(url, storage_options=storage_options)
    old = reader.visits_summary(1, "2025-01-03").nb_visits
    assert reader.refresh() is True
    assert reader.visits_summary(1, "2025-01-03").nb_visits == old + 1
    assert reader.refresh() is False


def test_a_bad_location_is_a_store_error():
    with pytest.raises(hitmap.HitmapError, match="ftp://"):
        hitmap.Engine.open_read_only("ftp://example.org/x")
