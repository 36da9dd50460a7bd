"""`dtmon up`'s options: the services' own declarations where it passes a value on, plus the
stack's ports and data folder. Nothing here restates a service option's range or help."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from devstack.kafka_cli import KAFKA_CLI
from devstack.paths import cache_dir
from dtmon_common.options import Command, Group, Option
from dtmon_common.options.processor import TRIGGER_SECONDS
from dtmon_common.options.producer import (
    DEFAULT_RATE,
    MAX_RECORDS,
    RATE,
    RECORDS_PER_MESSAGE,
    SEED,
    SOURCE,
)
from dtmon_common.options.shared import LOG_LEVEL, PORT

PORTS = {
    "kafka_port": ("--kafka-port", 9092),
    "kafka_controller_port": ("--kafka-controller-port", 9093),
    "api_port": ("--api-port", 8000),
    "spark_ui_port": ("--spark-ui-port", 4040),
    "producer_metrics_port": ("--producer-metrics-port", 9101),
    "processor_metrics_port": ("--processor-metrics-port", 9102),
}
"""StackConfig field -> (flag, default): every port the stack listens on, on 127.0.0.1."""

UP = Command(
    "dtmon up",
    (
        Group(
            "producer",
            (
                SOURCE,
                dataclasses.replace(
                    RATE, default=DEFAULT_RATE, help="records per second; 0 = as fast as possible"
                ),
                RECORDS_PER_MESSAGE,
                MAX_RECORDS,
                SEED,
            ),
        ),
        Group("processor", (TRIGGER_SECONDS,)),
        Group("Kafka", (KAFKA_CLI.option("--hits-partitions"),)),
        Group(
            "ports",
            tuple(
                Option(flag, "port on 127.0.0.1", default=port, **PORT)
                for flag, port in PORTS.values()
            ),
        ),
        Group(
            "stack",
            (
                Option(
                    "--data-dir",
                    "broker data and Spark checkpoints (kept between runs)",
                    type=Path,
                    default=lambda: cache_dir() / "run",
                ),
                Option("--fresh", "delete --data-dir first (forget earlier runs)", type=bool),
                Option(
                    "--max-restarts",
                    "a service that dies is restarted with backoff; after this many failures "
                    "in a row (each within a minute of its start) everything stops",
                    type=int,
                    default=5,
                    minimum=0,
                ),
                dataclasses.replace(LOG_LEVEL, help="log level of every service"),
            ),
        ),
    ),
    topics=frozenset({"hits", "results"}),
)
