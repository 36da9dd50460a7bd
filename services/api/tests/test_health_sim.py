"""Detector health on simulator runs with known truth (no broker needed: the store and the
health service are fed the same dtmon.batch.v1 messages the processor would publish).

Stated tolerances: the time-box fit must find the simulator's t0 (0 ns: the drift time of a
track through the wire) and t_max (21 mm / 53.8 um/ns = 390.3 ns) within 3 standard errors
plus 1 ns (the TDC step is 0.83 ns, the scintillator jitter 1 ns); a clean run may raise at
most the false alarms the stated probability allows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dtmon_api.health.models import Status
from dtmon_api.health.options import HealthSettings
from dtmon_api.health.reference import ReferenceError, read_reference, write_reference
from dtmon_api.health.service import HealthService
from dtmon_producer.sim.faults import Faults
from minidt.detector import MAX_DRIFT_NS
from minidt.dqm.flags import FlagThresholds, channel_flags
from services.api.tests.health_helpers import fill_store, messages, new_store, simulator

SEED = 21
REF_BATCHES = 150
WINDOW_BATCHES = 41  # 60 s of 1.46 s batches


@pytest.fixture(scope="module")
def reference_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reference run: 150 clean batches (3.7 minutes of detector time), saved as a file."""
    store = fill_store(new_store(), messages(simulator(SEED), REF_BATCHES, query_id="ref"))
    snap = HealthService(store, HealthSettings(), 10).snapshot()
    assert snap is not None and snap.batches == REF_BATCHES
    path = tmp_path_factory.mktemp("ref") / "reference.json"
    write_reference(snap, str(path))
    return path


def _run(faults: Faults | None, n: int = WINDOW_BATCHES) -> list[dict[str, Any]]:
    """The monitored run: the reference's seed, the windows after the reference's."""
    return messages(simulator(SEED, skip=REF_BATCHES, faults=faults), n, query_id="run")


def _service(msgs: list[dict[str, Any]], reference: Path | None) -> HealthService:
    store = fill_store(new_store(), msgs)
    settings = HealthSettings(reference=str(reference) if reference else "")
    return HealthService(store, settings, 100)


@pytest.fixture(scope="module")
def clean_run() -> list[dict[str, Any]]:
    """400 clean batches (10 minutes of detector time)."""
    return _run(None, 400)


FAULTS = Faults(
    dead=((0, 5), (2, 17)),
    noisy=((1, 70),),
    bursting=((3, 100),),
    t0_shift_ns=(0.0, 0.0, 0.0, 20.0),
)


@pytest.fixture(scope="module")
def faulty_run() -> list[dict[str, Any]]:
    """120 batches: the window holds the last 42, the cumulative view all (enough drift
    times for a fit even at a quarter of today's trigger rate)."""
    return _run(FAULTS, 120)


def _flagged(report, flag: str) -> set[tuple[int, int]]:
    return {
        (ch.chamber, fc.channel) for ch in report.chambers for fc in ch.flagged if flag in fc.flags
    }


def test_injected_faults_are_flagged_against_the_reference(
    reference_file: Path, faulty_run
) -> None:
    report = _service(faulty_run, reference_file).report()
    assert report.basis == "reference" and report.window_batches == WINDOW_BATCHES + 1
    assert _flagged(report, "dead") == {(0, 5), (2, 17)}
    assert _flagged(report, "bursting") == {(3, 100)}
    assert (1, 70) in _flagged(report, "noisy")
    assert _flagged(report, "noisy") <= {(1, 70), (3, 100)}  # a burst adds hits too
    by = {ch.chamber: ch for ch in report.chambers}
    assert all(ch.status is Status.yellow for ch in report.chambers), report.chambers
    assert any("dead channel: 5" in r for r in by[0].reasons)
    assert any("t0 off the reference by +" in r for r in by[3].reasons), by[3].reasons
    assert not any("t0 off" in r for c in (0, 1, 2) for r in by[c].reasons)
    fit = by[3].fit_cumulative
    assert fit.converged and fit.t0_ns == pytest.approx(20.0, abs=3 * fit.t0_err_ns + 1.0)
    # The cell map marks the flagged cells where minidt's geometry puts them.
    cells = by[0].cells
    assert cells.flags[5] == ["dead"] and cells.counts[5] == 0
    assert cells.layer[5] == 2 and cells.cell[5] == 1


