"""Statistics that compare a stream with the real sample: shared by the realism tests.

Kept in a helper module (not a test file) so the benchmark-free calibration numbers quoted
in the README come from the same code the tests assert on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minidt.codecs import Hits
from minidt.reference import compute_quantities


@dataclass(frozen=True)
class StreamStats:
    rows: int
    head_share: dict[int, float]
    hits_per_orbit_median: float
    hits_per_orbit_mean: float
    hits_per_orbit_single: float  # share of hit orbits with exactly one hit


def stream_stats(hits: Hits) -> StreamStats:
    n = len(hits)
    heads, counts = np.unique(hits.head, return_counts=True)
    share = {int(h): float(c) / n for h, c in zip(heads, counts, strict=True)}
    orbit = hits.orbit[hits.head == 2]
    _, per_orbit = np.unique(orbit, return_counts=True)
    return StreamStats(
        rows=n,
        head_share=share,
        hits_per_orbit_median=float(np.median(per_orbit)),
        hits_per_orbit_mean=float(per_orbit.mean()),
        hits_per_orbit_single=float(np.mean(per_orbit == 1)),
    )


def half_height_edges(
    edges: np.ndarray, counts: np.ndarray, plateau: tuple[float, float]
) -> tuple[float, float]:
    """Rising and falling edge of a box histogram: where it crosses half its plateau height.

    The plateau height is the median bin count between `plateau` (ns); crossings are
    linearly interpolated between bin centres.
    """
    centres = (edges[:-1] + edges[1:]) / 2
    inner = (centres > plateau[0]) & (centres < plateau[1])
    half = float(np.median(counts[inner])) / 2
    above = np.flatnonzero(counts >= half)
    first, last = int(above[0]), int(above[-1])

    def cross(i_lo: int, i_hi: int) -> float:
        c_lo, c_hi = float(counts[i_lo]), float(counts[i_hi])
        if c_hi == c_lo:
            return float(centres[i_lo])
        return float(
            centres[i_lo] + (half - c_lo) / (c_hi - c_lo) * (centres[i_hi] - centres[i_lo])
        )

    rising = cross(first - 1, first)
    falling = cross(last, last + 1)
    return rising, falling


def drift_edges(hits: Hits) -> list[tuple[float, float]]:
    """Per chamber (rising, falling) edges of the minidt reference drift-time histogram."""
    q = compute_quantities(hits)
    out = []
    for h in q["drift_time_ns"]:
        edges = np.asarray(h["bin_edges"], dtype=float)
        counts = np.asarray(h["bin_counts"], dtype=float)
        out.append(half_height_edges(edges, counts, (60.0, 330.0)))
    return out
