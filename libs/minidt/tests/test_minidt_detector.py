"""Detector-model and binning tests, each derived from a fact stated in docs/detector.md."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from minidt import detector as d
from minidt.binning import DEFAULT_BINNING, Binning, fill, uniform_edges


def test_constants_from_the_docs() -> None:
    assert d.N_CHAMBERS == 4 and d.LAYERS == 4 and d.CELLS_PER_LAYER == 16
    assert d.CHANNELS_PER_CHAMBER == 64
    assert d.CHAMBER_HEIGHTS_MM == (219.8, 977.3, 1035.6, 1819.8)
    assert pytest.approx((93.9, 101.4, 95.5, 92.4)) == d.T0_CORRECTION_NS
    assert pytest.approx(21 / 0.0538) == d.MAX_DRIFT_NS
    assert 390 < d.MAX_DRIFT_NS < 391
    assert (d.BX_PER_ORBIT, d.BX_NS, d.TDC_PER_BX) == (3564, 25.0, 30)
    assert (d.SCINT_FPGA, d.SCINT_CHANNEL, d.SCINT_DELAY_NS) == (1, 128, 95.0)


@pytest.mark.parametrize(
    ("fpga", "channel", "chamber"),
    [
        (0, 0, 0),
        (0, 63, 0),
        (0, 64, 1),
        (0, 127, 1),
        (1, 0, 2),
        (1, 63, 2),
        (1, 64, 3),
        (1, 127, 3),
        (1, 128, -1),  # scintillator
        (0, 128, -1),
        (0, 138, -1),
        (1, 138, -1),
        *((f, 5, -1) for f in range(2, 8)),
    ],
)
def test_chamber_of(fpga: int, channel: int, chamber: int) -> None:
    assert d.chamber_of(fpga, channel) == chamber
    assert isinstance(d.chamber_of(fpga, channel), int)


def test_chamber_of_is_vectorised() -> None:
    fpga = np.repeat(np.arange(8), 200)
    channel = np.tile(np.arange(200), 8)
    got = d.chamber_of(fpga, channel)
    assert isinstance(got, np.ndarray)
    assert got.tolist() == [
        d.chamber_of(int(f), int(c)) for f, c in zip(fpga, channel, strict=True)
    ]


def test_channel_pattern_layers_and_cells() -> None:
    assert [d.layer_of(c) for c in (0, 4, 8)] == [4, 4, 4]  # top layer
    assert [d.layer_of(c) for c in (2, 6, 10)] == [3, 3, 3]
    assert [d.layer_of(c) for c in (1, 5, 9)] == [2, 2, 2]
    assert [d.layer_of(c) for c in (3, 7, 11)] == [1, 1, 1]  # bottom layer
    assert [d.cell_of(c) for c in (0, 3, 4, 63, 64, 68, 127)] == [0, 0, 1, 15, 0, 1, 15]
    assert d.layer_of(np.arange(128)).tolist() == [[4, 2, 3, 1][c % 4] for c in range(128)]


def test_channel_of_inverts_layer_and_cell() -> None:
    for chamber in range(4):
        seen = set()
        for layer, cell in itertools.product(range(1, 5), range(16)):
            ch = d.channel_of(chamber, layer, cell)
            assert d.chamber_of(d.fpga_of(chamber), ch) == chamber
            assert d.layer_of(ch) == layer and d.cell_of(ch) == cell
            seen.add(ch)
        assert len(seen) == 64
    with pytest.raises(ValueError, match="layer"):
        d.channel_of(0, 5, 0)


def test_wire_positions_follow_cell_size_and_stagger() -> None:
    for chamber in range(4):
        positions = {}
        for layer, cell in itertools.product(range(1, 5), range(16)):
            x, z = d.wire_position_mm(chamber, d.channel_of(chamber, layer, cell))
            positions[layer, cell] = (x, z)
        assert len(set(positions.values())) == 64
        for layer in range(1, 5):
            xs = [positions[layer, c][0] for c in range(16)]
            assert np.allclose(np.diff(xs), 42.0)  # cells are 42 mm wide
            zs = {positions[layer, c][1] for c in range(16)}
            assert len(zs) == 1
        for layer in range(1, 4):  # adjacent layers: 13 mm apart, staggered by half a cell
            x_lo, z_lo = positions[layer, 0]
            x_hi, z_hi = positions[layer + 1, 0]
            assert z_hi - z_lo == pytest.approx(13.0)
            assert abs(x_hi - x_lo) == pytest.approx(21.0)
        assert positions[1, 0] == pytest.approx((42.0, d.CHAMBER_HEIGHTS_MM[chamber] + 6.5))
        assert positions[2, 0][0] == pytest.approx(21.0)
    x, z = d.wire_position_mm(np.array([0, 3]), np.array([3, 64 + 3]))
    assert x.tolist() == [42.0, 42.0]  # bottom layer: a shifted row
    with pytest.raises(ValueError, match="channel"):
        d.wire_position_mm(0, 128)


def test_absolute_time_and_scintillator() -> None:
    t = d.absolute_time_ns(3387200947, 2922, 2)
    assert t == pytest.approx(25 * (3387200947 * 3564 + 2922 + 2 / 30), rel=1e-15)
    assert d.is_scintillator(2, 1, 128) is True
    assert d.is_scintillator(1, 1, 128) is False  # ancillary word, not a hit
    assert d.is_scintillator(2, 0, 128) is False
    assert d.is_scintillator(2, 1, 138) is False


def test_drift_time_formula() -> None:
    # 25 * (10 - 8) + (15 - 3) * 25 / 30 + T0[2] = 50 + 10 + 95.5
    assert d.drift_time_ns(10, 15, 8, 3, 2) == pytest.approx(155.5)
    got = d.drift_time_ns(np.array([10, 8]), np.array([15.0, 3.0]), 8, 3.0, np.array([2, 0]))
    assert got.tolist() == pytest.approx([155.5, 93.9])


def test_default_binning() -> None:
    b = DEFAULT_BINNING
    assert b.occupancy_edges(0)[0] == 0 and b.occupancy_edges(0)[-1] == 64
    assert b.occupancy_edges(2) == b.occupancy_edges(0)
    assert b.occupancy_edges(1)[0] == 64 and b.occupancy_edges(3)[-1] == 128
    assert all(len(b.occupancy_edges(c)) == 65 for c in range(4))
    assert b.orbit_multiplicity == tuple(float(x) for x in range(1, 66))
    assert len(b.drift_time_ns) == 201
    assert b.drift_time_ns[0] == -200.0 and b.drift_time_ns[-1] == 800.0
    assert b.drift_time_ns[41] == 5.0
    with pytest.raises(ValueError, match="strictly increasing"):
        Binning(drift_time_ns=(0.0, 0.0))
    with pytest.raises(ValueError, match="multiple"):
        uniform_edges(0.0, 7.0, 5.0)


def test_fill_is_half_open_and_counts_outside() -> None:
    h = fill([0.5, 1.0, 1.5, 2.0, 3.0, -1.0, float("nan")], (0.0, 1.0, 2.0, 3.0))
    assert h == {
        "bin_edges": [0.0, 1.0, 2.0, 3.0],
        "bin_counts": [1, 2, 1],
        "underflow": 1,
        "overflow": 2,  # 3.0 sits on the last edge; NaN is overflow too
    }
    empty = fill([], (0.0, 1.0))
    assert empty["bin_counts"] == [0] and empty["underflow"] == empty["overflow"] == 0


def test_integral_drift_times_stay_clear_of_5ns_edges() -> None:
    """Why every implementation bins drift times identically: with integral TDC values a
    drift time is never within float rounding of a multiple of 5 ns (closest: 0.1 ns)."""
    dbx = np.arange(-200, 200)[:, None, None]
    dtdc = np.arange(-31, 32, dtype=np.float64)[None, :, None]
    chamber = np.arange(4)[None, None, :]
    v = d.drift_time_ns(dbx, dtdc, 0, 0.0, chamber)
    distance = np.abs(v / 5 - np.round(v / 5)) * 5
    assert distance.min() > 0.09
