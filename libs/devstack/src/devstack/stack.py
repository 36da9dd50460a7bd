"""The embedded pipeline as data: which services run, with which flags, ready when.

`plan()` is the one description of the local stack. `dtmon up` (what `make run` calls) hands
it to honcho, which multiplexes and prefixes the logs and stops everything together; the
end-to-end tests start the same plan process by process. Each service also retries its own
connections, as it must on Kubernetes, so the order here is for a tidy start, not correctness.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devstack.paths import cache_dir
from devstack.ports import free_port
from dtmon_common.signing import ensure_key_file
from dtmon_common.topics import HITS_TOPIC, RESULTS_TOPIC


def script(name: str) -> str:
    """A console script of this environment by absolute path, so PATH need not include it."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


@dataclass(frozen=True)
class StackConfig:
    """Every knob of the local stack; `dtmon up --help` exposes each one."""

    host: str = "127.0.0.1"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    api_port: int = 8000
    spark_ui_port: int = 4040
    producer_metrics_port: int = 9101
    processor_metrics_port: int = 9102
    source: str = "sim"
    rate: float = 1000.0
    records_per_message: int = 1
    max_records: int | None = None
    seed: int | None = None
    trigger_seconds: float = 1.0
    hits_partitions: int = 4
    data_dir: Path = field(default_factory=lambda: cache_dir() / "run")
    log_level: str = "INFO"
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


def plan(cfg: StackConfig) -> list[Service]:
    """The services in start order: broker (+ topics), processor, results API, producer.

    Also makes sure the signing key file exists (created once, mode 0600): every caller of
    the plan starts the processor and the API, and both need the same key."""
    common = ("--bootstrap-servers", cfg.bootstrap_servers, "--log-level", cfg.log_level)
    signing = ("--signing-key-file", str(ensure_key_file(cfg.signing_key_file)))
    producer = [
        script("dtmon-producer"),
        *common,
        "--source",
        cfg.source,
        "--rate",
        f"{cfg.rate:g}",
        "--records-per-message",
        str(cfg.records_per_message),
        "--metrics-port",
        str(cfg.producer_metrics_port),
    ]
    if cfg.max_records is not None:
        producer += ["--max-records", str(cfg.max_records)]
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
        ),
        Service(
            "processor",
            (
                script("dtmon-processor"),
                "run",
                *common,
                "--trigger-seconds",
                f"{cfg.trigger_seconds:g}",
                *signing,
                "--checkpoint-location",
                str(cfg.data_dir / "checkpoints" / "processor"),
                "--metrics-port",
                str(cfg.processor_metrics_port),
                "--ui-port",
                str(cfg.spark_ui_port),
            ),
            ready=f"http://{cfg.host}:{cfg.processor_metrics_port}/healthz",
            endpoints=(
                ("Spark UI", f"http://{cfg.host}:{cfg.spark_ui_port}"),
                ("processor metrics", f"http://{cfg.host}:{cfg.processor_metrics_port}/metrics"),
            ),
        ),
        Service(
            "api",
            (
                script("dtmon-api"),
                *common,
                *signing,
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
        ),
        Service(
            "producer",
            tuple(producer),
            ready=f"http://{cfg.host}:{cfg.producer_metrics_port}/healthz",
            endpoints=(
                ("producer metrics", f"http://{cfg.host}:{cfg.producer_metrics_port}/metrics"),
            ),
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
