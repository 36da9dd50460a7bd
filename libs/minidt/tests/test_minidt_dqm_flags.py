"""Channel flags on Poisson toys with known truth: each injected fault is found, nothing else,
and the measured false-alarm rate of healthy windows stays within the stated bound."""

from __future__ import annotations

import numpy as np
import pytest

from minidt.dqm.flags import Basis, FlagThresholds, channel_flags

BATCHES = 30


def _window(
    rng: np.random.Generator, rate: np.ndarray, exposure: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(batches, 4, 64) Poisson counts with per-batch exposures, and chamber sums."""
    counts = rng.poisson(exposure[:, None, None] * rate[None])
    return counts, counts.sum(axis=2)


@pytest.fixture
def truth() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    rate = rng.uniform(8.0, 20.0, (4, 64))  # hits per channel per batch: uneven on purpose
    reference = rng.poisson(rate * 200)  # a 200-batch reference run
    return rate, reference


@pytest.mark.parametrize("with_reference", [True, False])
def test_injected_faults_are_flagged_and_nothing_else(truth, with_reference: bool) -> None:
    rate, reference = truth
    rng = np.random.default_rng(2)
    rate = rate.copy()
    rate[0, 5] = 0.0  # dead
    rate[2, 40] = 0.0  # dead
    rate[1, 10] *= 3.0  # noisy
    exposure = rng.uniform(0.5, 1.5, BATCHES)  # the batch rate wanders
    counts, hits = _window(rng, rate, exposure)
    counts[17, 3, 33] += 40  # a burst in one batch
    hits[17, 3] += 40
    if not with_reference:
        rate_flat = np.full((4, 64), 14.0)
        rate_flat[0, 5] = rate_flat[2, 40] = 0.0
        rate_flat[1, 10] = 60.0
        counts, hits = _window(rng, rate_flat, exposure)
        counts[17, 3, 33] += 40
        hits[17, 3] += 40
    flags = channel_flags(counts, hits, reference if with_reference else None)
    assert flags.basis is (Basis.reference if with_reference else Basis.chamber_median)
    assert [tuple(x) for x in np.argwhere(flags.dead)] == [(0, 5), (2, 40)]
    assert [tuple(x) for x in np.argwhere(flags.noisy)] in ([(1, 10)], [(1, 10), (3, 33)])
    assert [tuple(x) for x in np.argwhere(flags.bursting)] == [(3, 33)]
    assert flags.burst_batch[3, 33] == 17
    assert flags.decidable.all()


def test_a_dead_call_needs_the_stated_expected_count() -> None:
    """-ln(alpha) expected hits: below it an empty channel is not called dead."""
    th = FlagThresholds(false_alarm=1e-3)
    need = th.min_expected_dead
    assert need == pytest.approx(-np.log(1e-3 / 512))
    for expected, called in ((need * 0.8, False), (need * 1.3, True)):
        counts = np.full((1, 4, 64), round(expected))
        counts[0, 0, 7] = 0
        flags = channel_flags(counts, counts.sum(axis=2), None, th)
        assert bool(flags.dead[0, 7]) is called, expected
        assert bool(flags.decidable[0, 0]) is called


def test_false_alarm_rate_of_healthy_windows_is_within_the_bound(truth) -> None:
    """300 independent healthy windows at a family-wise 5 %: Bonferroni guarantees at most 5 %
    of them with any flag (dead, noisy or bursting); we count them."""
    rate, reference = truth
    rng = np.random.default_rng(3)
    th = FlagThresholds(false_alarm=0.05, burst_false_alarm=0.05)
    windows, alarms = 300, 0
    for _ in range(windows):
        counts, hits = _window(rng, rate, rng.uniform(0.5, 1.5, BATCHES))
        f = channel_flags(counts, hits, reference, th)
        alarms += bool(f.dead.any() or f.noisy.any() or f.bursting.any())
    # At most 2 x 5 % = 10 % (two families) in expectation: 30 of 300; 99.9 % upper bound 48.
    assert alarms <= 48, f"{alarms} of {windows} healthy windows flagged"


def test_exposure_is_robust_to_a_few_bad_channels(truth) -> None:
    rate, reference = truth
    rng = np.random.default_rng(4)
    rate = rate.copy()
    rate[0, :6] *= 20.0  # six very noisy channels in chamber 0
    counts, hits = _window(rng, rate, np.ones(BATCHES))
    flags = channel_flags(counts, hits, reference)
    assert flags.exposure == pytest.approx(np.full(4, BATCHES / 200), rel=0.03)
    assert flags.noisy[0, :6].all() and not flags.noisy[0, 6:].any()
