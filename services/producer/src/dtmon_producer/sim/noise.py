"""Electronic noise: random single hits on every channel, plus bursts of noisy channels.

Noise is what makes most hit orbits hold one hit (the real sample's median) while muons
give the long tail of the multiplicity distribution. Noisy channels burst, as in the real
data (FPGA 1 channel 126 fired 32 times within 1.8 ms, ~18 kHz, then about once; FPGA 0
channel 113 fired 25 times in 4.2 ms): a burst is a few milliseconds of one channel at kHz.
Per-chamber weights bring the chamber shares of hits close to the real 16/34/21/29 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dtmon_producer.sim.geometry import Telescope

CHAMBER_NOISE_WEIGHT = (0.62, 1.9, 0.8, 1.35)
"""Relative noise per chamber (0-3), calibrated so that muons + noise give the real chamber
shares of hits (16 / 34 / 21 / 29 %, docs/detector.md)."""

BURSTS_PER_S = 1.5
"""Noise bursts per second of detector time, over the whole telescope."""
BURST_MS = (1.5, 4.5)
BURST_KHZ = (6.0, 18.0)
"""A burst lasts 1.5-4.5 ms at 6-18 kHz on one channel: ~10-80 hits."""


@dataclass(frozen=True)
class NoiseModel:
    """Channel probabilities for noise hits, fixed per simulator (seeded)."""

    fpga: np.ndarray
    channel: np.ndarray
    weight: np.ndarray  # probabilities, sum 1

    @classmethod
    def build(cls, rng: np.random.Generator, tel: Telescope) -> NoiseModel:
        del rng  # no fixed noisy channel any more: bursts pick theirs
        per_chamber = tel.channel[0].size
        fpga = np.repeat(tel.fpga, per_chamber).astype(np.int64)
        channel = tel.channel.reshape(-1)
        weight = np.repeat(np.asarray(CHAMBER_NOISE_WEIGHT, dtype=float), per_chamber)
        return cls(fpga=fpga, channel=channel, weight=weight / weight.sum())

    def sample(
        self, rng: np.random.Generator, n: int, window_ns: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fpga, channel, time_ns): n single noise hits spread uniformly over the window,
        plus the window's bursts."""
        pick = rng.choice(len(self.weight), n, p=self.weight)
        times = [rng.uniform(0.0, window_ns, n)]
        picks = [pick]
        for _ in range(int(rng.poisson(BURSTS_PER_S * window_ns * 1e-9))):
            where = int(rng.choice(len(self.weight), p=self.weight))
            length_ns = rng.uniform(*BURST_MS) * 1e6
            k = int(rng.poisson(rng.uniform(*BURST_KHZ) * 1e3 * length_ns * 1e-9))
            start = rng.uniform(0.0, max(0.0, window_ns - length_ns))
            times.append(start + rng.uniform(0.0, length_ns, k))
            picks.append(np.full(k, where))
        all_picks = np.concatenate(picks)
        return self.fpga[all_picks], self.channel[all_picks], np.concatenate(times)
