"""The driver's own Kafka read on a real broker: exactly the planned offset range, or a clear
`RangeUnavailable` (the handler then reads through Spark's source), never fewer records."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient

from devstack.kafka import KafkaBroker
from dtmon_processor import rangeread
from dtmon_processor.rangeread import Range, RangeReader, RangeUnavailable
from services.processor.tests.processor_helpers import produce, records_between

N = 3_000


@pytest.fixture
def filled(kafka_broker: KafkaBroker, make_topic: Callable[..., str]) -> str:
    topic = make_topic(partitions=3)
    values = [f"2,0,{i % 128},{1000 + i // 7},{i % 3564},{i % 30}".encode() for i in range(N)]
    produce(
        kafka_broker.bootstrap_servers,
        topic,
        values,
        partitions=[i % 3 for i in range(N)],
        timestamps_ms=[1_700_000_000_000 + i for i in range(N)],
    )
    return topic


def test_reads_exactly_the_ranges(kafka_broker: KafkaBroker, filled: str) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    start, end = {0: 10, 1: 0, 2: 500}, {0: 990, 1: 1, 2: 500}  # partition 2: empty range
    reader = RangeReader(bootstrap)
    try:
        table = reader.read([Range(filled, p, start[p], end[p]) for p in end])
        again = reader.read([Range(filled, 0, 0, 5)])  # the same consumer, a new range
    finally:
        reader.close()
    got = sorted(zip(table["value"].to_pylist(), table["ts"].to_pylist(), strict=True))
    assert got == sorted(records_between(bootstrap, filled, start, end))
    assert table.num_rows == 981
    assert sorted(set(table["kpart"].to_pylist())) == [0, 1]
    assert again.num_rows == 5


def test_a_range_past_the_end_gives_up_after_the_stall_bound(
    kafka_broker: KafkaBroker, filled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rangeread, "STALL_SECONDS", 1.0)
    reader = RangeReader(kafka_broker.bootstrap_servers)
    try:
        with pytest.raises(RangeUnavailable, match=rf"{filled}\[1\] 900-1100"):
            reader.read([Range(filled, 0, 0, 10), Range(filled, 1, 900, 1100)])
    finally:
        reader.close()


def test_records_deleted_by_retention_are_not_skipped(
    kafka_broker: KafkaBroker, filled: str
) -> None:
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})
    for future in admin.delete_records([TopicPartition(filled, 2, 100)]).values():
        future.result(30)
    reader = RangeReader(kafka_broker.bootstrap_servers)
    try:
        with pytest.raises(RangeUnavailable, match=rf"{filled}\[2\]"):
            reader.read([Range(filled, 2, 0, 200)])
    finally:
        reader.close()
