"""Hit codecs: the dataset's CSV text and the 64-bit binary words, both columnar (numpy).

Why columnar and vectorised: a data file holds 1.3 million rows and the processor parses
whole micro-batches at once, so per-row Python would dominate the cost. ``parse_csv`` works
on the raw bytes with numpy (line and comma offsets, fixed-width digit gathers), and handles
bad lines inside the same vectorised pass: every line is classified, a malformed one is
counted and described, and it never raises out of a batch.

CSV grammar accepted by ``parse_csv`` (one record per line, fields separated by ``,``):

* ``HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER`` are non-negative decimal integers (digits
  only, at most 18 digits so they fit int64). ``ORBIT_CNT`` is int64 (it reaches 3.4e9).
* ``TDC_MEAS`` is a finite decimal number (``[+-]digits[.digits][e[+-]digits]``), parsed as
  float64: ancillary words carry values such as ``-0.573730``.
* Leading/trailing spaces, tabs and ``\\r`` around a line are ignored (CRLF files work);
  whitespace inside a line makes it malformed.
* The header line ``CSV_HEADER`` is skipped wherever it appears (files may be concatenated).
* Blank lines are skipped silently: they carry no record, so they are neither rows nor
  malformed (counted in ``ParseResult.blank_lines`` for transparency).
* Anything else with the wrong field count, a non-numeric or empty field is malformed.

Records of every HEAD are returned: ancillary words (HEAD 0, 1, 3, 4, 5) are part of the
stream and count as input rows; only the quantities keep HEAD == 2.

Binary words: bits 0-4 TDC, 5-16 BX, 17-48 ORBIT, 49-57 CHANNEL, 58-60 FPGA, 61-63 HEAD
(bit 0 least significant). The byte order of the files is not stated, so it is a parameter
(little-endian by default).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np

CSV_HEADER = "HEAD,FPGA,TDC_CHANNEL,ORBIT_CNT,BX_COUNTER,TDC_MEAS"
FIELDS = ("HEAD", "FPGA", "TDC_CHANNEL", "ORBIT_CNT", "BX_COUNTER", "TDC_MEAS")
N_FIELDS = len(FIELDS)
MAX_REPORTED_ERRORS = 10
MAX_INT_DIGITS = 18  # 10**18 - 1 < 2**63 - 1: no int64 overflow possible
_MAX_ERROR_TEXT = 120
_PAD = b"\x00" * 32

ByteOrder = Literal["little", "big"]


@dataclass(frozen=True, eq=False)
class Hits:
    """Columnar hit records (any HEAD); all columns have the same length.

    Integer columns are int64 (so arithmetic such as ``orbit * 3564`` never overflows) and
    TDC_MEAS is float64. Construct through ``Hits.from_columns`` to get the dtypes coerced.
    """

    head: np.ndarray
    fpga: np.ndarray
    channel: np.ndarray
    orbit: np.ndarray
    bx: np.ndarray
    tdc: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.head)
        for name in ("fpga", "channel", "orbit", "bx", "tdc"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Hits column {name} has {len(getattr(self, name))} entries, head has {n}"
                )

    @classmethod
    def from_columns(
        cls,
        head: Iterable[int] | np.ndarray,
        fpga: Iterable[int] | np.ndarray,
        channel: Iterable[int] | np.ndarray,
        orbit: Iterable[int] | np.ndarray,
        bx: Iterable[int] | np.ndarray,
        tdc: Iterable[float] | np.ndarray,
    ) -> Hits:
        """Build from any array-likes, coercing to the canonical dtypes."""

        def ints(x: Iterable[int] | np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(np.asarray(x, dtype=np.int64).reshape(-1))

        return cls(
            head=ints(head),
            fpga=ints(fpga),
            channel=ints(channel),
            orbit=ints(orbit),
            bx=ints(bx),
            tdc=np.ascontiguousarray(np.asarray(tdc, dtype=np.float64).reshape(-1)),
        )

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, int, int, int, int, float]]) -> Hits:
        """Build from (head, fpga, channel, orbit, bx, tdc) tuples: handy in tests."""
        rows = list(rows)
        if not rows:
            return cls.empty()
        cols = list(zip(*rows, strict=True))
        return cls.from_columns(*cols)

    @classmethod
    def empty(cls) -> Hits:
        return cls.from_columns([], [], [], [], [], [])

    @classmethod
    def concat(cls, parts: Iterable[Hits]) -> Hits:
        parts = list(parts)
        if not parts:
            return cls.empty()
        return cls(
            **{
                name: np.concatenate([getattr(p, name) for p in parts])
                for name in ("head", "fpga", "channel", "orbit", "bx", "tdc")
            }
        )

    def __len__(self) -> int:
        return len(self.head)

    def select(self, mask_or_index: np.ndarray) -> Hits:
        """The rows picked by a boolean mask or an index array."""
        return Hits(
            head=self.head[mask_or_index],
            fpga=self.fpga[mask_or_index],
            channel=self.channel[mask_or_index],
            orbit=self.orbit[mask_or_index],
            bx=self.bx[mask_or_index],
            tdc=self.tdc[mask_or_index],
        )

    def rows(self) -> list[tuple[int, int, int, int, int, float]]:
        """Plain Python tuples, in order (for tests and debugging, not for big batches)."""
        return list(
            zip(
                self.head.tolist(),
                self.fpga.tolist(),
                self.channel.tolist(),
                self.orbit.tolist(),
                self.bx.tolist(),
                self.tdc.tolist(),
                strict=True,
            )
        )

    def equals(self, other: Hits) -> bool:
        """Same rows in the same order (TDC compared exactly, NaN never occurs in Hits)."""
        return len(self) == len(other) and all(
            np.array_equal(getattr(self, n), getattr(other, n))
            for n in ("head", "fpga", "channel", "orbit", "bx", "tdc")
        )


class ParseError(NamedTuple):
    """Where and why a line was rejected; ``line_no`` is 1-based within the input."""

    line_no: int
    reason: str
    text: str


@dataclass(frozen=True)
class ParseResult:
    """Outcome of one batch parse: the good records and an account of everything else."""

    hits: Hits
    malformed: int = 0
    errors: list[ParseError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS
    header_lines: int = 0
    blank_lines: int = 0

    @property
    def rows(self) -> int:
        """Records that parsed (any HEAD): the contract's ``input.rows``."""
        return len(self.hits)


