"""The joined pipeline for end-to-end tests: real broker, processor, results API, producer.

Services are started from the same commands `dtmon up` runs (dtmon_tools.stack.plan), on free
ports, each with its own log file under the test's temporary folder. Batch membership (which
Kafka offsets each micro-batch read) comes from the processor's own Spark offset log in its
checkpoint, so every batch can be checked against the minidt reference on exactly its records.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import Consumer, TopicPartition

from devstack import processes
from devstack.kafka import KafkaBroker
from devstack.probes import wait_until_ready
from devstack.processes import script
from dtmon_tools.stack import Service, StackConfig, plan
from minidt.codecs import parse_csv


@dataclass
class Pipeline:
    broker: KafkaBroker
    workdir: Path
    hits_topic: str
    results_topic: str
    trigger_seconds: float = 1.0
    cfg: StackConfig = field(init=False)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cfg = StackConfig.on_free_ports(
            self.broker.port,
            trigger_seconds=self.trigger_seconds,
            data_dir=self.workdir,
            hits_topic=self.hits_topic,
            results_topic=self.results_topic,
        )
        self._services = {s.name: s for s in plan(self.cfg)}

    # -- processes -----------------------------------------------------------------------

    def _argv(self, name: str, extra: Iterable[str] = ()) -> list[str]:
        service: Service = self._services[name]
        return [*service.argv, *extra]

    def start(self, name: str, *extra: str, timeout: float = 300.0) -> subprocess.Popen[bytes]:
        proc = processes.spawn(self._argv(name, extra), log=self.log(name))
        self.procs[name] = proc
        try:
            wait_until_ready([self._services[name].ready], timeout=timeout)
        except Exception as exc:
            raise AssertionError(f"{name} did not start:\n{self.tail(name)}") from exc
        return proc

    def spawn_producer(self, *args: str, metrics: bool = False) -> subprocess.Popen[bytes]:
        """Start the producer on a finite source; `finish_producer` checks how it ended."""
        port = str(self.cfg.producer_metrics_port) if metrics else "0"
        argv = [
            script("dtmon-producer"),
            "--bootstrap-servers",
            self.cfg.bootstrap_servers,
            "--hits-topic",
            self.hits_topic,
            "--metrics-port",
            port,
            *args,
        ]
        return processes.spawn(argv, log=self.log("producer"))

    def finish_producer(self, proc: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
        code = proc.wait(timeout=timeout)
        assert code == 0, f"producer exited with {code}:\n{self.tail('producer')}"

    def run_producer(self, *args: str, metrics: bool = False, timeout: float = 300.0) -> None:
        """Run the producer to completion (a finite source) and insist on a clean exit."""
        self.finish_producer(self.spawn_producer(*args, metrics=metrics), timeout)

    def kill(self, name: str) -> None:
        processes.kill(self.procs.pop(name))

    def stop_all(self) -> None:
        for name in list(self.procs):
            processes.stop(self.procs.pop(name), timeout=20)

    def log(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.log"

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.log(name)
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    # -- results API ---------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.cfg.dashboard_url

    def get(self, path: str, **params: Any) -> Any:
        resp = httpx.get(self.api_url + path, params=params, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def batches(self) -> list[dict[str, Any]]:
        return self.get("/api/v1/batches", limit=self._max_limit())

    def _max_limit(self) -> int:
        return 1000

    def wait_for_hits(self, expected: int, timeout: float = 240.0) -> list[dict[str, Any]]:
        """Poll the API until the batches' hits add up to `expected` (or time out)."""
        deadline = time.monotonic() + timeout
        total = -1
        while time.monotonic() < deadline:
            batches = self.batches()
            total = sum(b["hits"] for b in batches)
            if total >= expected:
                time.sleep(2 * self.trigger_seconds)  # let any (wrong) extra batch show up
                return self.batches()
            time.sleep(0.5)
        raise AssertionError(
            f"only {total} of {expected} hits arrived in {timeout:.0f} s\n"
            f"processor log:\n{self.tail('processor')}\napi log:\n{self.tail('api')}"
        )

    # -- ground truth --------------------------------------------------------------------

    def batch_offsets(self) -> dict[int, dict[int, tuple[int, int]]]:
        """batch id -> partition -> [start, end) offsets, from Spark's checkpoint offset log."""
        log_dir = self.cfg.data_dir / "checkpoints" / "processor" / "offsets"
        entries = {int(p.name): p.read_text() for p in log_dir.iterdir() if p.name.isdigit()}
        return batch_ranges(entries, self.hits_topic)

    def read_lines(self, ranges: dict[int, tuple[int, int]]) -> list[str]:
        """The CSV lines stored at the given offsets of the hits topic (values unpacked)."""
        return read_lines(self.cfg.bootstrap_servers, self.hits_topic, ranges)


def batch_ranges(entries: dict[int, str], topic: str) -> dict[int, dict[int, tuple[int, int]]]:
    """batch id -> partition -> [start, end) offsets, from the texts of Spark's offset log
    (`<checkpoint>/offsets/<batch id>`: its third line holds each source's end offsets)."""
    ends = {
        batch_id: {int(p): int(o) for p, o in json.loads(text.splitlines()[2])[topic].items()}
        for batch_id, text in entries.items()
    }
    out: dict[int, dict[int, tuple[int, int]]] = {}
    previous: dict[int, int] = {}
    for batch_id in sorted(ends):
        out[batch_id] = {p: (previous.get(p, 0), end) for p, end in ends[batch_id].items()}
        previous = ends[batch_id]
    return out


def read_lines(
    bootstrap: str,
    topic: str,
    ranges: dict[int, tuple[int, int]],
    client: dict[str, str] | None = None,
) -> list[str]:
    """The CSV lines stored at the given offsets of a hits topic (values unpacked); `client`
    adds librdkafka settings (a SASL user on the cluster's broker)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "e2e-truth",
            "enable.auto.commit": False,
            **(client or {}),
        }
    )
    lines: list[str] = []
    try:
        for partition, (start, end) in sorted(ranges.items()):
            if end <= start:
                continue
            consumer.assign([TopicPartition(topic, partition, start)])
            got = start
            while got < end:
                for msg in consumer.consume(num_messages=min(10_000, end - got), timeout=5):
                    assert msg.error() is None, msg.error()
                    if msg.offset() >= end:
                        got = end
                        break
                    lines.extend(msg.value().decode().split("\n"))
                    got = msg.offset() + 1
    finally:
        consumer.close()
    return lines


def hits_in(lines: list[str]) -> int:
    """HEAD == 2 records among CSV lines, by the minidt parser."""
    parsed = parse_csv(lines)
    return int((parsed.hits.head == 2).sum())
