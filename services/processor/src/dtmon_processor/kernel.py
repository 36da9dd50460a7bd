"""The per-partition numpy kernel (run by ``mapInArrow``): parsed records in, partial counts out.

Why: expressing per-orbit work as Spark SQL higher-order functions over a ``collect_list``
made every micro-batch pay for analysing a large plan and for building per-orbit arrays row by
row. Instead the records are repartitioned by (part, ORBIT_CNT) (one shuffle, so every orbit is
whole in one partition) and this vectorised kernel turns a partition into a few hundred
``(part, kind, chamber, bin, n)`` rows. Partitions' rows are partial counts: the driver sums
them (``assemble.group_rows``), so only small tables ever leave the executors.

Event building (``events.py``) happens here too: the carried hits of open orbits travel with
the function (a few hundred at most), each partition absorbs the carried hits of the orbits it
holds, closes the complete orbits and emits the hits of the open ones as ``KIND_CARRY`` rows;
the driver runs the same function (``event_counts``) on carried orbits that got no new hit.

Written independently of ``minidt.reference`` / ``minidt.binning.fill`` (the tests compare the
two), following detector.md: bins are ``[low, high)``, index ``searchsorted(edges, v, 'right')
- 1``, -1 underflow, nbins overflow (and NaN); drift time computed within the orbit as
``25 * (bx_hit - bx_scint) + (tdc_hit - tdc_scint) * 25 / 30 + T0[chamber]`` in float64.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from dtmon_processor.events import RESET_GAP as _RESET_GAP
from dtmon_processor.events import (
    BatchRule,
    Carry,
    Watermarks,
    close_orbits,
    local_watermarks,
)
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
KIND_WATERMARK = 9  # chamber = FPGA, hit_channel = Kafka partition; bin 0: n = max orbit,
# bin 1: n = max post-reset orbit
KIND_ABSORBED = 10  # hit_orbit = a carried orbit that this partition took over
KIND_CARRY = 11  # hit_* = one hit of an open orbit, carried to the next batch
KIND_TIMEOUT = 12  # n = orbits closed by the wall-clock timeout
KIND_SPAN = 13  # closed orbits of one counter segment: hit_orbit = first, n = last

INPUT_COLUMNS = (
    "part",
    "ts",
    "batch_ts",
    "kpart",
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
    " malformed long, ts_min long, ts_max long, batch_ts long,"
    " hit_fpga long, hit_channel long, hit_orbit long, hit_bx long, hit_tdc double,"
    " hit_since long"
)
HIT_COLUMNS = ("hit_fpga", "hit_channel", "hit_orbit", "hit_bx", "hit_tdc", "hit_since")
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
        ("hit_fpga", pa.int64()),
        ("hit_channel", pa.int64()),
        ("hit_orbit", pa.int64()),
        ("hit_bx", pa.int64()),
        ("hit_tdc", pa.float64()),
        ("hit_since", pa.int64()),
    ]
)
_NOT_CARRIED = np.iinfo(np.int64).max
_T0 = np.asarray(T0_CORRECTION_NS, dtype=np.float64)


def bin_index(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bin of each value for ``[low, high)`` bins: -1 underflow, nbins overflow and NaN."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right") - 1


class Rows:
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
        hits: dict[str, np.ndarray] | None = None,
    ) -> None:
        size = len(n)
        for name in HIT_COLUMNS:
            if hits is not None and name in hits:
                self.cols[name].append(np.asarray(hits[name]))
            else:
                self.cols[name].append(np.array([None] * size, dtype=object))
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
            if any(c.dtype == object for c in chunks):
                chunks = [c.astype(object) for c in chunks]
            data = np.concatenate(chunks) if chunks else np.array([], dtype=np.int64)
            if data.dtype == object:
                arrays.append(pa.array([None if v is None else v for v in data], type=f.type))
            else:
                arrays.append(pa.array(data, type=f.type))
        return pa.RecordBatch.from_arrays(arrays, schema=_ARROW_SCHEMA)


def _histogram_rows(
    out: Rows, part: int, kind: int, chamber: np.ndarray, bins: np.ndarray, nbins: int
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
    batches: Iterable[pa.RecordBatch], binning: Binning, rule: BatchRule | None = None
) -> Iterator[pa.RecordBatch]:
    """mapInArrow function: all record batches of one partition -> its partial counts.

    ``rule`` carries the event-building state; the default closes every orbit (one
    self-contained batch)."""
    rule = rule or BatchRule()
    batches = list(batches)
    if not batches:
        return
    table = pa.Table.from_batches(batches)
    if table.num_rows == 0:
        return
    out = Rows()
    parts = _long(table, "part")
    for part in np.unique(parts):
        sub = table.filter(pa.array(parts == part)) if len(np.unique(parts)) > 1 else table
        _part_counts(out, int(part), sub, binning, rule)
    yield out.batch()


def _part_counts(out: Rows, part: int, t: pa.Table, binning: Binning, rule: BatchRule) -> None:
    is_record = pc.fill_null(t.column("is_record"), False).to_numpy(zero_copy_only=False)
    is_malformed = pc.fill_null(t.column("is_malformed"), False).to_numpy(zero_copy_only=False)
    ts, bts = t.column("ts"), t.column("batch_ts")

    def opt(value: pa.Scalar) -> int | None:
        return None if value is None or not value.is_valid else int(value.as_py())

    head = _long(t, "head")
    hit = is_record & (head == HIT_HEAD)
    h = t.filter(pa.array(hit))
    fpga, channel, orbit, bx, kpart = (
        _long(h, c) for c in ("fpga", "channel", "orbit", "bx", "kpart")
    )
    tdc = pc.fill_null(h.column("tdc"), 0.0).to_numpy().astype(np.float64, copy=False)
    records = BatchRecords(
        rows=int(is_record.sum()),
        malformed=int(is_malformed.sum()),
        ts=(opt(pc.min(ts)), opt(pc.max(ts)), opt(pc.max(bts))),
        hits=new_hits(fpga, channel, orbit, bx, tdc),
        kpart=kpart,
    )
    record_counts(out, part, records, binning, rule)


@dataclass(frozen=True)
class BatchRecords:
    """What the kernel needs of a batch (or one partition of it): the parsed-row and malformed
    counts, the (min ts, max ts, batch ts) span, and the HEAD == 2 hits with their Kafka
    partition. Both the per-partition mapInArrow function and the driver path build one."""

    rows: int
    malformed: int
    ts: tuple[int | None, int | None, int | None]
    hits: Carry
    kpart: np.ndarray


def new_hits(
    fpga: np.ndarray, channel: np.ndarray, orbit: np.ndarray, bx: np.ndarray, tdc: np.ndarray
) -> Carry:
    """This batch's hits as a Carry that no earlier batch carried."""
    return Carry(fpga, channel, orbit, bx, tdc, np.full(len(orbit), _NOT_CARRIED))


