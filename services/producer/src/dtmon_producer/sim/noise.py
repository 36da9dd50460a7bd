"""Electronic noise: random single hits on every channel, plus a few noisy channels.

Noise is what makes most hit orbits hold one hit (the real sample's median) while muons
give the long tail of the multiplicity distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dtmon_producer.sim.geometry import Telescope

NOISY_CHANNELS = 3
NOISY_FACTOR = 10.0
"""A noisy channel fires this many times more often than a quiet one."""

STRAY_CHANNELS = (129, 130, 138)
"""TDC channels above 128 (neither chamber nor scintillator) seen in the real data."""
STRAY_SHARE = 0.002


@dataclass(frozen=True)
class NoiseModel:
    """Channel probabilities for noise hits, fixed per simulator (seeded)."""

    fpga: np.ndarray
    channel: np.ndarray
    weight: np.ndarray  # probabilities, sum 1

    @classmethod
    def build(cls, rng: np.random.Generator, tel: Telescope) -> NoiseModel:
        fpga = np.repeat(tel.fpga, tel.channel[0].size).astype(np.int64)
        channel = tel.channel.reshape(-1)
        weight = np.ones(len(channel))
        noisy = rng.choice(len(channel), NOISY_CHANNELS, replace=False)
        weight[noisy] = NOISY_FACTOR
        weight *= (1 - STRAY_SHARE) / weight.sum()
        stray = np.asarray(STRAY_CHANNELS)
        fpga = np.concatenate([fpga, np.ones(len(stray), dtype=np.int64)])
        channel = np.concatenate([channel, stray])
        weight = np.concatenate([weight, np.full(len(stray), STRAY_SHARE / len(stray))])
        return cls(fpga=fpga, channel=channel, weight=weight / weight.sum())

    def sample(
        self, rng: np.random.Generator, n: int, window_ns: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fpga, channel, time_ns) of n noise hits spread uniformly over the window."""
        pick = rng.choice(len(self.weight), n, p=self.weight)
        return self.fpga[pick], self.channel[pick], rng.uniform(0.0, window_ns, n)
