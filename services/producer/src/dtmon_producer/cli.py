"""`dtmon-producer`: command line and environment configuration, start-up and shutdown.

Every flag is also an environment variable (`--rate` <-> `DTMON_RATE`) through
dtmon_common's EnvArgumentParser, so the container and the Helm chart configure it alike.
Exit codes: 0 done or stopped by a signal (after flushing), 1 Kafka delivery failed,
2 bad input (one line on stderr naming the file, glob, bucket or option).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from dtmon_common.cli import (
    EnvArgumentParser,
    add_kafka_arguments,
    add_logging_arguments,
    add_readiness_arguments,
)
from dtmon_common.logs import configure_logging
from dtmon_common.topics import DEFAULT_HITS_PARTITIONS
from dtmon_producer.errors import EXIT_BAD_INPUT, EXIT_DELIVERY_FAILED, EXIT_OK, InputError
from dtmon_producer.sim.fault_options import add_fault_arguments, faults_from_args
from dtmon_producer.sink import Sink
from dtmon_producer.sources import Source

log = logging.getLogger("dtmon_producer")

DEFAULT_METRICS_PORT = 9101
DEFAULT_RATE = 1000.0
"""The task's realistic emulated DAQ rate, records per second."""


def _non_negative(kind: type) -> object:
    def convert(text: str) -> float | int:
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value

    convert.__name__ = kind.__name__
    return convert


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def build_parser() -> EnvArgumentParser:
    parser = EnvArgumentParser(
        prog="dtmon-producer",
        description=(
            "Emulate the miniDT DAQ: stream hit words (one CSV line per record) into Kafka\n"
            "at a chosen rate, from local files, S3/MinIO objects or a detector simulator."
        ),
        epilog=(
            "Examples:\n"
            "  dtmon-producer --source sim --rate 1000\n"
            "  dtmon-producer --source 'data/data_*.txt.gz' --rate 0 --records-per-message 100\n"
            "  dtmon-producer --source s3://mapd-minidt-stream/ --s3-endpoint https://host:5210\n"
            "  dtmon-producer --source sim --rate 0 --max-records 1000000 --output sim.txt\n"
            "Exit codes: 0 done/stopped, 1 Kafka delivery failed, 2 bad input."
        ),
    )
    parser.formatter_class = _Formatter
    src = parser.add_argument_group("input")
    src.add_argument(
        "--source",
        default="sim",
        help="'sim' (detector simulator), a file, a directory, a glob, or s3://bucket/prefix; "
        "files are read in name order, .gz accepted",
    )
    src.add_argument(
        "--format",
        default="csv",
        choices=["csv", "binary"],
        help="input format: dataset CSV text, or 64-bit binary words converted to CSV on the fly",
    )
    src.add_argument(
        "--byte-order",
        default="little",
        choices=["little", "big"],
        help="byte order of --format binary words",
    )
    src.add_argument(
        "--loop", action="store_true", help="restart at the first file when the last one ends"
    )
    src.add_argument(
        "--max-records",
        type=_non_negative(int),
        default=0,
        help="stop after this many records (0 = no limit)",
    )
    s3 = parser.add_argument_group("S3 (for s3:// sources)")
    s3.add_argument(
        "--s3-endpoint",
        default="",
        help="host:port or URL (http:// or https://) of the S3 service",
    )
    s3.add_argument(
        "--s3-access-key",
        default=None,
        help="access key (default: $AWS_ACCESS_KEY_ID)",
    )
    s3.add_argument(
        "--s3-secret-key",
        default=None,
        help="secret key (default: $AWS_SECRET_ACCESS_KEY)",
    )
    s3.add_argument("--s3-region", default=None, help="region, if the service needs one")
    s3.add_argument(
        "--s3-insecure",
        action="store_true",
        help="plain HTTP for a host:port endpoint (a URL's scheme always wins)",
    )
    sim = parser.add_argument_group("simulator (--source sim)")
    sim.add_argument("--seed", type=int, default=None, help="random seed (default: random)")
    sim.add_argument(
        "--muon-rate",
        type=_non_negative(float),
        default=None,
        help="muons per second of detector time through the generation plane "
        "(default: the simulator's calibrated value)",
    )
    add_fault_arguments(sim)
    sim.add_argument(
        "--counter-reset-after",
        type=_non_negative(float),
        default=None,
        help="reset the orbit counter (to 616958, as in the real file) after this many "
        "seconds of detector time (default: never)",
    )
    pace = parser.add_argument_group("pacing")
    pace.add_argument(
        "--rate",
        type=_non_negative(float),
        default=None,
        help="records per second; 0 = as fast as possible "
        f"(default: {DEFAULT_RATE:g} into Kafka, unthrottled with --output)",
    )
    pace.add_argument(
        "--speed",
        type=_non_negative(float),
        default=0.0,
        help="replay in detector time from the orbit clock, at this factor "
        "(1 = real time); overrides --rate; 0 = off",
    )
    pace.add_argument(
        "--records-per-message",
        type=_positive_int,
        default=1,
        help="pack up to N records (newline-separated) into one Kafka message",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--output",
        default=None,
        help="write the records as a CSV file (with header) to PATH, or '-' for stdout, "
        "instead of Kafka",
    )
    add_kafka_arguments(parser)
    add_readiness_arguments(parser)
    kafka = parser.add_argument_group("Kafka topic")
    kafka.add_argument(
        "--create-topic",
        action="store_true",
        help="create --hits-topic if missing (locally; in Kubernetes Strimzi owns topics)",
    )
    kafka.add_argument(
        "--partitions",
        type=_positive_int,
        default=DEFAULT_HITS_PARTITIONS,
        help="partitions of a topic created by --create-topic",
    )
    kafka.add_argument(
        "--connect-timeout",
        type=_non_negative(float),
        default=0.0,
        help="seconds to wait for the broker/topic at start (0 = wait forever, with backoff)",
    )
    obs = parser.add_argument_group("observability")
    obs.add_argument(
        "--metrics-port",
        type=_non_negative(int),
        default=DEFAULT_METRICS_PORT,
        help="port of /metrics and /healthz (0 = disabled)",
    )
    obs.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the metrics server binds (0.0.0.0 in containers)",
    )
    obs.add_argument(
        "--progress",
        default="auto",
        choices=["auto", "always", "never"],
        help="progress line on stderr (auto = only on a terminal)",
    )
    add_logging_arguments(parser)
    return parser


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in --help (unless there is none to show), the examples kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default == "":
            return action.help
        return super()._get_help_string(action)


