"""Independent numpy reference for the six per-batch quantities (detector.md).

Written for clarity, with no code shared with the Spark processor, so the two can check
each other: whole-column numpy operations (masks, lexsort, unique, bincount), a loop over
the four chambers at most, never a Python loop over rows. A 1M-row batch takes about a
second on one core.

Definitions, in the order of the contract:
1. ``hits``: records with HEAD == 2 (any FPGA/channel, scintillator included).
2. ``hits_per_chamber``: hits whose (FPGA, channel) maps to chamber 0-3.
3. ``occupancy``: per chamber, counts of each raw TDC_CHANNEL.
4. ``orbit_multiplicity``: per chamber, over orbits with >= 1 hit in that chamber, the
   number of DISTINCT channels of that chamber active in the orbit.
5. ``scint_occupancy``: occupancy using only orbits containing a scintillator hit.
6. ``drift_time_ns``: for each chamber hit in such an orbit, the drift time relative to the
   orbit's EARLIEST scintillator hit (one per orbit, so nothing is duplicated when an orbit
   has several), computed within the orbit (``detector.drift_time_ns``).
Orbits are keyed by the 64-bit ORBIT_CNT alone. ``orbit_span``: distinct orbits sorted, split
where consecutive ones are more than ``COUNTER_RESET_GAP`` apart (a counter reset), and the
(last - first + 1) of each piece summed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidt.binning import DEFAULT_BINNING, Binning, fill
from minidt.codecs import Hits
from minidt.contract import SCHEMA_ID, BatchResult
from minidt.detector import (
    N_CHAMBERS,
    chamber_of,
    drift_time_ns,
    is_hit,
    is_scintillator,
    time_in_orbit_tdc,
)

COUNTER_RESET_GAP = 1 << 20
"""Orbits: a larger jump between consecutive distinct orbits starts a new counter segment."""

QUANTITY_FIELDS = (
    "hits",
    "hits_per_chamber",
    "scintillator_hits",
    "orbits",
    "scintillator_orbits",
    "occupancy",
    "orbit_multiplicity",
    "scint_occupancy",
    "drift_time_ns",
)


def _distinct_channels_per_orbit(orbit: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """For each orbit present, how many distinct channels fired (order irrelevant)."""
    if len(orbit) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((channel, orbit))
    o, c = orbit[order], channel[order]
    new_pair = np.ones(len(o), dtype=bool)
    new_pair[1:] = (o[1:] != o[:-1]) | (c[1:] != c[:-1])
    pair_orbits = o[new_pair]  # sorted, one entry per distinct (orbit, channel)
    _, per_orbit = np.unique(pair_orbits, return_counts=True)
    return per_orbit


def _earliest_scintillator(
    orbit: np.ndarray, bx: np.ndarray, tdc: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(orbits sorted ascending, bx, tdc) of the earliest scintillator hit of each orbit."""
    order = np.lexsort((time_in_orbit_tdc(bx, tdc), orbit))
    o = orbit[order]
    first = np.ones(len(o), dtype=bool)
    first[1:] = o[1:] != o[:-1]
    pick = order[first]
    return orbit[pick], bx[pick], tdc[pick]


def orbit_span(orbits: np.ndarray) -> int:
    """Detector time in orbits covered by these orbits, counter resets excluded."""
    distinct = np.unique(np.asarray(orbits, dtype=np.int64))
    if len(distinct) == 0:
        return 0
    jumps = np.diff(distinct)
    resets = jumps[jumps > COUNTER_RESET_GAP]
    return int(distinct[-1] - distinct[0] + 1 - (resets - 1).sum())


def compute_quantities(hits: Hits, binning: Binning = DEFAULT_BINNING) -> dict[str, Any]:
    """The v1 quantity fields for one batch of records (any HEAD; non-hits are dropped)."""
    h = hits.select(is_hit(hits.head)) if len(hits) else hits
    chamber = np.asarray(chamber_of(h.fpga, h.channel), dtype=np.int64).reshape(-1)
    scint = np.asarray(is_scintillator(h.head, h.fpga, h.channel), dtype=bool).reshape(-1)

    scint_orbit, scint_bx, scint_tdc = _earliest_scintillator(
        h.orbit[scint], h.bx[scint], h.tdc[scint]
    )
    in_scint_orbit = np.isin(h.orbit, scint_orbit)

    occupancy, multiplicity, scint_occupancy, drift = [], [], [], []
    for c in range(N_CHAMBERS):
        mine = chamber == c
        occupancy.append(fill(h.channel[mine], binning.occupancy_edges(c)))
        multiplicity.append(
            fill(
                _distinct_channels_per_orbit(h.orbit[mine], h.channel[mine]),
                binning.orbit_multiplicity,
            )
        )
        tagged = mine & in_scint_orbit
        scint_occupancy.append(fill(h.channel[tagged], binning.occupancy_edges(c)))
        # Each tagged hit meets exactly one scintillator: the earliest of its orbit.
        k = np.searchsorted(scint_orbit, h.orbit[tagged])
        drift.append(
            fill(
                drift_time_ns(h.bx[tagged], h.tdc[tagged], scint_bx[k], scint_tdc[k], c),
                binning.drift_time_ns,
            )
        )

    return {
        "hits": len(h),
        "hits_per_chamber": [int(np.count_nonzero(chamber == c)) for c in range(N_CHAMBERS)],
        "scintillator_hits": int(np.count_nonzero(scint)),
        "orbits": len(np.unique(h.orbit)),
        "scintillator_orbits": len(scint_orbit),
        "occupancy": occupancy,
        "orbit_multiplicity": multiplicity,
        "scint_occupancy": scint_occupancy,
        "drift_time_ns": drift,
    }


def reference_message(
    hits: Hits,
    *,
    query_id: str,
    batch_id: int,
    input_rows: int,
    malformed: int,
    first_ts_ms: int | None,
    last_ts_ms: int | None,
    emitted_at_ms: int,
    binning: Binning = DEFAULT_BINNING,
) -> dict[str, Any]:
    """A complete dtmon.batch.v1 message (the wire dict), validated against the contract."""
    message = {
        "schema": SCHEMA_ID,
        "query_id": query_id,
        "batch_id": batch_id,
        "emitted_at_ms": emitted_at_ms,
        "input": {
            "rows": input_rows,
            "malformed": malformed,
            "first_ts_ms": first_ts_ms,
            "last_ts_ms": last_ts_ms,
        },
        **compute_quantities(hits, binning),
        "orbit_span": orbit_span(hits.orbit[is_hit(hits.head)] if len(hits) else hits.orbit),
    }
    return BatchResult.model_validate(message).model_dump(mode="json")
