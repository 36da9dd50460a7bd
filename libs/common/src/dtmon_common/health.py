"""The one metrics and health server of the producer and the processor.

Three endpoints with one meaning in every service (the API serves the same three from its
own FastAPI app):
- `/metrics`: Prometheus text of the service's registry.
- `/healthz`: alive. 200 while the process can do its job at all; 503 tells Kubernetes to
  restart it. It must not depend on the broker: a broker outage is no reason to restart.
- `/readyz`: ready. 503 until the service works (connected, producing, its query running),
  and again whenever it stops working; `dtmon up` waits for it and the chart's readiness
  probe asks it.

A service states what "alive" and "ready" mean by passing `Probe` callables, and may swap
the readiness probe later (`set_ready`), e.g. when a broker-reachability check lands.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)

Probe = Callable[[], tuple[bool, str]]
"""Returns (ok, reason); the reason is shown in the JSON body either way."""


def always(reason: str = "ok") -> Probe:
    """A probe that is always true, for a service with nothing more to say."""
    return lambda: (True, reason)


class HealthServer:
    """/metrics, /healthz and /readyz on one port, from daemon threads.

    Binding happens in the constructor so that a taken port fails at once with OSError,
    where the caller can turn it into one clear line naming the option.
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int,
        *,
        alive: Probe | None = None,
        ready: Probe | None = None,
        details: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._registry = registry
        self._alive = alive or always()
        self._ready = ready or (lambda: (False, "starting"))
        self._details = details or dict
        self._started = time.monotonic()
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._server.daemon_threads = True
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"health-{self.port}", daemon=True
        )
        self._thread.start()

    def set_ready(self, probe: Probe) -> None:
        """Replace the readiness probe (the hook for richer checks added later)."""
        self._ready = probe

    def set_alive(self, probe: Probe) -> None:
        self._alive = probe

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(self._registry)
        probe = {"/healthz": self._alive, "/readyz": self._ready}.get(path)
        if probe is None:
            return 404, "text/plain", b"not found: try /metrics, /healthz or /readyz\n"
        try:
            ok, reason = probe()
        except Exception as exc:  # a probe that breaks is a failing probe, not a crash
            ok, reason = False, f"probe failed: {exc}"
        body = {
            "status": "ok" if ok else "failing",
            "reason": reason,
            "uptime_s": round(time.monotonic() - self._started, 3),
            **self._details(),
        }
        return (200 if ok else 503), "application/json", json.dumps(body).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        answer = self._answer

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a client that sends no request line does not hold a thread

            def do_GET(self) -> None:
                status, ctype, body = answer(self.path.split("?", 1)[0])
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # probes and scrapes are not news

        return Handler


class MetricsPortError(RuntimeError):
    """The metrics port cannot be bound; the message names it and the option that moves it."""


def serve_health(
    registry: CollectorRegistry, host: str, port: int, **probes: Any
) -> HealthServer | None:
    """The server a service's --metrics-host/--metrics-port ask for: None for port 0 (the one
    meaning of 0: no server), MetricsPortError with one clear line when the port is taken."""
    if not port:
        return None
    try:
        return HealthServer(registry, host, port, **probes)
    except OSError as exc:
        raise MetricsPortError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc} "
            "(choose another --metrics-port, or 0 for none)"
        ) from exc
