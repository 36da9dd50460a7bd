"""Codec tests: the real sample, malformed input, and properties checked against a plain
Python oracle (str.split/int/float per line) written independently of the numpy parser."""

from __future__ import annotations

import csv
import io
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minidt.codecs import (
    CSV_HEADER,
    MAX_REPORTED_ERRORS,
    Hits,
    decode_words,
    encode_words,
    format_csv,
    format_csv_lines,
    parse_csv,
    words_from_bytes,
    words_to_bytes,
)

# ------------------------------------------------------------------------------ oracle

_INT = re.compile(r"[0-9]{1,18}")
_FLOATISH = re.compile(r"[0-9.+\-eE]{1,64}")


def oracle_parse_line(line: str) -> tuple[str, tuple | None]:
    """('blank'|'header'|'bad'|'ok', record): the documented grammar, line by line."""
    text = line.strip(" \t\r\n")
    if not text:
        return "blank", None
    if text == CSV_HEADER:
        return "header", None
    fields = text.split(",")
    if len(fields) != 6:
        return "bad", None
    if not all(_INT.fullmatch(f) for f in fields[:5]):
        return "bad", None
    t = fields[5]
    if not _FLOATISH.fullmatch(t) or not any(ch.isdigit() for ch in t):
        return "bad", None
    try:
        value = float(t)
    except ValueError:
        return "bad", None
    if not math.isfinite(value):
        return "bad", None
    return "ok", (*(int(f) for f in fields[:5]), value)


# ------------------------------------------------------------------------------ sample


def test_sample_parses_completely(sample_bytes: bytes) -> None:
    result = parse_csv(sample_bytes)
    assert result.rows == 500
    assert result.malformed == 0
    assert result.errors == []
    assert result.header_lines == 1
    hits = result.hits
    assert hits.orbit.dtype == np.int64
    assert hits.tdc.dtype == np.float64
    assert int(np.count_nonzero(hits.head == 2)) == 248
    rows = hits.rows()
    assert (2, 0, 75, 3387200947, 2922, 2.0) in rows
    assert (4, 1, 0, 3387315431, 0, -0.57373) in rows
    assert (5, 1, 0, 3387315431, 0, 45.5) in rows
    assert rows[0] == (1, 1, 0, 3387315431, 0, 130.0)


def test_sample_matches_csv_module(sample_bytes: bytes) -> None:
    reader = csv.reader(io.StringIO(sample_bytes.decode()))
    header = next(reader)
    assert ",".join(header) == CSV_HEADER
    expected = [(*(int(v) for v in row[:5]), float(row[5])) for row in reader]
    assert parse_csv(sample_bytes).hits.rows() == expected


def test_str_bytes_and_lines_agree(sample_bytes: bytes) -> None:
    text = sample_bytes.decode()
    a = parse_csv(sample_bytes).hits
    b = parse_csv(text).hits
    c = parse_csv(text.splitlines()).hits
    d = parse_csv(line.encode() + b"\n" for line in text.splitlines()).hits
    assert a.equals(b) and a.equals(c) and a.equals(d)


def test_sample_rows_need_64_bit_orbits(sample_bytes: bytes) -> None:
    hits = parse_csv(sample_bytes).hits
    assert int(hits.orbit.max()) > 2**31 - 1  # would not fit a signed 32-bit integer
    assert (2, 0, 75, 3387200947, 2922, 2.0) in hits.rows()
    # The counter resets inside the file (row 328 jumps to about 6.2e5).
    assert int(hits.orbit.min()) < 1_000_000


# ------------------------------------------------------------------------------ edge cases


def test_header_anywhere_blank_lines_and_crlf_are_not_records() -> None:
    text = f"{CSV_HEADER}\r\n2,0,1,5,6,7\r\n\r\n   \n{CSV_HEADER}\n2,1,3,5,6,8.5\n\n"
    result = parse_csv(text)
    assert result.hits.rows() == [(2, 0, 1, 5, 6, 7.0), (2, 1, 3, 5, 6, 8.5)]
    assert result.malformed == 0
    assert result.header_lines == 2
    assert result.blank_lines == 3


def test_no_header_and_no_trailing_newline() -> None:
    assert parse_csv("2,0,1,5,6,7").hits.rows() == [(2, 0, 1, 5, 6, 7.0)]


def test_empty_inputs() -> None:
    for data in ("", b"", [], "\n\n"):
        result = parse_csv(data)
        assert result.rows == 0 and result.malformed == 0


