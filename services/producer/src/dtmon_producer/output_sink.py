"""`--output PATH|-`: write the records as a CSV file in the dataset's format, header first.

This is how users make synthetic datasets and how the Kubernetes chart fills its bucket, so
the file must read back exactly like a real `data_NNNNNN.txt`.
"""

from __future__ import annotations

import sys
import threading
from typing import BinaryIO

from dtmon_producer.errors import InputError
from minidt.codecs import CSV_HEADER


class OutputSink:
    """Appends values (one or more newline-joined records each) as lines of a CSV file."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.delivery_errors = 0
        self.fatal_error: str | None = None
        if target == "-":
            self._stream: BinaryIO = sys.stdout.buffer
            self._owned = False
        else:
            try:
                self._stream = open(target, "wb")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise InputError(f"cannot write --output {target}: {exc.strerror or exc}") from exc
            self._owned = True
        self._stream.write(CSV_HEADER.encode() + b"\n")

    def wait_ready(
        self, stop: threading.Event, *, create_partitions: int | None = None, timeout: float = 0.0
    ) -> bool:
        return not stop.is_set()

    def send(self, values: list[bytes]) -> None:
        if values:
            self._stream.write(b"\n".join(values) + b"\n")

    def pending(self) -> int:
        return 0

    def flush(self, stop_waiting: threading.Event | None = None) -> int:
        self._stream.flush()
        return 0

    def close(self) -> None:
        self._stream.flush()
        if self._owned:
            self._stream.close()
