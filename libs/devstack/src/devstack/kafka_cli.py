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
from dtmon_common.cli import EnvArgumentParser, add_logging_arguments
from dtmon_common.logs import configure_logging
from dtmon_common.topics import (
    DEFAULT_HITS_PARTITIONS,
    DEFAULT_RESULTS_PARTITIONS,
    HITS_TOPIC,
    RESULTS_TOPIC,
)

log = logging.getLogger("dtmon.kafka")


def build_parser() -> argparse.ArgumentParser:
    parser = EnvArgumentParser(
        prog="dtmon-kafka",
        description="Run dtmon's local Apache Kafka broker (KRaft, one node, loopback) and "
        "create the hits and results topics. Data persists across runs in --data-dir.",
    )
    parser.add_argument("--kafka-port", type=int, default=9092, help="broker port on 127.0.0.1")
    parser.add_argument(
        "--kafka-controller-port", type=int, default=9093, help="KRaft controller port"
    )
    parser.add_argument(
        "--kafka-data-dir",
        type=Path,
        default=cache_dir() / "kafka-data",
        help="log directory (kept between runs)",
    )
    parser.add_argument(
        "--hits-partitions", type=int, default=DEFAULT_HITS_PARTITIONS, help="partitions of dt-hits"
    )
    add_logging_arguments(parser)
    return parser


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