# ---------------------------------------------------------------------------------------------
# CSV parsing


def _to_bytes(data: str | bytes | bytearray | memoryview | Iterable[str | bytes]) -> bytes:
    """One newline-separated byte buffer; iterable items become one line each."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8", errors="surrogateescape")
    lines: list[bytes] = []
    for item in data:
        b = item if isinstance(item, bytes) else str(item).encode("utf-8", "surrogateescape")
        b = b.rstrip(b"\r\n")
        if b"\n" in b or b"\r" in b:
            # Keep one item = one line so line numbers stay item numbers; a control
            # character no field may contain makes the item malformed downstream.
            b = b.replace(b"\r", b"\x00").replace(b"\n", b"\x00")
        lines.append(b)
    return b"\n".join(lines)


def _gather(buf: np.ndarray, start: np.ndarray, length: np.ndarray, width: int) -> np.ndarray:
    """Bytes of each field left-aligned in an (n, width) matrix, zero padded."""
    offs = np.arange(width, dtype=np.int64)
    idx = start[:, None] + offs
    np.minimum(idx, len(buf) - 1, out=idx)
    chars = buf[idx]
    chars[offs >= length[:, None]] = 0
    return chars


def _parse_uint_field(
    buf: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative decimal integers (digits only, 1..18 of them): (values, ok).

    Horner's rule over digit positions counted from the field's end: one vector operation
    per digit position instead of per-row Python work. ``buf`` must be left-padded by at
    least MAX_INT_DIGITS bytes so positions before a field never go negative.
    """
    length = end - start
    n = len(start)
    values = np.zeros(n, dtype=np.int64)
    if n == 0:
        return values, np.zeros(0, dtype=bool)
    width = int(min(max(int(length.max()), 1), MAX_INT_DIGITS))
    worst = np.zeros(n, dtype=np.uint8)
    base = end - width
    for j in range(width):
        # Column j is the byte at (end - width + j); it belongs to the field when the field
        # is longer than the (width - 1 - j) digits to its right.
        d = buf[base + j] - np.uint8(48)  # non-digits wrap around to >= 10
        d[length <= width - 1 - j] = 0
        np.maximum(worst, d, out=worst)
        values *= 10
        values += d
    ok = (worst <= 9) & (length >= 1) & (length <= MAX_INT_DIGITS)
    return values, ok


