"""Static batch mode and the transformation without Kafka, on the session's SparkSession:
files (plain and .gz) cut into batches by record count, the CSV grammar of minidt's parser on
tricky lines, and non-uniform histogram edges -- all equal to the minidt reference."""

from __future__ import annotations

import gzip
from pathlib import Path

from pyspark.sql import SparkSession

from dtmon_processor.assemble import build_message
from dtmon_processor.batchmode import run_batches
from dtmon_processor.compute import compute_counts
from dtmon_processor.transform import lines_from_values
from minidt.binning import Binning
from minidt.codecs import CSV_HEADER, parse_csv
from minidt.reference import compute_quantities
from services.processor.tests.processor_helpers import SAMPLE, summed


def _quantities(message: dict) -> dict:
    return {k: message[k] for k in compute_quantities(parse_csv(b"").hits)}


def test_batches_over_gz_and_plain_files(spark: SparkSession, tmp_path: Path) -> None:
    gz = tmp_path / "a.txt.gz"
    gz.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    messages = list(run_batches(spark, [gz, SAMPLE], rows_per_batch=300))
    records = [
        line
        for line in SAMPLE.read_bytes().splitlines() * 2
        if line.strip() and line.strip() != CSV_HEADER.encode()
    ]
    assert [m["batch_id"] for m in messages] == list(range((len(records) + 299) // 300))
    for m in messages:
        chunk = records[m["batch_id"] * 300 : (m["batch_id"] + 1) * 300]
        parsed = parse_csv(b"\n".join(chunk))
        assert m["input"] == {
            "rows": len(parsed.hits),
            "malformed": parsed.malformed,
            "first_ts_ms": None,
            "last_ts_ms": None,
        }
    assert sum(m["hits"] for m in messages) == 2 * 248
    # Event building carries orbits over batch boundaries; the last batch flushes them. (The
    # same file twice repeats orbit numbers, so the per-orbit sums are checked below instead.)
    assert sum(m["events"]["carried_out_hits"] for m in messages) > 0
    assert messages[-1]["events"]["carried_out_hits"] == 0


def test_batch_mode_sample_cut_every_150_and_700_rows(spark: SparkSession) -> None:
    whole = compute_quantities(parse_csv(SAMPLE.read_bytes()).hits)
    for rows in (150, 700):
        messages = list(run_batches(spark, [SAMPLE], rows_per_batch=rows))
        assert summed(messages) == whole, f"cut every {rows} rows"


TRICKY = [
    "2,0,1,5,6,7",
    " \t2,0,1,5,6,7\r",
    "2,0,1,5,6,+7.5",
    "2,0,1,5,6,.5",
    "2,0,1,5,6,5.",
    "2,0,1,5,6,1e3",
    "2,0,1,5,6,1E-3",
    "2,0,1,5,6,-0",
    "2,0,1,5,6,1e",
    "2,0,1,5,6,e5",
    "2,0,1,5,6,--1",
    "2,0,1,5,6,1.2.3",
    "2,0,1,5,6,1e400",
    "2,0,1,5,6,inf",
    "2,0,1,5,6,0x10",
    "+2,0,1,5,6,7",
    "2,0,1,5,6 ,7",
    "2,0,1,5,6,7,",
    "2,0,1,5,,7",
    "1234567890123456789,0,1,5,6,7",
    "123456789012345678,0,1,5,6,7",
    "2,0,1,5,6," + "1" * 64,
    "2,0,1,5,6," + "1" * 65,
    CSV_HEADER,
    " " + CSV_HEADER,
    "HEAD,FPGA",
    "",
    "   ",
    "2;0;1;5;6;7",
    "2,0,1,5,6,7\x00",
    "2,1,128,5,999999999999999999,3",
    "2,1,3,5,999999999999999998,3",
]


def test_parser_agrees_with_minidt_on_tricky_lines(spark: SparkSession) -> None:
    text = "\n".join(TRICKY).encode()
    df = spark.createDataFrame([(text, None)], "value binary, timestamp timestamp")
    counts = compute_counts(lines_from_values(df), Binning())[0]
    parsed = parse_csv(text)
    assert (counts.rows, counts.malformed) == (len(parsed.hits), parsed.malformed)
    message = build_message(counts, binning=Binning(), query_id="q", batch_id=0, emitted_at_ms=0)
    assert _quantities(message) == compute_quantities(parsed.hits)


def test_non_uniform_edges(spark: SparkSession) -> None:
    binning = Binning(
        occupancy=((0.0, 3.0, 10.0, 64.0), (64.0, 65.0, 100.0, 128.0), (0.0, 64.0), (60.0, 128.0)),
        orbit_multiplicity=(1.0, 2.0, 4.0, 65.0),
        drift_time_ns=(-200.0, -100.0, 0.0, 50.0, 100.0, 390.0, 395.0, 800.0),
    )
    text = SAMPLE.read_bytes()
    df = spark.createDataFrame([(text, None)], "value binary, timestamp timestamp")
    counts = compute_counts(lines_from_values(df), binning)[0]
    message = build_message(counts, binning=binning, query_id="q", batch_id=0, emitted_at_ms=0)
    assert _quantities(message) == compute_quantities(parse_csv(text).hits, binning)
