"""The cell map layout is minidt's geometry: 4 layers x 16 cells, rows 2 and 3 mod 4 shifted."""

from __future__ import annotations

import numpy as np
import pytest

from minidt import detector as det
from minidt.dqm.cells import cell_layout


@pytest.mark.parametrize("chamber", range(det.N_CHAMBERS))
def test_layout_follows_the_detector_model(chamber: int) -> None:
    lay = cell_layout(chamber)
    assert lay.channel.tolist() == list(range(64 * (chamber % 2), 64 * (chamber % 2) + 64))
    x, _ = det.wire_position_mm(np.full(64, chamber), lay.channel)
    assert np.array_equal(lay.x_mm, x)
    assert sorted(set(lay.layer.tolist())) == [1, 2, 3, 4]
    for layer in range(1, 5):
        assert sorted(lay.cell[lay.layer == layer].tolist()) == list(range(16))
    # Layer heights inside the chamber: bottom layer lowest, 13 mm apart.
    heights = {int(la): float(z) for la, z in zip(lay.layer, lay.z_mm, strict=True)}
    assert [heights[la] for la in (1, 2, 3, 4)] == [6.5, 19.5, 32.5, 45.5]


def test_stagger_rows_2_and_3_mod_4_are_shifted_by_half_a_cell() -> None:
    """docs/detector.md: rows 2, 6, 10 ... and 3, 7, 11 ... sit +21 mm from 0, 4, ... and
    1, 5, ..."""
    lay = cell_layout(0)
    by_mod = {m: lay.x_mm[lay.channel % 4 == m] for m in range(4)}
    assert np.array_equal(by_mod[0], by_mod[1])
    assert np.array_equal(by_mod[2], by_mod[3])
    assert np.allclose(by_mod[2] - by_mod[0], 21.0)
