"""Local inputs: one file, every file of a directory, or a glob; always in name order.

All paths are resolved and checked before anything is sent, so a typo fails at once with
one line naming the path instead of after the first file has been streamed.
"""

from __future__ import annotations

import glob
import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from dtmon_producer.errors import InputError
from dtmon_producer.sources import Chunk
from dtmon_producer.sources.formats import (
    WORD_BYTES,
    ByteOrder,
    Format,
    read_binary_words,
    read_text_lines,
    size_error,
)

_GLOB_CHARS = set("*?[")


def resolve_paths(spec: str) -> list[Path]:
    """Expand a file, directory or glob into a sorted list of readable regular files."""
    if _GLOB_CHARS & set(spec):
        paths = [Path(p) for p in glob.glob(spec) if Path(p).is_file()]
        if not paths:
            raise InputError(f"no file matches the glob {spec!r}")
    else:
        path = Path(spec)
        if path.is_dir():
            paths = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")]
            if not paths:
                raise InputError(f"input directory {spec} contains no files")
        elif path.is_file():
            paths = [path]
        elif path.exists():
            raise InputError(f"input {spec} is not a regular file or directory")
        else:
            raise InputError(f"input file not found: {spec}")
    paths.sort(key=lambda p: str(p))
    for path in paths:
        if not os.access(path, os.R_OK):
            raise InputError(f"cannot read input file {path}: permission denied")
    return paths


class FileSource:
    """CSV or binary files (optionally gzip-compressed, by the .gz suffix)."""

    def __init__(self, spec: str, fmt: Format = "csv", byteorder: ByteOrder = "little") -> None:
        self.spec = spec
        self.fmt = fmt
        self.byteorder = byteorder
        self.paths = resolve_paths(spec)
        if fmt == "binary":
            for path in self.paths:
                size = path.stat().st_size
                if not path.name.endswith(".gz") and size % WORD_BYTES:
                    raise InputError(size_error(str(path), size))

    def describe(self) -> str:
        return f"{len(self.paths)} {self.fmt} file(s) from {self.spec}"

    def chunks(self) -> Iterator[Chunk]:
        for path in self.paths:
            name = str(path)
            with _open(path) as stream:
                if self.fmt == "binary":
                    blocks = read_binary_words(stream, name, self.byteorder)
                else:
                    blocks = read_text_lines(stream, name)
                for lines in blocks:
                    yield Chunk(name, lines)


def _open(path: Path) -> BinaryIO:
    try:
        if path.name.endswith(".gz"):
            return gzip.open(path, "rb")  # type: ignore[return-value]
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot open input file {path}: {exc.strerror or exc}") from exc
