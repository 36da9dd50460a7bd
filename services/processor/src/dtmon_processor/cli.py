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
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from dtmon_common.cli import (
    EnvArgumentParser,
    add_kafka_arguments,
    add_logging_arguments,
    add_readiness_arguments,
    add_signing_arguments,
    keyring_from_args,
)
from dtmon_common.logs import configure_logging
from dtmon_common.signing import SigningKeyError
from dtmon_processor.jars import JarsMissingError, connector_jars, repo_root

log = logging.getLogger("dtmon_processor")

DEFAULT_METRICS_PORT = 9102
TRIGGER_RANGE = (0.5, 5.0)


def _trigger_seconds(text: str) -> float:
    value = float(text)
    low, high = TRIGGER_RANGE
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high} seconds, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, got {text}")
    return value


def default_checkpoint() -> str:
    root = repo_root()
    base = root if root is not None else Path.cwd()
    return str(base / ".cache" / "checkpoints" / "processor")


def _add_spark_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Spark")
    group.add_argument("--master", default="local[*]", help="Spark master URL")
    group.add_argument(
        "--shuffle-partitions",
        type=_positive_int,
        default=2,
        help="spark.sql.shuffle.partitions: small, batches are small",
    )
    group.add_argument(
        "--adaptive",
        action="store_true",
        help="enable adaptive query execution (off: it splits each batch into 3 Spark jobs)",
    )
    group.add_argument("--ui-port", type=_port, default=4040, help="Spark UI port")
    group.add_argument("--no-ui", action="store_true", help="do not start the Spark UI")
    group.add_argument(
        "--spark-prometheus",
        action="store_true",
        help="expose Spark's PrometheusServlet at <ui>/metrics/prometheus (Kubernetes)",
    )
    group.add_argument("--driver-memory", default=None, help="spark.driver.memory, e.g. 2g")


def build_parser() -> EnvArgumentParser:
    parser = EnvArgumentParser(
        prog="dtmon-processor",
        description="Spark Structured Streaming: dt-hits -> one dtmon.batch.v1 message per "
        "micro-batch on dt-results.",
    )
    sub = parser.add_subparsers(dest="command", metavar="{run,batch}")

    run = sub.add_parser("run", help="stream from Kafka (default)", description=__doc__)
    add_kafka_arguments(run)
    stream = run.add_argument_group("stream")
    stream.add_argument(
        "--starting-offsets",
        choices=["earliest", "latest"],
        default="latest",
        help="where a NEW checkpoint starts reading (an existing checkpoint resumes)",
    )
    stream.add_argument(
        "--max-offsets-per-trigger",
        type=_positive_int,
        default=1_000_000,
        help="upper bound of Kafka records per micro-batch",
    )
    stream.add_argument(
        "--trigger-seconds",
        type=_trigger_seconds,
        default=1.0,
        help=f"micro-batch interval, {TRIGGER_RANGE[0]}-{TRIGGER_RANGE[1]} s",
    )
    stream.add_argument(
        "--event-timeout-seconds",
        type=float,
        default=10.0,
        help="close an orbit whose hits waited this long (batch time) for the other FPGA",
    )
    stream.add_argument(
        "--available-now",
        action="store_true",
        help="process what the topic holds now, in batches, then exit",
    )
    stream.add_argument(
        "--checkpoint-location",
        default=default_checkpoint(),
        help="checkpoint folder (local path, or s3a://bucket/path on Kubernetes)",
    )
    stream.add_argument(
        "--no-create-results-topic",
        action="store_true",
        help="fail if the results topic is missing instead of creating it",
    )
    add_signing_arguments(run)
    add_readiness_arguments(run)
    obs = run.add_argument_group("observability")
    obs.add_argument(
        "--metrics-port",
        type=_port,
        default=DEFAULT_METRICS_PORT,
        help="Prometheus /metrics and /healthz port (0 picks a free port)",
    )
    obs.add_argument("--metrics-host", default="127.0.0.1", help="address to serve metrics on")
    _add_spark_arguments(run)
    add_logging_arguments(run)

    batch = sub.add_parser(
        "batch",
        help="process CSV files (.gz too) with the same transformation",
        description="Process dataset CSV files and write one v1 message per batch as JSON lines.",
    )
    batch.add_argument("files", nargs="+", type=Path, metavar="FILE", help="CSV or CSV.gz files")
    batch.add_argument(
        "--rows-per-batch",
        type=_positive_int,
        default=None,
        help="records per batch (default: all input is one batch)",
    )
    batch.add_argument("--output", default="-", help="output file for JSON lines, - for stdout")
    _add_spark_arguments(batch)
    add_logging_arguments(batch)
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


