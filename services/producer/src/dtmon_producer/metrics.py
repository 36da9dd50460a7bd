"""Prometheus metrics and /healthz on one small HTTP port (--metrics-port, default 9101).

A registry per producer (not the global default one) keeps in-process tests independent;
the process collector is added to it because CPU and memory of the pod are worth seeing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Info,
    ProcessCollector,
    generate_latest,
)


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
        self.started = time.time()
        self.state = "starting"

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _always_ready() -> tuple[bool, str]:
    return True, "no broker to watch"


class _Handler(BaseHTTPRequestHandler):
    metrics: ProducerMetrics
    ready: Callable[[], tuple[bool, str]] = staticmethod(_always_ready)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._reply(200, CONTENT_TYPE_LATEST, self.metrics.exposition())
        elif path == "/healthz":
            uptime = time.time() - self.metrics.started
            state = {"status": "ok", "state": self.metrics.state, "uptime_s": uptime}
            body = json.dumps(state).encode()
            self._reply(200, "application/json", body)
        elif path == "/readyz":
            ok, reason = self.ready()
            body = json.dumps({"ready": ok, "broker": reason, "state": self.metrics.state})
            self._reply(200 if ok else 503, "application/json", body.encode())
        else:
            self._reply(404, "text/plain", b"not found: try /metrics, /healthz or /readyz\n")

    def _reply(self, status: int, ctype: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


class MetricsServer:
    """Serves /metrics, /healthz and /readyz (503 while `ready()` is false) from a daemon
    thread; port 0 in the CLI disables it."""

    def __init__(
        self,
        metrics: ProducerMetrics,
        host: str,
        port: int,
        ready: Callable[[], tuple[bool, str]] = _always_ready,
    ) -> None:
        handler = type("Handler", (_Handler,), {"metrics": metrics, "ready": staticmethod(ready)})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
