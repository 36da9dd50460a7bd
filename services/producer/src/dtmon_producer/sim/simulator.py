"""One window of detector time at a time: muons + noise + scintillator + ancillary words,
in the order the DAQ writes them.

The readout (docs/detector.md, "How the readout orders the words"): each FPGA writes its own
hits in time order, in packets of PACKET_WORDS; a packet goes out when it is full, so the
two FPGAs' packets alternate and one orbit's hits spread over many rows (the event building
downstream must carry orbits across batch cuts). Ancillary word groups sit between packets.
After a muon that crossed all four chambers, FPGA 1 writes a channel-138 word 1-2 BX after
the last chamber hit, with TDC_MEAS 1 (seen twice in the real data). The orbit counter can
be made to reset (``counter_reset_after_orbits``) as it does inside the real files.

Windows are large (16,384 orbits, 1.46 s of detector time, ~6,400 rows at the default
rates) so that numpy does the work: generation runs at several million records per second
and never limits the producer. Deterministic: the same seed gives the same stream.
"""

from __future__ import annotations

import secrets

import numpy as np

from dtmon_producer.sim.ancillary import HITS_PER_GROUP, ancillary_groups
from dtmon_producer.sim.daq import ORBIT_NS, ORBIT_WRAP, format_lines, quantise
from dtmon_producer.sim.faults import Faults
from dtmon_producer.sim.geometry import build_telescope
from dtmon_producer.sim.muons import plane_area_m2, simulate_muons
from dtmon_producer.sim.noise import NoiseModel
from minidt import detector as det
from minidt.codecs import Hits

PACKET_WORDS = 4
"""Hits per FPGA packet (the real readout writes ~4)."""
TRIGGER_WORD_CHANNEL = 138
RESET_TO_ORBIT = 616_958
"""Where the orbit counter restarts after a reset (the value seen in the real file)."""

WINDOW_ORBITS = 16_384
FIRST_ORBIT = 3_387_200_000
"""The real files' orbit counters start around 3.3872e9 (they need 64-bit integers)."""

MUON_FLUX_PER_M2_S = 170.0
"""Muons per m^2 per s through the horizontal generation plane: the sea-level flux (about one
per cm^2 per minute). With the noise below the stream has ~4,400 rows per second of detector
time (real files: ~5,000), half of them hits."""

NOISE_HITS_PER_S = 1_150.0
"""Noise hits per second over the whole telescope, calibrated so that hits per orbit match
the real sample: median 1, mean 1.77 (real 1.62 in the 500-row sample, ~1.8 in the full
file), 82% of hit orbits with a single hit (real 78%)."""


