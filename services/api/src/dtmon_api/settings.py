"""The service's configuration as one immutable value, built by the CLI or by tests.

Keeping it a plain dataclass (not read from the environment here) means `create_app` is
a pure factory: tests build apps with any settings side by side in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dtmon_api.health.options import HealthSettings
from dtmon_common.signing import KeyRing
from dtmon_common.topics import DEFAULT_BOOTSTRAP_SERVERS, RESULTS_TOPIC


@dataclass(frozen=True)
class Settings:
    """Everything `create_app` needs; defaults match the CLI's."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    results_topic: str = RESULTS_TOPIC
    history: int = 600
    """Batches kept for REST, SSE resume and the dashboard's time series (memory bound)."""
    window_seconds: float = 60.0
    """Width of the sliding-window view, ending at the newest batch's emitted_at_ms."""
    max_window_batches: int = 10_000
    """Hard cap on batches held by the window, whatever the batch rate."""
    max_sse_clients: int = 256
    max_limit: int = 1000
    default_limit: int = 100
    sse_keepalive_seconds: float = 15.0
    sse_retry_ms: int = 3000
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    consumer_backoff_max_seconds: float = 30.0
    health: HealthSettings = field(default_factory=HealthSettings)
    """Data-quality thresholds and the reference run (dtmon_api.health.options)."""
    signing_keys: KeyRing | None = None
    """Keys that verify result messages; None refuses every message (fail closed)."""
    max_message_bytes: int = 2 * 1024 * 1024
    """Result messages larger than this are refused before any parsing."""
    max_clock_skew_seconds: float = 60.0
    """How far ahead of this server's clock a batch's emitted_at_ms may be."""
    max_batch_jump: int = 10_000
    """How far a batch id may jump ahead of its query's newest batch."""
    broker_timeout_seconds: float = 15.0
    """Readiness turns false once the broker has been unreachable this long."""
    header_timeout_seconds: float = 5.0
    """Connections whose request headers are not complete within this time are closed."""

    def __post_init__(self) -> None:
        checks = {
            "history": self.history >= 1,
            "window_seconds": self.window_seconds > 0,
            "max_window_batches": self.max_window_batches >= 1,
            "max_sse_clients": self.max_sse_clients >= 1,
            "max_limit": self.max_limit >= 1,
            "default_limit": 1 <= self.default_limit <= self.max_limit,
            "sse_keepalive_seconds": self.sse_keepalive_seconds > 0,
            "sse_retry_ms": self.sse_retry_ms >= 0,
            "consumer_backoff_max_seconds": self.consumer_backoff_max_seconds > 0,
            "max_message_bytes": self.max_message_bytes >= 1024,
            "max_clock_skew_seconds": self.max_clock_skew_seconds >= 0,
            "max_batch_jump": self.max_batch_jump >= 1,
            "broker_timeout_seconds": self.broker_timeout_seconds > 0,
            "header_timeout_seconds": self.header_timeout_seconds > 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid settings: {', '.join(bad)} out of range in {self!r}")
