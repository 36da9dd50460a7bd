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

from dtmon_common.cli import EnvArgumentParser, command_parser
from dtmon_common.kafka_security import KafkaSecurityError, security_from_args
from dtmon_common.logs import configure_logging
from dtmon_common.options import settings_from
from dtmon_common.options.producer import DEFAULT_RATE, PRODUCER
from dtmon_producer.errors import EXIT_BAD_INPUT, EXIT_DELIVERY_FAILED, EXIT_OK, InputError
from dtmon_producer.sim.fault_options import FAULTS, faults_from_args
from dtmon_producer.sink import Sink
from dtmon_producer.sources import Source

log = logging.getLogger("dtmon_producer")

COMMAND = PRODUCER.extended(FAULTS)
"""Every option of dtmon-producer: dtmon_common's declaration and the simulator's faults."""


def build_parser() -> EnvArgumentParser:
    """The options are declared in dtmon_common.options.producer; here only the prose."""
    return command_parser(
        COMMAND,
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


def make_source(args: argparse.Namespace) -> Source:
    """The source named by --source; validates it completely (raises InputError)."""
    spec: str = args.source
    if spec == "sim":
        from dtmon_producer.sim.source import SimSource

        return SimSource(seed=args.seed, muon_rate=args.muon_rate, faults=faults_from_args(args))
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
    except (InputError, KafkaSecurityError) as exc:
        print(f"dtmon-producer: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def run(args: argparse.Namespace) -> int:
    from dtmon_common.health import MetricsPortError, serve_health
    from dtmon_producer.metrics import ProducerMetrics
    from dtmon_producer.progress import ProgressBar
    from dtmon_producer.pump import Pump, PumpOptions

    if args.rate is None:  # writing a dataset file should not take 1,000 records per second
        args.rate = 0.0 if args.output is not None else DEFAULT_RATE
    security = security_from_args(args)
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
            args.bootstrap_servers,
            args.hits_topic,
            on_failure=metrics.delivery_errors.inc,
            security=security,
        )
        target = f"Kafka {args.bootstrap_servers} topic {args.hits_topic}"

    broker = None
    if args.output is None:
        from confluent_kafka.admin import AdminClient

        from dtmon_common.broker_watch import PROBE_CLIENT_CONFIG, BrokerWatch

        admin = AdminClient(
            {
                "bootstrap.servers": args.bootstrap_servers,
                **PROBE_CLIENT_CONFIG,
                **security.librdkafka(),
            }
        )
        broker = BrokerWatch(
            lambda timeout: admin.list_topics(args.hits_topic, timeout=timeout),
            unreachable_after=args.broker_timeout_seconds,
            name="dtmon-producer broker",
        ).start()

    def ready() -> tuple[bool, str]:
        """Records flow and (when writing to Kafka) the broker answers."""
        ok, reason = metrics.ready()
        if ok and broker is not None:
            return broker.status()
        return ok, reason

    try:
        server = serve_health(
            metrics.registry,
            args.metrics_host,
            args.metrics_port,
            ready=ready,
            details=lambda: {"state": metrics.state},
        )
    except MetricsPortError as exc:
        raise InputError(str(exc)) from exc
    if server is not None:
        log.info(
            "metrics on http://%s:%d/metrics, health on /healthz and /readyz",
            args.metrics_host,
            server.port,
        )

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
        options = settings_from(PumpOptions, args)
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
