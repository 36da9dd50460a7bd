"""`--source sim`: the simulator as an endless producer Source."""

from __future__ import annotations

from collections.abc import Iterator

from dtmon_producer.sim.simulator import Simulator
from dtmon_producer.sources import Chunk


class SimSource:
    """Never ends by itself: stop it with --max-records or a signal."""

    def __init__(self, seed: int | None = None, muon_rate: float | None = None) -> None:
        self.simulator = Simulator(seed=seed, muon_rate=muon_rate)

    def describe(self) -> str:
        sim = self.simulator
        return (
            f"detector simulator (seed {sim.seed}, {sim.muon_rate:.0f} muons/s through the "
            f"generation plane, {sim.noise_rate:.0f} noise hits/s)"
        )

    def chunks(self) -> Iterator[Chunk]:
        while True:
            yield Chunk("sim", self.simulator.next_lines())
