"""A small micro-batch's Kafka records read by a plain consumer in the driver: no Spark job.

Why: on the driver path the batch's only Spark job reads Kafka and hands the values to the
driver as Arrow; on 2 cores that job alone costs 190-310 ms whatever the batch size (task
scheduling, the executor's Kafka consumer, the Arrow conversion), most of a small batch's
time. The offset log already says which records the batch holds (from the previous entry's
end offsets to this entry's), so the driver reads exactly that range itself. Spark still
plans, logs and commits the batch: the exactly-once accounting is unchanged, and a batch
re-run after a crash reads the same range again.

A range this reader cannot complete raises `RangeUnavailable`: records the broker no longer
holds (deleted by retention), an error the client does not retry, or no progress for
`STALL_SECONDS` (a broker outage; a range ending in offsets that carry no record, such as
transaction markers). The handler then reads the batch through Spark's source, whose
retries and ``failOnDataLoss`` decide, so this path never drops a record silently.
"""

from __future__ import annotations

import gc
import logging
import time
import uuid
from dataclasses import dataclass

import pyarrow as pa
from confluent_kafka import Consumer, KafkaError, TopicPartition

from dtmon_common.broker_watch import PROBE_CLIENT_CONFIG
from dtmon_common.kafka_security import KafkaSecurity

log = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 10
"""The broker's longest wait for data in one fetch, for this reader and Spark's source
(stream.kafka_stream): at the end of a batch's range there is nothing more to wait for."""

CONSUME_BATCH = 10_000
STALL_SECONDS = 10.0


class RangeUnavailable(RuntimeError):
    """This reader cannot complete the range; Spark's source must read it."""


@dataclass(frozen=True)
class Range:
    topic: str
    partition: int
    start: int  # first offset to read
    end: int  # one past the last

    @property
    def records(self) -> int:
        return max(0, self.end - self.start)


class RangeReader:
    """Reads offset ranges of one topic into a (value, kpart, ts) Arrow table, the same
    columns as the driver path's Spark job gives. One consumer for the handler's life."""

    def __init__(self, bootstrap_servers: str, security: KafkaSecurity | None = None) -> None:
        self._config = {
            "bootstrap.servers": bootstrap_servers,
            # Never joined (partitions are assigned) nor committed: Spark's checkpoint holds
            # the offsets. The prefix is the one the processor's Kafka user may use.
            "group.id": f"dtmon-processor-range-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "error",
            # As Spark's Java consumer reads: every record up to the end offset it planned.
            "isolation.level": "read_uncommitted",
            "fetch.wait.max.ms": FETCH_MAX_WAIT_MS,
            # Prefetch up to a whole batch: with the default (100,000 messages) a 400,000-record
            # read took 5.5 us a record, with this 1.0 (measured).
            "queued.min.messages": 1_000_000,
            "logger": logging.getLogger("dtmon_processor.kafka"),
            **PROBE_CLIENT_CONFIG,
            **(security or KafkaSecurity()).librdkafka(),
        }
        self._consumer: Consumer | None = None

    def read(self, ranges: list[Range]) -> pa.Table:
        """Every record of `ranges` (one topic: the query reads one), in offset order per
        partition."""
        if len({r.topic for r in ranges}) > 1:
            raise ValueError(f"ranges of more than one topic: {ranges}")
        todo = {r.partition: r for r in ranges if r.records > 0}
        values: list[bytes] = []
        kparts: list[int] = []
        stamps: list[int] = []
        if not todo:
            return _table(values, kparts, stamps)
        consumer = self._client()
        # Unassigned after each read, so it does not prefetch the next records (which the
        # next assign() would discard) while the batch is counted; pausing a finished
        # partition instead made its next read wait ~1 s for the first fetch (measured).
        consumer.assign([TopicPartition(r.topic, p, r.start) for p, r in todo.items()])
        collecting = gc.isenabled()
        gc.disable()  # a million messages: the collector's passes cost ~30 % of the read
        try:
            self._drain(consumer, todo, values, kparts, stamps)
        finally:
            if collecting:
                gc.enable()
            consumer.unassign()
        return _table(values, kparts, stamps)

    @staticmethod
    def _drain(
        consumer: Consumer,
        todo: dict[int, Range],
        values: list[bytes],
        kparts: list[int],
        stamps: list[int],
    ) -> None:
        progress_at = time.monotonic()
        left = sum(r.records for r in todo.values())
        while todo:
            # consume() returns when it has this many messages or at the timeout: asking
            # for no more than are left returns as soon as the range is complete.
            messages = consumer.consume(max(1, min(CONSUME_BATCH, left)), timeout=0.1)
            if messages:
                progress_at = time.monotonic()
            elif time.monotonic() - progress_at > STALL_SECONDS:
                where = ", ".join(f"{r.topic}[{p}] {r.start}-{r.end}" for p, r in todo.items())
                raise RangeUnavailable(f"no record for {STALL_SECONDS:g} s; left: {where}")
            for m in messages:
                err = m.error()
                if err is not None:
                    _check(err, m.topic(), m.partition())
                    continue
                p = m.partition()
                r = todo.get(p)
                offset = m.offset()
                if r is None or not r.start <= offset < r.end:
                    continue
                left -= 1
                values.append(m.value() or b"")
                kparts.append(p)
                stamps.append(m.timestamp()[1])
                if offset == r.end - 1:
                    del todo[p]

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def _client(self) -> Consumer:
        if self._consumer is None:
            self._consumer = Consumer(self._config)
        return self._consumer


def _check(err: KafkaError, topic: str | None, partition: int | None) -> None:
    """A retriable error is the client's to retry (the stall bound still applies); any other
    one ends this reader's attempt."""
    if err.code() == KafkaError._PARTITION_EOF or err.retriable():
        return
    raise RangeUnavailable(f"{topic}[{partition}]: {err.str()}")


def _table(values: list[bytes], kparts: list[int], stamps: list[int]) -> pa.Table:
    return pa.table(
        {
            "value": pa.array(values, pa.binary()),
            "kpart": pa.array(kparts, pa.int32()),
            "ts": pa.array(stamps, pa.int64()),
        }
    )
