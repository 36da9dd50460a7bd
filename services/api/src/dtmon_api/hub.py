"""Wakes every open SSE stream when a batch is applied, without per-client queues.

Streams read new batches from the shared BatchStore by sequence number, so a slow client
costs no memory beyond the bounded history (it skips what fell out of it), and each batch is
serialised once for all clients. The consumer thread only ever calls `notify_threadsafe`.
"""

from __future__ import annotations

import asyncio


class Hub:
    """An asyncio.Event that is swapped on every notification ("broadcast condition")."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event = asyncio.Event()
        self._scheduled = False
        self.closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the loop the streams run on (called from the lifespan)."""
        self._loop = loop

    def waiter(self) -> asyncio.Event:
        """Take this before reading the store; it is set by the next notification."""
        return self._event

    def notify(self) -> None:
        """Wake all current waiters (event-loop thread only)."""
        self._scheduled = False
        event, self._event = self._event, asyncio.Event()
        event.set()

    def notify_threadsafe(self) -> None:
        """Schedule `notify` from any thread; coalesces bursts (e.g. the start-up replay)."""
        if self._loop is None or self._scheduled or self._loop.is_closed():
            return
        self._scheduled = True
        self._loop.call_soon_threadsafe(self.notify)

    def close(self) -> None:
        """End every stream (shutdown): they return after their next wake-up."""
        self.closed = True
        self.notify()

    def close_threadsafe(self) -> None:
        """`close` from a signal handler or another thread."""
        if self._loop is None or self._loop.is_closed():
            self.closed = True
            return
        self._loop.call_soon_threadsafe(self.close)


class SlotLimiter:
    """Counts open streams against --max-sse-clients (event-loop thread only)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    def try_acquire(self) -> bool:
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        self.in_use -= 1
