"""The time-box fit on toys drawn from a known box: unbiased t0 and t_max, uncertainties
that match the scatter (pulls), and fits that cannot work say so."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minidt.binning import DEFAULT_DRIFT_EDGES
from minidt.dqm.timebox import MIN_ENTRIES, fit_time_box

EDGES = np.asarray(DEFAULT_DRIFT_EDGES)


def _toy(rng: np.random.Generator, n: int, t0: float, t_max: float, sigma: float) -> np.ndarray:
    """n drift times uniform in [t0, t_max] smeared by sigma, plus 1 % flat background."""
    t = rng.uniform(t0, t_max, n) + rng.normal(0.0, sigma, n)
    bg = rng.uniform(EDGES[0], EDGES[-1], n // 100)
    counts, _ = np.histogram(np.concatenate([t, bg]), EDGES)
    return counts


def test_fit_recovers_t0_and_t_max_with_honest_uncertainties() -> None:
    rng = np.random.default_rng(5)
    truth_t0, truth_tmax = 3.0, 392.0
    pulls_t0, pulls_tmax = [], []
    for _ in range(24):
        fit = fit_time_box(EDGES, _toy(rng, 6000, truth_t0, truth_tmax, 4.0))
        assert fit.converged, fit.message
        assert fit.t0_err_ns < 1.5 and fit.t_max_err_ns < 1.5
        pulls_t0.append((fit.t0_ns - truth_t0) / fit.t0_err_ns)
        pulls_tmax.append((fit.t_max_ns - truth_tmax) / fit.t_max_err_ns)
        v = 21_000 / (fit.t_max_ns - fit.t0_ns)
        assert fit.drift_velocity_um_per_ns == pytest.approx(v)
    for pulls in (np.array(pulls_t0), np.array(pulls_tmax)):
        # Unbiased (mean within 3/sqrt(24) of 0) and errors neither too small nor too large.
        assert abs(pulls.mean()) < 3 / math.sqrt(len(pulls)), pulls
        assert 0.6 < pulls.std() < 1.5, pulls


def test_fit_that_cannot_work_says_why() -> None:
    empty = fit_time_box(EDGES, np.zeros(len(EDGES) - 1))
    assert not empty.converged and "too few entries" in empty.message and empty.t0_ns is None
    rng = np.random.default_rng(6)
    few = fit_time_box(EDGES, _toy(rng, MIN_ENTRIES // 2, 0.0, 390.0, 4.0))
    assert not few.converged and f"{MIN_ENTRIES} needed" in few.message
    flat, _ = np.histogram(rng.uniform(EDGES[0], EDGES[-1], 20_000), EDGES)
    no_box = fit_time_box(EDGES, flat)
    assert not no_box.converged and no_box.t0_ns is None, no_box
    assert no_box.message != "ok"


def test_a_shifted_box_is_measured_as_shifted() -> None:
    rng = np.random.default_rng(7)
    fit = fit_time_box(EDGES, _toy(rng, 8000, 20.0, 410.0, 4.0))
    assert fit.converged
    assert fit.t0_ns == pytest.approx(20.0, abs=3 * fit.t0_err_ns)
    assert fit.t_max_ns == pytest.approx(410.0, abs=3 * fit.t_max_err_ns)
