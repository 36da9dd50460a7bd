"""`dtmon-processor`: `run` (default) streams dt-hits to dt-results; `batch FILE...` processes
files with the same transformation and prints v1 messages as JSON lines.

Every option is also read from `DTMON_<OPTION>` (EnvArgumentParser), which is how the Helm
chart configures the processor.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from dtmon_common.cli import EnvArgumentParser, keyring_from_args
from dtmon_common.kafka_security import KafkaSecurityError, security_from_args
from dtmon_common.logs import configure_logging
from dtmon_common.options import add_options, settings_from
from dtmon_common.options.processor import BATCH, RUN
from dtmon_common.signing import SigningKeyError
from dtmon_processor.jars import JarsMissingError, connector_jars

log = logging.getLogger("dtmon_processor")


def build_parser() -> EnvArgumentParser:
    """The options are declared in dtmon_common.options.processor; here only the prose."""
    parser = EnvArgumentParser(
        prog="dtmon-processor",
        description="Spark Structured Streaming: dt-hits -> one dtmon.batch.v1 message per "
        "micro-batch on dt-results.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{run,batch}")
    run = sub.add_parser("run", help="stream from Kafka (default)", description=__doc__)
    add_options(run, RUN.groups)
    batch = sub.add_parser(
        "batch",
        help="process CSV files (.gz too) with the same transformation",
        description="Process dataset CSV files and write one v1 message per batch as JSON lines.",
    )
    batch.add_argument("files", nargs="+", type=Path, metavar="FILE", help="CSV or CSV.gz files")
    add_options(batch, BATCH.groups)
    return parser


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or (args[0] not in ("run", "batch", "-h", "--help")):
        args.insert(0, "run")
    return build_parser().parse_args(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    if args.command == "batch":
        return _batch(args)
    return _run(args)


def _spark(args: argparse.Namespace, *, kafka: bool) -> Any:
    """The session the options describe; Spark's own logs stay at WARN unless DEBUG."""
    from dtmon_processor.session import SparkSettings, build_session

    spark = build_session(
        settings_from(SparkSettings, args, ui_enabled=not args.no_ui, with_kafka_jars=kafka)
    )
    if args.log_level == "DEBUG":
        spark.sparkContext.setLogLevel("INFO")
    return spark


def _fail(message: str) -> int:
    print(f"dtmon-processor: error: {message}", file=sys.stderr)
    return 2


