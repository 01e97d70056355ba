"""Stores built on Spark (hitmap.spark): a local Spark of two threads
builds two sites in different time zones from a DataFrame, then new days
and late hits; the store equals one process's ingest of the same hits,
day file for day file and answer for answer. Needs a Java runtime (the
test script installs Debian's when it is missing)."""

from __future__ import annotations

import functools
import os
import pathlib
import sys
from typing import Any, Dict, List

import pytest

from test_dask import answers, day_files, engine_at, waves

pa = pytest.importorskip("pyarrow")
pyspark_sql = pytest.importorskip("pyspark.sql")
import hitmap.spark  # noqa: E402

# createDataFrame checks pandas' version (these frames come from Arrow).
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning"
)


@pytest.fixture(scope="module")
def spark() -> Any:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("hitmap-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    yield session
    session.stop()


def table_of(rows: List[Dict[str, Any]]) -> Any:
    import pandas as pd

    return pa.Table.from_pandas(pd.DataFrame.from_records(rows), preserve_index=False)


def frame(spark: Any, rows: List[Dict[str, Any]], partitions: int) -> Any:
    """The rows as a Spark DataFrame whose partition i holds the i-th
    slice of the rows, in order."""
    table = table_of(rows)
    size = -(-table.num_rows // partitions)
    parts = [
        spark.createDataFrame(table.slice(i * size, size)).coalesce(1) for i in range(partitions)
    ]
    return functools.reduce(lambda a, b: a.union(b), parts)


def test_a_spark_build_and_its_increment_equal_one_process(spark: Any, tmp_path: pathlib.Path) -> None:
    first, second = waves()
    engine_at(tmp_path / "one").ingest(table_of(first))
    engine_at(tmp_path / "many")
    done = hitmap.spark.build(frame(spark, first, 3), tmp_path / "many", tasks=3)
    assert done.accepted == len(first) and not done.rejected
    assert day_files(tmp_path / "one") == day_files(tmp_path / "many")
    assert answers(tmp_path / "one") == answers(tmp_path / "many")

    engine_at(tmp_path / "one").ingest(table_of(second))
    again = hitmap.spark.build(frame(spark, second, 2), tmp_path / "many", batch_id="wave-2")
    assert again.accepted == len(second)
    assert day_files(tmp_path / "one") == day_files(tmp_path / "many")
    assert answers(tmp_path / "one") == answers(tmp_path / "many")
    assert hitmap.spark.build(frame(spark, second, 2), tmp_path / "many", batch_id="wave-2").skipped
