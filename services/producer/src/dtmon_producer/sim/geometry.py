"""Wire positions of the telescope as arrays, built from minidt.detector.

minidt.detector owns the facts and the frame convention (chamber heights, cell size, the
channel numbering, the half-cell stagger of layers 1 and 3, `wire_position_mm`). What it
leaves open is modelled here and named: which chamber is rotated, how long the wires are,
and how wide the trigger scintillators are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minidt import detector as det

MEASURES_Y: tuple[bool, ...] = (False, True, False, False)
"""Chamber 1 is rotated by 90 degrees: its wires run along x and it measures y."""

FOOTPRINT_MM = det.CELLS_PER_LAYER * det.CELL_WIDTH_MM + det.CELL_WIDTH_MM / 2
"""Side of a chamber's square footprint: 16 cells plus the half-cell stagger, and (our
model) the same sensitive wire length, so all four chambers cover the same square."""

_CHAMBER_DEPTH_MM = det.LAYERS * det.CELL_HEIGHT_MM
SCINT_PLANES_Z_MM = (
    (det.CHAMBER_HEIGHTS_MM[0] + _CHAMBER_DEPTH_MM + det.CHAMBER_HEIGHTS_MM[1]) / 2,
    (det.CHAMBER_HEIGHTS_MM[2] + _CHAMBER_DEPTH_MM + det.CHAMBER_HEIGHTS_MM[3]) / 2,
)
"""The two trigger scintillators where the course document draws them: inside the stack,
one between chambers 1 and 0 and one between chambers 3 and 2 (half way between the chambers'
faces: a schematic, not a survey). A t0 needs a muon through both (a coincidence)."""

SCINT_WIDTH_MM = FOOTPRINT_MM / 4
"""Each scintillator covers about a quarter of the chamber width, centred, along the measured
coordinate of chambers 0, 2 and 3 (x), and the whole footprint along y: the trigger rate
follows from this acceptance."""

GENERATION_Z_MM = det.CHAMBER_HEIGHTS_MM[3] + _CHAMBER_DEPTH_MM + 50.0
"""Muons are generated on a horizontal plane just above the top chamber."""


@dataclass(frozen=True)
class Telescope:
    """Per chamber c, layer index l (0 = bottom), cell k: wire position and raw channel."""

    layer_z: np.ndarray  # (chambers, layers) mm above the floor, at the wires
    cell_edge: np.ndarray  # (chambers, layers) mm, left edge of cell 0 on the measured axis
    channel: np.ndarray  # (chambers, layers, cells) raw TDC_CHANNEL
    fpga: np.ndarray  # (chambers,) the FPGA reading each chamber
    measures_y: np.ndarray  # (chambers,) bool
    footprint_mm: float


def build_telescope() -> Telescope:
    """Evaluate minidt's geometry functions once for every wire."""
    chamber, layer, cell = np.meshgrid(
        np.arange(det.N_CHAMBERS),
        np.arange(1, det.LAYERS + 1),
        np.arange(det.CELLS_PER_LAYER),
        indexing="ij",
    )
    channel = det.channel_of(chamber, layer, cell)
    wire_x, wire_z = det.wire_position_mm(chamber, channel)
    return Telescope(
        layer_z=wire_z[:, :, 0],
        cell_edge=wire_x[:, :, 0] - det.CELL_WIDTH_MM / 2,
        channel=channel,
        fpga=det.fpga_of(np.arange(det.N_CHAMBERS)),
        measures_y=np.asarray(MEASURES_Y),
        footprint_mm=FOOTPRINT_MM,
    )