def record_counts(
    out: Rows, part: int, records: BatchRecords, binning: Binning, rule: BatchRule
) -> None:
    """The partial counts of ``records`` (whole orbits) with the carried state of ``rule``."""
    out.add(
        part,
        KIND_INPUT,
        np.zeros(1),
        np.zeros(1),
        np.array([records.rows]),
        malformed=records.malformed,
        ts=records.ts,
    )
    new = records.hits
    fpga, orbit = new.fpga, new.orbit
    marks, partial = local_watermarks(rule.state.watermarks, records.kpart, fpga, orbit)
    for (kp, f), (plain, reset) in sorted(partial.items()):
        for b, value in ((0, plain), (1, reset)):
            if value is not None:
                out.add(
                    part,
                    KIND_WATERMARK,
                    np.array([f]),
                    np.array([b]),
                    np.array([value]),
                    hits={"hit_channel": np.array([kp])},
                )
    carried = rule.state.carry
    absorbed = np.isin(carried.orbit, orbit) if len(orbit) else np.zeros(len(carried), bool)
    taken = np.unique(carried.orbit[absorbed])
    if len(taken):
        zeros = np.zeros(len(taken))
        out.add(part, KIND_ABSORBED, zeros, zeros, zeros, hits={"hit_orbit": taken})
    event_counts(out, part, Carry.concat([new, carried.select(absorbed)]), marks, rule, binning)


def event_counts(
    out: Rows,
    part: int,
    hits: Carry,
    watermarks: Watermarks,
    rule: BatchRule,
    binning: Binning,
) -> None:
    """Close the complete orbits among ``hits`` (new and carried hits, whole orbits), count
    them, and emit the open orbits' hits as KIND_CARRY rows."""
    orbits, inv = np.unique(hits.orbit, return_inverse=True)
    oldest = np.full(len(orbits), _NOT_CARRIED, dtype=np.int64)
    np.minimum.at(oldest, inv, hits.since_ms)
    closed, timed_out = close_orbits(orbits, oldest, watermarks, rule)
    zero = np.zeros(1)
    out.add(part, KIND_TIMEOUT, zero, zero, np.array([int(timed_out.sum())]))
    keep = closed[inv]
    if not keep.all():
        open_hits = hits.select(~keep)
        since = np.where(
            open_hits.since_ms == _NOT_CARRIED, rule.batch_ts_ms or 0, open_hits.since_ms
        )
        zeros = np.zeros(len(open_hits))
        out.add(
            part,
            KIND_CARRY,
            zeros,
            zeros,
            zeros,
            hits={
                "hit_fpga": open_hits.fpga,
                "hit_channel": open_hits.channel,
                "hit_orbit": open_hits.orbit,
                "hit_bx": open_hits.bx,
                "hit_tdc": open_hits.tdc,
                "hit_since": since,
            },
        )
    done = orbits[closed]
    if len(done):
        cut = np.flatnonzero(np.diff(done) > _RESET_GAP) + 1
        first, last = done[np.r_[0, cut]], done[np.r_[cut - 1, len(done) - 1]]
        zeros = np.zeros(len(first))
        out.add(part, KIND_SPAN, zeros, zeros, last, hits={"hit_orbit": first})
    c = hits.select(keep)
    _quantities(out, part, c.fpga, c.channel, c.orbit, c.bx, c.tdc, binning)


def _quantities(
    out: Rows,
    part: int,
    fpga: np.ndarray,
    channel: np.ndarray,
    orbit: np.ndarray,
    bx: np.ndarray,
    tdc: np.ndarray,
    binning: Binning,
) -> None:
    """The six quantities of whole, closed orbits."""
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
        (KIND_HITS, len(orbit)),
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
