"""Server-sent events: every newly applied batch, pushed to every open dashboard."""

import asyncio
from collections.abc import AsyncIterable
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.sse import EventSourceResponse, ServerSentEvent

from dtmon_api.deps import ServicesDep, SseSlotDep

router = APIRouter(prefix="/api/v1", tags=["stream"])


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    summary="Server-sent events: one event per newly applied batch",
    description=(
        "Each event's `data` is the batch in the dtmon.batch.v1 wire format and its `id` "
        "is `<query_id>:<batch_id>` (the batch id, qualified by its processor query so "
        "that ids stay unambiguous when a fresh checkpoint restarts batch ids at 0). "
        "Reconnect with `Last-Event-ID` (either that form or a bare batch id of the "
        "current query) to receive the retained batches you missed first. Idle streams "
        "get a keep-alive comment every --sse-keepalive-seconds. At most --max-sse-clients "
        "concurrent streams (both in /api/v1/status); beyond that 503."
    ),
    responses={503: {"description": "too many stream clients"}},
)
async def stream(
    services: ServicesDep,
    _slot: SseSlotDep,
    last_event_id: Annotated[str | None, Header(max_length=300)] = None,
) -> AsyncIterable[ServerSentEvent]:
    store, hub, settings = services.store, services.hub, services.settings
    seq = store.resume_seq(last_event_id) if last_event_id else store.latest_seq()
    yield ServerSentEvent(comment="dtmon stream open", retry=settings.sse_retry_ms)
    while not hub.closed:
        wake = hub.waiter()
        for stored in store.after(seq):
            yield ServerSentEvent(raw_data=stored.json, id=stored.event_id)
            seq = stored.seq
        try:
            await asyncio.wait_for(wake.wait(), settings.sse_keepalive_seconds)
        except TimeoutError:
            yield ServerSentEvent(comment="keep-alive")
