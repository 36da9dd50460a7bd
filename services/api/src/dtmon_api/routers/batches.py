"""Retained batch messages, in the dtmon.batch.v1 wire format they arrived in."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response

from dtmon_api.deps import LimitDep, SettingsDep, StoreDep
from minidt.contract import BatchResult

router = APIRouter(prefix="/api/v1/batches", tags=["batches"])

JSON = "application/json"


def _json_array(items: list[str]) -> Response:
    """Join already serialised messages: each batch is encoded once, not per request."""
    return Response(content="[" + ",".join(items) + "]", media_type=JSON)


@router.get(
    "",
    response_model=list[BatchResult],
    summary="Newest retained batches (newest last), in the dtmon.batch.v1 wire format",
)
def list_batches(store: StoreDep, limit: LimitDep) -> Response:
    return _json_array([s.json for s in store.recent(limit)])


@router.get(
    "/{batch_id}",
    response_model=BatchResult,
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
    settings: SettingsDep,
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
