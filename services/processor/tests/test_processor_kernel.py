"""The per-partition numpy kernel on its own (no Spark, milliseconds): orbits split over
several partitions, several and tied scintillator hits per orbit, hits outside any chamber and
non-hit HEADs -- the summed partial counts must equal the minidt reference exactly."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from dtmon_processor.assemble import build_message, group_rows
from dtmon_processor.kernel import INPUT_COLUMNS, partition_counts
from minidt.binning import DEFAULT_BINNING
from minidt.codecs import Hits
from minidt.reference import compute_quantities


def _random_hits(rng: np.random.Generator, n: int) -> Hits:
    scint = rng.random(n) < 0.15
    return Hits.from_columns(
        head=np.where(rng.random(n) < 0.9, 2, 1),
        fpga=np.where(scint, 1, rng.integers(0, 3, n)),
        channel=np.where(scint, 128, rng.integers(0, 140, n)),
        orbit=rng.integers(3_400_000_000, 3_400_000_040, n),
        bx=rng.integers(0, 6, n),  # few values: equal scintillator times happen
        tdc=rng.integers(0, 4, n).astype(np.float64) * 7.5,
    )


def _partition(hits: Hits, idx: np.ndarray) -> pa.RecordBatch:
    m = len(idx)
    columns = {
        "part": np.zeros(m, dtype=np.int32),
        "ts": np.arange(m, dtype=np.int64) + 1000,
        "batch_ts": np.full(m, 5, dtype=np.int64),
        "kpart": np.zeros(m, dtype=np.int32),
        "is_record": np.ones(m, dtype=bool),
        "is_malformed": np.zeros(m, dtype=bool),
        "head": hits.head[idx],
        "fpga": hits.fpga[idx],
        "channel": hits.channel[idx],
        "orbit": hits.orbit[idx],
        "bx": hits.bx[idx],
        "tdc": hits.tdc[idx],
    }
    return pa.RecordBatch.from_pydict({c: columns[c] for c in INPUT_COLUMNS})


def test_kernel_partial_counts_equal_reference() -> None:
    rng = np.random.default_rng(7)
    hits = _random_hits(rng, 4000)
    # Every orbit whole in one partition (as the repartition guarantees), arrow batches small.
    rows = []
    for p in range(3):
        idx = np.flatnonzero(hits.orbit % 3 == p)
        batches = [_partition(hits, chunk) for chunk in np.array_split(idx, 4)]
        rows += next(partition_counts(iter(batches), DEFAULT_BINNING)).to_pylist()
    counts = group_rows(rows)[0]
    assert counts.rows == 4000 and counts.malformed == 0
    message = build_message(
        counts, binning=DEFAULT_BINNING, query_id="q", batch_id=0, emitted_at_ms=5
    )
    expected = compute_quantities(hits)
    assert {k: message[k] for k in expected} == expected
    assert expected["scintillator_orbits"] > 0


def test_kernel_empty_partition_emits_nothing() -> None:
    assert list(partition_counts(iter([]), DEFAULT_BINNING)) == []
