"""The producer's Prometheus metrics; dtmon_common.health serves them on --metrics-port.

A registry per producer (not the global default one) keeps in-process tests independent;
the process collector is added to it because CPU and memory of the pod are worth seeing.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Info, ProcessCollector


class ProducerMetrics:
    """Everything an operator needs to see whether the emulated DAQ keeps its rate."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        self.records = Counter(
            "dtmon_producer_records", "records (CSV lines) handed to the sink", registry=r
        )
        self.messages = Counter(
            "dtmon_producer_messages", "Kafka messages (values) produced", registry=r
        )
        self.bytes = Counter("dtmon_producer_bytes", "value bytes produced", registry=r)
        self.delivery_errors = Counter(
            "dtmon_producer_delivery_errors", "messages whose delivery failed", registry=r
        )
        self.files = Counter(
            "dtmon_producer_files_completed", "input files/objects read to the end", registry=r
        )
        self.target_rate = Gauge(
            "dtmon_producer_target_rate_records_per_second",
            "--rate (0 = unthrottled)",
            registry=r,
        )
        self.achieved_rate = Gauge(
            "dtmon_producer_achieved_rate_records_per_second",
            "records per second over the last ~1 s",
            registry=r,
        )
        self.queue_depth = Gauge(
            "dtmon_producer_queue_depth", "messages queued or in flight, not yet acked", registry=r
        )
        self.source = Info("dtmon_producer_source", "the file or object being read", registry=r)
        self.state = "starting"
        """starting, connecting, producing, flushing, stopped: /healthz and /readyz show it."""

    def ready(self) -> tuple[bool, str]:
        """Ready while records flow: after the broker answered, before the flush at the end."""
        return self.state == "producing", self.state
