"""HealthService: evaluates on demand, once per applied batch, and keeps the fit trend.

Evaluations are lazy (a request or a Prometheus scrape asks) and cached by the store's
version, so a burst of dashboards costs one evaluation per batch and an idle service none.
The trend holds the window fit of every evaluated batch; it restarts with a new processor
query, like the cumulative view.
"""

from __future__ import annotations

import threading
from collections import deque

from dtmon_api.health.evaluate import evaluate
from dtmon_api.health.models import HealthReport, ReferenceRun, TimeBoxFitOut, TrendPoint
from dtmon_api.health.options import HealthSettings
from dtmon_api.health.reference import now_ms, read_reference
from dtmon_api.state import BatchStore


def _trend_point(report: HealthReport) -> TrendPoint:
    fits = [ch.fit_window for ch in report.chambers]
    assert report.last_batch_id is not None and report.last_emitted_at_ms is not None

    def col(name: str) -> list[float | None]:
        return [getattr(f, name) if f.converged else None for f in fits]

    return TrendPoint(
        batch_id=report.last_batch_id,
        emitted_at_ms=report.last_emitted_at_ms,
        t0_ns=col("t0_ns"),
        t0_err_ns=col("t0_err_ns"),
        t_max_ns=col("t_max_ns"),
        t_max_err_ns=col("t_max_err_ns"),
        drift_velocity_um_per_ns=col("drift_velocity_um_per_ns"),
        drift_velocity_err_um_per_ns=col("drift_velocity_err_um_per_ns"),
    )


class HealthService:
    """One per app; raises ReferenceError at construction if --reference cannot be read."""

    def __init__(self, store: BatchStore, settings: HealthSettings, trend_points: int) -> None:
        self.store = store
        self.settings = settings
        self.reference: ReferenceRun | None = (
            read_reference(settings.reference, settings.reference_s3_endpoint)
            if settings.reference
            else None
        )
        self._lock = threading.Lock()
        self._cache: tuple[int, HealthReport] | None = None
        self._trend: deque[TrendPoint] = deque(maxlen=trend_points)
        self._trend_query: str | None = None

    def report(self) -> HealthReport:
        """The current report (evaluated at most once per applied batch)."""
        with self._lock:
            version = self.store.version
            if self._cache is not None and self._cache[0] == version:
                return self._cache[1]
            query_id = self.store.current_query_id
            report = evaluate(
                self.store.window_batches(),
                self.store.cumulative(),
                query_id,
                self.settings,
                self.reference,
            )
            if query_id != self._trend_query:
                self._trend.clear()
                self._trend_query = query_id
            if report.last_batch_id is not None and (
                not self._trend or self._trend[-1].batch_id != report.last_batch_id
            ):
                self._trend.append(_trend_point(report))
            report = report.model_copy(update={"trend": list(self._trend)})
            self._cache = (version, report)
            return report

    def snapshot(self) -> ReferenceRun | None:
        """The cumulative view as a reference document (None before any batch)."""
        totals = self.store.cumulative()
        if totals.batches == 0:
            return None
        from dtmon_api.health.evaluate import channel_counts

        occupancy = totals.histograms["occupancy"]
        drift = totals.histograms["drift_time_ns"]
        report = self.report()
        return ReferenceRun(
            created_at_ms=now_ms(),
            query_id=self.store.current_query_id,
            batches=totals.batches,
            first_batch_id=totals.first_batch_id,
            last_batch_id=totals.last_batch_id,
            hits=totals.hits,
            hits_per_chamber=list(totals.hits_per_chamber),
            scintillator_hits=totals.scintillator_hits,
            occupancy=[channel_counts(h, c).tolist() for c, h in enumerate(occupancy)],
            drift_time_ns=list(drift),
            fits=[
                TimeBoxFitOut.model_validate(ch.fit_cumulative.model_dump())
                for ch in report.chambers
            ],
        )
