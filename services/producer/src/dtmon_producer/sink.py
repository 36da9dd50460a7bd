"""What the pump writes to: Kafka (`kafka_sink.KafkaSink`) or a CSV file (`output_sink`)."""

from __future__ import annotations

import threading
from typing import Protocol


class Sink(Protocol):
    """A destination for record values; both implementations count their own failures."""

    delivery_errors: int
    fatal_error: str | None

    def wait_ready(
        self, stop: threading.Event, *, create_partitions: int | None = None, timeout: float = 0.0
    ) -> bool:
        """Block until writable (broker reachable, topic present); False if stopped/timed out."""
        ...

    def send(self, values: list[bytes]) -> None:
        """Queue values, in order."""
        ...

    def pending(self) -> int:
        """Values queued but not yet acknowledged."""
        ...

    def flush(self, stop_waiting: threading.Event | None = None) -> int:
        """Wait for everything queued; returns what is still pending (if interrupted)."""
        ...

    def close(self) -> None: ...
