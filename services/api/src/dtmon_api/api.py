"""The versioned REST and SSE API under /api/v1, plus /healthz, /readyz and /metrics.

No `from __future__ import annotations` here: FastAPI resolves the parameter annotations at
router build time, and they reference `settings` from the enclosing factory function.
"""

import asyncio
import time
from collections.abc import AsyncIterable
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dtmon_api.deps import ServicesDep, SseSlotDep, StoreDep
from dtmon_api.settings import Settings
from dtmon_api.views import (
    ConsumerStatus,
    SeriesPoint,
    Status,
    Summary,
    View,
    series_point,
    summary_of,
)
from minidt.contract import BatchResult

JSON = "application/json"


def _json_array(items: list[str]) -> Response:
    """Join already serialised messages: each batch is encoded once, not per request."""
    return Response(content="[" + ",".join(items) + "]", media_type=JSON)


def build_api_router(settings: Settings) -> APIRouter:
    """Routes of one app; `settings` fixes the documented limits (e.g. `limit <= max_limit`)."""
    router = APIRouter()
    limit_doc = f"number of newest batches, 1..{settings.max_limit}"

    @router.get(
        "/api/v1/batches",
        response_model=list[BatchResult],
        tags=["batches"],
        summary="Newest retained batches (newest last), in the dtmon.batch.v1 wire format",
    )
    def list_batches(
        store: StoreDep,
        limit: Annotated[
            int, Query(ge=1, le=settings.max_limit, description=limit_doc)
        ] = settings.default_limit,
    ) -> Response:
        return _json_array([s.json for s in store.recent(limit)])

    @router.get(
        "/api/v1/batches/{batch_id}",
        response_model=BatchResult,
        tags=["batches"],
        summary="One retained batch",
        description=(
            "`batch_id` is a batch of the **current** processor query (the query_id of the "
            "newest batch); pass `query_id` to address a batch of an earlier query that is "
            "still in the history. 404 when the batch is not retained."
        ),
        responses={404: {"description": "batch not in the retained history"}},
    )
    def get_batch(
        store: StoreDep,
        batch_id: Annotated[int, Path(ge=0, description="processor micro-batch id")],
        query_id: Annotated[
            str | None, Query(min_length=1, max_length=200, description="default: current")
        ] = None,
    ) -> Response:
        stored = store.get(batch_id, query_id)
        if stored is None:
            qid = query_id or store.current_query_id
            raise HTTPException(
                status_code=404,
                detail=f"batch {batch_id} of query {qid} is not in the retained history "
                f"(last {settings.history} batches)",
            )
        return Response(content=stored.json, media_type=JSON)

    @router.get(
        "/api/v1/summary",
        response_model=Summary,
        tags=["summary"],
        summary="Quantities of the latest batch, the sliding window or the cumulative sums",
        description=(
            "All views cover the current processor query only: a new query_id (fresh "
            "processor checkpoint) restarts the window and the cumulative sums. The window "
            f"holds the batches emitted in the {settings.window_seconds:g} s ending at the "
            "newest batch's emitted_at_ms."
        ),
    )
    def get_summary(
        services: ServicesDep,
        view: Annotated[View, Query(description="latest | window | cumulative")] = View.latest,
    ) -> Summary:
        return summary_of(view, services.store, settings.window_seconds)

    @router.get(
        "/api/v1/timeseries",
        response_model=list[SeriesPoint],
        tags=["summary"],
        summary="Per-batch scalars of the newest retained batches (newest last), for plots",
    )
    def get_timeseries(
        store: StoreDep,
        limit: Annotated[
            int, Query(ge=1, le=settings.max_limit, description=limit_doc)
        ] = settings.default_limit,
    ) -> list[SeriesPoint]:
        return [series_point(s) for s in store.recent(limit)]

    @router.get("/api/v1/status", response_model=Status, tags=["health"])
    def get_status(services: ServicesDep) -> Status:
        """Consumer and store counters, and the server clock (the dashboard corrects skew)."""
        cs = services.consumer.state
        st = services.store.stats()
        broker_ok, broker_reason = services.broker.status()
        return Status(
            server_time_ms=int(time.time() * 1000),
            consumer=ConsumerStatus(
                connected=cs.connected,
                caught_up=cs.caught_up,
                topic=services.consumer.topic,
                partitions=list(cs.partitions),
                end_offsets_at_start=dict(cs.end_offsets_at_start),
                next_offsets=dict(cs.next_offsets),
                invalid_messages=cs.invalid_messages,
                last_error=cs.last_error,
                broker_reachable=broker_ok,
                broker=broker_reason,
            ),
            current_query_id=st.current_query_id,
            queries_seen=st.queries_seen,
            batches_applied=st.applied,
            duplicates=st.duplicates,
            stale=st.stale,
            refused=st.refused,
            run_started_at_ms=st.run_started_at_ms,
            previous_query_id=st.previous_query_id,
            incompatible=st.incompatible,
            batches_retained=st.retained,
            history_size=settings.history,
            window_seconds=settings.window_seconds,
            window_batches=st.window_batches,
            sse_clients=services.slots.in_use,
            max_sse_clients=services.slots.limit,
            max_limit=settings.max_limit,
        )

    @router.get(
        "/api/v1/stream",
        response_class=EventSourceResponse,
        tags=["stream"],
        summary="Server-sent events: one event per newly applied batch",
        description=(
            "Each event's `data` is the batch in the dtmon.batch.v1 wire format and its `id` "
            "is `<query_id>:<batch_id>` (the batch id, qualified by its processor query so "
            "that ids stay unambiguous when a fresh checkpoint restarts batch ids at 0). "
            "Reconnect with `Last-Event-ID` (either that form or a bare batch id of the "
            "current query) to receive the retained batches you missed first. Idle streams "
            f"get a keep-alive comment every {settings.sse_keepalive_seconds:g} s. At most "
            f"{settings.max_sse_clients} concurrent streams; beyond that 503."
        ),
        responses={503: {"description": "too many stream clients"}},
    )
    async def stream(
        services: ServicesDep,
        _slot: SseSlotDep,
        last_event_id: Annotated[str | None, Header(max_length=300)] = None,
    ) -> AsyncIterable[ServerSentEvent]:
        store, hub = services.store, services.hub
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

    @router.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process serves HTTP (the consumer may still be connecting)."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        tags=["health"],
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

    @router.get("/metrics", tags=["health"], response_class=Response)
    def metrics(services: ServicesDep) -> Response:
        """Prometheus text exposition."""
        return Response(
            content=generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    return router
