"""`dtmon-kafka`: run the local broker in the foreground with dtmon's topics (Ctrl-C stops)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from devstack.kafka import BrokerError, KafkaBroker
from devstack.paths import cache_dir
from dtmon_common.cli import command_parser
from dtmon_common.logs import configure_logging
from dtmon_common.options import Command, Group, Option
from dtmon_common.options.shared import LOGGING, PORT
from dtmon_common.topics import (
    DEFAULT_HITS_PARTITIONS,
    DEFAULT_RESULTS_PARTITIONS,
    HITS_TOPIC,
    RESULTS_TOPIC,
)

log = logging.getLogger("dtmon.kafka")


KAFKA_CLI = Command(
    "dtmon-kafka",
    (
        Group(
            "broker",
            (
                Option("--kafka-port", "broker port on 127.0.0.1", default=9092, **PORT),
                Option("--kafka-controller-port", "KRaft controller port", default=9093, **PORT),
                Option(
                    "--kafka-data-dir",
                    "log directory (kept between runs)",
                    type=Path,
                    default=lambda: cache_dir() / "kafka-data",
                ),
                Option(
                    "--hits-partitions",
                    f"partitions of {HITS_TOPIC}",
                    type=int,
                    default=DEFAULT_HITS_PARTITIONS,
                    minimum=1,
                ),
            ),
        ),
        LOGGING,
    ),
    topics=frozenset({"hits", "results"}),
)


def build_parser() -> argparse.ArgumentParser:
    return command_parser(
        KAFKA_CLI,
        description="Run dtmon's local Apache Kafka broker (KRaft, one node, loopback) and "
        "create the hits and results topics. Data persists across runs in --kafka-data-dir.",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    broker = KafkaBroker(
        args.kafka_port, controller_port=args.kafka_controller_port, data_dir=args.kafka_data_dir
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        broker.start()
        broker.create_topic(HITS_TOPIC, args.hits_partitions)
        broker.create_topic(RESULTS_TOPIC, DEFAULT_RESULTS_PARTITIONS)
    except BrokerError as exc:
        print(f"dtmon-kafka: {exc}", file=sys.stderr)
        broker.stop()
        return 1
    print(
        f"Kafka {broker.bootstrap_servers} ready (topics {HITS_TOPIC}, {RESULTS_TOPIC}; "
        f"data in {broker.data_dir}). Ctrl-C stops it.",
        flush=True,
    )
    stop.wait()
    log.info("stopping Kafka")
    broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
