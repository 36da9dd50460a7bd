"""Histogram edges shared by every producer of dtmon.batch.v1 quantities.

Fixed edges (rather than data-driven ones) are what make batches mergeable bin by bin and
let the numpy reference and Spark be compared exactly. Bins are half-open ``[low, high)``
for every bin, the last one included: a value equal to the last edge is overflow (numpy's
``histogram`` would close the last bin; ``fill`` does not). No reachable value sits on a
last edge with the defaults: multiplicities are at most 64 < 65, occupancy channels stay
inside their chamber's range, and drift times from integral TDC values are never a
multiple of 5 ns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from minidt.detector import CHANNELS_PER_CHAMBER, N_CHAMBERS


def unit_edges(low: int, high: int) -> tuple[float, ...]:
    """Edges of unit-width bins covering [low, high)."""
    return tuple(float(x) for x in range(low, high + 1))


def uniform_edges(low: float, high: float, width: float) -> tuple[float, ...]:
    """Edges ``low, low + width, ..., high`` computed as ``low + i * width`` (no drift from
    repeated addition), so every implementation gets the very same floats."""
    n = round((high - low) / width)
    if n <= 0 or not np.isclose(low + n * width, high):
        raise ValueError(f"({high} - {low}) is not a positive multiple of {width}")
    return tuple(float(low + i * width) for i in range(n + 1))


def default_occupancy_edges(chamber: int) -> tuple[float, ...]:
    """Unit bins over the chamber's raw TDC_CHANNEL range: 0-64 for chambers 0 and 2,
    64-128 for chambers 1 and 3."""
    low = (chamber % 2) * CHANNELS_PER_CHAMBER
    return unit_edges(low, low + CHANNELS_PER_CHAMBER)


DEFAULT_ORBIT_MULTIPLICITY_EDGES = unit_edges(1, 65)  # 1..64 distinct channels
DEFAULT_DRIFT_EDGES = uniform_edges(-200.0, 800.0, 5.0)  # 5 ns bins


@dataclass(frozen=True)
class Binning:
    """The edges of every histogram in a v1 message (per-chamber where they differ)."""

    occupancy: tuple[tuple[float, ...], ...] = field(
        default_factory=lambda: tuple(default_occupancy_edges(c) for c in range(N_CHAMBERS))
    )
    orbit_multiplicity: tuple[float, ...] = DEFAULT_ORBIT_MULTIPLICITY_EDGES
    drift_time_ns: tuple[float, ...] = DEFAULT_DRIFT_EDGES

    def __post_init__(self) -> None:
        if len(self.occupancy) != N_CHAMBERS:
            raise ValueError(f"occupancy needs {N_CHAMBERS} edge lists, got {len(self.occupancy)}")
        named = [(f"occupancy[{c}]", e) for c, e in enumerate(self.occupancy)]
        named += [("orbit_multiplicity", self.orbit_multiplicity)]
        named += [("drift_time_ns", self.drift_time_ns)]
        for name, edges in named:
            if len(edges) < 2 or any(b <= a for a, b in pairwise(edges)):
                raise ValueError(f"{name} edges must be at least 2 strictly increasing values")

    def occupancy_edges(self, chamber: int) -> tuple[float, ...]:
        return self.occupancy[chamber]


DEFAULT_BINNING = Binning()


def fill(values: Any, edges: tuple[float, ...] | np.ndarray) -> dict[str, Any]:
    """Histogram ``values`` into ``[low, high)`` bins; return the contract's H dict.

    Values below the first edge are underflow, values at or above the last edge (and NaN)
    are overflow, so ``sum(bin_counts) + underflow + overflow == len(values)`` always.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    e = np.asarray(edges, dtype=np.float64)
    nbins = len(e) - 1
    idx = np.searchsorted(e, v, side="right") - 1  # NaN sorts last -> overflow
    under = int(np.count_nonzero(idx < 0))
    over = int(np.count_nonzero(idx >= nbins))
    inside = idx[(idx >= 0) & (idx < nbins)]
    counts = np.bincount(inside, minlength=nbins)
    return {
        "bin_edges": [float(x) for x in e],
        "bin_counts": [int(x) for x in counts],
        "underflow": under,
        "overflow": over,
    }
