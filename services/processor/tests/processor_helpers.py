"""Helpers for the processor tests: produce to / read from the real broker, and the minidt
reference computed on exactly the records of one micro-batch (chosen by Kafka offsets).

Not a test module (no test_ prefix): tests import it as
services.processor.tests.processor_helpers (the checkout root is on pytest's pythonpath).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from confluent_kafka import Consumer, Producer, TopicPartition

from dtmon_common.signing import parse_keys
from dtmon_processor.stream import parse_offsets_text
from minidt.codecs import Hits, parse_csv
from minidt.reference import QUANTITY_FIELDS, reference_message
from minidt.samples import REAL_SAMPLE

SAMPLE = REAL_SAMPLE
TEST_KEY_LINE = "proc-test:" + "7" * 64
"""The signing key of the processors these tests start (`<key_id>:<secret>`)."""
TEST_KEYS = parse_keys(TEST_KEY_LINE, "tests")


def produce(
    bootstrap: str,
    topic: str,
    values: Sequence[bytes],
    partitions: Sequence[int] | None = None,
    timestamps_ms: Sequence[int] | None = None,
) -> None:
    """Send `values` in order (value i to partitions[i] at timestamps_ms[i] when given)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
    for i, value in enumerate(values):
        kwargs: dict[str, Any] = {}
        if partitions is not None:
            kwargs["partition"] = partitions[i]
        if timestamps_ms is not None:
            kwargs["timestamp"] = timestamps_ms[i]
        producer.produce(topic, value=value, **kwargs)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0, "records not delivered"


def read_all(bootstrap: str, topic: str, expected: int | None = None, timeout: float = 60.0):
    """Every record of `topic` as (partition, offset, key, value, timestamp_ms)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{topic}-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out = []
    deadline = time.monotonic() + timeout
    idle_since = time.monotonic()
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                if expected is None and out and time.monotonic() - idle_since > 3:
                    break
                if expected is not None and len(out) >= expected:
                    break
                continue
            if msg.error():
                continue
            idle_since = time.monotonic()
            out.append((msg.partition(), msg.offset(), msg.key(), msg.value(), msg.timestamp()[1]))
    finally:
        consumer.close()
    return out


def records_between(
    bootstrap: str, topic: str, start: dict[int, int], end: dict[int, int]
) -> list[tuple[bytes, int]]:
    """(value, timestamp_ms) of the records with start[p] <= offset < end[p], per partition."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False}
    )
    out: list[tuple[bytes, int]] = []
    try:
        for p, stop in end.items():
            first = start.get(p, 0)
            if stop <= first:
                continue
            consumer.assign([TopicPartition(topic, p, first)])
            got = 0
            deadline = time.monotonic() + 30
            while got < stop - first and time.monotonic() < deadline:
                for msg in consumer.consume(1000, 1.0):
                    if msg.error() or msg.offset() >= stop:
                        continue
                    out.append((msg.value(), msg.timestamp()[1]))
                    got += 1
            assert got == stop - first, f"partition {p}: read {got} of {stop - first} records"
    finally:
        consumer.close()
    return out


def offsets(raw: Any) -> dict[int, int]:
    """Spark progress offsets JSON ({"topic": {"0": 12}}) -> {partition: offset}."""
    data = parse_offsets_text(raw)
    if not data:
        return {}
    (parts,) = data.values()
    return {int(p): int(o) for p, o in parts.items()}


def expected_message(
    records: list[tuple[bytes, int]], *, query_id: str, batch_id: int, emitted_at_ms: int
) -> dict[str, Any]:
    """The minidt reference message for exactly these Kafka records."""
    text = b"\n".join(value for value, _ in records)
    parsed = parse_csv(text)
    stamps = [ts for _, ts in records]
    return reference_message(
        parsed.hits,
        query_id=query_id,
        batch_id=batch_id,
        input_rows=len(parsed.hits),
        malformed=parsed.malformed,
        first_ts_ms=min(stamps) if stamps else None,
        last_ts_ms=max(stamps) if stamps else None,
        emitted_at_ms=emitted_at_ms,
    )


def batch_offsets(progress: Sequence[Any]) -> dict[int, tuple[dict[int, int], dict[int, int]]]:
    """batchId -> (start, end) offsets of the batches that read records. From the offsets,
    not Spark's numInputRows: a driver-path batch reads its range without Spark, whose
    progress then counts no input rows."""
    out = {}
    for p in progress:
        if p.sources:
            src = p.sources[0]
            start, end = offsets(src.startOffset), offsets(src.endOffset)
            if any(off > start.get(part, 0) for part, off in end.items()):
                out[p.batchId] = (start, end)
    return out


def summed(messages: list[dict]) -> dict:
    """Every quantity summed over batches (histograms bin by bin)."""
    total: dict = {}
    for m in messages:
        for key in QUANTITY_FIELDS:
            value = m[key]
            if key not in total:
                total[key] = value
            elif isinstance(value, int):
                total[key] += value
            elif isinstance(value[0], int):
                total[key] = [a + b for a, b in zip(total[key], value, strict=True)]
            else:
                total[key] = [
                    {
                        "bin_edges": a["bin_edges"],
                        "bin_counts": [
                            x + y for x, y in zip(a["bin_counts"], b["bin_counts"], strict=True)
                        ],
                        "underflow": a["underflow"] + b["underflow"],
                        "overflow": a["overflow"] + b["overflow"],
                    }
                    for a, b in zip(total[key], value, strict=True)
                ]
    return total


def carried_hits(carry: Any) -> Hits:
    """The hits of the orbits event building still holds open (a state's `carry`), as minidt
    Hits: what the batches have not counted yet."""
    return Hits.from_columns(
        head=np.full(len(carry), 2),
        fpga=carry.fpga,
        channel=carry.channel,
        orbit=carry.orbit,
        bx=carry.bx,
        tdc=carry.tdc,
    )
