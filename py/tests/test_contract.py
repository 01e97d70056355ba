"""The repository's input contract: docs/hit.schema.json accepts the
sample traffic, and what it refuses the engine refuses too."""

import json
import pathlib

import jsonschema
import pytest

import hitmap
from hitmap import sample

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "hit.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def test_the_sample_traffic_follows_the_schema() -> None:
    lines = sample.ndjson(days=7, visitors=200).decode().splitlines()
    assert len(lines) > 1000
    for line in lines:
        VALIDATOR.validate(json.loads(line))


@pytest.mark.parametrize(
    "hit",
    [
        {"ts": 1717200000, "visitor": "a", "url": "https://x.org/"},
        {"site": 0, "ts": 1717200000, "visitor": "a", "url": "https://x.org/"},
        {"site": 1, "ts": 1717200000, "visitor": "", "url": "https://x.org/"},
        {"site": 1, "ts": 1717200000, "visitor": "a"},
        {"site": 1, "ts": 1717200000, "visitor": "a", "type": "nope", "url": "https://x.org/"},
        {"site": 1, "ts": 1717200000, "visitor": "a", "type": "", "url": "https://x.org/"},
        {"site": 1, "ts": 1717200000, "visitor": "a", "type": "search"},
        {"site": 1, "ts": 1717200000, "visitor": "a", "type": "event", "event": {"category": "c"}},
        {"site": 1, "ts": "yesterday", "visitor": "a", "url": "https://x.org/"},
        {"site": 1, "ts": 1717200000, "visitor": "a", "url": "https://x.org/", "dims": {"a": 1}},
    ],
)
def test_what_the_schema_refuses_the_engine_refuses(hit: dict) -> None:
    assert not VALIDATOR.is_valid(hit)
    e = hitmap.Engine.in_memory()
    e.add_site(1)
    out = e.ingest_ndjson(json.dumps(hit).encode())
    assert out.accepted == 0 and len(out.rejected) == 1
