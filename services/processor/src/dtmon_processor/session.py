"""One SparkSession configured for many small batches (the opposite of Spark's defaults).

Why these settings: the defaults (200 shuffle partitions, adaptive execution, INFO logging,
console progress bars) cost seconds per micro-batch on tiny inputs. A batch here is one Spark
job with two small shuffles, so:

* ``spark.sql.shuffle.partitions`` small (default 2, one per core of the target machine);
* adaptive query execution OFF by default: it would coalesce partitions we already sized, and
  it materialises each shuffle stage as a job of its own (3 jobs per batch instead of 1);
  ``--adaptive`` turns it back on for skewed real clusters;
* no console progress bars, Spark logs at WARN (conf/log4j2.properties);
* the Kafka connector from local jar files (jars.py), never resolved at start-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from dtmon_processor.jars import connector_jars

APP_NAME = "dtmon-processor"
LOG4J_CONF = Path(__file__).resolve().parent / "conf" / "log4j2.properties"


@dataclass(frozen=True)
class SparkSettings:
    """What the CLI lets an operator change; everything else is fixed for small batches."""

    master: str = "local[*]"
    shuffle_partitions: int = 2
    adaptive: bool = False
    ui_port: int = 4040
    ui_enabled: bool = True
    spark_prometheus: bool = False
    driver_memory: str | None = None
    with_kafka_jars: bool = True


def build_session(settings: SparkSettings) -> SparkSession:
    """Create (or return the running) SparkSession with the dtmon settings applied."""
    java_opts = f"-Dlog4j2.configurationFile={LOG4J_CONF.as_uri()}"
    builder = (
        SparkSession.builder.master(settings.master)
        .appName(APP_NAME)
        .config("spark.sql.shuffle.partitions", str(settings.shuffle_partitions))
        .config("spark.default.parallelism", str(max(settings.shuffle_partitions, 2)))
        .config("spark.sql.adaptive.enabled", str(settings.adaptive).lower())
        .config("spark.ui.enabled", str(settings.ui_enabled).lower())
        .config("spark.ui.port", str(settings.ui_port))
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", java_opts)
        .config("spark.executor.extraJavaOptions", java_opts)
        # Streaming progress / UI bookkeeping kept short: the process runs for days.
        .config("spark.sql.streaming.numRecentProgressUpdates", "200")
        .config("spark.sql.ui.retainedExecutions", "50")
        .config("spark.ui.retainedJobs", "200")
        .config("spark.ui.retainedStages", "200")
        .config("spark.sql.streaming.metricsEnabled", "true")
        # Micro-batch state is only the checkpoint's offsets: no state store to maintain.
        .config("spark.sql.session.timeZone", "UTC")
    )
    if settings.with_kafka_jars:
        builder = builder.config("spark.jars", ",".join(str(j) for j in connector_jars()))
    if settings.driver_memory:
        builder = builder.config("spark.driver.memory", settings.driver_memory)
    if settings.spark_prometheus:
        # Spark's own PrometheusServlet on the UI port: /metrics/prometheus (driver and
        # executors' metrics through the driver), scraped in Kubernetes.
        builder = (
            builder.config("spark.ui.prometheus.enabled", "true")
            .config(
                "spark.metrics.conf.*.sink.prometheusServlet.class",
                "org.apache.spark.metrics.sink.PrometheusServlet",
            )
            .config("spark.metrics.conf.*.sink.prometheusServlet.path", "/metrics/prometheus")
            .config("spark.metrics.appStatusSource.enabled", "true")
        )
    os.environ.setdefault("PYSPARK_PYTHON", _python())
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


def _python() -> str:
    import sys

    return sys.executable
