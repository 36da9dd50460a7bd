"""Response models of the REST API and the functions that build them from the store.

Batches themselves are served in the v1 wire format (`minidt.contract.BatchResult`); the
models here cover what the service derives: summaries, the light time series, status.
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import BaseModel, Field

from dtmon_api.state import HISTOGRAM_FIELDS, BatchStore, StoredBatch, Totals
from minidt.contract import Histogram

PerChamber = Annotated[list[Histogram], Field(min_length=4, max_length=4)]


class View(enum.StrEnum):
    """Which batches a summary covers."""

    latest = "latest"
    window = "window"
    cumulative = "cumulative"


class Summary(BaseModel):
    """Quantities summed over the batches of one view (all of them of the current query)."""

    view: View
    query_id: str | None = Field(description="current processor query; null before any batch")
    batches: int = Field(description="number of batches summed (0 before any batch)")
    first_batch_id: int | None
    last_batch_id: int | None
    first_emitted_at_ms: int | None
    last_emitted_at_ms: int | None
    window_seconds: float | None = Field(description="width of the window view, else null")
    input_rows: int
    malformed: int
    hits: int
    hits_per_chamber: list[int]
    scintillator_hits: int
    orbits: int = Field(description="sum over batches of the distinct orbits of each batch")
    scintillator_orbits: int
    occupancy: PerChamber | None
    orbit_multiplicity: PerChamber | None
    scint_occupancy: PerChamber | None
    drift_time_ns: PerChamber | None


class SeriesPoint(BaseModel):
    """The scalars of one batch, for time-series plots without the histograms' weight."""

    query_id: str
    batch_id: int
    emitted_at_ms: int
    input_rows: int
    malformed: int
    first_ts_ms: int | None
    last_ts_ms: int | None
    latency_ms: int | None = Field(description="emitted_at_ms - input.last_ts_ms")
    interval_ms: int | None = Field(description="emitted_at_ms - previous batch's (same query)")
    hits: int
    hits_per_chamber: list[int]
    scintillator_hits: int
    orbits: int
    orbit_span: int = Field(
        0, description="orbits of detector time (x 89.1 us) the batch's closed orbits cover"
    )
    carried_in_hits: int = Field(0, description="hits of open orbits taken from the previous batch")
    carried_out_hits: int = Field(0, description="hits of open orbits handed to the next batch")
    timeout_closed_orbits: int = Field(0, description="orbits closed by the wall-clock timeout")


class ConsumerStatus(BaseModel):
    connected: bool
    caught_up: bool
    topic: str
    partitions: list[int]
    end_offsets_at_start: dict[int, int]
    next_offsets: dict[int, int]
    invalid_messages: int
    last_error: str | None
    broker_reachable: bool = Field(
        description="the broker answered a metadata request within --broker-timeout-seconds"
    )
    broker: str = Field(description="the broker watch's one-line reason")


class Status(BaseModel):
    """Service health for the dashboard: consumer, store counters and the server's clock."""

    server_time_ms: int
    consumer: ConsumerStatus
    current_query_id: str | None
    queries_seen: int
    batches_applied: int
    duplicates: int
    stale: int
    incompatible: int
    refused: dict[str, int] = Field(
        description="of consumer.invalid_messages, those refused as implausible, by reason"
    )
    run_started_at_ms: int | None = Field(
        description="first emission time of the current query: when the run on show started"
    )
    previous_query_id: str | None = Field(
        description="the query the current one replaced; set once a new run has started"
    )
    batches_retained: int
    history_size: int
    window_seconds: float
    window_batches: int
    sse_clients: int
    max_sse_clients: int
    max_limit: int = Field(description="largest accepted ?limit= of the list endpoints")


def summary_of(view: View, store: BatchStore, window_seconds: float) -> Summary:
    """Build the summary of `view` from a consistent snapshot of the store."""
    if view is View.latest:
        latest = store.latest()
        totals = (
            Totals.of([latest.result])
            if latest is not None and latest.result.query_id == store.current_query_id
            else Totals()
        )
    elif view is View.window:
        totals = store.window()
    else:
        totals = store.cumulative()
    hist = {name: totals.histograms.get(name) for name in HISTOGRAM_FIELDS}
    return Summary(
        view=view,
        query_id=store.current_query_id,
        batches=totals.batches,
        first_batch_id=totals.first_batch_id,
        last_batch_id=totals.last_batch_id,
        first_emitted_at_ms=totals.first_emitted_at_ms,
        last_emitted_at_ms=totals.last_emitted_at_ms,
        window_seconds=window_seconds if view is View.window else None,
        input_rows=totals.input_rows,
        malformed=totals.malformed,
        hits=totals.hits,
        hits_per_chamber=list(totals.hits_per_chamber),
        scintillator_hits=totals.scintillator_hits,
        orbits=totals.orbits,
        scintillator_orbits=totals.scintillator_orbits,
        **hist,
    )


def series_point(stored: StoredBatch) -> SeriesPoint:
    r = stored.result
    return SeriesPoint(
        query_id=r.query_id,
        batch_id=r.batch_id,
        emitted_at_ms=r.emitted_at_ms,
        input_rows=r.input.rows,
        malformed=r.input.malformed,
        first_ts_ms=r.input.first_ts_ms,
        last_ts_ms=r.input.last_ts_ms,
        latency_ms=stored.latency_ms,
        interval_ms=stored.interval_ms,
        hits=r.hits,
        hits_per_chamber=list(r.hits_per_chamber),
        scintillator_hits=r.scintillator_hits,
        orbits=r.orbits,
        orbit_span=r.orbit_span,
        carried_in_hits=r.events.carried_in_hits,
        carried_out_hits=r.events.carried_out_hits,
        timeout_closed_orbits=r.events.timeout_closed_orbits,
    )
