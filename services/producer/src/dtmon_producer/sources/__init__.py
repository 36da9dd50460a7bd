"""Where records come from: files, S3 objects, or the simulator.

Every source yields `Chunk`s: a batch of raw CSV lines (bytes, no line terminator) plus the
name of the file or object they came from, so the pump can log per file and the metrics can
show the current input. Chunks keep Python overhead per record tiny: the pump never touches
a line except to hand it to Kafka.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True)
class Chunk:
    """Consecutive records of one input, in input order."""

    origin: str
    lines: list[bytes]


class Source(Protocol):
    """A re-iterable record source; `chunks()` is one full pass (the pump handles --loop)."""

    def describe(self) -> str:
        """What is being read, for the start-up log line."""
        ...

    def chunks(self) -> Iterator[Chunk]:
        """One pass over the input, in name order. Raises InputError for unreadable input."""
        ...
