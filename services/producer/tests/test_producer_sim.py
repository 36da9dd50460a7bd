"""The simulator against the real sample and against physics: shares, ranges, multiplicities,
the drift-time box found by the minidt reference, determinism, and the text round trip."""

from __future__ import annotations

import numpy as np

from dtmon_producer.sim.simulator import Simulator
from minidt import detector as det
from minidt.codecs import Hits, parse_csv
from minidt.reference import compute_quantities
from services.producer.tests.producer_helpers import SAMPLE
from services.producer.tests.producer_sim_stats import drift_edges, stream_stats


def _real() -> Hits:
    result = parse_csv(SAMPLE.read_bytes())
    assert result.malformed == 0
    return result.hits


def _sim_text(seed: int, windows: int, **kwargs: float) -> bytes:
    sim = Simulator(seed=seed, **kwargs)
    return b"\n".join(line for _ in range(windows) for line in sim.next_lines())


def test_sim_text_parses_back_without_a_malformed_line() -> None:
    text = _sim_text(seed=11, windows=5)
    result = parse_csv(text)
    assert result.malformed == 0
    assert len(result.hits) == text.count(b"\n") + 1 > 20_000


def test_sim_matches_the_real_sample_in_shares_ranges_and_multiplicity() -> None:
    real, sim = _real(), parse_csv(_sim_text(seed=5, windows=20)).hits
    rs, ss = stream_stats(real), stream_stats(sim)

    # HEAD shares: hits about half, each ancillary HEAD about a tenth, as in the sample.
    assert set(ss.head_share) == set(rs.head_share) == {0, 1, 2, 3, 4, 5}
    for head, share in rs.head_share.items():
        assert abs(ss.head_share[head] - share) < 0.04, (head, ss.head_share[head], share)

    # Hits per orbit: median 1 and a muon tail, like the sample (mean 1.62, 78% single).
    assert ss.hits_per_orbit_median == rs.hits_per_orbit_median == 1.0
    assert 1.3 < ss.hits_per_orbit_mean < 2.3
    assert abs(ss.hits_per_orbit_single - rs.hits_per_orbit_single) < 0.1

    # Value ranges, per kind of word, against the sample's.
    def col(h: Hits, head: int, name: str) -> np.ndarray:
        return getattr(h, name)[h.head == head]

    for h in (real, sim):
        tdc = col(h, 2, "tdc")
        assert tdc.min() >= 0 and tdc.max() <= 30 and np.all(tdc == np.round(tdc))
        assert col(h, 2, "bx").max() < det.BX_PER_ORBIT
        assert col(h, 3, "bx").max() > det.BX_PER_ORBIT  # ancillary BX goes far beyond
        assert col(h, 3, "bx").max() <= 35_000
        frac = np.concatenate([col(h, 4, "tdc"), col(h, 5, "tdc")])
        assert np.any(frac != np.round(frac)) and np.any(frac < 0)
        assert col(h, 1, "tdc").max() <= 170
        assert h.orbit.max() > 2**31  # needs 64-bit integers downstream
    hits = sim.select(sim.head == 2)
    # Sample's orbit counters start at ~3.387e9; the simulator's too.
    assert abs(int(np.median(hits.orbit)) - 3.3872e9) < 1e6
    # Both FPGAs, all four chambers, the scintillator and a few stray channels.
    chambers = det.chamber_of(hits.fpga, hits.channel)
    assert set(np.unique(chambers).tolist()) == {-1, 0, 1, 2, 3}
    assert np.any(det.is_scintillator(hits.head, hits.fpga, hits.channel))
    assert np.any(hits.channel > det.SCINT_CHANNEL)


def test_sim_occupancy_is_a_telescope_profile_with_bursting_channels() -> None:
    sim = parse_csv(_sim_text(seed=8, windows=20)).hits
    q = compute_quantities(sim)
    for chamber, occ in enumerate(q["occupancy"]):
        counts = np.asarray(occ["bin_counts"])
        assert len(counts) == det.CHANNELS_PER_CHAMBER
        assert np.all(counts > 0), f"chamber {chamber} has dead channels"
    # Noisy channels burst (real: 32 hits of one channel within 1.8 ms): some channel fires
    # 20 times within 5 ms somewhere, which steady noise (~10 Hz a channel) never does.
    hits = sim.select(sim.head == 2)
    t = det.absolute_time_ns(hits.orbit, hits.bx, hits.tdc)
    key = hits.fpga * 1000 + hits.channel
    bursts = 0
    for k in np.unique(key):
        times = np.sort(t[key == k])
        if len(times) > 20 and np.min(times[20:] - times[:-20]) < 5e6:
            bursts += 1
    assert bursts >= 3
    # Muons cross the top chambers more often than chamber 0 at the bottom (acceptance).
    per_chamber = q["hits_per_chamber"]
    assert per_chamber[3] > per_chamber[0]


def test_minidt_reference_finds_the_drift_time_box_of_the_sim_stream() -> None:
    # Ten times the muon rate gives the statistics of a long run in a few hundred thousand rows.
    sim = Simulator(seed=21, muon_rate=10 * Simulator(seed=0).muon_rate)
    hits = parse_csv(b"\n".join(line for _ in range(40) for line in sim.next_lines())).hits
    edges = drift_edges(hits)
    for chamber, (rising, falling) in enumerate(edges):
        assert abs(rising - 0.0) < 15.0, (chamber, rising)
        assert abs(falling - det.MAX_DRIFT_NS) < 15.0, (chamber, falling)


def test_sim_is_deterministic_under_a_seed() -> None:
    assert _sim_text(seed=3, windows=2) == _sim_text(seed=3, windows=2)
    assert _sim_text(seed=3, windows=2) != _sim_text(seed=4, windows=2)