class Simulator:
    """Generates the miniDT stream window by window (`next_hits`, `next_lines`)."""

    def __init__(
        self,
        seed: int | None = None,
        muon_rate: float | None = None,
        noise_rate: float = NOISE_HITS_PER_S,
        window_orbits: int = WINDOW_ORBITS,
        first_orbit: int | None = None,
        faults: Faults | None = None,
        counter_reset_after_orbits: int | None = None,
    ) -> None:
        self.seed = secrets.randbits(32) if seed is None else int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.faults = faults if faults is not None and faults.any else None
        self.fault_rng = np.random.default_rng([self.seed, 1])
        self.telescope = build_telescope()
        self.noise = NoiseModel.build(self.rng, self.telescope)
        area = plane_area_m2(self.telescope)
        self.muon_rate = MUON_FLUX_PER_M2_S * area if muon_rate is None else float(muon_rate)
        self.noise_rate = float(noise_rate)
        self.window_orbits = int(window_orbits)
        self.window_ns = self.window_orbits * ORBIT_NS
        start = (
            FIRST_ORBIT + int(self.rng.integers(0, 100_000)) if first_orbit is None else first_orbit
        )
        self.orbit = int(start) % ORBIT_WRAP
        self.orbits_done = 0
        self.reset_after = counter_reset_after_orbits

    def next_hits(self) -> Hits:
        """The next window's records (hits and ancillary words) in stream order."""
        rng, tel = self.rng, self.telescope
        seconds = self.window_ns * 1e-9
        muons = simulate_muons(rng, tel, int(rng.poisson(self.muon_rate * seconds)), self.window_ns)
        n_scint = len(muons.scint_time_ns)
        n_fpga, n_chan, n_time = self.noise.sample(
            rng, int(rng.poisson(self.noise_rate * seconds)), self.window_ns
        )
        trig_time = _trigger_word_times(rng, muons.muon, muons.chamber, muons.time_ns)
        n_trig = len(trig_time)
        fpga = np.concatenate(
            [muons.fpga, np.full(n_scint, det.SCINT_FPGA), n_fpga, np.ones(n_trig, np.int64)]
        )
        channel = np.concatenate(
            [
                muons.channel,
                np.full(n_scint, det.SCINT_CHANNEL),
                n_chan,
                np.full(n_trig, TRIGGER_WORD_CHANNEL),
            ]
        )
        time = np.concatenate([muons.time_ns, muons.scint_time_ns, n_time, trig_time])
        if self.faults is not None:
            fpga, channel, time = self.faults.apply(
                self.fault_rng, fpga, channel, time, self.window_ns
            )
        time = np.clip(time, 0.0, self.window_ns - 1e-3)
        order, packet_start = _readout_order(fpga, time)
        orbit, bx, tdc = quantise(time[order], self.orbit)
        orbit = self._apply_reset(orbit)
        fpga, channel = fpga[order], channel[order]

        # Groups of ancillary words between packets.
        n_hits = len(order)
        n_groups = int(rng.poisson(n_hits / HITS_PER_GROUP))
        starts = np.r_[packet_start, n_hits] if n_hits else np.zeros(1, dtype=np.int64)
        pos = np.sort(rng.choice(starts, n_groups))
        if n_hits:
            at_orbit = orbit[np.clip(pos - 1, 0, n_hits - 1)]
        else:
            at_orbit = np.full(n_groups, self.orbit, dtype=np.int64)
        anc = ancillary_groups(rng, n_groups, at_orbit)
        hit_dest = np.arange(n_hits) + 5 * np.searchsorted(pos, np.arange(n_hits), side="right")
        anc_dest = ((pos + 5 * np.arange(n_groups))[:, None] + np.arange(5)).reshape(-1)

        total = n_hits + 5 * n_groups
        cols = {
            name: np.empty(total, dtype=np.float64 if name == "tdc" else np.int64)
            for name in ("head", "fpga", "channel", "orbit", "bx", "tdc")
        }
        for name, values in (
            ("head", np.full(n_hits, 2)),
            ("fpga", fpga),
            ("channel", channel),
            ("orbit", orbit),
            ("bx", bx),
            ("tdc", tdc),
        ):
            cols[name][hit_dest] = values
            cols[name][anc_dest] = anc[name]
        self.orbit = (self.orbit + self.window_orbits) % ORBIT_WRAP
        self.orbits_done += self.window_orbits
        return Hits(**cols)

    def _apply_reset(self, orbit: np.ndarray) -> np.ndarray:
        """Orbit counters after the optional reset: from orbit ``reset_after`` (counted from
        the start) on, the counter runs from RESET_TO_ORBIT."""
        if self.reset_after is None:
            return orbit
        index = self.orbits_done + (orbit - self.orbit) % ORBIT_WRAP
        after = index >= self.reset_after
        return np.where(after, (RESET_TO_ORBIT + index - self.reset_after) % ORBIT_WRAP, orbit)

    def next_lines(self) -> list[bytes]:
        """The next window as raw CSV lines, exactly as the producer sends them."""
        return format_lines(self.next_hits())


def _readout_order(fpga: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order of the words, index where each packet starts in that order).

    Each FPGA's words in time order, cut into packets of PACKET_WORDS; a packet is written
    when its last word arrives, so packets are ordered by their last word's time."""
    n = len(time)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    by_time = np.lexsort((fpga, time))
    packet_close = np.empty(n)
    packet_id = np.empty(n, dtype=np.int64)
    next_id = 0
    for f in np.unique(fpga):
        mine = by_time[fpga[by_time] == f]
        k = np.arange(len(mine)) // PACKET_WORDS
        last = np.minimum((k + 1) * PACKET_WORDS, len(mine)) - 1
        packet_close[mine] = time[mine[last]]
        packet_id[mine] = next_id + k
        next_id += int(k[-1]) + 1
    rank = np.empty(n, dtype=np.int64)
    rank[by_time] = np.arange(n)
    order = np.lexsort((rank, packet_id, packet_close))
    ids = packet_id[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    return order, starts


def _trigger_word_times(
    rng: np.random.Generator, muon: np.ndarray, chamber: np.ndarray, time_ns: np.ndarray
) -> np.ndarray:
    """Times of the channel-138 words: for each muon with hits in all four chambers, 1-2 BX
    after its last chamber hit, at the start of the BX (TDC_MEAS 1)."""
    if len(muon) == 0:
        return np.zeros(0)
    ids = np.unique(muon)
    seen = np.zeros((len(ids), det.N_CHAMBERS), dtype=bool)
    slot = np.searchsorted(ids, muon)
    seen[slot, chamber] = True
    last = np.full(len(ids), -np.inf)
    np.maximum.at(last, slot, time_ns)
    full = seen.all(axis=1)
    bx = np.floor(last[full] / det.BX_NS) + rng.integers(1, 3, int(full.sum()))
    return bx * det.BX_NS + 0.1
