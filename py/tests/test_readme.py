"""README's Python session, run as written (twice: a re-run changes
nothing), so it cannot rot."""

import gc
import pathlib
import re

import pytest

README = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_readme_python_session_runs_as_written(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = re.search(r"## Use it from Python.*?```python\n(.*?)```", README, re.S)
    assert block is not None
    code = block.group(1)
    monkeypatch.chdir(tmp_path)
    first: dict = {}
    exec(compile(code, "README.md", "exec"), first)
    assert first["res"].accepted > 10_000 and first["s"].nb_visits > 0
    summary = first["eng"].api("method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-03-31")
    del first
    gc.collect()  # the engine goes, and with it the store's writer lock
    second: dict = {}
    exec(compile(code, "README.md", "exec"), second)
    assert (second["res"].accepted, second["res"].skipped_batches) == (0, 1)
    assert second["eng"].api("method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-03-31") == summary


def test_the_readme_dask_session_runs_as_written(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("dask.distributed")
    block = re.search(r"## Scale out on Dask.*?```python\n(.*?)```", README, re.S)
    assert block is not None
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(block.group(1), "README.md", "exec"), scope)
    import hitmap

    assert scope["built"].accepted > 1_000 and scope["built"].days >= 40
    q = "method=VisitsSummary.get&idSite=1&period=range&date=2025-01-01,2025-02-28"
    one = hitmap.Engine.open_read_only("metrics").api(q)
    assert hitmap.Engine.open_read_only("metrics-dask").api(q) == one
