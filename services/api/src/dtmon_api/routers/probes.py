"""Liveness, readiness and Prometheus metrics: what Kubernetes and Prometheus ask (the
detector's data-quality report is dtmon_api.health, a different concern)."""

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dtmon_api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process serves HTTP (the consumer may still be connecting)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "consumer not connected or still replaying"}},
)
def readyz(services: ServicesDep) -> JSONResponse:
    """Readiness: the consumer replayed up to the end offsets it saw at start, so what
    this replica serves is complete, and the broker answered a metadata request within
    --broker-timeout-seconds (a frozen broker keeps TCP open; only a question shows it)."""
    cs = services.consumer.state
    broker_ok, broker = services.broker.status()
    body = {
        "ready": cs.connected and cs.caught_up and broker_ok,
        "connected": cs.connected,
        "caught_up": cs.caught_up,
        "broker": broker,
        "last_error": cs.last_error,
    }
    return JSONResponse(body, status_code=200 if body["ready"] else 503)


@router.get("/metrics", response_class=Response)
def metrics(services: ServicesDep) -> Response:
    """Prometheus text exposition."""
    return Response(
        content=generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )
