"""Merged quantities of a view, and per-batch scalars for the dashboard's time series."""

from typing import Annotated

from fastapi import APIRouter, Query

from dtmon_api.deps import LimitDep, ServicesDep, StoreDep
from dtmon_api.views import SeriesPoint, Summary, View, series_point, summary_of

router = APIRouter(prefix="/api/v1", tags=["summary"])


@router.get(
    "/summary",
    response_model=Summary,
    summary="Quantities of the latest batch, the sliding window or the cumulative sums",
    description=(
        "All views cover the current processor query only: a new query_id (fresh "
        "processor checkpoint) restarts the window and the cumulative sums. The window "
        "holds the batches emitted in the --window-seconds ending at the newest batch's "
        "emitted_at_ms (its width is in /api/v1/status)."
    ),
)
def get_summary(
    services: ServicesDep,
    view: Annotated[View, Query(description="latest | window | cumulative")] = View.latest,
) -> Summary:
    return summary_of(view, services.store, services.settings.window_seconds)


@router.get(
    "/timeseries",
    response_model=list[SeriesPoint],
    summary="Per-batch scalars of the newest retained batches (newest last), for plots",
)
def get_timeseries(store: StoreDep, limit: LimitDep) -> list[SeriesPoint]:
    return [series_point(s) for s in store.recent(limit)]
