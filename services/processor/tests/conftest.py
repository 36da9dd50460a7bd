"""The one SparkSession of the processor tests (start-up costs 10-20 s; every test reuses it).

local[2] with two shuffle partitions, the Spark UI off, the Kafka connector from the jars
`make spark-jars` resolved. The two-executor-JVM run lives in its own subprocess
(test_processor_cluster.py), so this session stays the only one in the test process.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from dtmon_processor.session import SparkSettings, build_session


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = build_session(
        SparkSettings(master="local[2]", shuffle_partitions=2, ui_enabled=False)
    )
    try:
        yield session
    finally:
        session.stop()
