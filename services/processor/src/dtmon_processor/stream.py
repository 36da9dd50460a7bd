"""The streaming query: Kafka `dt-hits` -> one v1 message per micro-batch on `dt-results`.

foreachBatch runs, per micro-batch: the event-building state of the previous batch read from
the checkpoint (eventstore.py); the batch's counts, on the driver path (driverbatch.py, for a
batch of at most ``driver_max_offsets`` records: its offset range read by the driver's own
Kafka consumer, rangeread.py, no Spark job) or on the distributed path (compute.py, one Spark
job); the offset log says which records a batch holds before it runs; the new state written back,
message assembly and contract validation on the driver, then a flushed, idempotent
publication keyed by the batch id. Spark commits the batch to the checkpoint only after that,
which gives the exactly-once accounting (see publish.py). Consumer lag is
measured separately, against the broker (lag.py).
"""

from __future__ import annotations

import ast
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from dtmon_common.kafka_security import KafkaSecurity
from dtmon_common.options.processor import RUN
from dtmon_processor.assemble import build_message, encode
from dtmon_processor.compute import JobCounter, compute_batch
from dtmon_processor.driverbatch import collect_values, count_table
from dtmon_processor.events import BatchRule
from dtmon_processor.eventstore import CheckpointEventStore
from dtmon_processor.metrics import ProcessorMetrics
from dtmon_processor.offsetlog import (
    OffsetEntry,
    batch_records,
    offset_ranges,
    read_entry,
    read_initial,
    read_query_id,
)
from dtmon_processor.publish import ResultsPublisher
from dtmon_processor.rangeread import FETCH_MAX_WAIT_MS, RangeReader, RangeUnavailable
from dtmon_processor.tick import IdleTicker
from dtmon_processor.transform import lines_from_values
from minidt.binning import DEFAULT_BINNING, Binning

log = logging.getLogger(__name__)


_DEFAULTS = RUN.defaults()


@dataclass(frozen=True)
class StreamSettings:
    bootstrap_servers: str
    hits_topic: str
    results_topic: str
    checkpoint_location: str
    starting_offsets: str = "latest"
    max_offsets_per_trigger: int | None = None
    trigger_seconds: float = 1.0
    available_now: bool = False
    event_timeout_seconds: float = 10.0
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    driver_max_offsets: int = _DEFAULTS["driver_max_offsets"]
    max_batch_bytes: int = _DEFAULTS["max_batch_bytes"]
    max_message_bytes: int = _DEFAULTS["max_message_bytes"]


def batch_offset_limit(s: StreamSettings) -> int | None:
    """maxOffsetsPerTrigger for the Kafka source: the record bound, and the byte bound.

    Spark's Kafka source only bounds a batch by records (Kafka messages); a message may pack
    many CSV lines, so a record bound alone lets a packed backlog make a batch of gigabytes.
    Bounding by records also by ``max_batch_bytes // max_message_bytes`` caps a batch at
    ``max_batch_bytes`` as long as no message is larger than ``max_message_bytes`` (the
    handler warns when one is)."""
    by_bytes = max(1, s.max_batch_bytes // s.max_message_bytes)
    if s.max_offsets_per_trigger:
        return min(s.max_offsets_per_trigger, by_bytes)
    return by_bytes


QUERY_NAME = "dtmon-processor"
"""The streaming query's name in the Spark UI."""


def kafka_stream(spark: SparkSession, s: StreamSettings) -> DataFrame:
    """The Kafka source plus the batch timestamp column (pinned per batch by Spark)."""
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", s.bootstrap_servers)
        .option("subscribe", s.hits_topic)
        .option("startingOffsets", s.starting_offsets)
        # Records aged out of the topic before they were read are an error, not a silent gap.
        .option("failOnDataLoss", "true")
        # Offset look-ups retry through a broker outage instead of failing the query at once:
        # the query stalls and resumes when the broker is back.
        .option("fetchOffset.numRetries", "1000000")
        .option("fetchOffset.retryIntervalMs", "1000")
        # The broker holds a fetch up to fetch.max.wait.ms (500 ms) when it has too little
        # data; Spark's consumer hits that at the end of a partition's range, so each task
        # of a small batch waited ~0.5 s (measured: reading 1,000 records 1.2 s -> 0.3 s).
        .option("kafka.fetch.max.wait.ms", str(FETCH_MAX_WAIT_MS))
    )
    for key, value in s.kafka_security.jvm().items():
        reader = reader.option(f"kafka.{key}", value)
    reader = reader.option("maxOffsetsPerTrigger", str(batch_offset_limit(s)))
    return reader.load().select(
        "value", "timestamp", "partition", F.current_timestamp().alias("batch_ts")
    )


