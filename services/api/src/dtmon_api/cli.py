"""`dtmon-api`: parse flags (or DTMON_* environment variables) and serve the app with uvicorn."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence
from types import FrameType

import uvicorn

from dtmon_api.app import create_app
from dtmon_api.header_timeout import header_timeout_protocol
from dtmon_api.health.options import DATA_QUALITY, health_settings_from_args
from dtmon_api.health.reference import ReferenceError
from dtmon_api.hub import Hub
from dtmon_api.settings import Settings
from dtmon_common.cli import EnvArgumentParser, command_parser, keyring_from_args
from dtmon_common.kafka_security import KafkaSecurityError, security_from_args
from dtmon_common.logs import configure_logging
from dtmon_common.options import settings_from
from dtmon_common.options.api import API
from dtmon_common.signing import SigningKeyError

log = logging.getLogger("dtmon_api")

COMMAND = API.extended(DATA_QUALITY)
"""Every option of dtmon-api: dtmon_common's declaration and the data-quality thresholds."""


def build_parser(env: dict[str, str] | None = None) -> EnvArgumentParser:
    """The options are declared in dtmon_common.options.api; `env` defaults to os.environ
    (tests pass their own)."""
    return command_parser(
        COMMAND,
        env=env,
        description="dtmon results service: REST, server-sent events, live dashboard, metrics.",
    )


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Every parsed option that is a Settings field, by name (the app factory never reads the
    environment itself); the default ?limit= shrinks with a smaller --max-limit."""
    return settings_from(
        Settings,
        args,
        default_limit=min(Settings().default_limit, args.max_limit),
        health=health_settings_from_args(args),
        signing_keys=keyring_from_args(args),
        kafka_security=security_from_args(args),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `dtmon-api` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        settings = settings_from_args(args)
    except (SigningKeyError, KafkaSecurityError) as exc:
        parser.error(str(exc))
    log.info(
        "starting dtmon-api",
        extra={"host": args.host, "port": args.port, "topic": settings.results_topic},
    )
    try:
        app = create_app(settings)
    except ReferenceError as err:
        log.error("%s", err)
        return 2
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        root_path=args.root_path,
        log_config=None,  # keep dtmon's logging set-up (text or JSON lines)
        access_log=False,  # requests are counted in /metrics instead
        timeout_graceful_shutdown=5,
        proxy_headers=True,
        http=header_timeout_protocol(
            settings.header_timeout_seconds, app.state.services.metrics.header_timeouts
        ),
    )
    # uvicorn re-raises the signal that stopped it once it has shut down; with these no-op
    # handlers in place that re-raise is harmless, and a requested stop exits 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    _StreamEndingServer(config, app.state.services.hub).run()
    return 0


class _StreamEndingServer(uvicorn.Server):
    """Ends every SSE stream as soon as SIGTERM/SIGINT arrives.

    uvicorn waits for open connections before running the lifespan shutdown, and SSE
    streams never end by themselves, so without this every shutdown would hit the graceful
    timeout and cancel them mid-response. Browsers reconnect (to another replica) at once.
    """

    def __init__(self, config: uvicorn.Config, hub: Hub) -> None:
        super().__init__(config)
        self.hub = hub

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.hub.close_threadsafe()
        super().handle_exit(sig, frame)


if __name__ == "__main__":
    sys.exit(main())
