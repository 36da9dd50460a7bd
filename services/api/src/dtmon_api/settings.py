"""The service's configuration as one immutable value, built by the CLI or by tests.

Keeping it a plain dataclass (not read from the environment here) means `create_app` is
a pure factory: tests build apps with any settings side by side in one process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dtmon_api.health.options import HealthSettings
from dtmon_common.kafka_security import KafkaSecurity
from dtmon_common.options.api import API
from dtmon_common.signing import KeyRing

_DEFAULTS = API.defaults()


@dataclass(frozen=True)
class Settings:
    """Everything `create_app` needs; defaults match the CLI's."""

    bootstrap_servers: str = _DEFAULTS["bootstrap_servers"]
    results_topic: str = _DEFAULTS["results_topic"]
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    """The SASL user the results consumer and the broker probe connect as, if any."""
    history: int = _DEFAULTS["history"]
    """Batches kept for REST, SSE resume and the dashboard's time series (memory bound)."""
    window_seconds: float = _DEFAULTS["window_seconds"]
    """Width of the sliding-window view, ending at the newest batch's emitted_at_ms."""
    max_window_batches: int = 10_000
    """Hard cap on batches held by the window, whatever the batch rate."""
    max_sse_clients: int = _DEFAULTS["max_sse_clients"]
    max_limit: int = _DEFAULTS["max_limit"]
    default_limit: int = 100
    """Batches a request without ?limit= gets (at most max_limit)."""
    sse_keepalive_seconds: float = _DEFAULTS["sse_keepalive_seconds"]
    sse_retry_ms: int = 3000
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    consumer_backoff_max_seconds: float = 30.0
    signing_keys: KeyRing | None = None
    """Keys that verify result messages; None refuses every message (fail closed)."""
    max_message_bytes: int = 2 * 1024 * 1024
    """Result messages larger than this are refused before any parsing."""
    max_clock_skew_seconds: float = _DEFAULTS["max_clock_skew_seconds"]
    """How far ahead of this server's clock a batch's emitted_at_ms may be."""
    max_batch_jump: int = _DEFAULTS["max_batch_jump"]
    """How far a batch id may jump ahead of its query's newest batch."""
    broker_timeout_seconds: float = _DEFAULTS["broker_timeout_seconds"]
    """Readiness turns false once the broker has been unreachable this long."""
    header_timeout_seconds: float = _DEFAULTS["header_timeout_seconds"]
    """Connections whose request headers are not complete within this time are closed."""
    health: HealthSettings = field(default_factory=HealthSettings)
    """Data-quality thresholds and the reference run (dtmon_api.health.options)."""

    def __post_init__(self) -> None:
        # Fields that are options are checked by their one declaration; the rest here.
        API.check(**{dest: getattr(self, dest) for dest in _DEFAULTS if hasattr(self, dest)})
        checks = {
            "max_window_batches": self.max_window_batches >= 1,
            "default_limit": 1 <= self.default_limit <= self.max_limit,
            "sse_retry_ms": self.sse_retry_ms >= 0,
            "consumer_backoff_max_seconds": self.consumer_backoff_max_seconds > 0,
            "max_message_bytes": self.max_message_bytes >= 1024,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid settings: {', '.join(bad)} out of range in {self!r}")
