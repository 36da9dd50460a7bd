"""Close connections whose request headers do not arrive in time (slow-header floods).

uvicorn closes idle keep-alive connections, but a connection that sends nothing, or a few
bytes of a request line and then stalls, is held open forever: a few hundred of them
exhaust file descriptors without ever reaching the application (so no middleware can see
them). This h11 protocol arms a timer whenever a connection waits for a request's headers
and closes the connection when it fires; a complete request head disarms it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from prometheus_client import Counter
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


def header_timeout_protocol(seconds: float, closed: Counter | None = None) -> type[H11Protocol]:
    """An uvicorn `http=` protocol class enforcing `seconds`; `closed` counts closures."""

    class HeaderTimeoutProtocol(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self._header_timer is None and self.conn.their_state is h11.IDLE:
                self._arm()  # the next request of a keep-alive connection has begun
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expire(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            if closed is not None:
                closed.inc()
            log.info(
                "closed a connection whose request headers did not arrive within %g s",
                seconds,
                extra={"client": f"{self.client[0]}:{self.client[1]}" if self.client else None},
            )
            self.transport.close()

    return HeaderTimeoutProtocol
