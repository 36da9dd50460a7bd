"""Driver-side Prometheus metrics, served with /healthz and /readyz by dtmon_common.health.

Spark's own metrics (executors, JVM) are separate: the Spark UI on 4040 and, on Kubernetes,
Spark's PrometheusServlet (--spark-prometheus). These are the stream-level numbers an
operator watches: is it keeping up (lag, time since last batch), how fast, how dirty.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_PREFIX = "dtmon_processor_"


class ProcessorMetrics:
    """All processor metrics in one registry (a registry per instance keeps tests isolated)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.batch_duration = Histogram(
            _PREFIX + "batch_duration_seconds",
            "Wall time of one micro-batch in foreachBatch: Spark job + assembly + publication",
            buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30),
            registry=r,
        )
        self.batches = Counter(_PREFIX + "batches", "Micro-batches published", registry=r)
        self.input_rows = Counter(
            _PREFIX + "input_rows", "Parsed records (any HEAD) consumed", registry=r
        )
        self.malformed = Counter(
            _PREFIX + "malformed_records", "Malformed records counted and skipped", registry=r
        )
        self.hits = Counter(_PREFIX + "hits", "HEAD == 2 records processed", registry=r)
        self.rows_per_second = Gauge(
            _PREFIX + "rows_per_second",
            "Parsed records per second of batch processing, last batch",
            registry=r,
        )
        self.consumer_lag = Gauge(
            _PREFIX + "consumer_lag_records",
            "Records in the hits topic not yet processed: the topic's end offsets (asked of "
            "the broker every few seconds) minus the last finished batch's end offsets",
            registry=r,
        )
        # Unknown (NaN), not 0, until a batch has finished: 0 would claim "caught up".
        self.consumer_lag.set(float("nan"))
        self.end_offsets = Gauge(
            _PREFIX + "hits_end_offsets",
            "Sum over partitions of the hits topic's end offsets, as last asked of the broker",
            registry=r,
        )
        self.last_batch_id = Gauge(
            _PREFIX + "last_batch_id", "Id of the last published micro-batch", registry=r
        )
        self.last_batch_time = Gauge(
            _PREFIX + "last_batch_timestamp_seconds",
            "Unix time the last micro-batch was published",
            registry=r,
        )
        self.spark_jobs = Gauge(
            _PREFIX + "spark_jobs_per_batch", "Spark jobs the last micro-batch ran", registry=r
        )
        self._last_batch_monotonic: float | None = None
        self._started = time.monotonic()
        since = Gauge(
            _PREFIX + "seconds_since_last_batch",
            "Seconds since the last micro-batch was published (since start if none yet)",
            registry=r,
        )
        since.set_function(self.seconds_since_last_batch)

    def seconds_since_last_batch(self) -> float:
        ref = (
            self._last_batch_monotonic if self._last_batch_monotonic is not None else self._started
        )
        return time.monotonic() - ref

    def observe_batch(
        self, *, batch_id: int, seconds: float, rows: int, malformed: int, hits: int, jobs: int
    ) -> None:
        self.batch_duration.observe(seconds)
        self.batches.inc()
        self.input_rows.inc(rows)
        self.malformed.inc(malformed)
        self.hits.inc(hits)
        self.rows_per_second.set(rows / seconds if seconds > 0 else 0.0)
        self.last_batch_id.set(batch_id)
        self.last_batch_time.set(time.time())
        self.spark_jobs.set(jobs)
        self._last_batch_monotonic = time.monotonic()
