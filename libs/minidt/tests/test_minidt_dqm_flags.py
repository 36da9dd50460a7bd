"""Channel flags on Poisson toys with known truth: each injected fault is found, nothing else,
and the measured false-alarm rate of healthy windows stays within the stated bound."""

from __future__ import annotations

import numpy as np
import pytest

from minidt.dqm.flags import Basis, FlagThresholds, channel_flags

BATCHES = 30
BURSTS = (3, 11, 17, 22, 28)


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
    if not with_reference:
        rate = np.full((4, 64), 14.0)
        rate[0, 5] = rate[2, 40] = 0.0
        rate[1, 10] = 60.0
    counts, hits = _window(rng, rate, exposure)
    for b in BURSTS:  # a channel that keeps bursting
        counts[b, 3, 33] += 40
        hits[b, 3] += 40
    counts[9, 2, 20] += 40  # a sporadic burst: counted, not flagged
    hits[9, 2] += 40
    flags = channel_flags(counts, hits, reference if with_reference else None)
    assert flags.basis is (Basis.reference if with_reference else Basis.chamber_median)
    assert [tuple(x) for x in np.argwhere(flags.dead)] == [(0, 5), (2, 40)]
    noisy = [tuple(x) for x in np.argwhere(flags.noisy)]
    assert (1, 10) in noisy and set(noisy) <= {(1, 10), (3, 33), (2, 20)}
    assert [tuple(x) for x in np.argwhere(flags.bursting)] == [(3, 33)]
    assert flags.bursts[3, 33] == len(BURSTS) and flags.burst_batch[3, 33] in BURSTS
    assert flags.bursts[2, 20] == 1 and flags.burst_batch[2, 20] == 9
    assert flags.bursts.sum() == len(BURSTS) + 1
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


def test_sporadic_bursts_over_the_detector_are_counted_not_flagged(truth) -> None:
    """Real noise bursts now and then on random channels (about 1.5 per second over the
    telescope): two bursts per batch on random channels are counted, flag nothing, and a
    channel that bursts in a third of the batches is still found."""
    rate, reference = truth
    rng = np.random.default_rng(8)
    counts, hits = _window(rng, rate, np.ones(BATCHES))
    for b in range(BATCHES):
        for _ in range(2):
            c, ch = rng.integers(0, 4), rng.integers(0, 64)
            extra = rng.poisson(40)
            counts[b, c, ch] += extra
            hits[b, c] += extra
    quiet = channel_flags(counts, hits, reference)
    assert quiet.bursts.sum() >= BATCHES  # most sporadic bursts are seen
    assert not quiet.bursting.any()
    for b in range(0, BATCHES, 3):
        counts[b, 1, 50] += 40
        hits[b, 1] += 40
    loud = channel_flags(counts, hits, reference)
    assert [tuple(x) for x in np.argwhere(loud.bursting)] == [(1, 50)]
