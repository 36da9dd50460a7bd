"""Per-channel flags over a window of batches: dead, noisy, bursting, with Poisson statistics.

Every decision is a one-sided test at a stated false-alarm probability, never a fixed ratio:

* **Expectation.** With a reference run, channel i is compared with its own reference count
  ``m_i``: given ``n_i + m_i`` hits, ``n_i`` is Binomial(n_i + m_i, s / (1 + s)) when the
  channel behaves as in the reference (the conditional test for the ratio of two Poisson
  means), where ``s`` is the exposure of the window relative to the reference, estimated per
  chamber from the channels themselves (a trimmed ratio of sums, so a few bad channels do not
  move it). Without a reference the expectation is the chamber's typical channel: the
  median count of its 64 channels, and ``n_i`` is Poisson(median).
* **Dead**: no hit where one was expected: P(0 hits) < alpha. A decision needs an expected
  count of at least ``-ln(alpha)`` (``min_expected_dead``); below it a channel is undecided.
* **Noisy**: P(at least n_i hits) < alpha, counting only the batches in which the channel
  did not burst (and scaling the expectation to their share of the exposure): a noisy
  channel is one whose steady rate is too high; bursts are the bursting test's business.
* **Bursting**: the channel bursts more often than its chamber's channels do. First, a
  *burst* is a batch in which the channel's hits crowd: given its K hits in the window, its
  count k_b in batch b is Binomial(K, f_b), with f_b the batch's share of the chamber's
  *other* hits (plus one, so a batch with no other hit keeps a finite exposure), and
  P(at least k_b) < BURST_P (1e-5) makes batch b a burst of the channel. Then the channel's
  number of bursts B is compared with the chamber's typical rate, lambda = (bursts of the
  chamber's other channels + 1) / 63: P(at least B | Poisson(lambda)) < alpha_burst flags it.
  So sporadic bursts scattered over the detector (real noise does that: FPGA 1 channel 126
  fired 32 times within 1.8 ms, then about once) are counted but not flagged, while a channel
  that keeps bursting is. The time resolution is one micro-batch (1-5 s): a burst of 32 hits
  in 2 ms stands out at any trigger interval.

``false_alarm`` and ``burst_false_alarm`` are family-wise: the probability that a healthy
detector shows at least one flag in one evaluation. They are split over the tests with the
Bonferroni bound (2 tests x 256 channels; 256 channels for bursting), which holds whatever
the correlation between tests.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from minidt.detector import CHANNELS_PER_CHAMBER, N_CHAMBERS
from minidt.dqm.special import binom_sf, poisson_sf

SHAPE = (N_CHAMBERS, CHANNELS_PER_CHAMBER)
BURST_P = 1e-5
"""A batch whose count of one channel is this improbable (given the channel's window total and
the chamber's rate in that batch) is a burst of that channel. Healthy channels produce one
false burst per 1e5 batches, far below the chamber's burst rate floor of 1/63 per window."""
TRIM_QUANTILES = (0.1, 0.9)
"""Channels whose window/reference ratio lies outside these quantiles do not enter the
exposure estimate: up to 6 bad channels per chamber cannot move it."""


class Basis(enum.StrEnum):
    """What a channel's expected count is derived from."""

    reference = "reference"
    chamber_median = "chamber_median"


@dataclass(frozen=True)
class FlagThresholds:
    """The false-alarm probabilities of one evaluation (see the module docstring)."""

    false_alarm: float = 1e-3
    burst_false_alarm: float = 1e-3

    def __post_init__(self) -> None:
        for name in ("false_alarm", "burst_false_alarm"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ValueError(f"{name} must be in (0, 1), got {value}")

    @property
    def alpha(self) -> float:
        """Per-test probability of the dead and noisy tests (Bonferroni over 2 x 256)."""
        return self.false_alarm / (2 * N_CHAMBERS * CHANNELS_PER_CHAMBER)

    @property
    def burst_alpha(self) -> float:
        """Per-channel probability of the bursting test (Bonferroni over 256 channels)."""
        return self.burst_false_alarm / (N_CHAMBERS * CHANNELS_PER_CHAMBER)

    @property
    def min_expected_dead(self) -> float:
        """Expected hits a channel needs before zero hits can call it dead: -ln(alpha)."""
        return -math.log(self.alpha)


@dataclass(frozen=True)
class ChannelFlags:
    """Flags and their inputs, arrays of shape (chambers, 64) indexed by channel % 64."""

    basis: Basis
    counts: np.ndarray
    expected: np.ndarray
    dead: np.ndarray
    noisy: np.ndarray
    bursting: np.ndarray
    decidable: np.ndarray
    """The expected count is high enough for a dead decision."""
    p_low: np.ndarray
    """P(as few hits), i.e. P(0) for an empty channel, else 1."""
    p_high: np.ndarray
    """P(at least as many hits)."""
    p_burst: np.ndarray
    """P(at least this many bursts) at the chamber's burst rate (1 without bursts)."""
    bursts: np.ndarray
    """Batches of the window in which the channel burst."""
    burst_batch: np.ndarray
    """Index (in the window) of the batch with that p-value, -1 if none."""
    exposure: np.ndarray
    """Per chamber: window/reference exposure ratio (reference basis) or the median count."""
    alpha: float
    burst_alpha: float
    min_expected_dead: float
    batches: int


def _exposure(n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per chamber, the trimmed ratio of sums of window over reference counts."""
    out = np.zeros(n.shape[0])
    for c in range(n.shape[0]):
        live = m[c] > 0
        if not np.any(live):
            continue
        ratio = n[c, live] / m[c, live]
        lo, hi = np.quantile(ratio, TRIM_QUANTILES)
        keep = (ratio >= lo) & (ratio <= hi)
        out[c] = n[c, live][keep].sum() / m[c, live][keep].sum()
    return out


def _upper_tail(n: np.ndarray, mean: np.ndarray, sd: np.ndarray, sf: Any, *args: Any) -> np.ndarray:
    """P(at least n), computed exactly only where n is 2 standard deviations above the mean:
    an upper tail of these right-skewed counts is never lighter than the normal one, so the
    rest has p > 0.02, far above any per-test alpha (at most 1/512). Saves the continued
    fractions for the few channels that matter."""
    out = np.ones(n.shape)
    pick = n > mean + 2.0 * sd + 1.0
    if np.any(pick):
        out[pick] = sf(n[pick], *(np.broadcast_to(a, n.shape)[pick] for a in args))
    return out


def _window_tests(
    n: np.ndarray, quiet_n: np.ndarray, quiet_share: np.ndarray, reference: np.ndarray | None
) -> tuple[Basis, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(basis, expected, p_low, p_high, exposure) of the dead and noisy tests.

    The noisy test leaves out the channel's burst batches (``quiet_n`` hits in the rest,
    which hold ``quiet_share`` of the chamber's exposure): bursts are the bursting test's
    business, and a noisy channel is one whose steady rate is too high."""
    if reference is not None:
        m = np.asarray(reference, dtype=np.float64).reshape(SHAPE)
        s = _exposure(n, m)[:, None]
        p = s / (1.0 + s)
        expected = s * m
        p_low = np.where(n == 0, np.power(1.0 - p, m), 1.0)
        sq = s * quiet_share
        pq = sq / (1.0 + sq)
        mean = (quiet_n + m) * pq  # of the conditional binomial
        p_high = _upper_tail(quiet_n, mean, np.sqrt(mean * (1 - pq)), binom_sf, quiet_n + m, pq)
        return Basis.reference, expected, p_low, p_high, s[:, 0]
    median = np.median(n, axis=1)
    expected = np.broadcast_to(median[:, None], n.shape).astype(np.float64)
    p_low = np.where(n == 0, np.exp(-expected), 1.0)
    mu = expected * quiet_share
    p_high = _upper_tail(quiet_n, mu, np.sqrt(mu), poisson_sf, mu)
    return Basis.chamber_median, expected, p_low, p_high, median


def _burst_tests(
    batch_counts: np.ndarray, batch_chamber_hits: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per channel: (p-value of the burst count, burst count, most significant batch or -1,
    hits outside burst batches, the chamber's exposure share outside them); see the module
    docstring."""
    k = batch_counts.astype(np.float64)  # (B, C, 64)
    total_k = k.sum(axis=0)
    if k.shape[0] < 2:
        ones = np.ones(SHAPE)
        return ones, np.zeros(SHAPE, dtype=np.int64), np.full(SHAPE, -1), total_k, ones
    others = batch_chamber_hits.astype(np.float64)[:, :, None] - k + 1.0
    share = others / others.sum(axis=0, keepdims=True)
    total = np.broadcast_to(total_k[None], k.shape)
    mean = total * share
    p_batch = _upper_tail(k, mean, np.sqrt(mean * (1.0 - share)), binom_sf, total, share)
    burst = p_batch < BURST_P
    bursts = burst.sum(axis=0)  # (C, 64)
    rate = (bursts.sum(axis=1, keepdims=True) - bursts + 1.0) / (CHANNELS_PER_CHAMBER - 1)
    p = np.where(bursts > 0, poisson_sf(bursts, np.broadcast_to(rate, SHAPE)), 1.0)
    worst = np.argmin(p_batch, axis=0)
    quiet_n = total_k - (k * burst).sum(axis=0)
    quiet_share = np.maximum(1.0 - (share * burst).sum(axis=0), 1e-9)
    return p, bursts, np.where(bursts > 0, worst, -1), quiet_n, quiet_share


def channel_flags(
    batch_counts: np.ndarray,
    batch_chamber_hits: np.ndarray,
    reference: np.ndarray | None = None,
    thresholds: FlagThresholds | None = None,
) -> ChannelFlags:
    """Flags of a window given per-batch occupancies.

    ``batch_counts``: (batches, 4, 64) hits per channel (index channel % 64) of each batch;
    ``batch_chamber_hits``: (batches, 4) hits per chamber of each batch; ``reference``:
    (4, 64) counts of a reference run, or None for the chamber-median basis.
    """
    th = thresholds or FlagThresholds()
    bc = np.asarray(batch_counts, dtype=np.int64).reshape(-1, *SHAPE)
    bh = np.asarray(batch_chamber_hits, dtype=np.int64).reshape(-1, N_CHAMBERS)
    n = bc.sum(axis=0).astype(np.float64)
    p_burst, bursts, burst_batch, quiet_n, quiet_share = _burst_tests(bc, bh)
    basis, expected, p_low, p_high, exposure = _window_tests(n, quiet_n, quiet_share, reference)
    alpha = th.alpha
    burst_alpha = th.burst_alpha
    return ChannelFlags(
        basis=basis,
        counts=n.astype(np.int64),
        expected=expected,
        dead=(n == 0) & (p_low < alpha),
        noisy=p_high < alpha,
        bursting=p_burst < burst_alpha,
        decidable=expected >= th.min_expected_dead,
        p_low=p_low,
        p_high=p_high,
        p_burst=p_burst,
        bursts=bursts,
        burst_batch=burst_batch,
        exposure=exposure,
        alpha=alpha,
        burst_alpha=burst_alpha,
        min_expected_dead=th.min_expected_dead,
        batches=bc.shape[0],
    )