@pytest.mark.parametrize(
    ("line", "reason_part"),
    [
        ("2,0,1,5,6", "expected 6 fields, got 5"),
        ("2,0,1,5,6,7,8", "expected 6 fields, got 7"),
        ("2,0,x,5,6,7", "TDC_CHANNEL"),
        ("2,0,1.0,5,6,7", "TDC_CHANNEL"),
        ("-2,0,1,5,6,7", "HEAD"),
        (",0,1,5,6,7", "HEAD"),
        ("2,0,1,5,,7", "BX_COUNTER"),
        ("2,0,1,1234567890123456789,6,7", "ORBIT_CNT"),
        ("2,0,1,5,6,", "TDC_MEAS"),
        ("2,0,1,5,6,abc", "TDC_MEAS"),
        ("2,0,1,5,6,nan", "TDC_MEAS"),
        ("2,0,1,5,6,inf", "TDC_MEAS"),
        ("2,0,1,5,6,1e999", "TDC_MEAS"),
        ("2,0,1,5,6,1.2.3", "TDC_MEAS"),
        ("2,0,1,5,6,--1", "TDC_MEAS"),
        ("2,0, 1,5,6,7", "TDC_CHANNEL"),
        ("garbage", "expected 6 fields, got 1"),
        ("2;0;1;5;6;7", "expected 6 fields"),
    ],
)
def test_malformed_line_is_counted_and_described(line: str, reason_part: str) -> None:
    text = f"{CSV_HEADER}\n2,0,1,5,6,7\n{line}\n2,1,2,5,6,7\n"
    result = parse_csv(text)
    assert result.rows == 2
    assert result.malformed == 1
    (err,) = result.errors
    assert err.line_no == 3
    assert reason_part in err.reason
    assert err.text == line


def test_many_bad_lines_are_all_counted_but_few_reported() -> None:
    lines = ["2,0,1,5,6,7", *(["bad"] * 1000), "2,0,1,5,6,8"]
    result = parse_csv(lines)
    assert result.rows == 2
    assert result.malformed == 1000
    assert len(result.errors) == MAX_REPORTED_ERRORS
    assert [e.line_no for e in result.errors] == list(range(2, 2 + MAX_REPORTED_ERRORS))


def test_very_long_bad_line_is_truncated_in_the_report() -> None:
    line = "2,0," + "9" * 500 + ",5,6,7"
    result = parse_csv([line])
    assert result.malformed == 1
    err = result.errors[0]
    assert err.reason.startswith("TDC_CHANNEL is not a non-negative integer: '999")
    assert len(err.text) <= 120 and err.text.endswith("...")


def test_line_items_with_embedded_newline_are_malformed() -> None:
    result = parse_csv(["2,0,1,5,6,7\n", "2,0,1,5\n,6,7", "2,0,1,5,6,9\r\n"])
    assert result.hits.rows() == [(2, 0, 1, 5, 6, 7.0), (2, 0, 1, 5, 6, 9.0)]
    assert result.malformed == 1
    assert result.errors[0].line_no == 2


def test_invalid_utf8_bytes_are_malformed_not_fatal() -> None:
    result = parse_csv(b"2,0,1,5,6,7\n2,0,\xff\xfe,5,6,7\n")
    assert result.rows == 1 and result.malformed == 1
    assert "TDC_CHANNEL" in result.errors[0].reason


# ------------------------------------------------------------------------------ properties

_line_chars = st.sampled_from([*"0123456789,.-+eE x\t\r", "nan", "inf", CSV_HEADER])
_lines = st.one_of(
    st.lists(_line_chars, max_size=30).map("".join),
    st.text(max_size=40),
    st.tuples(
        *(st.integers(0, 10**19) for _ in range(5)),
        st.floats(allow_nan=True, allow_infinity=True),
    ).map(lambda r: ",".join(str(x) for x in r)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_lines, max_size=25))
def test_any_line_parses_or_is_counted_malformed(lines: list[str]) -> None:
    result = parse_csv(lines)  # must never raise
    expected_rows, expected_bad = [], []
    for i, line in enumerate(lines, start=1):
        item = line.rstrip("\r\n")
        if "\n" in item or "\r" in item:
            kind, record = "bad", None
        else:
            kind, record = oracle_parse_line(item)
        if kind == "ok":
            expected_rows.append(record)
        elif kind == "bad":
            expected_bad.append(i)
    assert result.hits.rows() == expected_rows
    assert result.malformed == len(expected_bad)
    assert [e.line_no for e in result.errors] == expected_bad[:MAX_REPORTED_ERRORS]


