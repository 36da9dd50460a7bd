"""The DAQ's ancillary words (HEAD 0, 1, 3, 4, 5), which make up about half of the real rows.

They carry no physics (the processor drops them) but they travel through the stream, so the
simulator mimics them: groups of five words 3, 1, 0, 4, 5 from one FPGA, with orbit counters
running ahead of the hits' (as in the real files) and the value ranges seen in the sample:
HEAD 3 with BX_COUNTER up to ~35,000; HEAD 1 with even TDC_MEAS 2-170; HEAD 0 with a small
channel, BX 0-3563 and TDC 1-30; HEAD 4/5 with fractional, possibly negative TDC_MEAS.
"""

from __future__ import annotations

import numpy as np

from minidt import detector as det

GROUP_HEADS = np.array([3, 1, 0, 4, 5], dtype=np.int64)
HITS_PER_GROUP = 5.0
"""One group of five words per five hits on average: ancillary words are ~half the rows."""

ORBIT_LEAD = (138_400, 114_500)
"""Per FPGA, how far the ancillary words' orbit counter runs ahead of the hits' (real sample)."""


def ancillary_groups(
    rng: np.random.Generator, n_groups: int, hit_orbit: np.ndarray
) -> dict[str, np.ndarray]:
    """Columns of n_groups * 5 words; `hit_orbit` is the hits' orbit where each group goes."""
    g = n_groups
    fpga = rng.integers(0, 2, g)
    lead = np.asarray(ORBIT_LEAD)[fpga] + rng.integers(0, 2000, g)
    orbit = np.repeat((hit_orbit + lead) % (1 << 32), 5)
    head = np.tile(GROUP_HEADS, g)
    channel = np.zeros((g, 5), dtype=np.int64)
    bx = np.zeros((g, 5), dtype=np.int64)
    tdc = np.zeros((g, 5), dtype=np.float64)
    # HEAD 3: a large counter in BX_COUNTER, TDC 0.
    bx[:, 0] = rng.integers(200, 35_000, g)
    # HEAD 1: even values 2..170 in TDC_MEAS.
    tdc[:, 1] = 2 * rng.integers(1, 86, g)
    # HEAD 0: a small channel (mostly 1), an in-orbit BX and a TDC fine count.
    channel[:, 2] = np.where(rng.random(g) < 0.4, 1, rng.integers(0, 32, g))
    bx[:, 2] = rng.integers(0, det.BX_PER_ORBIT, g)
    tdc[:, 2] = rng.integers(1, det.TDC_PER_BX + 1, g)
    # HEAD 4: small signed values in steps of 1/2048; HEAD 5: -70..90 in steps of 1/64.
    tdc[:, 3] = np.round(np.clip(rng.normal(-0.3, 0.45, g), -1.5, 1.7) * 2048) / 2048
    tdc[:, 4] = np.round(rng.uniform(-70.0, 90.0, g) * 64) / 64
    return {
        "head": head,
        "fpga": np.repeat(fpga, 5),
        "channel": channel.reshape(-1),
        "orbit": orbit,
        "bx": bx.reshape(-1),
        "tdc": tdc.reshape(-1),
    }