def test_injected_faults_are_flagged_without_a_reference(faulty_run) -> None:
    """Against each chamber's median channel: the same faults (the simulator's own noisy
    channels, noisy by design at 10x the noise, are flagged too: they are noisy)."""
    report = _service(faulty_run, None).report()
    assert report.basis == "chamber_median"
    assert _flagged(report, "dead") == {(0, 5), (2, 17)}
    assert _flagged(report, "bursting") == {(3, 100)}
    assert (1, 70) in _flagged(report, "noisy")
    assert any("t0 off nominal by +" in r for r in report.chambers[3].reasons)


def test_many_dead_channels_turn_a_chamber_red(reference_file: Path) -> None:
    dead = tuple((2, ch) for ch in range(0, 40, 4))  # ten channels of the top layer
    report = _service(_run(Faults(dead=dead)), reference_file).report()
    ch2 = report.chambers[2]
    assert ch2.status is Status.red and ch2.dead == 10
    assert report.status is Status.red
    assert ch2.reasons[0].startswith("10 dead channels: 0, 4, 8")
    assert all(report.chambers[c].status is Status.green for c in (0, 1, 3))


def test_clean_long_run_false_alarms_are_counted_and_rare(reference_file: Path, clean_run) -> None:
    """A clean run of 400 batches (10 minutes of detector time), evaluated after every batch
    over a 41-batch window as the service does: 360 evaluations x 256 channels x 3 tests.
    The stated family-wise probability (1e-3 per evaluation for each of the two families)
    bounds the expected number of evaluations with any flag by 0.72."""
    reference = read_reference(str(reference_file))
    ref = np.asarray(reference.occupancy)
    msgs = clean_run
    counts = np.array([[h["bin_counts"] for h in m["occupancy"]] for m in msgs])
    hits = np.array([m["hits_per_chamber"] for m in msgs])
    th = FlagThresholds()
    evaluations, alarms, flagged = 0, 0, []
    for end in range(WINDOW_BATCHES, len(msgs) + 1):
        f = channel_flags(
            counts[end - WINDOW_BATCHES : end], hits[end - WINDOW_BATCHES : end], ref, th
        )
        evaluations += 1
        if f.dead.any() or f.noisy.any() or f.bursting.any():
            alarms += 1
            flagged.append(end)
    assert evaluations == 360
    # P(Poisson(0.72) > 4) = 0.7 %: more than 4 would mean the stated rate is not kept.
    assert alarms <= 4, f"{alarms} of {evaluations} evaluations flagged (at batches {flagged})"


def test_clean_run_status_stays_green(reference_file: Path, clean_run) -> None:
    """The whole status (flags, shares, window time-box fits) on a clean run: green."""
    service = _service(clean_run[:60], reference_file)
    report = service.report()
    assert report.status is Status.green, [ch.reasons for ch in report.chambers]


def test_fit_recovers_the_simulator_t0_and_t_max(clean_run) -> None:
    """Cumulative view of 400 clean batches (~10 minutes, ~15,000 hits per chamber in the
    box): every chamber's t0 and t_max within 3 standard errors + 1 ns of the truth, with
    standard errors below 1.5 ns; the drift velocity then matches 53.8 um/ns."""
    service = _service(clean_run, None)
    report = service.report()
    for ch in report.chambers:
        fit = ch.fit_cumulative
        assert fit.converged, fit.message
        assert fit.t0_err_ns < 1.5 and fit.t_max_err_ns < 1.5
        assert fit.t0_ns == pytest.approx(0.0, abs=3 * fit.t0_err_ns + 1.0), fit
        assert fit.t_max_ns == pytest.approx(MAX_DRIFT_NS, abs=3 * fit.t_max_err_ns + 1.0), fit
        v_err = fit.drift_velocity_err_um_per_ns
        assert fit.drift_velocity_um_per_ns == pytest.approx(53.8, abs=3 * v_err + 0.2)
    assert len(report.trend) == 1 and report.trend[0].batch_id == 399


def test_reference_file_errors_name_the_place(tmp_path: Path) -> None:
    with pytest.raises(ReferenceError, match=r"missing\.json: cannot read"):
        read_reference(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "something else"}')
    with pytest.raises(ReferenceError, match=r"not a dtmon\.reference\.v1 document"):
        HealthService(new_store(), HealthSettings(reference=str(bad)), 10)
    with pytest.raises(ReferenceError, match="needs --reference-s3-endpoint"):
        read_reference("s3://bucket/key.json")
