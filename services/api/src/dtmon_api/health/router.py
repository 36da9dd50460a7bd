"""/api/v1/health: the flags, chamber status and time-box fits; the reference documents.

Read-only like the rest of the API: a reference is *saved* by `dtmon-reference`, which
fetches /api/v1/health/snapshot and writes it to a file or S3.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request

from dtmon_api.health.models import HealthReport, ReferenceRun
from dtmon_api.health.service import HealthService


def get_health(request: Request) -> HealthService:
    return request.app.state.health


HealthDep = Annotated[HealthService, Depends(get_health)]


def build_health_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/health", tags=["detector health"])

    @router.get(
        "",
        response_model=HealthReport,
        summary="Detector health: chamber status, channel flags, cell maps, time-box fits",
        description=(
            "Flags per channel over the sliding window: **dead** (no hit where the reference "
            "or the chamber's median channel makes zero hits improbable), **noisy** (more hits "
            "than expected at the stated false-alarm probability) and **bursting** (hits "
            "concentrated in a few batches of the window). Each chamber is green, yellow or "
            "red with the reasons; the time-box fit (t0, t_max, drift velocity with "
            "uncertainties) runs on the window and on the cumulative view, and a fit that "
            "cannot converge says why. `thresholds` states the statistics used."
        ),
    )
    def get_health_report(health: HealthDep) -> HealthReport:
        return health.report()

    @router.get(
        "/reference",
        response_model=ReferenceRun,
        summary="The reference run loaded at start (--reference)",
        responses={404: {"description": "no reference loaded"}},
    )
    def get_reference(health: HealthDep) -> ReferenceRun:
        if health.reference is None:
            raise HTTPException(404, "no reference loaded (start dtmon-api with --reference)")
        return health.reference

    @router.get(
        "/snapshot",
        response_model=ReferenceRun,
        summary="The cumulative view as a reference document, for dtmon-reference to save",
        responses={409: {"description": "no batch yet"}},
    )
    def get_snapshot(health: HealthDep) -> ReferenceRun:
        snap = health.snapshot()
        if snap is None:
            raise HTTPException(409, "no batch applied yet: nothing to snapshot")
        return snap

    return router