def _settings(args: argparse.Namespace, *, kafka: bool):
    from dtmon_processor.session import SparkSettings

    return SparkSettings(
        master=args.master,
        shuffle_partitions=args.shuffle_partitions,
        adaptive=args.adaptive,
        ui_port=args.ui_port,
        ui_enabled=not args.no_ui,
        spark_prometheus=args.spark_prometheus,
        driver_memory=args.driver_memory,
        with_kafka_jars=kafka,
    )


def _fail(message: str) -> int:
    print(f"dtmon-processor: error: {message}", file=sys.stderr)
    return 2


def _batch(args: argparse.Namespace) -> int:
    import json

    for f in args.files:
        if not f.is_file():
            return _fail(f"input file not found: {f}")
    from dtmon_processor.batchmode import run_batches
    from dtmon_processor.session import build_session

    spark = build_session(_settings(args, kafka=False))
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
    from dtmon_processor.checkpoint_bucket import CheckpointBucketError, ensure_checkpoint_bucket
    from dtmon_processor.lag import HitsLag, ProgressListener
    from dtmon_processor.metrics import MetricsServer, ProcessorMetrics
    from dtmon_processor.publish import PublishError, ResultsPublisher, ensure_topic
    from dtmon_processor.session import build_session
    from dtmon_processor.stream import BatchHandler, StreamSettings, start_query

    try:
        keys = keyring_from_args(args)
    except SigningKeyError as exc:
        return _fail(str(exc))
    try:
        ensure_topic(
            args.bootstrap_servers, args.results_topic, create=not args.no_create_results_topic
        )
    except PublishError as exc:
        return _fail(str(exc))

    settings = StreamSettings(
        bootstrap_servers=args.bootstrap_servers,
        hits_topic=args.hits_topic,
        results_topic=args.results_topic,
        checkpoint_location=args.checkpoint_location,
        starting_offsets=args.starting_offsets,
        max_offsets_per_trigger=args.max_offsets_per_trigger,
        trigger_seconds=args.trigger_seconds,
        available_now=args.available_now,
        event_timeout_seconds=args.event_timeout_seconds,
    )
    spark = build_session(_settings(args, kafka=True))
    try:
        conf = dict(spark.sparkContext.getConf().getAll())
        ensure_checkpoint_bucket(args.checkpoint_location, conf)
    except CheckpointBucketError as exc:
        spark.stop()
        return _fail(str(exc))
    metrics = ProcessorMetrics()
    lag = HitsLag(args.bootstrap_servers, args.hits_topic, metrics)
    spark.streams.addListener(ProgressListener(lag))
    broker = BrokerWatch(
        lag.probe, unreachable_after=args.broker_timeout_seconds, name="dtmon-processor broker"
    ).start()
    publisher = ResultsPublisher(args.bootstrap_servers, args.results_topic, keys)
    handler = BatchHandler(spark, publisher, metrics)
    query = start_query(spark, settings, handler)

    def healthy() -> tuple[bool, str]:
        if query.isActive:
            return True, f"ok: query {query.id} active"
        return False, f"query {query.id} not active"

    server = MetricsServer(
        metrics, args.metrics_port, healthy, host=args.metrics_host, ready=broker.status
    ).start()
    log.info(
        "streaming %s -> %s (query %s, checkpoint %s, metrics :%d, Spark UI %s)",
        args.hits_topic,
        args.results_topic,
        query.id,
        args.checkpoint_location,
        server.port,
        spark.sparkContext.uiWebUrl or "off",
    )

    stopping: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        # Only record the signal: calling into the JVM from a signal handler would break the
        # py4j call the main thread is blocked in.
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not query.awaitTermination(1):
            if stopping:
                log.info("signal %d: stopping the query", stopping[0])
                query.stop()
                break
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        log.error("query failed: %s", first)
        return 1
    finally:
        server.stop()
        broker.stop()
        lag.close()
        if handler.ticker is not None:
            handler.ticker.close()
        publisher.close()
        _stop_spark(spark)
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
