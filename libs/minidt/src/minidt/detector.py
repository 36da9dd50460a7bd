"""The miniDT telescope model (facts from docs/detector.md), numpy-vectorised.

Every function accepts scalars or arrays; scalars in give Python scalars out, arrays in give
arrays out, so the same code serves the simulator (one hit) and the reference (a batch).

Geometry convention used by ``wire_position_mm`` (the docs fix cell size and stagger but
not an origin, so this is ours):

* x: along the chamber's measuring direction, origin at the left edge of layers 2 and 4
  (rows ``1, 5, 9 ...`` and ``0, 4, 8 ...``). Wire of cell k in layers 2 and 4 sits at
  ``(k + 0.5) * 42`` mm; layers 1 and 3 (rows ``3, 7, 11 ...`` and ``2, 6, 10 ...``) are
  shifted by half a cell, +21 mm, at ``(k + 1.0) * 42`` mm. This is the direction of the
  course document's figures, and the only one in which the real sample's muon clusters
  fit straight lines (docs/detector.md; locked by a test on ``REAL_SAMPLE``).
* z: height above the floor. The chamber's reference height (CHAMBER_HEIGHTS_MM) is the
  bottom of layer 1; the wire of layer L (1 = bottom ... 4 = top) sits at
  ``height + (L - 0.5) * 13`` mm.
"""

from __future__ import annotations

from typing import Any

import numpy as np

N_CHAMBERS = 4
LAYERS = 4
CELLS_PER_LAYER = 16
CHANNELS_PER_CHAMBER = LAYERS * CELLS_PER_LAYER  # 64
CELL_WIDTH_MM = 42.0
CELL_HEIGHT_MM = 13.0
CHAMBER_HEIGHTS_MM = (219.8, 977.3, 1035.6, 1819.8)
DRIFT_VELOCITY_MM_PER_NS = 0.0538
MAX_DRIFT_MM = CELL_WIDTH_MM / 2
MAX_DRIFT_NS = MAX_DRIFT_MM / DRIFT_VELOCITY_MM_PER_NS  # ~390.3 ns: the "time box"
BX_PER_ORBIT = 3564
BX_NS = 25.0
TDC_PER_BX = 30
TDC_NS = BX_NS / TDC_PER_BX
HIT_HEAD = 2
SCINT_FPGA = 1
SCINT_CHANNEL = 128
SCINT_DELAY_NS = 95.0
T0_CORRECTION_NS = (
    SCINT_DELAY_NS - 1.1,
    SCINT_DELAY_NS + 6.4,
    SCINT_DELAY_NS + 0.5,
    SCINT_DELAY_NS - 2.6,
)  # index = chamber: (93.9, 101.4, 95.5, 92.4)

# channel % 4 -> layer number (1 = bottom ... 4 = top): 0 -> 4, 1 -> 2, 2 -> 3, 3 -> 1.
_LAYER_OF_MOD4 = np.array([4, 2, 3, 1], dtype=np.int64)
# layer number -> channel % 4 (index 0 unused).
_MOD4_OF_LAYER = np.array([-1, 3, 1, 2, 0], dtype=np.int64)
_T0 = np.array(T0_CORRECTION_NS, dtype=np.float64)
_HEIGHTS = np.array(CHAMBER_HEIGHTS_MM, dtype=np.float64)


def _out(result: np.ndarray, *inputs: Any) -> Any:
    """Python scalar when every input was a scalar, else the array."""
    if all(np.ndim(x) == 0 for x in inputs):
        return result.item()
    return result


