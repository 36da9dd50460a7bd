"""Decoding a byte stream (a file or an S3 object) into CSV lines, for both input formats.

Both readers work on fixed-size blocks so memory stays flat whatever the size of the input:
a 30 MB object is never held in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Literal

from urllib3.exceptions import HTTPError

from dtmon_producer.errors import InputError
from minidt.codecs import CSV_HEADER, decode_words, format_csv_lines, words_from_bytes

Format = Literal["csv", "binary"]
ByteOrder = Literal["little", "big"]

BLOCK_BYTES = 1 << 20
"""Read size: large enough to amortise the per-read cost, small enough to keep memory flat."""

WORD_BYTES = 8
_HEADER = CSV_HEADER.encode()


def clean_lines(lines: list[bytes]) -> list[bytes]:
    """Drop blank and header lines (and a CR of CRLF endings); every other line is untouched.

    The DAQ does not judge records: a malformed line travels on and the processor counts it.
    """
    return [
        ln[:-1] if ln.endswith(b"\r") else ln for ln in lines if (s := ln.strip()) and s != _HEADER
    ]


def read_text_lines(stream: BinaryIO, name: str, block: int = BLOCK_BYTES) -> Iterator[list[bytes]]:
    """Yield the records of a CSV stream in blocks of lines, in order."""
    rest = b""
    while True:
        data = _read(stream, name, block)
        if not data:
            break
        parts = (rest + data).split(b"\n")
        rest = parts.pop()
        lines = clean_lines(parts)
        if lines:
            yield lines
    tail = clean_lines([rest])
    if tail:
        yield tail


def read_binary_words(
    stream: BinaryIO, name: str, byteorder: ByteOrder, block: int = BLOCK_BYTES
) -> Iterator[list[bytes]]:
    """Yield the 64-bit words of a binary stream, converted to the dataset's CSV lines."""
    block -= block % WORD_BYTES
    total = 0
    rest = b""
    while True:
        data = _read(stream, name, block)
        if not data:
            break
        total += len(data)
        data = rest + data
        usable = len(data) - len(data) % WORD_BYTES
        rest = data[usable:]
        if usable:
            hits = decode_words(words_from_bytes(data[:usable], byteorder=byteorder))
            yield [line.encode() for line in format_csv_lines(hits)]
    if rest:
        raise InputError(size_error(name, total))


def size_error(name: str, size: int) -> str:
    """The one message for a binary input that cannot be a sequence of 64-bit words."""
    return (
        f"binary input {name}: size {size} bytes is not a multiple of {WORD_BYTES} "
        f"(one 64-bit word per hit); is it really --format binary?"
    )


def _read(stream: BinaryIO, name: str, size: int) -> bytes:
    try:
        return stream.read(size)
    except (OSError, EOFError, HTTPError) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(f"cannot read {name}: {exc}") from exc
