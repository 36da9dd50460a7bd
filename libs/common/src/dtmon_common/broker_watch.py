"""Readiness that tells the truth about the broker: a small object any health server can ask.

A Kafka client does not notice a frozen broker (SIGSTOP, a hung disk, a partition): its TCP
connection stays open and its requests simply never complete, so a service that only
watches its client's error callbacks stays "ready" indefinitely. `BrokerWatch` asks the
broker an actual question (a metadata request, supplied as `probe`) every `interval`
seconds from its own thread and reports not ready once no answer has arrived for
`unreachable_after` seconds. Dependency-free on purpose: each service passes a probe built
from the Kafka client it already uses.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_UNREACHABLE_AFTER = 15.0
"""Seconds without a broker answer before readiness turns false (a stated bound)."""

PROBE_CLIENT_CONFIG: dict[str, object] = {
    "reconnect.backoff.ms": 200,
    "reconnect.backoff.max.ms": 1000,
    "socket.connection.setup.timeout.ms": 3000,
    "log.connection.close": False,
}
"""librdkafka settings for a probe's client: reconnect within a second of the broker's
return (the default backs off to 10 s, which would hold readiness false that long)."""


class BrokerWatch:
    """`status()` -> (ready, reason); call `start()` once, `stop()` at shutdown."""

    def __init__(
        self,
        probe: Callable[[float], object],
        *,
        unreachable_after: float = DEFAULT_UNREACHABLE_AFTER,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        name: str = "broker",
    ) -> None:
        self._probe = probe
        self.unreachable_after = unreachable_after
        self.interval = interval
        self._clock = clock
        self._name = name
        self._started = clock()
        self._last_ok: float | None = None
        self._last_error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-watch", daemon=True)

    def start(self) -> BrokerWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)  # daemon: a probe stuck on a dead broker must not hold exit

    def record_ok(self) -> None:
        """Another path reached the broker (e.g. a successful poll): count it as an answer."""
        self._last_ok = self._clock()

    @property
    def seconds_since_contact(self) -> float:
        ref = self._last_ok if self._last_ok is not None else self._started
        return self._clock() - ref

    def status(self) -> tuple[bool, str]:
        silent = self.seconds_since_contact
        if self._last_ok is not None and silent <= self.unreachable_after:
            return True, "broker reachable"
        if self._last_ok is None and silent <= self.unreachable_after:
            return False, "broker not reached yet"
        error = f": {self._last_error}" if self._last_error else ""
        return False, f"broker unreachable for {silent:.0f} s{error}"

    def ready(self) -> bool:
        return self.status()[0]

    def _run(self) -> None:
        was_ready: bool | None = None
        while not self._stop.is_set():
            # The probe's own timeout is bounded by the interval so that a frozen broker is
            # noticed within unreachable_after + interval, whatever the client's defaults.
            try:
                self._probe(max(1.0, min(self.interval * 2, self.unreachable_after)))
                self.record_ok()
            except Exception as exc:  # any failure to get an answer means "no contact"
                self._last_error = str(exc).strip().splitlines()[0][:200] if str(exc) else None
            ready, reason = self.status()
            if was_ready is not None and ready != was_ready:
                log.warning("readiness %s: %s", "restored" if ready else "lost", reason)
            was_ready = ready
            self._stop.wait(self.interval)
