"""The per-partition numpy kernel (run by ``mapInArrow``): parsed records in, partial counts out.

Why: expressing per-orbit work as Spark SQL higher-order functions over a ``collect_list``
made every micro-batch pay for analysing a large plan and for building per-orbit arrays row by
row. Instead the records are repartitioned by (part, ORBIT_CNT) (one shuffle, so every orbit is
whole in one partition) and this vectorised kernel turns a partition into a few hundred
``(part, kind, chamber, bin, n)`` rows. Partitions' rows are partial counts: the driver sums
them (``assemble.group_rows``), so only small tables ever leave the executors.

Written independently of ``minidt.reference`` / ``minidt.binning.fill`` (the tests compare the
two), following detector.md: bins are ``[low, high)``, index ``searchsorted(edges, v, 'right')
- 1``, -1 underflow, nbins overflow (and NaN); drift time computed within the orbit as
``25 * (bx_hit - bx_scint) + (tdc_hit - tdc_scint) * 25 / 30 + T0[chamber]`` in float64.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from minidt.binning import Binning
from minidt.detector import (
    BX_NS,
    CHANNELS_PER_CHAMBER,
    HIT_HEAD,
    N_CHAMBERS,
    SCINT_CHANNEL,
    SCINT_FPGA,
    T0_CORRECTION_NS,
    TDC_PER_BX,
)

# Contribution kinds (the `kind` column of the partial-count table).
KIND_INPUT = 0  # n = parsed rows; also carries malformed count and timestamp span
KIND_HITS = 1  # n = HEAD == 2 records
KIND_SCINT_HITS = 2
KIND_ORBITS = 3  # n = distinct orbits with >= 1 hit
KIND_SCINT_ORBITS = 4
KIND_OCCUPANCY = 5  # (chamber, bin)
KIND_MULTIPLICITY = 6  # (chamber, bin)
KIND_SCINT_OCCUPANCY = 7  # (chamber, bin)
KIND_DRIFT = 8  # (chamber, bin)

INPUT_COLUMNS = (
    "part",
    "ts",
    "batch_ts",
    "is_record",
    "is_malformed",
    "head",
    "fpga",
    "channel",
    "orbit",
    "bx",
    "tdc",
)
OUTPUT_SCHEMA = (
    "part int, kind int, chamber int, bin int, n long,"
    " malformed long, ts_min long, ts_max long, batch_ts long"
)
_ARROW_SCHEMA = pa.schema(
    [
        ("part", pa.int32()),
        ("kind", pa.int32()),
        ("chamber", pa.int32()),
        ("bin", pa.int32()),
        ("n", pa.int64()),
        ("malformed", pa.int64()),
        ("ts_min", pa.int64()),
        ("ts_max", pa.int64()),
        ("batch_ts", pa.int64()),
    ]
)
_T0 = np.asarray(T0_CORRECTION_NS, dtype=np.float64)


def bin_index(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bin of each value for ``[low, high)`` bins: -1 underflow, nbins overflow and NaN."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right") - 1


class _Rows:
    """Accumulates output columns as numpy chunks (one RecordBatch per partition)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {f.name: [] for f in _ARROW_SCHEMA}

    def add(
        self,
        part: int,
        kind: int,
        chamber: np.ndarray,
        bin_: np.ndarray,
        n: np.ndarray,
        malformed: int | None = None,
        ts: tuple[int | None, int | None, int | None] = (None, None, None),
    ) -> None:
        size = len(n)
        self.cols["part"].append(np.full(size, part, dtype=np.int32))
        self.cols["kind"].append(np.full(size, kind, dtype=np.int32))
        self.cols["chamber"].append(np.asarray(chamber, dtype=np.int32))
        self.cols["bin"].append(np.asarray(bin_, dtype=np.int32))
        self.cols["n"].append(np.asarray(n, dtype=np.int64))
        for name, value in zip(
            ("malformed", "ts_min", "ts_max", "batch_ts"), (malformed, *ts), strict=True
        ):
            self.cols[name].append(np.array([value] * size, dtype=object))

    def batch(self) -> pa.RecordBatch:
        arrays = []
        for f in _ARROW_SCHEMA:
            chunks = self.cols[f.name]
            data = np.concatenate(chunks) if chunks else np.array([], dtype=np.int64)
            if data.dtype == object:
                arrays.append(pa.array(list(data), type=f.type))
            else:
                arrays.append(pa.array(data, type=f.type))
        return pa.RecordBatch.from_arrays(arrays, schema=_ARROW_SCHEMA)


