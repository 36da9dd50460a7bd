"""`dtmon-api`: every option, declared once; the API's Settings take defaults and checks here."""

from __future__ import annotations

from dtmon_common.options import Command, Group, Option
from dtmon_common.options.shared import LOGGING, PORT, READINESS, SIGNING, kafka

_positive_int = {"type": int, "minimum": 1}
_positive = {"type": float, "above": 0}

API = Command(
    "dtmon-api",
    (
        Group(
            "HTTP",
            (
                Option(
                    "--host", "address to listen on (0.0.0.0 in containers)", default="127.0.0.1"
                ),
                Option(
                    "--port",
                    "TCP port of the dashboard, the API, /metrics, /healthz and /readyz",
                    default=8000,
                    **PORT,
                ),
                Option(
                    "--root-path",
                    "URL prefix when served behind a path-routing ingress",
                    default="",
                ),
                Option(
                    "--cors-origins",
                    "comma-separated origins allowed by CORS; empty = CORS off",
                    default=(),
                    many=True,
                ),
                Option("--max-limit", "largest ?limit=", default=1000, **_positive_int),
                Option(
                    "--max-sse-clients",
                    "concurrent /api/v1/stream clients; more get 503",
                    default=256,
                    **_positive_int,
                ),
                Option(
                    "--sse-keepalive-seconds",
                    "idle seconds before an SSE keep-alive comment",
                    default=15.0,
                    **_positive,
                ),
                Option(
                    "--header-timeout-seconds",
                    "close connections whose request headers are not complete within this time",
                    default=5.0,
                    **_positive,
                ),
            ),
        ),
        Group(
            "trust",
            (
                Option(
                    "--max-clock-skew-seconds",
                    "refuse batches emitted further than this ahead of this server's clock",
                    default=60.0,
                    **_positive,
                ),
                Option(
                    "--max-batch-jump",
                    "refuse a batch id further than this ahead of its query's newest batch",
                    default=10_000,
                    **_positive_int,
                ),
            ),
        ),
        Group(
            "state",
            (
                Option(
                    "--history",
                    "last N batches kept in memory (REST, SSE resume, time series)",
                    default=600,
                    **_positive_int,
                ),
                Option(
                    "--window-seconds",
                    "width of the sliding-window view, ending at the newest batch",
                    default=60.0,
                    **_positive,
                ),
            ),
        ),
        kafka("results"),
        SIGNING,
        READINESS,
        LOGGING,
    ),
    topics=frozenset({"results"}),
)
