"""Fault injection in the simulator: the flags parse and validate, and each fault does what
it says on top of the clean stream of the same seed (identical in the first window)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dtmon_producer.sim.fault_options import (
    BURST_HITS,
    BURST_SPAN_NS,
    parse_channels,
    parse_shifts,
)
from dtmon_producer.sim.faults import Faults
from dtmon_producer.sim.simulator import Simulator
from minidt import detector as det
from minidt.reference import compute_quantities


def test_parsing() -> None:
    assert parse_channels("0:5, 3:120") == ((0, 5), (3, 120))
    assert parse_channels("") == ()
    assert parse_shifts("3:20,1:-4.5") == (0.0, -4.5, 0.0, 20.0)
    for bad in ("5", "0:64", "1:3", "4:1"):
        with pytest.raises(ValueError):
            parse_channels(bad)
    with pytest.raises(ValueError):
        parse_shifts("7:3")


def test_bad_flag_is_one_line_from_the_cli() -> None:
    exe = Path(sys.executable).parent / "dtmon-producer"
    proc = subprocess.run(
        [str(exe), "--sim-dead", "1:3", "--output", "-", "--max-records", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--sim-dead" in proc.stderr and "chamber 1 has raw channels 64-127" in proc.stderr


def _quantities(faults: Faults | None, windows: int = 12) -> list[dict]:
    sim = Simulator(seed=31, faults=faults)
    return [compute_quantities(sim.next_hits()) for _ in range(windows)]


def _occ(qs: list[dict], chamber: int) -> np.ndarray:
    return np.sum([q["occupancy"][chamber]["bin_counts"] for q in qs], axis=0)


def test_each_fault_on_top_of_the_clean_stream() -> None:
    faults = Faults(
        dead=((0, 5),), noisy=((1, 70),), bursting=((2, 17),), t0_shift_ns=(0, 0, 0, 20.0)
    )
    clean, faulty = _quantities(None), _quantities(faults)
    seconds = 12 * Simulator(seed=1).window_ns * 1e-9
    assert _occ(clean, 0)[5] > 50 and _occ(faulty, 0)[5] == 0
    # In the first window untouched channels keep exactly their hits: same muons and noise.
    first_clean, first_faulty = _occ(clean[:1], 0), _occ(faulty[:1], 0)
    assert np.array_equal(np.delete(first_clean, 5), np.delete(first_faulty, 5))
    extra_noisy = _occ(faulty, 1)[70 - 64] - _occ(clean, 1)[70 - 64]
    assert extra_noisy == pytest.approx(100.0 * seconds, rel=0.3)  # +100 Hz
    assert _occ(faulty, 2)[17] > _occ(clean, 2)[17] + BURST_HITS / 2
    # Chamber 3's hits arrive 20 ns later: its drift times move, the others' do not.
    fpga = np.array([0, 0, 1, 1, 1])
    channel = np.array([3, 70, 17, 100, det.SCINT_CHANNEL])
    time = np.array([1000.0, 2000.0, 3000.0, 4000.0, 5000.0])
    _, _, shifted = Faults(t0_shift_ns=(0, 0, 0, 20.0)).apply(
        np.random.default_rng(0), fpga, channel, time, 1e6
    )
    assert shifted.tolist() == [1000.0, 2000.0, 3000.0, 4020.0, 5000.0]
    assert det.chamber_of(1, 17) == 2


def test_bursts_are_32_hits_within_2_ms() -> None:
    faults = Faults(bursting=((2, 17),))
    rng = np.random.default_rng(3)
    empty = np.zeros(0, dtype=np.int64)
    window_ns = 60e9  # a minute: about 12 bursts
    fpga, channel, time = faults.apply(rng, empty, empty, np.zeros(0), window_ns)
    assert set(fpga.tolist()) == {1} and set(channel.tolist()) == {17}
    assert len(time) % BURST_HITS == 0 and 6 <= len(time) // BURST_HITS <= 20
    t = np.sort(time)
    gaps = np.diff(t)
    starts = np.concatenate([[0], np.flatnonzero(gaps > BURST_SPAN_NS) + 1])
    assert np.all(np.diff(np.append(starts, len(t))) >= BURST_HITS)  # bursts may overlap