def make_source(args: argparse.Namespace) -> Source:
    """The source named by --source; validates it completely (raises InputError)."""
    spec: str = args.source
    if spec == "sim":
        from dtmon_producer.sim.source import SimSource

        return SimSource(
            seed=args.seed,
            muon_rate=args.muon_rate,
            faults=faults_from_args(args),
            counter_reset_after_s=args.counter_reset_after,
        )
    if spec.startswith("s3://"):
        from dtmon_producer.sources.s3 import S3Settings, S3Source

        settings = S3Settings(
            endpoint=args.s3_endpoint,
            access_key=args.s3_access_key,
            secret_key=args.s3_secret_key,
            insecure=args.s3_insecure,
            region=args.s3_region,
        )
        return S3Source(spec, settings, args.format, args.byte_order)
    from dtmon_producer.sources.files import FileSource

    return FileSource(spec, args.format, args.byte_order)


class _Signals:
    """First SIGTERM/SIGINT: stop reading and flush. Second: stop waiting for the flush."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.abort_flush = threading.Event()

    def install(self) -> None:
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.stop.is_set():
            log.warning("%s again: not waiting for the flush any longer", name)
            self.abort_flush.set()
        else:
            log.info("%s received: stopping, flushing what was queued", name)
            self.stop.set()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        return run(args)
    except InputError as exc:
        print(f"dtmon-producer: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _no_broker() -> tuple[bool, str]:
    return True, "writing a file: no broker"


def run(args: argparse.Namespace) -> int:
    from dtmon_producer.metrics import MetricsServer, ProducerMetrics
    from dtmon_producer.progress import ProgressBar
    from dtmon_producer.pump import Pump, PumpOptions

    if args.rate is None:  # writing a dataset file should not take 1,000 records per second
        args.rate = 0.0 if args.output is not None else DEFAULT_RATE
    signals = _Signals()
    signals.install()
    metrics = ProducerMetrics()
    source = make_source(args)
    log.info("source: %s", source.describe())

    if args.output is not None:
        from dtmon_producer.output_sink import OutputSink

        sink: Sink = OutputSink(args.output)
        target = "stdout" if args.output == "-" else args.output
    else:
        from dtmon_producer.kafka_sink import KafkaSink

        sink = KafkaSink(
            args.bootstrap_servers, args.hits_topic, on_failure=metrics.delivery_errors.inc
        )
        target = f"Kafka {args.bootstrap_servers} topic {args.hits_topic}"

    broker = None
    if args.output is None:
        from confluent_kafka.admin import AdminClient

        from dtmon_common.broker_watch import PROBE_CLIENT_CONFIG, BrokerWatch

        admin = AdminClient({"bootstrap.servers": args.bootstrap_servers, **PROBE_CLIENT_CONFIG})
        broker = BrokerWatch(
            lambda timeout: admin.list_topics(args.hits_topic, timeout=timeout),
            unreachable_after=args.broker_timeout_seconds,
            name="dtmon-producer broker",
        ).start()
    server = None
    if args.metrics_port:
        try:
            server = MetricsServer(
                metrics,
                args.host,
                args.metrics_port,
                ready=broker.status if broker is not None else _no_broker,
            )
        except OSError as exc:
            raise InputError(
                f"cannot serve metrics on {args.host}:{args.metrics_port}: {exc.strerror or exc} "
                "(choose another --metrics-port, or 0 to disable)"
            ) from exc
        log.info("metrics on http://%s:%d/metrics, health on /healthz", args.host, server.port)

    try:
        metrics.state = "connecting"
        ready = sink.wait_ready(
            signals.stop,
            create_partitions=args.partitions if args.create_topic else None,
            timeout=args.connect_timeout,
        )
        if not ready:
            if signals.stop.is_set():
                log.info("stopped before the first record was sent")
                return EXIT_OK
            return EXIT_DELIVERY_FAILED
        show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
        progress = ProgressBar(args.max_records or None) if show else None
        options = PumpOptions(
            rate=args.rate,
            speed=args.speed,
            records_per_message=args.records_per_message,
            max_records=args.max_records,
            loop=args.loop,
        )
        what = "unthrottled" if args.rate == 0 else f"{args.rate:g} records/s"
        if args.speed:
            what = f"detector time x{args.speed:g}"
        log.info("producing to %s, %s", target, what)
        try:
            result = Pump(source, sink, options, signals.stop, metrics, progress).run()
        except InputError:
            sink.flush(signals.abort_flush)  # keep what was sent
            raise
        finally:
            if progress is not None:
                progress.close()
        left = sink.flush(signals.abort_flush)
        errors = sink.delivery_errors
        metrics.queue_depth.set(left)
        log.info(
            "summary: sent %d records in %d messages (%d bytes) in %.1f s, %.0f records/s; "
            "%d delivery errors, %d unflushed%s",
            result.records,
            result.messages,
            result.bytes,
            result.seconds,
            result.rate,
            errors,
            left,
            " (stopped by signal)" if result.stopped else "",
            extra={
                "event": "summary",
                "records": result.records,
                "messages": result.messages,
                "bytes": result.bytes,
                "seconds": round(result.seconds, 3),
                "delivery_errors": errors,
                "unflushed": left,
            },
        )
        if result.fatal_error or errors or left:
            return EXIT_DELIVERY_FAILED
        return EXIT_OK
    finally:
        metrics.state = "stopped"
        sink.close()
        if server is not None:
            server.close()
        if broker is not None:
            broker.stop()


if __name__ == "__main__":
    sys.exit(main())
