"""The local pipeline as data: which services run, with which flags, ready when, stop when.

`plan()` is the one description of the local stack. `dtmon up` (what `make run` calls) hands
it to the supervisor; the end-to-end tests and the pipeline benchmark start the same plan
process by process. Each service also retries its own connections, as it must on
Kubernetes, so the start gates are for a tidy start, not for correctness.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.ports import free_port
from devstack.processes import script
from dtmon_common.options import Command
from dtmon_common.options.api import API
from dtmon_common.options.processor import RUN as PROCESSOR_RUN
from dtmon_common.options.producer import PRODUCER
from dtmon_common.signing import ensure_key_file
from dtmon_common.topics import HITS_TOPIC, RESULTS_TOPIC
from dtmon_tools.options import PORTS, UP

_D = UP.defaults()


@dataclass(frozen=True)
class StackConfig:
    """Every knob of the local stack; defaults are `dtmon up`'s option defaults."""

    host: str = "127.0.0.1"
    kafka_port: int = PORTS["kafka_port"][1]
    kafka_controller_port: int = PORTS["kafka_controller_port"][1]
    api_port: int = PORTS["api_port"][1]
    spark_ui_port: int = PORTS["spark_ui_port"][1]
    producer_metrics_port: int = PORTS["producer_metrics_port"][1]
    processor_metrics_port: int = PORTS["processor_metrics_port"][1]
    source: str = _D["source"]
    rate: float = _D["rate"]
    records_per_message: int = _D["records_per_message"]
    max_records: int = _D["max_records"]
    seed: int | None = _D["seed"]
    trigger_seconds: float = _D["trigger_seconds"]
    hits_partitions: int = _D["hits_partitions"]
    data_dir: Path = _D["data_dir"]
    log_level: str = _D["log_level"]
    hits_topic: str = HITS_TOPIC
    results_topic: str = RESULTS_TOPIC
    """Other topics than the defaults: the tests' and benchmarks' own, on a shared broker."""
    producer_args: tuple[str, ...] = ()

    @classmethod
    def on_free_ports(cls, kafka_port: int, **settings: Any) -> StackConfig:
        """A stack on an already running broker with every service port picked free, so
        tests and benchmarks run beside `make run` and each other."""
        return cls(
            kafka_port=kafka_port,
            api_port=free_port(),
            spark_ui_port=free_port(),
            producer_metrics_port=free_port(),
            processor_metrics_port=free_port(),
            **settings,
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def signing_key_file(self) -> Path:
        """The result-signing keys of the processor and the API, beside the broker data so
        that --fresh forgets both together (old messages carry the old key)."""
        return self.data_dir / "signing.keys"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"


@dataclass(frozen=True)
class Service:
    """One process of the stack: its command, when it is ready, what it serves."""

    name: str
    argv: tuple[str, ...]
    ready: str
    """Probe URL (see devstack.probes) that answers once the service is usable."""
    endpoints: tuple[tuple[str, str], ...] = ()
    after: tuple[str, ...] = ()
    """Services that must be ready before this one starts."""
    may_finish: bool = False
    """A clean exit (rc 0) is the end of its work, not a failure (a finite producer source)."""
    stop_seconds: float = 15.0
    """How long a stop waits after SIGTERM before it signals the process's whole group."""


STOP_ORDER = ("producer", "processor", "api", "kafka")
"""Upstream first, the broker last: each service can still hand what it has to the next one
(the processor publishes its last batch while the API still consumes), and no client is left
retrying against a broker that is gone."""


def _topics(cfg: StackConfig, command: Command) -> tuple[str, ...]:
    """The topic flags of the topics `command` uses, and only those."""
    flags = {
        "hits": ("--hits-topic", cfg.hits_topic),
        "results": ("--results-topic", cfg.results_topic),
    }
    return tuple(x for topic in sorted(command.topics) for x in flags[topic])


def max_message_bytes(records_per_message: int) -> int:
    """The processor's --max-message-bytes for the producer's packing: the default fits one
    record, and the processor's batch byte bound holds only while no message is larger."""
    return int(PROCESSOR_RUN.option("--max-message-bytes").default) * records_per_message


def plan(cfg: StackConfig) -> list[Service]:
    """The services in start order: broker (+ topics), processor and API, producer.

    Also makes sure the signing key file exists (created once, mode 0600): every caller of
    the plan starts the processor and the API, and both need the same key."""
    common = ("--bootstrap-servers", cfg.bootstrap_servers, "--log-level", cfg.log_level)
    signing = ("--signing-key-file", str(ensure_key_file(cfg.signing_key_file)))
    producer = [
        script("dtmon-producer"),
        *common,
        *_topics(cfg, PRODUCER),
        "--source",
        cfg.source,
        "--rate",
        f"{cfg.rate:g}",
        "--records-per-message",
        str(cfg.records_per_message),
        "--max-records",
        str(cfg.max_records),
        "--metrics-port",
        str(cfg.producer_metrics_port),
    ]
    if cfg.seed is not None:
        producer += ["--seed", str(cfg.seed)]
    producer += list(cfg.producer_args)
    return [
        Service(
            "kafka",
            (
                script("dtmon-kafka"),
                "--kafka-port",
                str(cfg.kafka_port),
                "--kafka-controller-port",
                str(cfg.kafka_controller_port),
                "--kafka-data-dir",
                str(cfg.data_dir / "kafka"),
                "--hits-partitions",
                str(cfg.hits_partitions),
                "--log-level",
                cfg.log_level,
            ),
            ready=f"kafka://{cfg.bootstrap_servers}/{HITS_TOPIC},{RESULTS_TOPIC}",
            endpoints=(("Kafka bootstrap", cfg.bootstrap_servers),),
            stop_seconds=30.0,
        ),
        Service(
            "processor",
            (
                script("dtmon-processor"),
                "run",
                *common,
                *_topics(cfg, PROCESSOR_RUN),
                "--trigger-seconds",
                f"{cfg.trigger_seconds:g}",
                "--max-message-bytes",
                str(max_message_bytes(cfg.records_per_message)),
                *signing,
                "--checkpoint-location",
                str(cfg.data_dir / "checkpoints" / "processor"),
                "--metrics-port",
                str(cfg.processor_metrics_port),
                "--ui-port",
                str(cfg.spark_ui_port),
            ),
            ready=f"http://{cfg.host}:{cfg.processor_metrics_port}/readyz",
            endpoints=(
                ("Spark UI", f"http://{cfg.host}:{cfg.spark_ui_port}"),
                ("processor metrics", f"http://{cfg.host}:{cfg.processor_metrics_port}/metrics"),
            ),
            after=("kafka",),
            stop_seconds=45.0,  # the running micro-batch publishes and commits first
        ),
        Service(
            "api",
            (
                script("dtmon-api"),
                *common,
                *signing,
                *_topics(cfg, API),
                "--host",
                cfg.host,
                "--port",
                str(cfg.api_port),
            ),
            ready=f"http://{cfg.host}:{cfg.api_port}/readyz",
            endpoints=(
                ("dashboard", cfg.dashboard_url + "/"),
                ("API docs", cfg.dashboard_url + "/docs"),
                ("API metrics", cfg.dashboard_url + "/metrics"),
            ),
            after=("kafka",),
        ),
        Service(
            "producer",
            tuple(producer),
            ready=f"http://{cfg.host}:{cfg.producer_metrics_port}/healthz",
            endpoints=(
                ("producer metrics", f"http://{cfg.host}:{cfg.producer_metrics_port}/metrics"),
            ),
            after=("processor", "api"),
            may_finish=True,
        ),
    ]


def reset(cfg: StackConfig) -> None:
    """Forget the previous run: broker data and processor checkpoints go together."""
    shutil.rmtree(cfg.data_dir, ignore_errors=True)


def banner(cfg: StackConfig, services: list[Service]) -> str:
    # What a user opens first goes first: the dashboard, then the API, then the internals.
    order = ("api", "processor", "producer", "kafka")
    ranked = sorted(services, key=lambda s: order.index(s.name) if s.name in order else 99)
    rows = [(label, url) for s in ranked for label, url in s.endpoints]
    width = max(len(label) for label, _ in rows)
    lines = [f"  {label:<{width}}  {url}" for label, url in rows]
    rule = "-" * max(len(line) for line in lines)
    return "\n".join(
        [rule, "  dtmon is up. Open the dashboard:", *lines, "  Ctrl-C stops everything.", rule]
    )
