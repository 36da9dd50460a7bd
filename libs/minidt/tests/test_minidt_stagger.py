"""The layer stagger, locked by real muons: clusters in the real sample that cross all four
layers of a chamber fit a straight line with ``wire_position_mm``'s stagger and not with its
mirror image (docs/detector.md, "Stagger direction").

A cluster is one orbit's hits in one chamber, one hit per layer. Its track is fitted with the
unknown t0 scanned over the time box and every left/right choice: the drift distance of hit i
is ``v * (t_i - t0)``, in [0, 21] mm, and the best straight line through the four drift
points gives an RMS residual. Three-layer clusters are not used: three points and three
unknowns (t0, offset, slope) fit any stagger.
"""

from __future__ import annotations

import csv
import itertools
from collections import defaultdict

import numpy as np

from minidt import detector as d
from minidt.samples import REAL_SAMPLE


def _four_layer_clusters() -> list[list[tuple[int, int, float]]]:
    """(chamber, channel, time in orbit ns) per hit, for clusters with one hit per layer."""
    clusters: dict[tuple[int, int], list[tuple[int, int, float]]] = defaultdict(list)
    with REAL_SAMPLE.open() as fh:
        for r in csv.DictReader(fh):
            if int(r["HEAD"]) != d.HIT_HEAD:
                continue
            chamber = d.chamber_of(int(r["FPGA"]), int(r["TDC_CHANNEL"]))
            if chamber < 0:
                continue
            t = int(r["BX_COUNTER"]) * d.BX_NS + float(r["TDC_MEAS"]) * d.TDC_NS
            clusters[int(r["ORBIT_CNT"]), chamber].append((chamber, int(r["TDC_CHANNEL"]), t))
    return [
        hits
        for hits in clusters.values()
        if len(hits) == d.LAYERS and len({d.layer_of(c) for _, c, _ in hits}) == d.LAYERS
    ]


def _best_rms_mm(x_wire: np.ndarray, z: np.ndarray, t: np.ndarray) -> float:
    """Smallest RMS residual of a straight line through the drift points, over t0 and the
    left/right ambiguity."""
    design = np.vstack([np.ones_like(z), z]).T
    projector = design @ np.linalg.pinv(design)
    best = np.inf
    for t0 in np.arange(t.max() - d.MAX_DRIFT_NS, t.min() + 0.5, 0.5):
        drift = d.DRIFT_VELOCITY_MM_PER_NS * (t - t0)
        for sides in itertools.product((-1.0, 1.0), repeat=len(t)):
            x = x_wire + np.asarray(sides) * drift
            best = min(best, float(np.sqrt(np.mean((x - projector @ x) ** 2))))
    return best


def test_real_muon_clusters_fit_only_the_documented_stagger() -> None:
    clusters = _four_layer_clusters()
    assert len(clusters) >= 8, "the sample holds at least 8 four-layer muon clusters"
    for hits in clusters:
        chamber = np.array([h[0] for h in hits])
        channel = np.array([h[1] for h in hits])
        t = np.array([h[2] for h in hits])
        x, z = d.wire_position_mm(chamber, channel)
        mirrored = x + np.where(d.layer_of(channel) % 2 == 1, -0.5, 0.5) * d.CELL_WIDTH_MM
        assert _best_rms_mm(x, z, t) < 4.0, f"the documented stagger fails {hits}"
        assert _best_rms_mm(mirrored, z, t) > 7.0, f"the mirror image also fits {hits}"


def test_shifted_rows_are_the_third_and_bottom_layers() -> None:
    for chamber in range(d.N_CHAMBERS):
        base = 64 * (chamber % 2)
        x = {c: d.wire_position_mm(chamber, base + c)[0] for c in range(8)}
        assert x[2] - x[0] == 21.0 and x[3] - x[1] == 21.0  # rows 2, 6 ... and 3, 7 ...
        assert x[0] == x[1] == 21.0 and x[4] == 63.0