def chamber_of(fpga: Any, channel: Any) -> Any:
    """Chamber 0-3 of a hit, or -1 when it is neither (scintillator, ch > 127, FPGA > 1).

    0 = FPGA 0 & ch 0-63; 1 = FPGA 0 & ch 64-127; 2 = FPGA 1 & ch 0-63; 3 = FPGA 1 & 64-127.
    """
    f = np.asarray(fpga, dtype=np.int64)
    c = np.asarray(channel, dtype=np.int64)
    valid = ((f == 0) | (f == 1)) & (c >= 0) & (c < 2 * CHANNELS_PER_CHAMBER)
    result = np.where(valid, 2 * f + c // CHANNELS_PER_CHAMBER, -1)
    return _out(result, fpga, channel)


def layer_of(channel: Any) -> Any:
    """Layer 1 (bottom) .. 4 (top) from the channel pattern: ``channel % 4`` 0 -> 4 (top),
    2 -> 3, 1 -> 2, 3 -> 1 (bottom)."""
    c = np.asarray(channel, dtype=np.int64)
    return _out(_LAYER_OF_MOD4[c % 4], channel)


def cell_of(channel: Any) -> Any:
    """Cell 0-15 within its layer: ``(channel % 64) // 4`` (raw channels 64-127 belong to
    the second chamber of the FPGA, so the chamber offset is removed first)."""
    c = np.asarray(channel, dtype=np.int64)
    return _out((c % CHANNELS_PER_CHAMBER) // 4, channel)


def channel_of(chamber: Any, layer: Any, cell: Any) -> Any:
    """Raw TDC_CHANNEL of a (chamber, layer 1-4, cell 0-15): the inverse of the above."""
    ch = np.asarray(chamber, dtype=np.int64)
    la = np.asarray(layer, dtype=np.int64)
    ce = np.asarray(cell, dtype=np.int64)
    if np.any((ch < 0) | (ch >= N_CHAMBERS)):
        raise ValueError(f"chamber must be 0-{N_CHAMBERS - 1}, got {chamber!r}")
    if np.any((la < 1) | (la > LAYERS)):
        raise ValueError(f"layer must be 1-{LAYERS}, got {layer!r}")
    if np.any((ce < 0) | (ce >= CELLS_PER_LAYER)):
        raise ValueError(f"cell must be 0-{CELLS_PER_LAYER - 1}, got {cell!r}")
    result = (ch % 2) * CHANNELS_PER_CHAMBER + 4 * ce + _MOD4_OF_LAYER[la]
    return _out(result, chamber, layer, cell)


def fpga_of(chamber: Any) -> Any:
    """The FPGA that reads a chamber (0 for chambers 0-1, 1 for 2-3)."""
    ch = np.asarray(chamber, dtype=np.int64)
    if np.any((ch < 0) | (ch >= N_CHAMBERS)):
        raise ValueError(f"chamber must be 0-{N_CHAMBERS - 1}, got {chamber!r}")
    return _out(ch // 2, chamber)


def wire_position_mm(chamber: Any, channel: Any) -> tuple[Any, Any]:
    """(x, z) of a channel's sense wire: x in the chamber frame, z above the floor.

    See the module docstring for the convention (layers 1 and 3 shifted by half a cell).
    ``channel`` is the raw TDC_CHANNEL (0-127; 64-127 for chambers 1 and 3 are accepted
    too, only ``channel % 64`` matters for the position).
    """
    ch = np.asarray(chamber, dtype=np.int64)
    c = np.asarray(channel, dtype=np.int64)
    if np.any((ch < 0) | (ch >= N_CHAMBERS)):
        raise ValueError(f"chamber must be 0-{N_CHAMBERS - 1}, got {chamber!r}")
    if np.any((c < 0) | (c >= 2 * CHANNELS_PER_CHAMBER)):
        raise ValueError(f"channel must be 0-{2 * CHANNELS_PER_CHAMBER - 1}, got {channel!r}")
    layer = _LAYER_OF_MOD4[c % 4]
    cell = (c % CHANNELS_PER_CHAMBER) // 4
    stagger = np.where(layer % 2 == 1, 0.5, 0.0)
    x = (cell + 0.5 + stagger) * CELL_WIDTH_MM
    z = _HEIGHTS[ch] + (layer - 0.5) * CELL_HEIGHT_MM
    return _out(x, chamber, channel), _out(z, chamber, channel)


def absolute_time_ns(orbit: Any, bx: Any, tdc: Any) -> Any:
    """``25 * (ORBIT_CNT * 3564 + BX_COUNTER + TDC_MEAS / 30)`` in float64.

    Good for display and ordering across orbits (resolution ~0.06 ns at 3.4e9 orbits), but
    never subtract two of them to get a drift time: use ``drift_time_ns`` which works within
    the orbit, so every implementation lands in the same histogram bins.
    """
    o = np.asarray(orbit, dtype=np.int64)
    b = np.asarray(bx, dtype=np.int64)
    t = np.asarray(tdc, dtype=np.float64)
    bx_total = o * BX_PER_ORBIT + b  # exact in int64
    result = BX_NS * (bx_total.astype(np.float64) + t / TDC_PER_BX)
    return _out(result, orbit, bx, tdc)


def time_in_orbit_tdc(bx: Any, tdc: Any) -> Any:
    """Time within the orbit in TDC units (``bx * 30 + tdc``): exact for integral values,
    the key that picks the earliest scintillator hit of an orbit."""
    result = np.asarray(bx, dtype=np.int64) * TDC_PER_BX + np.asarray(tdc, dtype=np.float64)
    return _out(result, bx, tdc)


def is_hit(head: Any) -> Any:
    """A detector hit (HEAD == 2); other HEAD values are ancillary words."""
    return _out(np.asarray(head) == HIT_HEAD, head)


def is_scintillator(head: Any, fpga: Any, channel: Any) -> Any:
    """Scintillator hit: HEAD == 2, FPGA == 1 and TDC_CHANNEL == 128."""
    result = (
        (np.asarray(head) == HIT_HEAD)
        & (np.asarray(fpga) == SCINT_FPGA)
        & (np.asarray(channel) == SCINT_CHANNEL)
    )
    return _out(result, head, fpga, channel)


def t0_correction_ns(chamber: Any) -> Any:
    """The chamber's scintillator delay correction (T0_CORRECTION_NS[chamber])."""
    ch = np.asarray(chamber, dtype=np.int64)
    if np.any((ch < 0) | (ch >= N_CHAMBERS)):
        raise ValueError(f"chamber must be 0-{N_CHAMBERS - 1}, got {chamber!r}")
    return _out(_T0[ch], chamber)


def drift_time_ns(bx_hit: Any, tdc_hit: Any, bx_scint: Any, tdc_scint: Any, chamber: Any) -> Any:
    """Drift time of a chamber hit relative to its orbit's (earliest) scintillator hit.

    Evaluated exactly as the contract states, in this order and in float64:
    ``25 * (bx_hit - bx_scint) + (tdc_hit - tdc_scint) * 25 / 30 + T0_CORRECTION_NS[chamber]``
    so that every implementation (numpy, Spark) puts each hit in the same 5 ns bin.
    """
    dbx = np.asarray(bx_hit, dtype=np.int64) - np.asarray(bx_scint, dtype=np.int64)
    dtdc = np.asarray(tdc_hit, dtype=np.float64) - np.asarray(tdc_scint, dtype=np.float64)
    result = BX_NS * dbx + dtdc * BX_NS / TDC_PER_BX + t0_correction_ns(np.asarray(chamber))
    return _out(np.asarray(result), bx_hit, tdc_hit, bx_scint, tdc_scint, chamber)
