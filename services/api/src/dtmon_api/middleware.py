"""Pure ASGI middleware: security headers and per-route request metrics.

Pure ASGI (not BaseHTTPMiddleware) because the latter buffers nothing but still wraps every
streamed body in an extra task, which breaks long-lived SSE responses' cancellation.
"""

from __future__ import annotations

import time
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dtmon_api.metrics import Metrics

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # No 'unsafe-inline': Plotly.js's CSS is served as /vendor/plotly.css (plotly_css.py)
        # and element styles set through the CSSOM are not subject to style-src.
        "style-src 'self'",
        # Plotly's modebar icons and Swagger UI's logos are data: URIs.
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    """Adds CSP and friends to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in SECURITY_HEADERS if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def route_template(scope: MutableMapping[str, Any]) -> str:
    """The matched route's path template (`/api/v1/batches/{batch_id}`), never the raw URL,
    so a scan of random URLs cannot blow up the metric's label cardinality."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # Mounted apps (static files) leave no route but extend root_path by the mount point.
    mount = str(scope.get("root_path", ""))[len(str(scope.get("app_root_path", ""))) :]
    if mount:
        return mount + "/{path}"
    return "<unmatched>"


class MetricsMiddleware:
    """Counts requests by route template, method and status; times them."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = route_template(scope)
            method = scope.get("method", "GET")
            self.metrics.http_requests.labels(route=route, method=method, status=str(status)).inc()
            self.metrics.http_duration.labels(route=route, method=method).observe(
                time.perf_counter() - start
            )
