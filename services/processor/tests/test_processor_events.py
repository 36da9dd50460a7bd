"""Event building on the kernel and the driver step, without Spark (milliseconds): the real
sample and the adversarial stream cut every N rows, orbits spread over three partitions as the
repartition by orbit spreads them -- the SUM over batches of every quantity equals the minidt
reference on the whole input, carried hits included, and the rule never holds an orbit past
a counter reset or its timeout."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from dtmon_processor.assemble import build_message, group_rows
from dtmon_processor.events import BatchRule, EventState
from dtmon_processor.eventstep import finish_batch
from dtmon_processor.kernel import INPUT_COLUMNS, partition_counts
from minidt.binning import DEFAULT_BINNING
from minidt.codecs import CSV_HEADER, Hits, parse_csv
from minidt.reference import compute_quantities, orbit_span
from services.processor.tests.processor_helpers import SAMPLE, carried_hits, summed
from services.processor.tests.test_processor_stream import ADVERSARIAL


def _table(hits: Hits, batch_ts: int | None, kpart: np.ndarray | None = None) -> pa.RecordBatch:
    m = len(hits)
    columns = {
        "part": np.zeros(m, dtype=np.int32),
        "ts": np.full(m, 1000, dtype=np.int64),
        "batch_ts": pa.array([batch_ts] * m, type=pa.int64()),
        "kpart": np.zeros(m, dtype=np.int32) if kpart is None else kpart.astype(np.int32),
        "is_record": np.ones(m, dtype=bool),
        "is_malformed": np.zeros(m, dtype=bool),
        "head": hits.head,
        "fpga": hits.fpga,
        "channel": hits.channel,
        "orbit": hits.orbit,
        "bx": hits.bx,
        "tdc": hits.tdc,
    }
    return pa.RecordBatch.from_pydict({c: columns[c] for c in INPUT_COLUMNS})


def run_batches(
    records: Hits, rows_per_batch: int, *, flush_at_end: bool = True, timeout_ms: int | None = None
) -> tuple[list[dict], EventState]:
    """Batches of ``rows_per_batch`` records through 3 orbit-hashed partitions + driver."""
    starts = range(0, len(records), rows_per_batch)
    cuts = [np.arange(s, min(s + rows_per_batch, len(records))) for s in starts]
    return run_cut(records, np.zeros(len(records), dtype=np.int64), cuts, flush_at_end, timeout_ms)


def run_cut(
    records: Hits,
    kpart: np.ndarray,
    cuts: list[np.ndarray],
    flush_at_end: bool = True,
    timeout_ms: int | None = None,
) -> tuple[list[dict], EventState]:
    """Batch k holds the records ``cuts[k]`` (from Kafka partitions ``kpart``)."""
    state = EventState()
    messages = []
    for k, idx in enumerate(cuts):
        chunk, chunk_kpart = records.select(idx), kpart[idx]
        batch_ts = 1_000 * k
        rule = BatchRule(
            state=state,
            batch_ts_ms=batch_ts,
            timeout_ms=timeout_ms,
            flush=flush_at_end and k == len(cuts) - 1,
        )
        rows = []
        for p in range(3):
            mine = chunk.orbit % 3 == p
            table = _table(chunk.select(mine), batch_ts, chunk_kpart[mine])
            rows += [
                r
                for b in partition_counts(iter([table]), DEFAULT_BINNING, rule)
                for r in b.to_pylist()
            ]
        counts = group_rows(rows).get(0)
        assert counts is not None
        state = finish_batch(counts, rule, DEFAULT_BINNING)
        messages.append(
            build_message(
                counts, binning=DEFAULT_BINNING, query_id="q", batch_id=k, emitted_at_ms=0
            )
        )
    return messages, state


def _sample() -> Hits:
    return parse_csv(SAMPLE.read_bytes()).hits


def _adversarial() -> Hits:
    text = b"\n".join(v for _, v in ADVERSARIAL).replace(CSV_HEADER.encode(), b"")
    return parse_csv(text).hits


@pytest.mark.parametrize("rows", [150, 700, 37, 1])
def test_real_sample_cut_anywhere_sums_to_the_reference(rows: int) -> None:
    records = _sample()
    messages, state = run_batches(records, rows)
    assert summed(messages) == compute_quantities(records)
    assert len(state.carry) == 0
    carried = [m["events"]["carried_out_hits"] for m in messages]
    if rows < len(records):
        assert sum(carried) > 0, "cuts through orbits carry hits"
    assert [m["events"]["carried_in_hits"] for m in messages[1:]] == carried[:-1]
    assert all(m["events"]["timeout_closed_orbits"] == 0 for m in messages)
    # Detector time is counted once: consecutive batches' closed orbits overlap in range.
    span = sum(m["orbit_span"] for m in messages)
    whole = orbit_span(records.orbit[records.head == 2])
    assert span <= whole
    if rows >= 37:
        assert span >= 0.99 * whole


def test_without_event_building_the_cut_breaks_the_sums() -> None:
    """The test above is not trivially true: closing every orbit at each cut differs."""
    records = _sample()
    naive = [
        summed(run_batches(records.select(np.arange(s, min(s + 150, len(records)))), 10**6)[0])
        for s in range(0, len(records), 150)
    ]
    total_orbits = sum(n["orbits"] for n in naive)
    assert total_orbits > compute_quantities(records)["orbits"]


@pytest.mark.parametrize("rows", [150, 700])
def test_adversarial_stream_cut_sums_to_the_reference(rows: int) -> None:
    records = _adversarial()
    messages, _ = run_batches(records, rows)
    assert summed(messages) == compute_quantities(records)


@pytest.mark.parametrize("messages_per_partition", [(6, 2), (1, 5)])
def test_kafka_partitions_read_to_different_points_keep_orbits_whole(
    messages_per_partition: tuple[int, int],
) -> None:
    """Messages of 10 records go round-robin to two Kafka partitions and each batch reads
    the partitions unevenly (as maxOffsetsPerTrigger and arrival times make Spark do): one
    partition runs ahead in the stream, so a single watermark per FPGA would close orbits
    whose hits still wait in the other partition. Per-partition watermarks keep them whole."""
    records = _sample()
    n = len(records)
    kpart = (np.arange(n) // 10) % 2
    queues = [list(np.flatnonzero(kpart == p)) for p in (0, 1)]
    cuts = []
    k = 0
    while any(queues):
        take = messages_per_partition if k % 2 == 0 else messages_per_partition[::-1]
        idx = []
        for p in (0, 1):
            idx += queues[p][: 10 * take[p]]
            queues[p] = queues[p][10 * take[p] :]
        cuts.append(np.array(sorted(idx), dtype=np.int64))
        k += 1
    messages, state = run_cut(records, kpart, cuts)
    assert summed(messages) == compute_quantities(records)
    assert len(state.carry) == 0 and len(messages) >= 3


@pytest.mark.parametrize("rows", [2, 3, 5])
def test_adversarial_stream_cut_finely_counts_every_hit_once(rows: int) -> None:
    """Cut every few rows, the adversarial stream's impossible order (FPGA 0 writes ORBIT_HI
    again after its counter reset to 620000) closes that orbit twice; per-hit quantities stay
    exact. The rule is exact only for a readout that writes each FPGA in orbit order."""
    records = _adversarial()
    messages, _ = run_batches(records, rows)
    total, whole = summed(messages), compute_quantities(records)
    for key in ("hits", "hits_per_chamber", "scintillator_hits", "occupancy"):
        assert total[key] == whole[key]
    assert total["orbits"] >= whole["orbits"]


def test_open_orbits_stay_out_of_the_counts_until_the_stream_ends() -> None:
    records = _sample()
    messages, state = run_batches(records, 150, flush_at_end=False)
    assert len(state.carry) > 0
    rest = carried_hits(state.carry)
    closed = summed(messages)
    whole = compute_quantities(records)
    assert closed["hits"] + len(rest) == whole["hits"]
    assert closed["orbits"] + len(np.unique(rest.orbit)) == whole["orbits"]


def test_timeout_closes_what_a_silent_fpga_would_hold_forever() -> None:
    records = _sample()
    fpga0 = records.select(records.fpga == 0)  # FPGA 1 silent: no watermark can pass
    messages, state = run_batches(fpga0, 50, flush_at_end=False, timeout_ms=2_000)
    timed = sum(m["events"]["timeout_closed_orbits"] for m in messages)
    assert timed > 0
    assert sum(m["orbits"] for m in messages) + len(np.unique(state.carry.orbit)) == len(
        np.unique(fpga0.orbit[fpga0.head == 2])
    )
    assert all(state.carry.since_ms >= 1_000 * (len(messages) - 3))


def test_counter_reset_holds_nothing() -> None:
    """After the reset in the sample (row 328) the pre-reset orbits close once both FPGAs
    have written post-reset hits, without the timeout."""
    records = _sample()
    _, state = run_batches(records, 150, flush_at_end=False)
    assert state.carry.orbit.max() < 10**7
