"""Stores in object storage from Python: publish to a real S3-compatible
server on loopback (moto, started by scripts/moto), open by URL, refresh."""

import os
import pathlib
import subprocess

import pytest

import hitmap
from hitmap import sample

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
    writer.add_site(1, **sample.SITE)
    writer.ingest_ndjson(sample.ndjson(days=10, visitors=50))
    url = f"s3://hitmap/python-{os.getpid()}"
    published = writer.publish(url, storage_options=storage_options)
    assert published["uploaded"] > 10 and published["generation"] > 0

    reader = hitmap.Engine.open_read_only(url, cache_mb=8, storage_options=storage_options)
    folder = hitmap.Engine.open_read_only(tmp_path / "metrics")
    for kind in ["pages", "entry_pages", "referrers"]:
        got = reader.report(kind, 1, "2025-01-01", "2025-01-10")
        want = folder.report(kind, 1, "2025-01-01", "2025-01-10")
        assert got.rows == want.rows and len(got) > 0
    # A fresh reader: three files to open (manifest, configuration,
    # dictionaries), then the day it needs (a summary reads no visitor
    # history; a question about new or returning visits does).
    fresh = hitmap.Engine.open_read_only(url, storage_options=storage_options)
    assert fresh.read_stats()["requests"] == 3
    fresh.visits_summary(1, "2025-01-04")
    assert fresh.read_stats()["requests"] == 4
    fresh.visits_summary(1, "2025-01-04", segment="visitorType==new")
    assert fresh.read_stats()["requests"] == 6  # the day again, with the history

    writer.ingest([{"site": 1, "visitor": "late", "ts": 1735900000, "url": "https://intranet.example.org/"}])
    writer.publish(url, storage_options=storage_options)
    old = reader.visits_summary(1, "2025-01-03").nb_visits
    assert reader.refresh() is True
    assert reader.visits_summary(1, "2025-01-03").nb_visits == old + 1
    assert reader.refresh() is False


def test_a_bad_location_is_a_store_error():
    with pytest.raises(hitmap.HitmapError, match="ftp://"):
        hitmap.Engine.open_read_only("ftp://example.org/x")


def test_a_reader_with_max_age_picks_up_commits_by_itself(tmp_path):
    writer = hitmap.Engine(tmp_path / "metrics")
    writer.add_site(1)
    hit = {"site": 1, "visitor": "a", "ts": 1717200000, "url": "https://x.org/"}
    writer.ingest([hit])
    pinned = hitmap.Engine.open_read_only(tmp_path / "metrics")
    fresh = hitmap.Engine.open_read_only(tmp_path / "metrics", max_age=0)
    writer.ingest([{**hit, "visitor": "b"}])
    assert pinned.visits_summary(1, "2024-06-01").nb_visits == 1
    assert fresh.visits_summary(1, "2024-06-01").nb_visits == 2
    assert pinned.refresh() is True
    assert pinned.visits_summary(1, "2024-06-01").nb_visits == 2
