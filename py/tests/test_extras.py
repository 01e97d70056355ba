"""The extras of pyproject.toml install what the README's Python snippets
import: `pip install '.[all]'` is enough for the quick start."""
from __future__ import annotations

import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# Import names whose PyPI package is named otherwise.
PACKAGE_OF = {"yaml": "PyYAML", "pymysql": "PyMySQL"}


def extras():
    tomllib = pytest.importorskip("tomllib") if sys.version_info < (3, 11) else __import__("tomllib")
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["optional-dependencies"]


def readme_imports():
    text = (ROOT / "README.md").read_text()
    names = set()
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        for m in re.finditer(r"^\s*(?:import|from)\s+([A-Za-z_][\w]*)", block, re.M):
            names.add(m.group(1))
        if "progress=True" in block:
            names.add("tqdm")
    return {n for n in names if n not in sys.stdlib_module_names and n != "hitmap"}


def test_the_all_extra_installs_every_third_party_import_of_the_readme():
    imports = readme_imports()
    assert "pandas" in imports  # the quick start's DataFrame
    wanted = {PACKAGE_OF.get(n, n).lower() for n in imports}
    # A requirement's name without its extras (`dask[dataframe,distributed]`).
    everything = {re.sub(r"\[.*\]", "", p).lower() for p in extras()["all"]}
    assert wanted <= everything, wanted - everything


def test_each_dataframe_extra_brings_the_arrow_columns_it_needs():
    e = extras()
    for name in ("pandas", "polars", "arrow"):
        assert "pyarrow" in e[name], name
    assert "tqdm" in e["progress"]
    assert set(e["all"]) >= set().union(*(e[n] for n in ("pandas", "polars", "arrow", "progress", "matomo")))
