"""The local broker is real Kafka: records round-trip in order, restarts keep data, no JVM leaks."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from devstack.kafka import BrokerError, KafkaBroker
from devstack.ports import free_port

N_RECORDS = 100_000


def _consume_all(bootstrap: str, topic: str, partitions: int, expected: int) -> list:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"g-{topic}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: list = []
    deadline = time.monotonic() + 120
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=1.0):
                assert msg.error() is None, msg.error()
                out.append(msg)
        # Nothing beyond what was sent: a short extra poll must return no record.
        out.extend(m for m in consumer.consume(num_messages=100, timeout=1.0) if not m.error())
    finally:
        consumer.close()
    return out


def test_round_trip_100k_records_in_order_per_partition(kafka_broker, make_topic) -> None:
    topic = make_topic(partitions=4)
    producer = Producer(
        {
            "bootstrap.servers": kafka_broker.bootstrap_servers,
            "enable.idempotence": True,
            "linger.ms": 5,
        }
    )
    for i in range(N_RECORDS):
        while True:
            try:
                producer.produce(topic, value=str(i).encode(), key=str(i % 97).encode())
                break
            except BufferError:
                producer.poll(0.05)
    assert producer.flush(60) == 0

    records = _consume_all(kafka_broker.bootstrap_servers, topic, 4, N_RECORDS)

    assert len(records) == N_RECORDS
    assert sorted(int(m.value()) for m in records) == list(range(N_RECORDS))
    by_partition: dict[int, list[int]] = defaultdict(list)
    for m in records:
        by_partition[m.partition()].append(int(m.value()))
    assert len(by_partition) == 4
    for values in by_partition.values():
        assert values == sorted(values), "records out of order within a partition"


def test_restart_keeps_topics_and_records(tmp_path: Path) -> None:
    broker = KafkaBroker(data_dir=tmp_path / "data")
    try:
        broker.start()
        broker.create_topic("keep", 2)
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
        for i in range(1000):
            producer.produce("keep", value=str(i).encode(), partition=i % 2)
        assert producer.flush(30) == 0
        broker.restart()
        records = _consume_all(broker.bootstrap_servers, "keep", 2, 1000)
        values = sorted(int(m.value()) for m in records)
        assert values == list(range(1000))
    finally:
        broker.stop()
    assert not broker.running


def test_port_in_use_is_a_clear_error(kafka_broker) -> None:
    with pytest.raises(BrokerError, match=f"port 127.0.0.1:{kafka_broker.port} is already in use"):
        KafkaBroker(kafka_broker.port).start()


def test_missing_jars_name_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTMON_KAFKA_LIBS", str(tmp_path / "nothing-here"))
    with pytest.raises(BrokerError, match=r"run `make kafka-jars`"):
        KafkaBroker(data_dir=tmp_path / "d").start()


def _java_pids_for(marker: str) -> list[int]:
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def test_killed_parent_leaves_no_java_behind(tmp_path: Path) -> None:
    """kill -9 of the process that started the broker (an interrupted test run) ends the JVM."""
    data_dir = tmp_path / "orphan-check"
    script = textwrap.dedent(
        f"""
        import sys, time
        from devstack.kafka import KafkaBroker
        b = KafkaBroker({free_port()}, data_dir=__import__("pathlib").Path({str(data_dir)!r}))
        b.start()
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "ready"
        marker = str(data_dir / "server.properties")
        assert _java_pids_for(marker), "broker JVM should be running"
        os.kill(parent.pid, 9)
        parent.wait(10)
        deadline = time.monotonic() + 30
        while _java_pids_for(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _java_pids_for(marker) == []
    finally:
        if parent.poll() is None:
            parent.kill()
