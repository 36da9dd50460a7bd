"""Where each channel's cell sits in its chamber, for cell maps: 4 layers x 16 staggered cells.

Only minidt.detector's functions are used (``layer_of``, ``cell_of``, ``wire_position_mm``),
so a map drawn from this layout follows the detector model, stagger included, and cannot
disagree with the simulator or the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minidt import detector as det


@dataclass(frozen=True)
class CellLayout:
    """Per channel index ``channel % 64`` of one chamber (arrays of length 64)."""

    chamber: int
    channel: np.ndarray
    """Raw TDC_CHANNEL (0-63 for chambers 0 and 2, 64-127 for 1 and 3)."""
    layer: np.ndarray
    """1 (bottom) .. 4 (top)."""
    cell: np.ndarray
    x_mm: np.ndarray
    """Wire position along the measured axis (the cell spans x +- 21 mm)."""
    z_mm: np.ndarray
    """Wire height within the chamber (above its reference plane)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "chamber": self.chamber,
            "channel": self.channel.tolist(),
            "layer": self.layer.tolist(),
            "cell": self.cell.tolist(),
            "x_mm": self.x_mm.tolist(),
            "z_mm": self.z_mm.tolist(),
            "cell_width_mm": det.CELL_WIDTH_MM,
            "cell_height_mm": det.CELL_HEIGHT_MM,
        }


def cell_layout(chamber: int) -> CellLayout:
    """The layout of `chamber`'s 64 channels, in channel order."""
    channel = (chamber % 2) * det.CHANNELS_PER_CHAMBER + np.arange(det.CHANNELS_PER_CHAMBER)
    x, z = det.wire_position_mm(np.full_like(channel, chamber), channel)
    return CellLayout(
        chamber=chamber,
        channel=channel,
        layer=np.asarray(det.layer_of(channel)),
        cell=np.asarray(det.cell_of(channel)),
        x_mm=np.asarray(x, dtype=np.float64),
        z_mm=np.asarray(z, dtype=np.float64) - det.CHAMBER_HEIGHTS_MM[chamber],
    )
