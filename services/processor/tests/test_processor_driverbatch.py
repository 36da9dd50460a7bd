"""The driver path without Spark (milliseconds): a collected (value, kpart, ts) table through
driverbatch.count_table, batch after batch, sums to the minidt reference exactly as the
distributed path does; the offset log gives a batch's record count; the batch byte bound.
The streaming tests (test_processor_stream) run both paths on a real broker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from dtmon_common.options.processor import RUN
from dtmon_processor.assemble import build_message
from dtmon_processor.driverbatch import count_table, joined_text
from dtmon_processor.events import BatchRule, EventState
from dtmon_processor.offsetlog import (
    batch_records,
    parse_entry,
    read_entry,
    read_initial,
    read_query_id,
)
from dtmon_processor.stream import StreamSettings, batch_offset_limit
from minidt.binning import DEFAULT_BINNING
from minidt.codecs import CSV_HEADER, decode_words, format_csv_lines, parse_csv
from minidt.reference import compute_quantities
from services.processor.tests.processor_helpers import SAMPLE, summed
from services.processor.tests.test_processor_stream import ADVERSARIAL


def _table(values: list[bytes], kparts: list[int]) -> pa.Table:
    return pa.table(
        {
            "value": pa.array(values, pa.binary()),
            "kpart": pa.array(kparts, pa.int32()),
            "ts": pa.array(range(1000, 1000 + len(values)), pa.int64()),
        }
    )


def _run(values: list[bytes], kparts: list[int], per_batch: int) -> tuple[list[dict], EventState]:
    state = EventState()
    messages = []
    starts = list(range(0, len(values), per_batch))
    for k, s in enumerate(starts):
        rule = BatchRule(state=state, batch_ts_ms=1000 * k, flush=k == len(starts) - 1)
        done = count_table(
            _table(values[s : s + per_batch], kparts[s : s + per_batch]), DEFAULT_BINNING, rule
        )
        state = done.state
        messages.append(
            build_message(
                done.counts, binning=DEFAULT_BINNING, query_id="q", batch_id=k, emitted_at_ms=0
            )
        )
    return messages, state


@pytest.mark.parametrize("per_batch", [1, 37, 150, 10_000])
def test_real_sample_packed_over_partitions_sums_to_the_reference(per_batch: int) -> None:
    lines = SAMPLE.read_bytes().splitlines()
    values = [b"\n".join(lines[i : i + 3]) for i in range(0, len(lines), 3)]
    messages, state = _run(values, [0] * len(values), per_batch)
    records = parse_csv(SAMPLE.read_bytes()).hits
    assert summed(messages) == compute_quantities(records)
    assert len(state.carry) == 0
    assert sum(m["input"]["rows"] for m in messages) == len(records)


def test_adversarial_values_count_rows_and_malformed_as_the_parser() -> None:
    parts, values = zip(*ADVERSARIAL, strict=True)
    messages, _ = _run(list(values), list(parts), len(values))
    text = b"\n".join(values)
    expected = parse_csv(text)
    assert messages[0]["input"]["rows"] == expected.rows
    assert messages[0]["input"]["malformed"] == expected.malformed
    hits = parse_csv(text.replace(CSV_HEADER.encode(), b"")).hits
    assert messages[0]["hits"] == int((hits.head == 2).sum())


def test_empty_batch_and_empty_values() -> None:
    messages, state = _run([b"", b"\n", b"garbage"], [0, 1, 0], 3)
    assert messages[0]["input"]["rows"] == 0
    assert messages[0]["input"]["malformed"] == 1
    assert len(state.carry) == 0
    assert count_table(_table([], []), DEFAULT_BINNING, BatchRule()).counts.rows == 0


def test_joined_text_keeps_every_line_of_every_chunk() -> None:
    chunks = pa.chunked_array([pa.array([b"a", b"b\nc"]), pa.array([b""]), pa.array([b"d"])])
    assert joined_text(chunks).split(b"\n") == [b"a", b"b", b"c", b"", b"d"]


def test_offset_log_gives_the_batch_record_count() -> None:
    prev = parse_entry('v1\n{"batchWatermarkMs":0,"batchTimestampMs":5}\n{"t":{"0":10,"1":3}}')
    cur = parse_entry('v1\n{"batchWatermarkMs":0,"batchTimestampMs":7}\n{"t":{"0":15,"1":3,"2":4}}')
    assert cur.timestamp_ms == 7
    assert batch_records(cur, prev) == 5 + 0 + 4
    assert batch_records(cur, None) is None


def test_first_batch_starts_at_the_source_start_file(tmp_path: Path) -> None:
    (tmp_path / "sources" / "0").mkdir(parents=True)
    (tmp_path / "sources" / "0" / "0").write_bytes(b'\x00v1\n{"t":{"0":4,"1":0}}')
    (tmp_path / "offsets").mkdir()
    (tmp_path / "offsets" / "0").write_text(
        'v1\n{"batchWatermarkMs":0,"batchTimestampMs":9}\n{"t":{"0":6,"1":1}}'
    )
    first = read_initial(None, str(tmp_path))  # type: ignore[arg-type]  (local: no Spark)
    entry = read_entry(None, str(tmp_path), 0)  # type: ignore[arg-type]
    assert entry is not None and entry.timestamp_ms == 9
    assert batch_records(entry, first) == 3
    assert read_entry(None, str(tmp_path), 1) is None  # type: ignore[arg-type]
    assert read_query_id(None, str(tmp_path)) is None  # type: ignore[arg-type]
    (tmp_path / "metadata").write_text('{"id":"5f0c"}')
    assert read_query_id(None, str(tmp_path)) == "5f0c"  # type: ignore[arg-type]


def test_batch_byte_bound_limits_the_records_per_trigger() -> None:
    base = StreamSettings("b", "h", "r", "/cp")
    assert batch_offset_limit(base) == min(
        base.max_offsets_per_trigger or base.max_batch_bytes,
        base.max_batch_bytes // base.max_message_bytes,
    )
    small = StreamSettings("b", "h", "r", "/cp", max_offsets_per_trigger=1000)
    assert batch_offset_limit(small) == 1000
    packed = StreamSettings(
        "b",
        "h",
        "r",
        "/cp",
        max_offsets_per_trigger=10**6,
        max_batch_bytes=10**6,
        max_message_bytes=4000,
    )
    assert batch_offset_limit(packed) == 250
    assert np.int64(batch_offset_limit(packed)) * 4000 <= 10**6


def test_default_message_bound_fits_the_largest_one_record_message() -> None:
    """The producer's default message is one CSV record; the largest the readout's word can
    give must fit the default, or every such message would be logged as oversized."""
    largest = decode_words(np.array([np.iinfo(np.uint64).max], dtype=np.uint64))
    line = format_csv_lines(largest)[0] + "\n"
    assert len(line.encode()) <= StreamSettings("b", "h", "r", "/cp").max_message_bytes
    # so with one record per message the record bound, not the byte bound, sizes a batch
    assert (
        RUN.option("--max-batch-bytes").default // RUN.option("--max-message-bytes").default
        >= RUN.option("--max-offsets-per-trigger").default
    )