def _batch(args: argparse.Namespace) -> int:
    import json

    for f in args.files:
        if not f.is_file():
            return _fail(f"input file not found: {f}")
    from dtmon_processor.batchmode import run_batches

    spark = _spark(args, kafka=False)
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    n = 0
    try:
        for message in run_batches(spark, args.files, args.rows_per_batch):
            out.write(json.dumps(message, separators=(",", ":")) + "\n")
            n += 1
        out.flush()
    finally:
        if out is not sys.stdout:
            out.close()
        spark.stop()
    log.info("wrote %d batch message(s) to %s", n, args.output)
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        connector_jars()
    except JarsMissingError as exc:
        return _fail(str(exc))
    from dtmon_common.broker_watch import BrokerWatch
    from dtmon_common.health import MetricsPortError, serve_health
    from dtmon_processor.checkpoint_bucket import CheckpointBucketError, ensure_checkpoint_bucket
    from dtmon_processor.lag import HitsLag, ProgressListener
    from dtmon_processor.metrics import ProcessorMetrics
    from dtmon_processor.publish import PublishError, ResultsPublisher, ensure_topic
    from dtmon_processor.stream import BatchHandler, StreamSettings, start_query

    try:
        keys = keyring_from_args(args)
        security = security_from_args(args)
    except (SigningKeyError, KafkaSecurityError) as exc:
        return _fail(str(exc))
    stopping = _StopSignals()
    stopping.install()
    metrics = ProcessorMetrics()
    try:
        server = serve_health(
            metrics.registry,
            args.metrics_host,
            args.metrics_port,
            ready=lambda: (False, "starting Spark and the query"),
        )
    except MetricsPortError as exc:
        return _fail(str(exc))
    try:
        try:
            ensure_topic(
                args.bootstrap_servers,
                args.results_topic,
                create=not args.no_create_results_topic,
                security=security,
            )
        except PublishError as exc:
            return _fail(str(exc))
        if stopping:
            return 0
        settings = settings_from(StreamSettings, args, kafka_security=security)
        spark = _spark(args, kafka=True)
        try:
            conf = dict(spark.sparkContext.getConf().getAll())
            ensure_checkpoint_bucket(args.checkpoint_location, conf)
        except CheckpointBucketError as exc:
            _stop_spark(spark)
            return _fail(str(exc))
        lag = HitsLag(args.bootstrap_servers, args.hits_topic, metrics, security)
        spark.streams.addListener(ProgressListener(lag))
        broker = BrokerWatch(
            lag.probe, unreachable_after=args.broker_timeout_seconds, name="dtmon-processor broker"
        ).start()
        publisher = ResultsPublisher(
            args.bootstrap_servers, args.results_topic, keys, security=security
        )
        handler = BatchHandler(spark, publisher, metrics)
        try:
            query = start_query(spark, settings, handler)
            if server is not None:
                server.set_alive(lambda: _query_state(query))
                # Ready: the query runs and the broker answers (a frozen broker keeps TCP open).
                server.set_ready(lambda: _both(_query_state(query), broker.status()))
            log.info(
                "streaming %s -> %s (query %s, checkpoint %s, metrics %s, Spark UI %s)",
                args.hits_topic,
                args.results_topic,
                query.id,
                args.checkpoint_location,
                f":{server.port}" if server is not None else "off",
                spark.sparkContext.uiWebUrl or "off",
            )
            return _await(query, stopping)
        finally:
            broker.stop()
            lag.close()
            handler.close()
            publisher.close()
            _stop_spark(spark)
    finally:
        if server is not None:
            server.close()


def _both(first: tuple[bool, str], second: tuple[bool, str]) -> tuple[bool, str]:
    """Two probes as one: ok when both are, the failing one's reason otherwise."""
    if not first[0]:
        return first
    if not second[0]:
        return second
    return True, f"{first[1]}; {second[1]}"


class _StopSignals:
    """SIGTERM/SIGINT only set a flag: calling into the JVM from a signal handler would break
    the py4j call the main thread is blocked in."""

    def __init__(self) -> None:
        self.signals: list[int] = []

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._record)
        signal.signal(signal.SIGINT, self._record)

    def _record(self, signum: int, _frame: FrameType | None) -> None:
        self.signals.append(signum)

    def __bool__(self) -> bool:
        return bool(self.signals)


def _query_state(query: Any) -> tuple[bool, str]:
    if query.isActive:
        return True, f"query {query.id} active"
    return False, f"query {query.id} not active"


STOP_GRACE_SECONDS = 30.0
"""How long a stop waits for the running micro-batch to publish and commit."""


def _await(query: Any, stopping: _StopSignals) -> int:
    """Run until the query ends or a signal asks to stop; then stop between two batches, so
    that no batch is interrupted half-published and py4j has nothing to complain about."""
    try:
        while not query.awaitTermination(0.5):
            if stopping:
                name = signal.Signals(stopping.signals[0]).name
                log.info("%s: stopping the query after its running batch", name)
                deadline = time.monotonic() + STOP_GRACE_SECONDS
                while query.status.get("isTriggerActive") and time.monotonic() < deadline:
                    time.sleep(0.05)
                query.stop()
                log.info("query %s stopped", query.id)
                return 0
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if stopping:  # the JVM went first (a signal to the whole process group): not a failure
            log.info("stopped; Spark ended with: %s", first)
            return 0
        log.error("query failed: %s", first)
        return 1
    return 0


def _stop_spark(spark: object) -> None:
    """Stop Spark; if its JVM is already gone (a signal reached the whole process group)
    there is nothing left to stop, and that must not turn a clean shutdown into a crash."""
    try:
        spark.stop()  # type: ignore[attr-defined]
    except (ConnectionError, OSError) as exc:
        log.warning("Spark JVM already gone at shutdown: %s", exc)


if __name__ == "__main__":
    sys.exit(main())
