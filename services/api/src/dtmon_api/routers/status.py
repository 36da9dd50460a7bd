"""The consumer's and the store's counters, for operators and the dashboard's clock."""

import time

from fastapi import APIRouter

from dtmon_api.deps import ServicesDep
from dtmon_api.views import ConsumerStatus, Status

router = APIRouter(prefix="/api/v1", tags=["health"])


@router.get("/status", response_model=Status)
def get_status(services: ServicesDep) -> Status:
    """Consumer and store counters, and the server clock (the dashboard corrects skew)."""
    settings = services.settings
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
