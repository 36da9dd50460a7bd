"""`--source sim`: the simulator as an endless producer Source."""

from __future__ import annotations

from collections.abc import Iterator

from dtmon_producer.sim.faults import Faults
from dtmon_producer.sim.simulator import Simulator
from dtmon_producer.sources import Chunk


class SimSource:
    """Never ends by itself: stop it with --max-records or a signal."""

    def __init__(
        self, seed: int | None = None, muon_rate: float | None = None, faults: Faults | None = None
    ) -> None:
        self.simulator = Simulator(seed=seed, muon_rate=muon_rate, faults=faults)

    def describe(self) -> str:
        sim = self.simulator
        return (
            f"detector simulator (seed {sim.seed}, {sim.muon_rate:.0f} muons/s through the "
            f"generation plane, {sim.noise_rate:.0f} noise hits/s"
            f"{', with injected faults' if sim.faults else ''})"
        )

    def chunks(self) -> Iterator[Chunk]:
        while True:
            yield Chunk("sim", self.simulator.next_lines())