def _histogram_rows(
    out: _Rows, part: int, kind: int, chamber: np.ndarray, bins: np.ndarray, nbins: int
) -> None:
    """Counts per (chamber, bin) with bin in [-1, nbins]; only non-zero cells are emitted."""
    width = nbins + 2
    counts = np.bincount(
        chamber.astype(np.int64) * width + (bins + 1), minlength=N_CHAMBERS * width
    )
    cells = np.flatnonzero(counts)
    out.add(part, kind, cells // width, cells % width - 1, counts[cells])


def _long(table: pa.Table, name: str) -> np.ndarray:
    return pc.fill_null(table.column(name), 0).to_numpy().astype(np.int64, copy=False)


def partition_counts(
    batches: Iterable[pa.RecordBatch], binning: Binning
) -> Iterator[pa.RecordBatch]:
    """mapInArrow function: all record batches of one partition -> its partial counts."""
    batches = list(batches)
    if not batches:
        return
    table = pa.Table.from_batches(batches)
    if table.num_rows == 0:
        return
    out = _Rows()
    parts = _long(table, "part")
    for part in np.unique(parts):
        sub = table.filter(pa.array(parts == part)) if len(np.unique(parts)) > 1 else table
        _part_counts(out, int(part), sub, binning)
    yield out.batch()


def _part_counts(out: _Rows, part: int, t: pa.Table, binning: Binning) -> None:
    is_record = pc.fill_null(t.column("is_record"), False).to_numpy(zero_copy_only=False)
    is_malformed = pc.fill_null(t.column("is_malformed"), False).to_numpy(zero_copy_only=False)
    ts, bts = t.column("ts"), t.column("batch_ts")

    def opt(value: pa.Scalar) -> int | None:
        return None if value is None or not value.is_valid else int(value.as_py())

    out.add(
        part,
        KIND_INPUT,
        np.zeros(1),
        np.zeros(1),
        np.array([int(is_record.sum())]),
        malformed=int(is_malformed.sum()),
        ts=(opt(pc.min(ts)), opt(pc.max(ts)), opt(pc.max(bts))),
    )
    head = _long(t, "head")
    hit = is_record & (head == HIT_HEAD)
    h = t.filter(pa.array(hit))
    fpga, channel, orbit, bx = (_long(h, c) for c in ("fpga", "channel", "orbit", "bx"))
    tdc = pc.fill_null(h.column("tdc"), 0.0).to_numpy().astype(np.float64, copy=False)
    scint = (fpga == SCINT_FPGA) & (channel == SCINT_CHANNEL)
    orbits, inv = np.unique(orbit, return_inverse=True)
    n_orbits = len(orbits)

    # Earliest scintillator hit per orbit: smallest bx*30 + tdc, ties by bx then tdc.
    s_inv, s_bx, s_tdc = inv[scint], bx[scint], tdc[scint]
    s_key = s_bx.astype(np.float64) * float(TDC_PER_BX) + s_tdc
    order = np.lexsort((s_tdc, s_bx, s_key, s_inv))
    first = order[np.r_[True, s_inv[order][1:] != s_inv[order][:-1]]] if len(order) else order
    has_t0 = np.zeros(n_orbits, dtype=bool)
    t0_bx = np.zeros(n_orbits, dtype=np.int64)
    t0_tdc = np.zeros(n_orbits, dtype=np.float64)
    has_t0[s_inv[first]] = True
    t0_bx[s_inv[first]] = s_bx[first]
    t0_tdc[s_inv[first]] = s_tdc[first]

    zero = np.zeros(1)
    for kind, n in (
        (KIND_HITS, len(h)),
        (KIND_SCINT_HITS, int(scint.sum())),
        (KIND_ORBITS, n_orbits),
        (KIND_SCINT_ORBITS, int(has_t0.sum())),
    ):
        out.add(part, kind, zero, zero, np.array([n]))

    valid = (fpga >= 0) & (fpga <= 1) & (channel >= 0) & (channel < 2 * CHANNELS_PER_CHAMBER)
    c_all = np.where(valid, fpga * 2 + channel // CHANNELS_PER_CHAMBER, -1)
    ok = c_all >= 0
    c, ch, c_inv, c_bx, c_tdc = c_all[ok], channel[ok], inv[ok], bx[ok], tdc[ok]

    occ_edges = [binning.occupancy_edges(k) for k in range(N_CHAMBERS)]
    occ_bins = np.empty(len(c), dtype=np.int64)
    for k in range(N_CHAMBERS):
        sel = c == k
        occ_bins[sel] = bin_index(ch[sel].astype(np.float64), occ_edges[k])
    n_occ = max(len(e) - 1 for e in occ_edges)  # cells per chamber in _histogram_rows
    _histogram_rows(out, part, KIND_OCCUPANCY, c, occ_bins, n_occ)

    # Multiplicity: distinct channels per (orbit, chamber), over orbits with hits there.
    cell = (c_inv.astype(np.int64) * N_CHAMBERS + c) * (2 * CHANNELS_PER_CHAMBER) + ch
    distinct = np.unique(cell) // (2 * CHANNELS_PER_CHAMBER)
    groups, mult = np.unique(distinct, return_counts=True)
    mult_edges = binning.orbit_multiplicity
    _histogram_rows(
        out,
        part,
        KIND_MULTIPLICITY,
        groups % N_CHAMBERS,
        bin_index(mult.astype(np.float64), mult_edges),
        len(mult_edges) - 1,
    )

    with_t0 = has_t0[c_inv]
    _histogram_rows(out, part, KIND_SCINT_OCCUPANCY, c[with_t0], occ_bins[with_t0], n_occ)
    dbx = (c_bx[with_t0] - t0_bx[c_inv[with_t0]]).astype(np.float64)
    dtdc = c_tdc[with_t0] - t0_tdc[c_inv[with_t0]]
    drift = BX_NS * dbx + dtdc * BX_NS / float(TDC_PER_BX) + _T0[c[with_t0]]
    drift_edges = binning.drift_time_ns
    _histogram_rows(
        out, part, KIND_DRIFT, c[with_t0], bin_index(drift, drift_edges), len(drift_edges) - 1
    )
