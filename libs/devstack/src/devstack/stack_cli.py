"""`dtmon`: run the whole pipeline on this machine (`dtmon up`, what `make run` calls).

honcho (a Procfile runner) supervises the processes: it prefixes every log line with the
service name and, on Ctrl-C or SIGTERM, stops them all (SIGTERM to each process group, SIGKILL
after a grace period). Start order comes from `dtmon wait` gates in front of each command.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import threading
from pathlib import Path

from honcho.manager import Manager
from honcho.printer import Message, Printer

from devstack.ports import port_in_use
from devstack.probes import ProbeTimeout, is_ready, wait_until_ready
from devstack.stack import StackConfig, banner, plan, reset, script
from dtmon_common.cli import EnvArgumentParser

_PORT_FLAGS = {
    "kafka_port": "--kafka-port",
    "kafka_controller_port": "--kafka-controller-port",
    "api_port": "--api-port",
    "spark_ui_port": "--spark-ui-port",
    "producer_metrics_port": "--producer-metrics-port",
    "processor_metrics_port": "--processor-metrics-port",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dtmon", description="dtmon's local pipeline tools.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=EnvArgumentParser)

    up = sub.add_parser(
        "up",
        help="start Kafka, the processor, the results API and the producer",
        description="Start the whole dtmon pipeline on this machine: a local Kafka broker, "
        "the Spark processor (local[*]), the results API with the dashboard, and the producer. "
        "Ctrl-C stops everything. From make: make run ARGS='--rate 5000 --source sim'.",
    )
    d = StackConfig()
    up.add_argument("--source", default=d.source, help="producer source: sim, file/dir/glob, s3://")
    up.add_argument("--rate", type=float, default=d.rate, help="producer records/s (0 = max)")
    up.add_argument(
        "--records-per-message", type=int, default=d.records_per_message, help="lines per value"
    )
    up.add_argument("--max-records", type=int, default=None, help="stop producing after N")
    up.add_argument("--seed", type=int, default=None, help="simulator seed")
    up.add_argument(
        "--trigger-seconds", type=float, default=d.trigger_seconds, help="micro-batch interval"
    )
    up.add_argument("--hits-partitions", type=int, default=d.hits_partitions, help="of dt-hits")
    for dest, flag in _PORT_FLAGS.items():
        up.add_argument(flag, type=int, default=getattr(d, dest), help="port on 127.0.0.1")
    up.add_argument("--data-dir", type=Path, default=d.data_dir, help="broker data, checkpoints")
    up.add_argument(
        "--fresh", action="store_true", help="delete --data-dir first (forget earlier runs)"
    )
    up.add_argument("--log-level", default=d.log_level, type=str.upper, help="service log level")

    wait = sub.add_parser("wait", help="block until probe URLs answer (kafka://, http://)")
    wait.add_argument("urls", nargs="+", help="kafka://host:port/topic,... or http://...")
    wait.add_argument("--timeout", type=float, default=600.0, help="seconds before giving up")
    return parser


def _config(args: argparse.Namespace) -> StackConfig:
    return StackConfig(
        source=args.source,
        rate=args.rate,
        records_per_message=args.records_per_message,
        max_records=args.max_records,
        seed=args.seed,
        trigger_seconds=args.trigger_seconds,
        hits_partitions=args.hits_partitions,
        data_dir=args.data_dir,
        log_level=args.log_level,
        **{dest: getattr(args, dest) for dest in _PORT_FLAGS},
    )


def up(cfg: StackConfig, fresh: bool) -> int:
    for dest, flag in _PORT_FLAGS.items():
        port = getattr(cfg, dest)
        if port_in_use(port, cfg.host):
            print(
                f"dtmon up: port {cfg.host}:{port} ({flag}) is already in use; "
                f"stop what holds it or pass {flag} <free port>",
                file=sys.stderr,
            )
            return 2
    if fresh:
        reset(cfg)
    services = plan(cfg)
    manager = Manager(Printer(sys.stdout))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    previous: str | None = None
    for service in services:
        command = "exec " + shlex.join(service.argv)
        if service.name == "producer":
            # A finite source (a file, --max-records) ends; the dashboard should stay up.
            command = (
                f'{shlex.join(service.argv)}; echo "producer exited (rc=$?); the pipeline '
                f'keeps running, Ctrl-C stops it"; exec sleep infinity'
            )
        if previous is not None:
            command = f"{shlex.quote(script('dtmon'))} wait {shlex.quote(previous)} && {command}"
        manager.add_process(service.name, command, env=env)
        previous = service.ready

    def announce() -> None:
        try:
            wait_until_ready([s.ready for s in services], timeout=900)
        except ProbeTimeout as exc:
            text = f"not ready: {exc}\n"
        else:
            text = banner(cfg, services) + "\n"
        manager.events.put(
            Message(
                type="line",
                data=text.encode(),
                time=datetime.datetime.now(),
                name="dtmon",
                colour=None,
            )
        )

    threading.Thread(target=announce, name="dtmon-banner", daemon=True).start()
    manager.loop()
    return int(manager.returncode or 0)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "wait":
        try:
            wait_until_ready(args.urls, timeout=args.timeout)
        except ProbeTimeout as exc:
            print(f"dtmon wait: {exc}", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"dtmon wait: {exc}", file=sys.stderr)
            return 2
        return 0
    return up(_config(args), args.fresh)


__all__ = ["is_ready", "main"]

if __name__ == "__main__":
    sys.exit(main())
