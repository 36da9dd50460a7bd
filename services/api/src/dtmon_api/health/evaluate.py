"""One evaluation: the window's batches and the cumulative view -> a HealthReport.

Flags come from the sliding window (what the detector does now); the time-box fit runs on the
window and on the cumulative view (the latter is the precise one, the former follows
changes). A chamber's status is the worst of its checks:

* red: no hits while the other chambers have plenty, or at least --dqm-red-dead-channels
  dead channels;
* yellow: any dead, noisy or bursting channel; too few hits for a decision; its share of
  the hits outside the band around the reference share; a time-box fit (the window's, or
  the cumulative view's while the window holds too few entries) that fails with enough
  entries, or whose t0 or t_max is off the reference (nominal: 0 ns and 21 mm / 53.8 um/ns
  without a reference) by more than the tolerance plus 3 standard errors;
* green otherwise; unknown before the first batch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dtmon_api.health.models import (
    CellMap,
    ChamberHealth,
    FlaggedChannel,
    HealthReport,
    ReferenceInfo,
    ReferenceRun,
    Status,
    Thresholds,
    TimeBoxFitOut,
)
from dtmon_api.health.options import HealthSettings
from dtmon_api.state import StoredBatch, Totals
from minidt.contract import Histogram
from minidt.detector import (
    CELL_HEIGHT_MM,
    CELL_WIDTH_MM,
    CHANNELS_PER_CHAMBER,
    MAX_DRIFT_NS,
    N_CHAMBERS,
)
from minidt.dqm.cells import cell_layout
from minidt.dqm.flags import ChannelFlags, channel_flags
from minidt.dqm.timebox import MIN_ENTRIES, fit_time_box

SIGMAS = 3.0
"""Standard errors a time-box deviation must exceed beyond the tolerance."""
SEVERITY = {Status.unknown: 0, Status.green: 1, Status.yellow: 2, Status.red: 3}
LAYOUTS = [cell_layout(c) for c in range(N_CHAMBERS)]


def channel_counts(hist: Histogram, chamber: int) -> np.ndarray:
    """Hits per channel % 64 from an occupancy histogram (unit bins over raw channels)."""
    edges = np.asarray(hist.bin_edges)
    counts = np.asarray(hist.bin_counts)
    low = (chamber % 2) * CHANNELS_PER_CHAMBER
    lo = edges[:-1]
    ok = (np.diff(edges) == 1) & (lo == np.round(lo)) & (lo >= low)
    ok &= lo < low + CHANNELS_PER_CHAMBER
    out = np.zeros(CHANNELS_PER_CHAMBER, dtype=np.int64)
    np.add.at(out, (lo[ok] - low).astype(np.int64), counts[ok])
    return out


def _matrices(window: Sequence[StoredBatch]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.zeros((len(window), N_CHAMBERS, CHANNELS_PER_CHAMBER), dtype=np.int64)
    hits = np.zeros((len(window), N_CHAMBERS), dtype=np.int64)
    for b, stored in enumerate(window):
        r = stored.result
        hits[b] = r.hits_per_chamber
        for c in range(N_CHAMBERS):
            counts[b, c] = channel_counts(r.occupancy[c], c)
    return counts, hits


def _span_seconds(window: Sequence[StoredBatch]) -> float | None:
    """Seconds the window's batches stand for: mean emission interval x batches."""
    if len(window) >= 2:
        first, last = window[0].result.emitted_at_ms, window[-1].result.emitted_at_ms
        return (last - first) / (len(window) - 1) * len(window) / 1000 if last > first else None
    if window and window[0].interval_ms:
        return window[0].interval_ms / 1000
    return None


def _fit(hist: Histogram | None) -> TimeBoxFitOut:
    if hist is None:
        return TimeBoxFitOut(converged=False, message="no data", entries=0)
    return TimeBoxFitOut(**fit_time_box(hist.bin_edges, hist.bin_counts).as_dict())


def _sum_drift(window: Sequence[StoredBatch], chamber: int) -> Histogram | None:
    if not window:
        return None
    first = window[0].result.drift_time_ns[chamber]
    counts = np.zeros(len(first.bin_counts), dtype=np.int64)
    for stored in window:
        hist = stored.result.drift_time_ns[chamber]
        if hist.bin_edges == first.bin_edges:
            counts += np.asarray(hist.bin_counts)
    return Histogram(bin_edges=first.bin_edges, bin_counts=counts.tolist(), underflow=0, overflow=0)