_hits_rows = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.integers(0, 7),
        st.integers(0, 511),
        st.integers(0, 10**18 - 1),
        st.integers(0, 40000),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(_hits_rows)
def test_csv_format_parse_round_trip(rows: list[tuple]) -> None:
    hits = Hits.from_rows(rows)
    text = format_csv(hits)
    result = parse_csv(text)
    assert result.malformed == 0
    assert result.hits.equals(hits)
    assert parse_csv(format_csv_lines(hits)).hits.equals(hits)


def test_format_keeps_hit_rows_byte_identical(sample_bytes: bytes) -> None:
    lines = sample_bytes.decode().splitlines()[1:]
    formatted = format_csv_lines(parse_csv(sample_bytes).hits)
    hit_lines = [(a, b) for a, b in zip(lines, formatted, strict=True) if a.startswith("2,")]
    assert hit_lines and all(a == b for a, b in hit_lines)


def test_format_rejects_non_finite_tdc() -> None:
    hits = Hits.from_rows([(2, 0, 1, 5, 6, float("nan"))])
    with pytest.raises(ValueError, match="TDC_MEAS"):
        format_csv_lines(hits)


# ------------------------------------------------------------------------------ binary words

_word_rows = st.lists(
    st.tuples(
        st.integers(0, 7),
        st.integers(0, 7),
        st.integers(0, 511),
        st.integers(0, 2**32 - 1),
        st.integers(0, 4095),
        st.integers(0, 31),
    ),
    max_size=50,
)


@settings(max_examples=200, deadline=None)
@given(_word_rows, st.sampled_from(["little", "big"]))
def test_binary_round_trip(rows: list[tuple], byteorder: str) -> None:
    hits = Hits.from_rows(rows)
    words = encode_words(hits)
    assert words.dtype == np.uint64
    assert decode_words(words).equals(hits)
    raw = words_to_bytes(words, byteorder)
    assert len(raw) == 8 * len(rows)
    assert np.array_equal(words_from_bytes(raw, byteorder), words)


def test_word_layout_matches_bit_positions() -> None:
    head, fpga, channel, orbit, bx, tdc = 2, 1, 128, 3387200947, 2922, 17
    expected = tdc | bx << 5 | orbit << 17 | channel << 49 | fpga << 58 | head << 61
    (word,) = encode_words(Hits.from_rows([(head, fpga, channel, orbit, bx, tdc)]))
    assert int(word) == expected
    assert words_to_bytes(np.array([expected], dtype=np.uint64)) == expected.to_bytes(8, "little")
    assert words_to_bytes(np.array([expected], dtype=np.uint64), "big") == expected.to_bytes(
        8, "big"
    )
    decoded = decode_words(words_from_bytes(expected.to_bytes(8, "big"), byteorder="big"))
    assert decoded.rows() == [(head, fpga, channel, orbit, bx, float(tdc))]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ((8, 0, 0, 0, 0, 0), "HEAD"),
        ((2, 8, 0, 0, 0, 0), "FPGA"),
        ((2, 0, 512, 0, 0, 0), "TDC_CHANNEL"),
        ((2, 0, 0, 2**32, 0, 0), "ORBIT_CNT"),
        ((2, 0, 0, 0, 4096, 0), "BX_COUNTER"),
        ((2, 0, 0, 0, 0, 32), "TDC_MEAS"),
        ((2, 0, 0, 0, 0, 1.5), "TDC_MEAS"),
        ((4, 1, 0, 0, 0, -0.57373), "TDC_MEAS"),
    ],
)
def test_encode_out_of_range_names_the_field(row: tuple, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        encode_words(Hits.from_rows([row]))


def test_words_from_bytes_rejects_partial_words_and_bad_byteorder() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        words_from_bytes(b"\x00" * 12)
    with pytest.raises(ValueError, match="byteorder"):
        words_from_bytes(b"\x00" * 8, byteorder="middle")  # type: ignore[arg-type]


def test_hits_columns_must_agree_in_length() -> None:
    with pytest.raises(ValueError, match="column"):
        Hits.from_columns([1, 2], [1], [1], [1], [1], [1.0])
