"""`create_app(settings)`: the FastAPI application factory.

The lifespan owns the consumer thread: it starts on application start-up and is stopped (and
every SSE stream ended) on shutdown, so tests and uvicorn reloads never leak a thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from confluent_kafka.admin import AdminClient
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse

from dtmon_api.consumer import ResultsConsumer
from dtmon_api.deps import Services
from dtmon_api.health.metrics import register_health_metrics
from dtmon_api.health.router import build_health_router
from dtmon_api.health.service import HealthService
from dtmon_api.hub import Hub, SlotLimiter
from dtmon_api.metrics import Metrics
from dtmon_api.middleware import MetricsMiddleware, SecurityHeadersMiddleware
from dtmon_api.pages import mount_pages
from dtmon_api.routers import ROUTERS
from dtmon_api.settings import Settings
from dtmon_api.state import BatchStore
from dtmon_common.broker_watch import PROBE_CLIENT_CONFIG, BrokerWatch

log = logging.getLogger(__name__)

DESCRIPTION = """Live data-quality results of the miniDT cosmic-muon telescope.

Consumes the `dtmon.batch.v1` messages of the results topic (one per processor micro-batch),
keeps the last N batches, a sliding window and cumulative sums, and serves them as REST,
server-sent events, a live dashboard at `/` and Prometheus metrics at `/metrics`.
Read-only: every endpoint is a GET.
"""


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = err.get("loc", ())
        where = f"{loc[0]} parameter '{'.'.join(str(x) for x in loc[1:])}'" if loc else "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's usual `detail` list plus a one-line `message` naming the parameter."""
    assert isinstance(exc, RequestValidationError)
    body = {"message": _describe_validation(exc), "detail": exc.errors()}
    return JSONResponse(body, status_code=422)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build an app whose lifespan runs a results consumer configured by `settings`."""
    settings = settings or Settings()
    metrics = Metrics()
    store = BatchStore(
        settings.history,
        settings.window_seconds,
        settings.max_window_batches,
        max_batch_jump=settings.max_batch_jump,
        max_clock_skew_ms=round(settings.max_clock_skew_seconds * 1000),
    )
    hub = Hub()
    consumer = ResultsConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        topic=settings.results_topic,
        store=store,
        metrics=metrics,
        on_applied=lambda _stored: hub.notify_threadsafe(),
        backoff_max_seconds=settings.consumer_backoff_max_seconds,
        keys=settings.signing_keys,
        max_message_bytes=settings.max_message_bytes,
        security=settings.kafka_security,
    )
    admin = AdminClient(
        {
            "bootstrap.servers": settings.bootstrap_servers,
            **PROBE_CLIENT_CONFIG,
            **settings.kafka_security.librdkafka(),
        }
    )
    broker = BrokerWatch(
        lambda timeout: admin.list_topics(settings.results_topic, timeout=timeout),
        unreachable_after=settings.broker_timeout_seconds,
        name="dtmon-api broker",
    )
    services = Services(
        settings=settings,
        store=store,
        metrics=metrics,
        hub=hub,
        slots=SlotLimiter(settings.max_sse_clients),
        consumer=consumer,
        broker=broker,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub.bind(asyncio.get_running_loop())
        consumer.start()
        broker.start()
        log.info(
            "results consumer started",
            extra={"topic": settings.results_topic, "bootstrap": settings.bootstrap_servers},
        )
        try:
            yield
        finally:
            hub.close()
            await asyncio.to_thread(consumer.stop)
            await asyncio.to_thread(broker.stop)

    app = FastAPI(
        title="dtmon results API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # replaced by an offline, CSP-clean page in pages.py
        redoc_url=None,
    )
    app.state.services = services
    app.state.health = HealthService(store, settings.health, settings.history)
    register_health_metrics(metrics.registry, app.state.health)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(build_health_router())
    mount_pages(app)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET"],
            allow_headers=["Last-Event-ID"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
