"""Prometheus metrics of one app instance, in its own registry.

A registry per app (not the global default) lets tests run several apps in one process and
keeps /metrics free of anything the service did not register on purpose.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

N_CHAMBERS = 4
REFUSAL_REASONS = (
    "oversized",
    "unsigned",
    "unknown_key",
    "bad_signature",
    "contract",
    "incompatible",
    "future",
    "batch_jump",
    "older_query",
)
"""Every reason a results message is refused; each is a label of dtmon_api_refused_messages."""
LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300)
"""Seconds; micro-batches of a few seconds put the interesting range at 1-30 s."""


class Metrics:
    """Every metric the service exports; names are prefixed dtmon_api_."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.batches = Counter(
            "dtmon_api_batches_consumed",
            "Batches applied to the state (duplicates excluded)",
            registry=r,
        )
        self.hits = Counter(
            "dtmon_api_hits_consumed", "Hits (HEAD==2) in applied batches", registry=r
        )
        self.chamber_hits = Counter(
            "dtmon_api_chamber_hits_consumed",
            "Chamber hits in applied batches, per chamber",
            ["chamber"],
            registry=r,
        )
        for c in range(N_CHAMBERS):
            self.chamber_hits.labels(chamber=str(c))
        self.messages = Counter(
            "dtmon_api_messages_consumed",
            "Results-topic messages read, by outcome "
            "(applied, duplicate, stale_query, invalid, refused)",
            ["outcome"],
            registry=r,
        )
        self.invalid = Counter(
            "dtmon_api_invalid_messages",
            "Messages that failed dtmon.batch.v1 validation or could not be merged",
            ["reason"],
            registry=r,
        )
        for reason in ("contract", "incompatible"):
            self.invalid.labels(reason=reason)
        self.refused = Counter(
            "dtmon_api_refused_messages",
            "Results-topic messages refused and never applied, by reason (signature, size, "
            "contract or plausibility)",
            ["reason"],
            registry=r,
        )
        for reason in REFUSAL_REASONS:
            self.refused.labels(reason=reason)
        self.header_timeouts = Counter(
            "dtmon_api_header_timeouts",
            "Connections closed because their request headers did not arrive in time",
            registry=r,
        )
        self.query_changes = Counter(
            "dtmon_api_query_changes", "Times a new processor query_id became current", registry=r
        )
        self.latency = Histogram(
            "dtmon_api_batch_latency_seconds",
            "End-to-end latency per batch: emitted_at minus the newest input record's timestamp",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.last_batch_emitted = Gauge(
            "dtmon_api_last_batch_emitted_timestamp_seconds",
            "emitted_at of the newest applied batch (Unix seconds)",
            registry=r,
        )
        self.last_batch_age = Gauge(
            "dtmon_api_last_batch_age_seconds",
            "Seconds since the newest applied batch was emitted (NaN before any batch)",
            registry=r,
        )
        self._last_emitted_s: float | None = None
        self.last_batch_age.set_function(self._age)
        self.sse_clients = Gauge(
            "dtmon_api_sse_clients", "Open /api/v1/stream connections", registry=r
        )
        self.sse_rejected = Counter(
            "dtmon_api_sse_rejected", "Stream connections refused by --max-sse-clients", registry=r
        )
        self.consumer_connected = Gauge(
            "dtmon_api_consumer_connected",
            "1 while the Kafka consumer reaches the broker",
            registry=r,
        )
        self.consumer_caught_up = Gauge(
            "dtmon_api_consumer_caught_up",
            "1 once the replay reached the end offsets seen at start",
            registry=r,
        )
        self.http_requests = Counter(
            "dtmon_api_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "dtmon_api_http_request_duration_seconds",
            "Time to complete a response (streams: their whole life)",
            ["route", "method"],
            registry=r,
        )

    def _age(self, now: Callable[[], float] = time.time) -> float:
        if self._last_emitted_s is None:
            return float("nan")
        return max(0.0, now() - self._last_emitted_s)

    def observe_batch(
        self, hits: int, hits_per_chamber: list[int], emitted_at_ms: int, latency_ms: int | None
    ) -> None:
        """Account one applied batch."""
        self.batches.inc()
        self.hits.inc(hits)
        for c, n in enumerate(hits_per_chamber):
            self.chamber_hits.labels(chamber=str(c)).inc(n)
        if latency_ms is not None:
            self.latency.observe(max(0.0, latency_ms / 1000))
        emitted_s = emitted_at_ms / 1000
        if self._last_emitted_s is None or emitted_s > self._last_emitted_s:
            self._last_emitted_s = emitted_s
            self.last_batch_emitted.set(emitted_s)
