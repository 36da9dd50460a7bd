"""`--source sim`: the simulator as an endless producer Source."""

from __future__ import annotations

from collections.abc import Iterator

from dtmon_producer.sim.daq import ORBIT_NS
from dtmon_producer.sim.faults import Faults
from dtmon_producer.sim.simulator import Simulator
from dtmon_producer.sources import Chunk


class SimSource:
    """Never ends by itself: stop it with --max-records or a signal."""

    def __init__(
        self,
        seed: int | None = None,
        muon_rate: float | None = None,
        faults: Faults | None = None,
        counter_reset_after_s: float | None = None,
    ) -> None:
        reset = (
            None if counter_reset_after_s is None else round(counter_reset_after_s * 1e9 / ORBIT_NS)
        )
        self.simulator = Simulator(
            seed=seed, muon_rate=muon_rate, faults=faults, counter_reset_after_orbits=reset
        )

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
