"""Shared test helpers: the real sample's path, running the CLI, consuming a topic.

Imported by the producer tests as services.producer.tests.producer_helpers (the checkout
root is on pytest's pythonpath, see pyproject.toml).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, Message, TopicPartition

from minidt.samples import REAL_SAMPLE


def repo_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "versions.env").is_file():
            return parent
    raise RuntimeError("not inside the dtmon repository")


SAMPLE = REAL_SAMPLE


def sample_lines() -> list[bytes]:
    """The sample's records: every line but the header."""
    return SAMPLE.read_bytes().splitlines()[1:]


def producer_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "dtmon_producer.cli", "--metrics-port", "0", *args]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any DTMON_* setting of the caller, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DTMON_")}
    env.update(extra)
    return env


def run_producer(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `dtmon-producer` to completion in a subprocess, capturing its output as text."""
    return subprocess.run(
        producer_cmd(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(**env),
    )


def consume(
    bootstrap: str, topic: str, partitions: int, expected: int, timeout: float = 60
) -> list[Message]:
    """Read every partition from offset 0 until `expected` records (plus a short extra poll
    that proves nothing more is there) or the timeout."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=10_000, timeout=0.5):
                assert msg.error() is None, msg.error()
                out.append(msg)
        out.extend(m for m in consumer.consume(num_messages=1000, timeout=1.0) if not m.error())
    finally:
        consumer.close()
    return out


def assert_exactly_once_in_order(messages: list[Message], lines: list[bytes]) -> None:
    """Every line arrived exactly once (as a multiset: the real sample repeats a few lines),
    and each partition's records form a subsequence of the file order."""
    received: list[bytes] = []
    by_partition: dict[int, list[bytes]] = {}
    for msg in messages:
        records = msg.value().split(b"\n")
        received.extend(records)
        by_partition.setdefault(msg.partition(), []).extend(records)
    assert len(received) == len(lines), f"{len(received)} records received, {len(lines)} sent"
    assert Counter(received) == Counter(lines)
    for partition, records in by_partition.items():
        assert _is_subsequence(records, lines), f"partition {partition} out of file order"


def _is_subsequence(part: list[bytes], whole: list[bytes]) -> bool:
    it = iter(whole)
    return all(any(line == w for w in it) for line in part)
