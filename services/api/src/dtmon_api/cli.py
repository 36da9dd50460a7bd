"""`dtmon-api`: parse flags (or DTMON_* environment variables) and serve the app with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from types import FrameType

import uvicorn

from dtmon_api.app import create_app
from dtmon_api.header_timeout import header_timeout_protocol
from dtmon_api.health.options import add_health_arguments, health_settings_from_args
from dtmon_api.health.reference import ReferenceError
from dtmon_api.hub import Hub
from dtmon_api.settings import Settings
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

log = logging.getLogger("dtmon_api")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def _origins(text: str) -> list[str]:
    return [o.strip() for o in text.split(",") if o.strip()]


def build_parser(env: dict[str, str] | None = None) -> EnvArgumentParser:
    """All flags; each is also read from DTMON_<FLAG> (shown in --help); `env` defaults to
    os.environ (tests pass their own)."""
    defaults = Settings()
    parser = EnvArgumentParser(
        env=env,
        prog="dtmon-api",
        description="dtmon results service: REST, server-sent events, live dashboard, metrics.",
    )
    http = parser.add_argument_group("HTTP")
    http.add_argument("--host", default="127.0.0.1", help="address to listen on")
    http.add_argument("--port", type=int, default=8000, help="TCP port to listen on")
    http.add_argument(
        "--root-path", default="", help="URL prefix when served behind a path-routing ingress"
    )
    http.add_argument(
        "--cors-origins",
        type=_origins,
        default=[],
        help="comma-separated origins allowed by CORS; empty = CORS off",
    )
    http.add_argument(
        "--max-limit", type=_positive_int, default=defaults.max_limit, help="largest ?limit="
    )
    http.add_argument(
        "--max-sse-clients",
        type=_positive_int,
        default=defaults.max_sse_clients,
        help="concurrent /api/v1/stream clients; more get 503",
    )
    http.add_argument(
        "--sse-keepalive-seconds",
        type=_positive_float,
        default=defaults.sse_keepalive_seconds,
        help="idle seconds before an SSE keep-alive comment",
    )
    state = parser.add_argument_group("state")
    state.add_argument(
        "--history",
        type=_positive_int,
        default=defaults.history,
        help="last N batches kept in memory (REST, SSE resume, time series)",
    )
    state.add_argument(
        "--window-seconds",
        type=_positive_float,
        default=defaults.window_seconds,
        help="width of the sliding-window view, ending at the newest batch",
    )
    add_health_arguments(parser)
    http.add_argument(
        "--header-timeout-seconds",
        type=_positive_float,
        default=defaults.header_timeout_seconds,
        help="close connections whose request headers are not complete within this time",
    )
    trust = parser.add_argument_group("trust")
    trust.add_argument(
        "--max-clock-skew-seconds",
        type=_positive_float,
        default=defaults.max_clock_skew_seconds,
        help="refuse batches emitted further than this ahead of this server's clock",
    )
    trust.add_argument(
        "--max-batch-jump",
        type=_positive_int,
        default=defaults.max_batch_jump,
        help="refuse a batch id further than this ahead of its query's newest batch",
    )
    add_kafka_arguments(parser)
    add_readiness_arguments(parser)
    add_signing_arguments(parser)
    add_logging_arguments(parser)
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Map parsed flags onto Settings (the app factory never reads the environment itself);
    raises SigningKeyError when no usable key is given: an API that verifies nothing would
    show nothing, so it refuses to start instead."""
    return Settings(
        signing_keys=keyring_from_args(args),
        max_clock_skew_seconds=args.max_clock_skew_seconds,
        max_batch_jump=args.max_batch_jump,
        broker_timeout_seconds=args.broker_timeout_seconds,
        header_timeout_seconds=args.header_timeout_seconds,
        bootstrap_servers=args.bootstrap_servers,
        results_topic=args.results_topic,
        history=args.history,
        window_seconds=args.window_seconds,
        max_sse_clients=args.max_sse_clients,
        max_limit=args.max_limit,
        default_limit=min(Settings().default_limit, args.max_limit),
        sse_keepalive_seconds=args.sse_keepalive_seconds,
        cors_origins=tuple(args.cors_origins),
        health=health_settings_from_args(args),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `dtmon-api` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        settings = settings_from_args(args)
    except SigningKeyError as exc:
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
