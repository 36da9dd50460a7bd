"""File and binary sources on real files: name order, .gz, header/blank lines, byte orders,
streaming in blocks, and the --output CSV that reads back like a real data file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from dtmon_producer.sources.files import FileSource
from dtmon_producer.sources.formats import read_text_lines
from minidt.codecs import CSV_HEADER, encode_words, parse_csv, words_to_bytes
from services.producer.tests.producer_helpers import SAMPLE, run_producer, sample_lines


def _all_lines(source: FileSource) -> list[bytes]:
    return [line for chunk in source.chunks() for line in chunk.lines]


def _write(path: Path, lines: list[bytes], header: bool = True, gz: bool = False) -> Path:
    text = (CSV_HEADER.encode() + b"\n" if header else b"") + b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(text) if gz else text)
    return path


def test_directory_and_glob_are_read_in_name_order_with_gz(tmp_path: Path) -> None:
    lines = sample_lines()
    parts = [lines[:100], lines[100:300], lines[300:]]
    # Written out of order on purpose: the listing order must not matter.
    _write(tmp_path / "data_000002.txt", parts[2])
    _write(tmp_path / "data_000000.txt.gz", parts[0], gz=True)
    _write(tmp_path / "data_000001.txt", parts[1])
    assert _all_lines(FileSource(str(tmp_path))) == lines
    assert _all_lines(FileSource(str(tmp_path / "data_*"))) == lines
    chunks = list(FileSource(str(tmp_path)).chunks())
    assert [c.origin.rsplit("/", 1)[-1] for c in chunks] == [
        "data_000000.txt.gz",
        "data_000001.txt",
        "data_000002.txt",
    ]


def test_sample_file_gives_exactly_its_500_records_unchanged() -> None:
    lines = _all_lines(FileSource(str(SAMPLE)))
    assert len(lines) == 500
    assert lines == SAMPLE.read_bytes().splitlines()[1:]


def test_blank_header_and_crlf_lines_are_dropped_everything_else_forwarded(tmp_path: Path) -> None:
    raw = (
        b"HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS\r\n"
        b"2,0,75,3387200947,2922,2\r\n"
        b"\r\n"
        b"   \n"
        b"not,a,valid,record\n"
        b"HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS\n"
        b"4,1,0,3387315431,0,-0.573730"  # no final newline
    )
    path = tmp_path / "mixed.txt"
    path.write_bytes(raw)
    assert _all_lines(FileSource(str(path))) == [
        b"2,0,75,3387200947,2922,2",
        b"not,a,valid,record",  # the processor counts it as malformed; the DAQ forwards it
        b"4,1,0,3387315431,0,-0.573730",
    ]


def test_text_reader_streams_in_blocks_and_splits_lines_across_them() -> None:
    import io

    lines = sample_lines()
    blocks = list(read_text_lines(io.BytesIO(SAMPLE.read_bytes()), "sample", block=64))
    assert len(blocks) > 100  # many small reads, never the whole file at once
    assert [ln for block in blocks for ln in block] == lines


def _hits_only() -> tuple[list[bytes], object]:
    """The sample's records that fit the 64-bit word (hits and small ancillary words)."""
    parsed = parse_csv(SAMPLE.read_bytes()).hits
    fits = (parsed.bx < 4096) & (parsed.tdc == np.round(parsed.tdc)) & (parsed.tdc >= 0)
    fits &= parsed.tdc < 32
    hits = parsed.select(fits)
    lines = [ln for ln, ok in zip(sample_lines(), fits.tolist(), strict=True) if ok]
    return lines, hits


def test_binary_files_in_both_byte_orders_become_the_same_csv_lines(tmp_path: Path) -> None:
    lines, hits = _hits_only()
    assert len(lines) > 250
    words = encode_words(hits)  # type: ignore[arg-type]
    for order in ("little", "big"):
        path = tmp_path / f"data_{order}.dat"
        path.write_bytes(words_to_bytes(words, order))  # type: ignore[arg-type]
        got = _all_lines(FileSource(str(path), fmt="binary", byteorder=order))  # type: ignore[arg-type]
        assert got == lines, order
    gz = tmp_path / "data.dat.gz"
    gz.write_bytes(gzip.compress(words_to_bytes(words, "little")))
    assert _all_lines(FileSource(str(gz), fmt="binary")) == lines
    # The wrong byte order decodes to different (garbage) records, which is why it is a flag.
    wrong = _all_lines(FileSource(str(tmp_path / "data_big.dat"), fmt="binary"))
    assert wrong != lines


def test_cli_output_writes_a_dataset_file_that_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "synthetic.txt"
    proc = run_producer(
        "--source",
        "sim",
        "--seed",
        "9",
        "--rate",
        "0",
        "--max-records",
        "5000",
        "--output",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    text = out.read_bytes()
    assert text.startswith(CSV_HEADER.encode() + b"\n")
    result = parse_csv(text)
    assert result.malformed == 0 and len(result.hits) == 5000
    assert "summary: sent 5000 records" in proc.stderr

    binary = tmp_path / "sample.dat"
    lines, hits = _hits_only()
    binary.write_bytes(words_to_bytes(encode_words(hits), "big"))  # type: ignore[arg-type]
    proc = run_producer(
        "--source", str(binary), "--format", "binary", "--byte-order", "big",
        "--rate", "0", "--output", "-",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.encode().splitlines() == [CSV_HEADER.encode(), *lines]


def test_loop_restarts_at_the_first_file_and_max_records_stops(tmp_path: Path) -> None:
    out = tmp_path / "looped.txt"
    proc = run_producer(
        "--source", str(SAMPLE), "--loop", "--max-records", "1200", "--output", str(out)
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = sample_lines()
    assert out.read_bytes().splitlines()[1:] == lines + lines + lines[:200]
    assert proc.stderr.count("event=input_done") == 2