_FLOAT_CHARS = np.zeros(256, dtype=bool)
_FLOAT_CHARS[np.frombuffer(b"0123456789.+-eE", dtype=np.uint8)] = True
_DIGIT_CHARS = np.zeros(256, dtype=bool)
_DIGIT_CHARS[np.frombuffer(b"0123456789", dtype=np.uint8)] = True
_MAX_FLOAT_CHARS = 64


def _parse_float_field(
    buf: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Finite decimal numbers: (values, ok)."""
    # Hit rows carry integral TDC values: the exact integer path handles them cheaply.
    int_values, is_int = _parse_uint_field(buf, start, end)
    values = int_values.astype(np.float64)
    if np.all(is_int):
        return values, is_int
    rest = np.flatnonzero(~is_int)
    rest_values, rest_ok = _parse_decimal(buf, start[rest], end[rest])
    values[rest] = rest_values
    ok = is_int.copy()
    ok[rest] = rest_ok
    return values, ok


def _parse_decimal(
    buf: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """numpy's string->float cast does the parsing (correctly rounded, like Python's float());
    a character-class check first keeps words such as ``nan``/``inf`` and stray text out,
    and a per-value fallback isolates the rare strings that pass the class check but are not
    numbers (``1.2.3``, ``--1``)."""
    length = end - start
    n = len(start)
    values = np.zeros(n, dtype=np.float64)
    ok = (length >= 1) & (length <= _MAX_FLOAT_CHARS)
    if n == 0:
        return values, ok
    width = int(min(max(int(length.max()), 1), _MAX_FLOAT_CHARS))
    chars = _gather(buf, start, np.minimum(length, width), width)
    inside = np.arange(width) < np.minimum(length, width)[:, None]
    ok &= np.all(_FLOAT_CHARS[chars] | ~inside, axis=1)
    ok &= np.any(_DIGIT_CHARS[chars], axis=1)
    cand = np.flatnonzero(ok)
    if len(cand) == 0:
        return values, ok
    texts = np.ascontiguousarray(chars[cand]).view(f"S{width}").reshape(-1)
    try:
        parsed = texts.astype(np.float64)
    except ValueError:
        parsed = np.array([_float_or_nan(t) for t in texts.tolist()], dtype=np.float64)
    finite = np.isfinite(parsed)
    values[cand] = np.where(finite, parsed, 0.0)
    ok[cand[~finite]] = False
    return values, ok


def _float_or_nan(text: bytes) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _line_bounds(raw: bytes, buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and (exclusive) end offset of every line; a final newline opens no extra line."""
    nl = np.flatnonzero(buf == 10)
    line_start = np.concatenate(([len(_PAD)], nl + 1)).astype(np.int64)
    line_end = np.concatenate((nl, [len(buf)])).astype(np.int64)
    if raw.endswith(b"\n"):
        line_start, line_end = line_start[:-1], line_end[:-1]
    return line_start, line_end