def _fit_checks(
    window: TimeBoxFitOut,
    cumulative: TimeBoxFitOut,
    ref: TimeBoxFitOut | None,
    tolerance: float,
    min_entries: int,
) -> list[str]:
    """Yellow reasons from the time-box fit: the window's when it converged (it follows
    changes), else the cumulative view's (a window of a low trigger rate may hold too few
    entries for a fit)."""
    if window.converged:
        return _fit_deviations("", window, ref, tolerance)
    if window.entries >= min_entries:
        return [f"time-box fit failed: {window.message}"]
    if cumulative.converged:
        return _fit_deviations("cumulative ", cumulative, ref, tolerance)
    if cumulative.entries >= min_entries:
        return [f"cumulative time-box fit failed: {cumulative.message}"]
    return []


def _fit_deviations(
    view: str, fit: TimeBoxFitOut, ref: TimeBoxFitOut | None, tolerance: float
) -> list[str]:
    use_ref = ref is not None and ref.converged
    out = []
    for name, value, err, nominal, nominal_err in (
        ("t0", fit.t0_ns, fit.t0_err_ns, 0.0, 0.0),
        ("t_max", fit.t_max_ns, fit.t_max_err_ns, MAX_DRIFT_NS, 0.0),
    ):
        if use_ref:
            assert ref is not None
            nominal = getattr(ref, f"{name}_ns")
            nominal_err = getattr(ref, f"{name}_err_ns") or 0.0
        assert value is not None and err is not None
        delta = value - nominal
        sigma = math.hypot(err, nominal_err)
        if abs(delta) > tolerance + SIGMAS * sigma:
            what = "the reference" if use_ref else "nominal"
            out.append(
                f"{view}{name} off {what} by {delta:+.1f} ± {sigma:.1f} ns "
                f"(tolerance {tolerance:g} ns)"
            )
    return out


def _channel_list(chamber: int, mask: np.ndarray) -> str:
    channels = LAYOUTS[chamber].channel[mask].tolist()
    shown = ", ".join(str(c) for c in channels[:8])
    return shown + (f" and {len(channels) - 8} more" if len(channels) > 8 else "")


def _chamber(
    c: int,
    flags: ChannelFlags,
    window_hits: np.ndarray,
    seconds: float | None,
    reference: ReferenceRun | None,
    fit_window: TimeBoxFitOut,
    fit_cumulative: TimeBoxFitOut,
    settings: HealthSettings,
    has_data: bool,
) -> ChamberHealth:
    layout = LAYOUTS[c]
    dead, noisy, burst = flags.dead[c], flags.noisy[c], flags.bursting[c]
    per_channel: list[list[str]] = [
        [name for name, m in (("dead", dead), ("noisy", noisy), ("bursting", burst)) if m[i]]
        for i in range(CHANNELS_PER_CHAMBER)
    ]
    flagged = []
    for i in np.flatnonzero(dead | noisy | burst):
        ps = [flags.p_low[c, i] if dead[i] else 1.0, flags.p_high[c, i] if noisy[i] else 1.0]
        ps.append(flags.p_burst[c, i] if burst[i] else 1.0)
        flagged.append(
            FlaggedChannel(
                channel=int(layout.channel[i]),
                layer=int(layout.layer[i]),
                cell=int(layout.cell[i]),
                flags=per_channel[i],  # type: ignore[arg-type]
                counts=int(flags.counts[c, i]),
                expected=float(flags.expected[c, i]),
                bursts=int(flags.bursts[c, i]),
                p_value=float(min(ps)),
            )
        )
    total = int(window_hits.sum())
    hits = int(window_hits[c])
    share = hits / total if total else None
    ref_share = None
    if reference is not None and sum(reference.hits_per_chamber):
        ref_share = reference.hits_per_chamber[c] / sum(reference.hits_per_chamber)
    decidable = bool(np.median(flags.expected[c]) >= flags.min_expected_dead)

    red: list[str] = []
    yellow: list[str] = []
    others = total - hits
    expected_hits = ref_share * total if ref_share is not None else others / (N_CHAMBERS - 1)
    if hits == 0 and expected_hits >= flags.min_expected_dead:
        red.append(f"no hits in the window (about {expected_hits:.0f} expected)")
    n_dead = int(dead.sum())
    if n_dead >= settings.red_dead_channels:
        red.append(f"{n_dead} dead channels: {_channel_list(c, dead)}")
    elif n_dead:
        yellow.append(f"{n_dead} dead channel{'s' * (n_dead > 1)}: {_channel_list(c, dead)}")
    if noisy.any():
        yellow.append(f"noisy: {_channel_list(c, noisy)}")
    if burst.any():
        yellow.append(f"bursting: {_channel_list(c, burst)}")
    if has_data and not decidable and hits > 0:
        yellow.append(
            f"too few hits to decide: the typical channel expects "
            f"{float(np.median(flags.expected[c])):.1f}, a decision needs "
            f"{flags.min_expected_dead:.1f}"
        )
    if share is not None and ref_share and ref_share * total >= flags.min_expected_dead:
        ratio = share / ref_share
        if not settings.share_low <= ratio <= settings.share_high:
            yellow.append(f"share of hits {share:.1%} vs reference {ref_share:.1%}")
    ref_fit = reference.fits[c] if reference is not None else None
    yellow += _fit_checks(
        fit_window, fit_cumulative, ref_fit, settings.t0_tolerance_ns, MIN_ENTRIES
    )

    if not has_data:
        status = Status.unknown
    elif red:
        status = Status.red
    elif yellow:
        status = Status.yellow
    else:
        status = Status.green
    return ChamberHealth(
        chamber=c,
        status=status,
        reasons=red + yellow,
        hits=hits,
        hit_rate_hz=hits / seconds if seconds else None,
        share=share,
        reference_share=ref_share,
        decidable=decidable,
        dead=n_dead,
        noisy=int(noisy.sum()),
        bursting=int(burst.sum()),
        flagged=flagged,
        cells=CellMap(
            channel=layout.channel.tolist(),
            layer=layout.layer.tolist(),
            cell=layout.cell.tolist(),
            x_mm=layout.x_mm.tolist(),
            z_mm=layout.z_mm.tolist(),
            cell_width_mm=CELL_WIDTH_MM,
            cell_height_mm=CELL_HEIGHT_MM,
            counts=flags.counts[c].tolist(),
            expected=[round(float(x), 3) for x in flags.expected[c]],
            flags=per_channel,  # type: ignore[arg-type]
            bursts=flags.bursts[c].tolist(),
        ),
        fit_window=fit_window,
        fit_cumulative=fit_cumulative,
    )