RECENT_BATCHES = 10_000
"""Batches whose path and phases the handler keeps (a bound: the processor runs for months)."""


class Laps:
    """Milliseconds per phase of a batch, for its log line and the benchmarks: where a
    batch's time goes is the first question when batches fall behind."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._t = time.perf_counter()

    def __call__(self, phase: str) -> None:
        now = time.perf_counter()
        self.ms[phase] = round((now - self._t) * 1000, 1)
        self._t = now


class BatchHandler:
    """The foreachBatch function; keeps the publisher and metrics across batches."""

    def __init__(
        self,
        spark: SparkSession,
        publisher: ResultsPublisher,
        metrics: ProcessorMetrics,
        binning: Binning = DEFAULT_BINNING,
    ) -> None:
        self.spark = spark
        self.publisher = publisher
        self.metrics = metrics
        self.binning = binning
        self.query_id: str | None = None  # set once the query has started
        self.checkpoint_location: str | None = None
        self.event_timeout_ms: int | None = 10_000
        self.ticker: IdleTicker | None = None  # set by start_query for a processing-time query
        self.driver_max_offsets = 1_000_000
        self.max_message_bytes: int | None = None
        self.ranges: RangeReader | None = None  # the driver path's Kafka reader
        # Per recent batch, for tests and benchmarks: "driver" / "driver-spark" / "distributed",
        # and the milliseconds per phase (Laps).
        self.paths: deque[str] = deque(maxlen=RECENT_BATCHES)
        self.phases: deque[dict[str, float]] = deque(maxlen=RECENT_BATCHES)
        self._events: CheckpointEventStore | None = None

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        started = time.perf_counter()
        if self.ticker is not None:
            self.ticker.batch_started()
        laps = Laps()
        counter = JobCounter(self.spark, f"dtmon-batch-{self._query_id()}-{batch_id}")
        events = self._event_store()
        entry, previous = self._offset_entry(batch_id)
        records = batch_records(entry, previous)
        batch_ts = entry.timestamp_ms
        rule = BatchRule(
            state=events.load(batch_id),
            batch_ts_ms=batch_ts,
            timeout_ms=self.event_timeout_ms,
            flush=False,
        )
        laps("state_in")
        if previous is not None and records is not None and records <= self.driver_max_offsets:
            path, table = self._driver_table(df, batch_id, entry, previous)
            laps("read")
            done = count_table(table, self.binning, rule)
            counts, state = done.counts, done.state
            if self.max_message_bytes and done.max_value_bytes > self.max_message_bytes:
                log.warning(
                    "batch %d holds a %d-byte Kafka message, above --max-message-bytes %d: "
                    "the batch byte bound does not hold for such messages",
                    batch_id,
                    done.max_value_bytes,
                    self.max_message_bytes,
                )
        else:
            path = "distributed"
            lines = lines_from_values(df, batch_ts_col="batch_ts", partition_col="partition")
            counts, state = compute_batch(lines, self.binning, rule)
        laps("count")
        self.paths.append(path)
        jobs = counter.jobs()
        counter.clear()
        counts.batch_ts = batch_ts
        events.save(batch_id, state)
        laps("state_out")
        message = build_message(
            counts,
            binning=self.binning,
            query_id=self._query_id(),
            batch_id=batch_id,
            emitted_at_ms=counts.batch_ts,
        )
        self.publisher.publish(str(batch_id), encode(message))
        laps("publish")
        self.phases.append(laps.ms)
        if self.ticker is not None:
            self.ticker.batch_ended(len(state.carry))
        seconds = time.perf_counter() - started
        self.metrics.observe_batch(
            batch_id=batch_id,
            seconds=seconds,
            rows=counts.rows,
            malformed=counts.malformed,
            hits=message["hits"],
            jobs=jobs,
        )
        log.info(
            "batch %d: %d rows, %d hits, %d malformed, %.0f ms, %s path (%s)",
            batch_id,
            counts.rows,
            message["hits"],
            counts.malformed,
            seconds * 1000,
            path,
            ", ".join(f"{k} {v:.0f}" for k, v in laps.ms.items()),
            extra={"batch_id": batch_id, "spark_jobs": jobs, "phases_ms": laps.ms},
        )

    def _event_store(self) -> CheckpointEventStore:
        if self._events is None:
            if self.checkpoint_location is None:
                raise RuntimeError("BatchHandler.checkpoint_location must be set")
            self._events = CheckpointEventStore(self.spark, self.checkpoint_location)
        return self._events

    def _query_id(self) -> str:
        """The streaming query's id: stored in <checkpoint>/metadata when the query starts
        (so identical across restarts from one checkpoint); read from there because the
        first batch may run before DataStreamWriter.start() has returned the id."""
        if self.query_id is None:
            if self.checkpoint_location is None:
                raise RuntimeError("BatchHandler.checkpoint_location must be set")
            self.query_id = read_query_id(self.spark, self.checkpoint_location)
        if self.query_id is None:
            raise RuntimeError(f"no query id in {self.checkpoint_location}/metadata")
        return self.query_id

    def _driver_table(
        self, df: DataFrame, batch_id: int, entry: OffsetEntry, previous: OffsetEntry
    ) -> tuple[str, pa.Table]:
        """The batch's records for the driver path: its offset range read by the driver's
        own consumer (no Spark job), or through Spark's source when that read cannot
        complete the range (the reason is logged)."""
        if self.ranges is not None:
            try:
                return "driver", self.ranges.read(offset_ranges(entry, previous))
            except RangeUnavailable as exc:
                log.warning("batch %d: its Kafka range read through Spark: %s", batch_id, exc)
        return "driver-spark", collect_values(df)

    def close(self) -> None:
        """The clients the handler keeps across batches (the publisher is its owner's)."""
        if self.ticker is not None:
            self.ticker.close()
        if self.ranges is not None:
            self.ranges.close()

    def _offset_entry(self, batch_id: int) -> tuple[OffsetEntry, OffsetEntry | None]:
        """This batch's offset-log entry and the one before it, where the batch starts (None
        when not known: an entry no longer kept, or a first batch without the source's start
        file)."""
        if self.checkpoint_location is None:
            raise RuntimeError("BatchHandler.checkpoint_location must be set")
        entry = read_entry(self.spark, self.checkpoint_location, batch_id)
        if entry is None:
            raise RuntimeError(f"no offset-log entry for batch {batch_id}")
        if batch_id == 0:
            previous = read_initial(self.spark, self.checkpoint_location)
        else:
            previous = read_entry(self.spark, self.checkpoint_location, batch_id - 1)
        return entry, previous


def consumer_lag(sources: Any) -> int | None:
    """Records between a progress event's end offsets and its latest offsets. Only what the
    batch itself saw: the lag gauge comes from dtmon_processor.lag, which asks the broker."""
    total = 0
    seen = False
    for src in sources:
        latest = source_offsets(getattr(src, "latestOffset", None))
        end = source_offsets(getattr(src, "endOffset", None))
        if not latest or not end:
            continue
        seen = True
        for key, value in latest.items():
            total += max(0, value - end.get(key, 0))
    return total if seen else None


def parse_offsets_text(raw: Any) -> dict[str, Any] | None:
    """Progress offsets as a dict. The JVM listener gives JSON text; pyspark's
    ``query.recentProgress`` gives ``str()`` of a Python dict (single quotes), or "None"."""
    if raw is None or isinstance(raw, dict):
        return raw
    text = str(raw).strip()
    if text in ("", "null", "None"):
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        value = ast.literal_eval(text)
        return value if isinstance(value, dict) else None


def source_offsets(raw: Any) -> dict[tuple[str, str], int]:
    """{"topic": {"0": 12, ...}} (as JSON text or dict) -> {(topic, partition): offset}."""
    data = parse_offsets_text(raw)
    if not data:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        (topic, part): int(off)
        for topic, parts in data.items()
        if isinstance(parts, dict)
        for part, off in parts.items()
    }


