"""Dependency-injection providers: request handlers get state through these, never globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

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
