"""Pacing: a token bucket over small chunks, and replay in detector time.

Earlier producers slept once per record and topped out at 1,000-3,000 records/s. Here the
pump asks for tokens for a whole chunk (about 10 ms worth of records) and sleeps at most
once per chunk, so Python overhead per record stays a list append and a produce() call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from minidt.detector import BX_NS, BX_PER_ORBIT

ORBIT_S = BX_PER_ORBIT * BX_NS * 1e-9
"""Duration of one LHC-like orbit of the DAQ clock, in seconds (89.1 us)."""

CHUNK_SECONDS = 0.01
MAX_CHUNK = 5000


def chunk_size(rate: float, records_per_message: int = 1) -> int:
    """Records per pacing step: ~10 ms of traffic, at least one message, at most MAX_CHUNK."""
    size = MAX_CHUNK if rate <= 0 else int(min(MAX_CHUNK, max(1, rate * CHUNK_SECONDS)))
    return max(records_per_message, size - size % records_per_message)


class TokenBucket:
    """Tokens accrue at `rate` per second up to `capacity`; taking more than is there is a debt.

    A debt makes the caller sleep until it is repaid, so the long-run rate is exact even
    though sleeps overshoot; the capacity bounds how much a stalled producer may catch up in
    one burst (0.5 s of traffic by default: enough to absorb sleep overshoot and CPU
    starvation on a loaded machine). The bucket
    starts empty at the first `acquire`, so start-up time is never paid back as a burst.
    """

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("TokenBucket needs a positive rate")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, 0.5 * rate)
        self._clock = clock
        self._tokens = 0.0
        self._last: float | None = None

    def acquire(self, n: int, stop: threading.Event) -> bool:
        """Take n tokens, sleeping if needed; False when `stop` was set while waiting."""
        now = self._clock()
        if self._last is None:
            self._last = now
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= n
        if self._tokens < 0:
            return not stop.wait(-self._tokens / self.rate)
        return not stop.is_set()


class DetectorClock:
    """Seconds of detector time covered by the records seen so far, from their ORBIT_CNT.

    Only hits (HEAD 2) move the clock: ancillary words carry orbits far ahead of the hits.
    The counter is not monotonic (the two FPGAs write interleaved blocks, and it resets inside
    a file), so the clock follows the running maximum and treats a large backward jump as a
    reset, carrying the elapsed time over.
    """

    RESET_ORBITS = 1_000_000

    def __init__(self) -> None:
        self._base: int | None = None
        self._max = 0
        self._carried = 0

    def feed(self, lines: list[bytes]) -> float:
        """Advance with a chunk of raw lines; returns detector seconds elapsed since the start."""
        for line in lines:
            if not line.startswith(b"2,"):
                continue
            parts = line.split(b",", 4)
            if len(parts) < 5:
                continue
            try:
                orbit = int(parts[3])
            except ValueError:
                continue
            if self._base is None:
                self._base = self._max = orbit
            elif orbit > self._max:
                self._max = orbit
            elif orbit < self._max - self.RESET_ORBITS:
                self._carried += self._max - self._base
                self._base = self._max = orbit
        return self.elapsed()

    def elapsed(self) -> float:
        if self._base is None:
            return 0.0
        return (self._carried + self._max - self._base) * ORBIT_S


class ReplayPacer:
    """Sleep so that wall time tracks detector time divided by `speed`."""

    def __init__(self, speed: float, clock: Callable[[], float] = time.monotonic) -> None:
        if speed <= 0:
            raise ValueError("ReplayPacer needs a positive speed")
        self.speed = speed
        self.detector = DetectorClock()
        self._clock = clock
        self._start = clock()

    def wait(self, lines: list[bytes], stop: threading.Event) -> bool:
        """Sleep until the chunk's detector time is due; False when stopped meanwhile."""
        due = self._start + self.detector.feed(lines) / self.speed
        delay = due - self._clock()
        if delay > 0:
            return not stop.wait(delay)
        return not stop.is_set()
