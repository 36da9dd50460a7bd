"""The DAQ clock and text: times in ns -> ORBIT_CNT, BX_COUNTER, TDC_MEAS, and CSV lines.

Absolute time is 25 * (ORBIT_CNT * 3564 + BX_COUNTER + TDC_MEAS / 30) ns (minidt.detector);
the simulator inverts it. TDC_MEAS of hits is 1..30 as in the real files (the fine count of
the 25 ns bunch crossing plus one), so differences between two hits are unaffected.
"""

from __future__ import annotations

import numpy as np

from minidt import detector as det
from minidt.codecs import Hits

ORBIT_NS = det.BX_PER_ORBIT * det.BX_NS
ORBIT_WRAP = 1 << 32
"""ORBIT_CNT is a 32-bit counter in the DAQ words (bits 17-48): it wraps, as it does (resets)
inside the real files."""

FRACTIONAL_HEADS = (4, 5)
"""Ancillary words whose TDC_MEAS is printed with six decimals, like the real files."""


def quantise(time_ns: np.ndarray, first_orbit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(orbit, bx, tdc) for times in ns counted from the start of orbit `first_orbit`."""
    total_bx = np.asarray(time_ns, dtype=np.float64) / det.BX_NS
    whole_bx = np.floor(total_bx)
    tdc = np.minimum(np.floor((total_bx - whole_bx) * det.TDC_PER_BX), det.TDC_PER_BX - 1) + 1
    whole_bx = whole_bx.astype(np.int64)
    orbit_off = np.floor_divide(whole_bx, det.BX_PER_ORBIT)
    bx = whole_bx - orbit_off * det.BX_PER_ORBIT
    orbit = (first_orbit + orbit_off) % ORBIT_WRAP
    return orbit, bx, tdc


def format_lines(hits: Hits) -> list[bytes]:
    """CSV lines as the real files write them: integers, except six decimals for HEAD 4/5.

    One str join + encode + split keeps the per-record cost at a single f-string.
    """
    n = len(hits)
    if n == 0:
        return []
    frac = np.isin(hits.head, FRACTIONAL_HEADS)
    tdc_text: list[str] = [str(v) for v in hits.tdc.astype(np.int64).tolist()]
    for i, v in zip(np.flatnonzero(frac).tolist(), hits.tdc[frac].tolist(), strict=True):
        tdc_text[i] = f"{v:.6f}"
    text = "\n".join(
        f"{h},{f},{c},{o},{b},{t}"
        for h, f, c, o, b, t in zip(
            hits.head.tolist(),
            hits.fpga.tolist(),
            hits.channel.tolist(),
            hits.orbit.tolist(),
            hits.bx.tolist(),
            tdc_text,
            strict=True,
        )
    )
    return text.encode("ascii").split(b"\n")