def _trim(
    buf: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Line bounds without surrounding whitespace, and which lines are blank.

    Fast path: no spaces/tabs and carriage returns only right before a line end (plain or
    CRLF files) -> just drop the CR. Otherwise the careful path locates the first and last
    non-whitespace byte of every line by binary search.
    """
    cr = np.flatnonzero(buf == 13)
    if not np.any((buf == 32) | (buf == 9)) and (
        len(cr) == 0 or np.all((cr + 1 == len(buf)) | (buf[np.minimum(cr + 1, len(buf) - 1)] == 10))
    ):
        end = end.copy()
        has_cr = (end > start) & (buf[np.maximum(end - 1, 0)] == 13)
        end[has_cr] -= 1
        return start, end, end <= start
    ws = (buf == 32) | (buf == 9) | (buf == 13) | (buf == 10)
    solid = np.flatnonzero(~ws).astype(np.int64)
    if len(solid) == 0:
        return start, start.copy(), np.ones(len(start), dtype=bool)
    first = np.searchsorted(solid, start, side="left")
    last = np.searchsorted(solid, end, side="left") - 1
    blank = first > last
    s = np.where(blank, start, solid[np.minimum(first, len(solid) - 1)])
    e = np.where(blank, start, solid[np.clip(last, 0, None)] + 1)
    return s, e, blank


def _is_header(buf: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    header = np.frombuffer(CSV_HEADER.encode(), dtype=np.uint8)
    is_header = np.zeros(len(s), dtype=bool)
    maybe = np.flatnonzero((e - s == len(header)) & (buf[np.minimum(s, len(buf) - 1)] == 72))
    if len(maybe):
        block = buf[s[maybe][:, None] + np.arange(len(header))]
        is_header[maybe] = np.all(block == header, axis=1)
    return is_header


def _line_text(raw: bytes, start: int, end: int) -> str:
    text = raw[start - len(_PAD) : end - len(_PAD)].decode("utf-8", errors="replace")
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 3] + "..."


def parse_csv(
    data: str | bytes | bytearray | memoryview | Iterable[str | bytes],
) -> ParseResult:
    """Parse dataset CSV text into columnar Hits; bad lines are counted, never raised.

    ``data`` is the text of many lines (str or bytes) or an iterable of lines (each item is
    one line, e.g. Kafka record values). Line numbers in ``errors`` are 1-based positions in
    that input (item numbers for an iterable).
    """
    raw = _to_bytes(data)
    if len(raw) == 0:
        return ParseResult(hits=Hits.empty())
    # Left padding keeps every "byte before a field" index valid for the digit parser;
    # offsets below are into the padded buffer.
    buf = np.frombuffer(bytes(_PAD) + raw, dtype=np.uint8)

    line_start, line_end = _line_bounds(raw, buf)
    # Commas per line by one segmented sum; lines partition the bytes after the padding.
    comma = buf == 44
    commas = np.flatnonzero(comma)
    per_line = np.add.reduceat(comma.view(np.uint8), line_start, dtype=np.int64)
    first_comma = np.concatenate(([0], np.cumsum(per_line)[:-1]))
    line_no = np.arange(1, len(line_start) + 1, dtype=np.int64)
    s, e, blank = _trim(buf, line_start, line_end)
    keep = ~blank
    s, e, line_no = s[keep], e[keep], line_no[keep]
    per_line, first_comma = per_line[keep], first_comma[keep]
    blank_lines = int(blank.sum())

    # Header lines, wherever they appear.
    is_header = _is_header(buf, s, e)
    header_lines = int(is_header.sum())
    rec = ~is_header
    s, e, line_no = s[rec], e[rec], line_no[rec]
    c_first, n_commas = first_comma[rec], per_line[rec]

    # Field bounds from comma positions; exactly five commas per record. Fields are parsed
    # for the well-shaped lines only, in that subset's index space.
    good_shape = n_commas == N_FIELDS - 1
    shaped = np.flatnonzero(good_shape)
    cpos = commas[c_first[shaped][:, None] + np.arange(N_FIELDS - 1)]
    starts = [s[shaped], *(cpos[:, k] + 1 for k in range(N_FIELDS - 1))]
    ends = [*(cpos[:, k] for k in range(N_FIELDS - 1)), e[shaped]]
    del cpos
    parsed = [_parse_uint_field(buf, starts[k], ends[k]) for k in range(N_FIELDS - 1)]
    parsed.append(_parse_float_field(buf, starts[-1], ends[-1]))
    field_ok = np.column_stack([fok for _, fok in parsed]) if len(shaped) else None
    record_ok = np.logical_and.reduce([fok for _, fok in parsed])
    columns = [vals[record_ok] for vals, _ in parsed]

    ok = np.zeros(len(s), dtype=bool)
    ok[shaped[record_ok]] = True
    bad = np.flatnonzero(~ok)
    errors: list[ParseError] = []
    for i in bad[:MAX_REPORTED_ERRORS].tolist():
        text = _line_text(raw, int(s[i]), int(e[i]))
        if not good_shape[i] or field_ok is None:
            reason = f"expected {N_FIELDS} fields, got {int(n_commas[i]) + 1}"
        else:
            j = int(np.searchsorted(shaped, i))
            k = int(np.argmin(field_ok[j]))
            kind = "a finite number" if k == N_FIELDS - 1 else "a non-negative integer"
            value = _line_text(raw, int(starts[k][j]), int(ends[k][j]))
            reason = f"{FIELDS[k]} is not {kind}: {value!r}"
        errors.append(ParseError(int(line_no[i]), reason, text))

    head, fpga, channel, orbit, bx, tdc = columns
    hits = Hits(head=head, fpga=fpga, channel=channel, orbit=orbit, bx=bx, tdc=tdc)
    return ParseResult(
        hits=hits,
        malformed=len(bad),
        errors=errors,
        header_lines=header_lines,
        blank_lines=blank_lines,
    )


# ---------------------------------------------------------------------------------------------
# CSV formatting


def _format_tdc(values: np.ndarray) -> list[str]:
    """Integral values as integers (like the hit rows of the files), others as the shortest
    text that parses back to the same float (so format -> parse round-trips exactly)."""
    if len(values) and not np.all(np.isfinite(values)):
        i = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"cannot format TDC_MEAS: value {values[i]!r} at index {i} is not finite")
    integral = (values == np.round(values)) & (np.abs(values) < 2**53)
    out = [repr(v) for v in values.tolist()]
    for i, v in zip(
        np.flatnonzero(integral).tolist(), values[integral].astype(np.int64).tolist(), strict=True
    ):
        out[i] = str(v)
    return out


def format_csv_lines(hits: Hits) -> list[str]:
    """One dataset-format CSV line per record, without newline characters or header."""
    tdc = _format_tdc(hits.tdc)
    return [
        f"{h},{f},{c},{o},{b},{t}"
        for h, f, c, o, b, t in zip(
            hits.head.tolist(),
            hits.fpga.tolist(),
            hits.channel.tolist(),
            hits.orbit.tolist(),
            hits.bx.tolist(),
            tdc,
            strict=True,
        )
    ]


def format_csv(hits: Hits, *, header: bool = True) -> str:
    """A whole CSV document (newline-terminated lines), header first by default."""
    lines = format_csv_lines(hits)
    if header:
        lines.insert(0, CSV_HEADER)
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------------------------------
# 64-bit binary words


class _BitField(NamedTuple):
    name: str  # CSV column name, used in error messages
    attr: str  # Hits attribute
    shift: int
    bits: int


WORD_FIELDS: tuple[_BitField, ...] = (
    _BitField("TDC_MEAS", "tdc", 0, 5),
    _BitField("BX_COUNTER", "bx", 5, 12),
    _BitField("ORBIT_CNT", "orbit", 17, 32),
    _BitField("TDC_CHANNEL", "channel", 49, 9),
    _BitField("FPGA", "fpga", 58, 3),
    _BitField("HEAD", "head", 61, 3),
)


def encode_words(hits: Hits) -> np.ndarray:
    """Pack records into uint64 words; ValueError naming the field if a value does not fit
    (e.g. ancillary BX_COUNTER beyond 4095, or a fractional TDC_MEAS)."""
    words = np.zeros(len(hits), dtype=np.uint64)
    for bf in WORD_FIELDS:
        col = getattr(hits, bf.attr)
        limit = (1 << bf.bits) - 1
        if bf.attr == "tdc":
            bad = ~np.isfinite(col) | (col != np.round(col)) | (col < 0) | (col > limit)
        else:
            bad = (col < 0) | (col > limit)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"cannot encode {bf.name}: value {col[i]!r} at index {i} is not an integer "
                f"in [0, {limit}] ({bf.bits} bits)"
            )
        words |= col.astype(np.uint64) << np.uint64(bf.shift)
    return words


def decode_words(words: np.ndarray) -> Hits:
    """Unpack uint64 words into Hits (TDC becomes an integral float64)."""
    w = np.asarray(words, dtype=np.uint64).reshape(-1)
    cols: dict[str, np.ndarray] = {}
    for bf in WORD_FIELDS:
        mask = np.uint64((1 << bf.bits) - 1)
        cols[bf.attr] = ((w >> np.uint64(bf.shift)) & mask).astype(np.int64)
    cols["tdc"] = cols["tdc"].astype(np.float64)
    return Hits(**cols)


def _word_dtype(byteorder: ByteOrder) -> np.dtype:
    if byteorder == "little":
        return np.dtype("<u8")
    if byteorder == "big":
        return np.dtype(">u8")
    raise ValueError(f"byteorder must be 'little' or 'big', got {byteorder!r}")


def words_from_bytes(
    b: bytes | bytearray | memoryview, byteorder: ByteOrder = "little"
) -> np.ndarray:
    """Read 8-byte words from a binary file's content (native uint64 array)."""
    dt = _word_dtype(byteorder)
    if len(b) % 8:
        raise ValueError(f"binary hit data must be a multiple of 8 bytes, got {len(b)} bytes")
    return np.frombuffer(b, dtype=dt).astype(np.uint64)


def words_to_bytes(words: np.ndarray, byteorder: ByteOrder = "little") -> bytes:
    """Serialise uint64 words in the given byte order."""
    return np.asarray(words, dtype=np.uint64).astype(_word_dtype(byteorder)).tobytes()
