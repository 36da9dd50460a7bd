"""Response models of /api/v1/health and the reference document (documented in OpenAPI)."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from minidt.contract import Histogram

Flag = Literal["dead", "noisy", "bursting"]


class Status(enum.StrEnum):
    """A chamber's (or the detector's) state, worst first in severity order."""

    unknown = "unknown"
    green = "green"
    yellow = "yellow"
    red = "red"


class TimeBoxFitOut(BaseModel):
    """One time-box fit; numbers are null unless `converged` (then `message` says why)."""

    converged: bool
    message: str = Field(description="'ok', or why the fit was not attempted or failed")
    entries: int = Field(description="hits inside the nominal time box")
    t0_ns: float | None = None
    t0_err_ns: float | None = None
    t_max_ns: float | None = None
    t_max_err_ns: float | None = None
    drift_velocity_um_per_ns: float | None = Field(
        None, description="21 mm / (t_max - t0), in micrometres per ns"
    )
    drift_velocity_err_um_per_ns: float | None = None
    rise_ns: float | None = Field(None, description="sigma of the rising edge")
    fall_ns: float | None = None
    chi2_per_bin: float | None = Field(None, description="Poisson deviance per bin")


class FlaggedChannel(BaseModel):
    channel: int = Field(description="raw TDC_CHANNEL")
    layer: int = Field(description="1 (bottom) .. 4 (top)")
    cell: int = Field(description="0 .. 15 within the layer")
    flags: list[Flag]
    counts: int = Field(description="hits in the window")
    expected: float = Field(description="expected hits in the window")
    bursts: int = Field(description="batches of the window in which the channel burst")
    p_value: float = Field(description="smallest p-value of the tests that flagged it")


class CellMap(BaseModel):
    """The chamber's 64 cells in channel order (index = channel % 64), from minidt's geometry."""

    channel: list[int]
    layer: list[int]
    cell: list[int]
    x_mm: list[float] = Field(description="wire position along the measured axis")
    z_mm: list[float] = Field(description="wire height above the chamber's reference plane")
    cell_width_mm: float
    cell_height_mm: float
    counts: list[int] = Field(description="hits per channel in the window")
    expected: list[float] = Field(description="expected hits per channel in the window")
    flags: list[list[Flag]] = Field(description="flags per channel")
    bursts: list[int] = Field(description="bursts per channel in the window (flagged or not)")


class ChamberHealth(BaseModel):
    chamber: int
    status: Status
    reasons: list[str] = Field(description="why the status is not green (empty when green)")
    hits: int = Field(description="chamber hits in the window")
    hit_rate_hz: float | None = Field(description="hits per second of batch emission, window")
    share: float | None = Field(description="the chamber's fraction of all chamber hits")
    reference_share: float | None
    decidable: bool = Field(
        description="the typical channel expects enough hits for a dead-channel decision"
    )
    dead: int
    noisy: int
    bursting: int
    flagged: list[FlaggedChannel]
    cells: CellMap
    fit_window: TimeBoxFitOut
    fit_cumulative: TimeBoxFitOut


class Thresholds(BaseModel):
    false_alarm: float = Field(description="family-wise, dead and noisy tests, per evaluation")
    burst_false_alarm: float = Field(description="family-wise, burst tests, per evaluation")
    alpha: float = Field(description="per-test probability of the dead and noisy tests")
    burst_alpha: float = Field(description="per-channel probability of the bursting test")
    min_expected_dead: float = Field(description="expected hits a dead decision needs")
    t0_tolerance_ns: float
    red_dead_channels: int
    share_band: tuple[float, float]


class ReferenceInfo(BaseModel):
    location: str
    created_at_ms: int
    query_id: str | None
    batches: int
    hits: int


class TrendPoint(BaseModel):
    """Window fits of one evaluation, per chamber (null where the fit did not converge)."""

    batch_id: int
    emitted_at_ms: int
    t0_ns: list[float | None]
    t0_err_ns: list[float | None]
    t_max_ns: list[float | None]
    t_max_err_ns: list[float | None]
    drift_velocity_um_per_ns: list[float | None]
    drift_velocity_err_um_per_ns: list[float | None]


class HealthReport(BaseModel):
    """Detector health over the sliding window (flags, status) and the cumulative view (fit)."""

    status: Status = Field(description="worst chamber status")
    query_id: str | None
    last_batch_id: int | None
    last_emitted_at_ms: int | None
    window_batches: int
    window_seconds: float | None = Field(description="time the window's batches span")
    basis: Literal["reference", "chamber_median"] = Field(
        description="what each channel's expected count is derived from"
    )
    reference: ReferenceInfo | None
    thresholds: Thresholds
    trigger_rate_hz: float | None = Field(description="scintillator hits per second, window")
    chambers: Annotated[list[ChamberHealth], Field(min_length=4, max_length=4)] = Field(
        description="chambers 0..3"
    )
    trend: list[TrendPoint] = Field(description="window fits of recent evaluations, oldest first")


class ReferenceRun(BaseModel):
    """A cumulative view saved as the known-good state (`dtmon.reference.v1`)."""

    model_config = {"populate_by_name": True, "serialize_by_alias": True}

    schema_id: Literal["dtmon.reference.v1"] = Field("dtmon.reference.v1", alias="schema")
    created_at_ms: int
    query_id: str | None
    batches: int
    first_batch_id: int | None
    last_batch_id: int | None
    hits: int
    hits_per_chamber: Annotated[list[int], Field(min_length=4, max_length=4)]
    scintillator_hits: int
    occupancy: Annotated[list[list[int]], Field(min_length=4, max_length=4)] = Field(
        description="hits per channel (index channel % 64), per chamber"
    )
    drift_time_ns: Annotated[list[Histogram], Field(min_length=4, max_length=4)]
    fits: Annotated[list[TimeBoxFitOut], Field(min_length=4, max_length=4)]
