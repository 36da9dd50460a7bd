"""`dtmon up`: run the whole pipeline on this machine (what `make run` calls).

The supervisor (supervisor.py) prefixes every log line with the service name, restarts a
service that dies, and on Ctrl-C or SIGTERM stops them upstream first, the broker last.
"""

from __future__ import annotations

import argparse
import sys

from devstack.ports import port_in_use
from dtmon_common.cli import EnvArgumentParser
from dtmon_common.options import add_options, settings_from
from dtmon_tools.options import PORTS, UP
from dtmon_tools.stack import StackConfig, banner, plan, reset
from dtmon_tools.supervisor import Output, Supervisor


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dtmon", description="dtmon's local pipeline tools.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=EnvArgumentParser)
    up = sub.add_parser(
        "up",
        help="start Kafka, the processor, the results API and the producer",
        description="Start the whole dtmon pipeline on this machine: a local Kafka broker, "
        "the Spark processor (local[*]), the results API with the dashboard, and the producer. "
        "A service that dies is restarted; Ctrl-C stops everything. "
        "From make: make run ARGS='--rate 5000 --source sim'.",
    )
    add_options(up, UP.groups)
    return parser


def up(cfg: StackConfig, *, fresh: bool, max_restarts: int) -> int:
    for dest, (flag, _default) in PORTS.items():
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
    output = Output(sys.stdout)

    def announce() -> None:
        for line in banner(cfg, services).splitlines():
            output.line("dtmon", line)

    supervisor = Supervisor(services, output, max_restarts=max_restarts, on_all_ready=announce)
    supervisor.install_signals()
    return supervisor.run()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return up(settings_from(StackConfig, args), fresh=args.fresh, max_restarts=args.max_restarts)


if __name__ == "__main__":
    sys.exit(main())