def evaluate(
    window: Sequence[StoredBatch],
    cumulative: Totals,
    query_id: str | None,
    settings: HealthSettings,
    reference: ReferenceRun | None = None,
) -> HealthReport:
    """The health of the detector as the window and the cumulative view show it."""
    counts, hits = _matrices(window)
    ref = np.asarray(reference.occupancy) if reference is not None else None
    th = settings.thresholds
    flags = channel_flags(counts, hits, ref, th)
    seconds = _span_seconds(window)
    window_hits = hits.sum(axis=0)
    cum_drift = cumulative.histograms.get("drift_time_ns")
    chambers = [
        _chamber(
            c,
            flags,
            window_hits,
            seconds,
            reference,
            _fit(_sum_drift(window, c)),
            _fit(cum_drift[c] if cum_drift else None),
            settings,
            bool(window),
        )
        for c in range(N_CHAMBERS)
    ]
    status = max((ch.status for ch in chambers), key=SEVERITY.__getitem__)
    last = window[-1].result if window else None
    scint = sum(s.result.scintillator_hits for s in window)
    return HealthReport(
        status=status,
        query_id=query_id,
        last_batch_id=last.batch_id if last else None,
        last_emitted_at_ms=last.emitted_at_ms if last else None,
        window_batches=len(window),
        window_seconds=seconds,
        basis=flags.basis.value,  # type: ignore[arg-type]
        reference=(
            ReferenceInfo(
                location=settings.reference,
                created_at_ms=reference.created_at_ms,
                query_id=reference.query_id,
                batches=reference.batches,
                hits=reference.hits,
            )
            if reference is not None
            else None
        ),
        thresholds=Thresholds(
            false_alarm=th.false_alarm,
            burst_false_alarm=th.burst_false_alarm,
            alpha=flags.alpha,
            burst_alpha=flags.burst_alpha,
            min_expected_dead=flags.min_expected_dead,
            t0_tolerance_ns=settings.t0_tolerance_ns,
            red_dead_channels=settings.red_dead_channels,
            share_band=(settings.share_low, settings.share_high),
        ),
        trigger_rate_hz=scint / seconds if seconds else None,
        chambers=chambers,
        trend=[],
    )
