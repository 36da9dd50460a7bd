"""Turn the small aggregated table of one batch into one dtmon.batch.v1 message.

The driver only ever sees this table (a few thousand rows at most), never the records. Every
chamber and every bin is materialised here from the binning's edges, so a chamber without hits
still appears with zero counts (earlier implementations lost such chambers in inner joins).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dtmon_processor import kernel as T
from dtmon_processor.events import CARRY_FIELDS, Carry
from minidt.binning import Binning
from minidt.contract import SCHEMA_ID, validate_message
from minidt.detector import N_CHAMBERS


@dataclass
class PartCounts:
    """Everything the aggregation produced for one part (= one batch)."""

    rows: int = 0
    malformed: int = 0
    ts_min: int | None = None
    ts_max: int | None = None
    batch_ts: int | None = None
    scalars: dict[int, int] = field(default_factory=dict)  # kind -> n
    bins: dict[tuple[int, int], dict[int, int]] = field(default_factory=dict)  # (kind, c) -> bins
    # Event building (events.py): per-FPGA partial watermarks (max orbit, max post-reset
    # orbit), carried orbits taken over by partitions, hits carried out, closed-orbit segments.
    marks: dict[tuple[int, int, int], int] = field(default_factory=dict)  # (kpart, fpga, 0|1)
    absorbed: set[int] = field(default_factory=set)
    carry: list[Carry] = field(default_factory=list)  # chunks, concatenated by eventstep
    spans: list[tuple[int, int]] = field(default_factory=list)
    carried_in: int = 0
    orbit_span: int = 0


def group_batch(batch: pa.RecordBatch) -> dict[int, PartCounts]:
    """The kernel's output table summed per part: its carried hits (up to one per record of a
    batch that ends with many open orbits) column-wise, the few other rows by group_rows."""
    is_carry = pc.equal(batch.column("kind"), T.KIND_CARRY)
    parts = group_rows(batch.filter(pc.invert(is_carry)).to_pylist())
    carry = batch.filter(is_carry)
    part_col = carry.column("part").to_numpy(zero_copy_only=False)
    cols = [carry.column(c).to_numpy(zero_copy_only=False) for c in T.HIT_COLUMNS]
    for part in np.unique(part_col).tolist():
        mine = part_col == part
        target = parts.setdefault(int(part), PartCounts())
        target.carry.append(Carry(*(col[mine] for col in cols)))
    return parts


def group_rows(rows: Iterable[Any]) -> dict[int, PartCounts]:
    """Collected partial counts of transform.aggregate_batch, summed per part."""
    parts: dict[int, PartCounts] = {}
    carried: dict[int, list[tuple[Any, ...]]] = {}
    for r in rows:
        p = parts.setdefault(int(r["part"]), PartCounts())
        kind, n = int(r["kind"]), int(r["n"] or 0)
        if kind == T.KIND_INPUT:
            p.rows += n
            p.malformed += int(r["malformed"] or 0)
            if r["ts_min"] is not None:
                p.ts_min = r["ts_min"] if p.ts_min is None else min(p.ts_min, r["ts_min"])
                p.ts_max = r["ts_max"] if p.ts_max is None else max(p.ts_max, r["ts_max"])
            if r["batch_ts"] is not None:
                p.batch_ts = max(p.batch_ts or 0, r["batch_ts"])
        elif kind in (
            T.KIND_HITS,
            T.KIND_SCINT_HITS,
            T.KIND_ORBITS,
            T.KIND_SCINT_ORBITS,
            T.KIND_TIMEOUT,
        ):
            p.scalars[kind] = p.scalars.get(kind, 0) + n
        elif kind == T.KIND_WATERMARK:
            key = (int(r["hit_channel"]), int(r["chamber"]), int(r["bin"]))
            p.marks[key] = max(p.marks.get(key, n), n)
        elif kind == T.KIND_ABSORBED:
            p.absorbed.add(int(r["hit_orbit"]))
        elif kind == T.KIND_CARRY:
            carried.setdefault(int(r["part"]), []).append(tuple(r[c] for c in T.HIT_COLUMNS))
        elif kind == T.KIND_SPAN:
            p.spans.append((int(r["hit_orbit"]), n))
        else:
            hist = p.bins.setdefault((kind, int(r["chamber"])), {})
            b = int(r["bin"])
            hist[b] = hist.get(b, 0) + n
    for part, hits in carried.items():
        cols = list(zip(*hits, strict=True))
        parts[part].carry.append(
            Carry(*(np.array(c, dtype=t) for c, t in zip(cols, CARRY_DTYPES, strict=True)))
        )
    return parts


CARRY_DTYPES = tuple(getattr(Carry(), f).dtype for f in CARRY_FIELDS)
"""Of the kernel's HIT_COLUMNS, in events.CARRY_FIELDS order."""


def _histogram(counts: dict[int, int], edges: tuple[float, ...]) -> dict[str, Any]:
    nbins = len(edges) - 1
    return {
        "bin_edges": [float(e) for e in edges],
        "bin_counts": [counts.get(i, 0) for i in range(nbins)],
        "underflow": counts.get(-1, 0),
        "overflow": counts.get(nbins, 0),
    }


def build_message(
    counts: PartCounts,
    *,
    binning: Binning,
    query_id: str,
    batch_id: int,
    emitted_at_ms: int,
) -> dict[str, Any]:
    """The v1 wire dict of one batch, validated by the minidt contract (ContractError if not)."""

    def per_chamber(kind: int, edges_of: Any) -> list[dict[str, Any]]:
        return [_histogram(counts.bins.get((kind, c), {}), edges_of(c)) for c in range(N_CHAMBERS)]

    occupancy = per_chamber(T.KIND_OCCUPANCY, binning.occupancy_edges)
    message = {
        "schema": SCHEMA_ID,
        "query_id": query_id,
        "batch_id": batch_id,
        "emitted_at_ms": emitted_at_ms,
        "input": {
            "rows": counts.rows,
            "malformed": counts.malformed,
            "first_ts_ms": counts.ts_min,
            "last_ts_ms": counts.ts_max,
        },
        "hits": counts.scalars.get(T.KIND_HITS, 0),
        # Occupancy edges cover each chamber's whole channel range, so the occupancy total
        # (bins + under/overflow) is the chamber's hit count; the contract re-checks it.
        "hits_per_chamber": [
            sum(h["bin_counts"]) + h["underflow"] + h["overflow"] for h in occupancy
        ],
        "scintillator_hits": counts.scalars.get(T.KIND_SCINT_HITS, 0),
        "orbits": counts.scalars.get(T.KIND_ORBITS, 0),
        "scintillator_orbits": counts.scalars.get(T.KIND_SCINT_ORBITS, 0),
        "orbit_span": counts.orbit_span,
        "events": {
            "carried_in_hits": counts.carried_in,
            "carried_out_hits": sum(len(c) for c in counts.carry),
            "timeout_closed_orbits": counts.scalars.get(T.KIND_TIMEOUT, 0),
        },
        "occupancy": occupancy,
        "orbit_multiplicity": per_chamber(
            T.KIND_MULTIPLICITY, lambda _c: binning.orbit_multiplicity
        ),
        "scint_occupancy": per_chamber(T.KIND_SCINT_OCCUPANCY, binning.occupancy_edges),
        "drift_time_ns": per_chamber(T.KIND_DRIFT, lambda _c: binning.drift_time_ns),
    }
    validate_message(message)
    return message


def encode(message: dict[str, Any]) -> bytes:
    """Canonical bytes (fixed key order, no spaces): a re-emitted batch is byte-identical."""
    return json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
