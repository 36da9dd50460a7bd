"""Detector faults the simulator can inject, so data-quality checks can be tested on known
truth: dead channels, noisy channels, bursting channels and a shifted t0 per chamber.

Faults draw from their own random stream (seeded from the simulator's seed), so the first
window of a run with faults holds the very same muons and noise as the clean run of the same
seed, plus the faults; later windows differ from the clean run's only by chance (where the
ancillary words go depends on how many hits a window has).
Channels are named ``chamber:channel`` with the raw TDC_CHANNEL (0-63 for chambers 0 and 2,
64-127 for chambers 1 and 3), as on the dashboard's occupancy axes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dtmon_producer.sim.fault_options import (
    BURST_EVERY_S,
    BURST_HITS,
    BURST_SPAN_NS,
    NOISY_RATE_HZ,
    Channel,
)
from minidt import detector as det


@dataclass(frozen=True)
class Faults:
    """What to inject; empty by default (a clean detector)."""

    dead: tuple[Channel, ...] = ()
    noisy: tuple[Channel, ...] = ()
    bursting: tuple[Channel, ...] = ()
    t0_shift_ns: tuple[float, ...] = field(default=(0.0,) * det.N_CHAMBERS)

    def __post_init__(self) -> None:
        for chamber, channel in (*self.dead, *self.noisy, *self.bursting):
            if (
                not 0 <= chamber < det.N_CHAMBERS
                or det.chamber_of(chamber // 2, channel) != chamber
            ):
                raise ValueError(
                    f"channel {chamber}:{channel} is not a channel of chamber {chamber}"
                )
        if len(self.t0_shift_ns) != det.N_CHAMBERS:
            raise ValueError(f"t0_shift_ns needs {det.N_CHAMBERS} values")

    @property
    def any(self) -> bool:
        return bool(self.dead or self.noisy or self.bursting or any(self.t0_shift_ns))

    def apply(
        self,
        rng: np.random.Generator,
        fpga: np.ndarray,
        channel: np.ndarray,
        time_ns: np.ndarray,
        window_ns: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The window's hits (fpga, channel, time) with the faults applied."""
        chamber = np.asarray(det.chamber_of(fpga, channel))
        shift = np.append(np.asarray(self.t0_shift_ns, dtype=np.float64), 0.0)
        time_ns = time_ns + shift[chamber]  # index -1 (not a chamber) picks the appended 0
        for c, ch in self.dead:
            keep = ~((chamber == c) & (channel == ch))
            fpga, channel, time_ns, chamber = (
                fpga[keep],
                channel[keep],
                time_ns[keep],
                chamber[keep],
            )
        extra: list[tuple[int, int, np.ndarray]] = []
        seconds = window_ns * 1e-9
        for c, ch in self.noisy:
            extra.append((c, ch, rng.uniform(0.0, window_ns, rng.poisson(NOISY_RATE_HZ * seconds))))
        for c, ch in self.bursting:
            starts = rng.uniform(0.0, window_ns, rng.poisson(seconds / BURST_EVERY_S))
            times = starts[:, None] + rng.uniform(0.0, BURST_SPAN_NS, (len(starts), BURST_HITS))
            extra.append((c, ch, np.minimum(times.reshape(-1), window_ns - 1.0)))
        for c, ch, t in extra:
            fpga = np.concatenate([fpga, np.full(len(t), det.fpga_of(c))])
            channel = np.concatenate([channel, np.full(len(t), ch)])
            time_ns = np.concatenate([time_ns, t])
        return fpga, channel, time_ns