def start_query(
    spark: SparkSession,
    settings: StreamSettings,
    handler: BatchHandler,
) -> StreamingQuery:
    """Start the streaming query; the handler learns its (checkpoint-stable) query id."""
    handler.checkpoint_location = settings.checkpoint_location
    handler.event_timeout_ms = round(settings.event_timeout_seconds * 1000)
    handler.driver_max_offsets = settings.driver_max_offsets
    handler.max_message_bytes = settings.max_message_bytes
    if handler.ranges is None:
        handler.ranges = RangeReader(settings.bootstrap_servers, settings.kafka_security)
    writer = (
        kafka_stream(spark, settings)
        .writeStream.queryName(QUERY_NAME)
        .option("checkpointLocation", settings.checkpoint_location)
        .foreachBatch(handler)
    )
    if settings.available_now:
        writer = writer.trigger(availableNow=True)
    else:
        # A quiet stream runs no batch: wake it once the open orbits have timed out.
        handler.ticker = IdleTicker(
            settings.bootstrap_servers,
            settings.hits_topic,
            settings.event_timeout_seconds + settings.trigger_seconds,
            settings.kafka_security,
        )
        writer = writer.trigger(
            processingTime=f"{round(settings.trigger_seconds * 1000)} milliseconds"
        )
    return writer.start()
