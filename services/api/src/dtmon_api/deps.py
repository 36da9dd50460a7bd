"""Dependency-injection providers: request handlers get state through these, never globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError

from dtmon_api.consumer import ResultsConsumer
from dtmon_api.hub import Hub, SlotLimiter
from dtmon_api.metrics import Metrics
from dtmon_api.settings import Settings
from dtmon_api.state import BatchStore
from dtmon_common.broker_watch import BrokerWatch


@dataclass
class Services:
    """Everything one app instance owns; stored on `app.state.services` by the factory."""

    settings: Settings
    store: BatchStore
    metrics: Metrics
    hub: Hub
    slots: SlotLimiter
    consumer: ResultsConsumer
    broker: BrokerWatch


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_store(services: ServicesDep) -> BatchStore:
    return services.store


StoreDep = Annotated[BatchStore, Depends(get_store)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def batch_limit(
    settings: SettingsDep,
    limit: Annotated[
        int | None,
        Query(ge=1, description="number of newest batches, 1..--max-limit (in /api/v1/status)"),
    ] = None,
) -> int:
    """`?limit=` bounded by this app's --max-limit.

    The bound is a setting of the app, not a constant, so it cannot be a `Query(le=...)` of a
    module-level router; the 422 it raises reads exactly like FastAPI's own.
    """
    if limit is None:
        return settings.default_limit
    if limit > settings.max_limit:
        raise RequestValidationError(
            [
                {
                    "type": "less_than_equal",
                    "loc": ("query", "limit"),
                    "msg": f"Input should be less than or equal to {settings.max_limit}",
                    "input": limit,
                    "ctx": {"le": settings.max_limit},
                }
            ]
        )
    return limit


LimitDep = Annotated[int, Depends(batch_limit)]


async def sse_slot(services: ServicesDep) -> AsyncIterator[None]:
    """Hold one of --max-sse-clients slots for the life of a stream; 503 when none is free.

    A dependency with `yield` exits after the streamed response ends, so the slot and the
    dtmon_api_sse_clients gauge follow the connection exactly.
    """
    if not services.slots.try_acquire():
        services.metrics.sse_rejected.inc()
        raise HTTPException(
            status_code=503,
            detail=f"too many stream clients (limit {services.slots.limit}); retry later",
            headers={"Retry-After": "5"},
        )
    services.metrics.sse_clients.inc()
    try:
        yield
    finally:
        services.slots.release()
        services.metrics.sse_clients.dec()


SseSlotDep = Annotated[None, Depends(sse_slot)]
