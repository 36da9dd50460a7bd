"""The main loop: source chunks -> pacing -> (packing) -> sink, with counters and per-file logs.

It works chunk by chunk (about 10 ms of traffic at the target rate), so the only per-record
work is the sink's produce call; pacing, metrics, progress and stop checks happen per chunk.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from dtmon_producer.metrics import ProducerMetrics
from dtmon_producer.progress import ProgressBar
from dtmon_producer.rate import ReplayPacer, TokenBucket, chunk_size
from dtmon_producer.sink import Sink
from dtmon_producer.sources import Source

log = logging.getLogger("dtmon_producer")


@dataclass(frozen=True)
class PumpOptions:
    """The pacing options (declared in dtmon_common.options.producer, filled by name)."""

    rate: float
    speed: float
    records_per_message: int
    max_records: int
    loop: bool


@dataclass
class PumpResult:
    """What was handed to the sink; the summary line and the exit code come from it."""

    records: int = 0
    messages: int = 0
    bytes: int = 0
    seconds: float = 0.0
    stopped: bool = False
    fatal_error: str | None = None

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


class Pump:
    """Moves records from a source to a sink until the source ends, N records, or stop."""

    def __init__(
        self,
        source: Source,
        sink: Sink,
        options: PumpOptions,
        stop: threading.Event,
        metrics: ProducerMetrics | None = None,
        progress: ProgressBar | None = None,
    ) -> None:
        self.source = source
        self.sink = sink
        self.opts = options
        self.stop = stop
        self.metrics = metrics
        self.progress = progress
        self.result = PumpResult()
        self._origin: str | None = None
        self._origin_records = 0
        self._origin_started = 0.0
        self._window = (time.monotonic(), 0)
        self._rate_now = 0.0

    def run(self) -> PumpResult:
        opts = self.opts
        bucket = TokenBucket(opts.rate) if opts.rate > 0 and opts.speed <= 0 else None
        replay = ReplayPacer(opts.speed) if opts.speed > 0 else None
        step = chunk_size(opts.rate if bucket else 0, opts.records_per_message)
        if self.metrics:
            self.metrics.target_rate.set(opts.rate if bucket else 0)
            self.metrics.state = "producing"
        started = time.monotonic()
        res = self.result
        try:
            while not self._done():
                for chunk in self.source.chunks():
                    if chunk.origin != self._origin:
                        self._finish_origin(complete=True)
                        self._start_origin(chunk.origin)
                    lines = chunk.lines
                    for i in range(0, len(lines), step):
                        take = lines[i : i + step]
                        if opts.max_records:
                            take = take[: opts.max_records - res.records]
                        if bucket is not None and not bucket.acquire(len(take), self.stop):
                            break
                        if replay is not None and not replay.wait(take, self.stop):
                            break
                        self._send(take)
                        if self._done():
                            break
                    if self._done():
                        break
                else:  # the pass ended by itself: the last input was read to its end
                    self._finish_origin(complete=True)
                if not opts.loop:
                    break
        finally:
            res.seconds = time.monotonic() - started
            res.stopped = self.stop.is_set()
            self._finish_origin(complete=not res.stopped and not opts.max_records)
            if self.metrics:
                self.metrics.state = "flushing"
        return res

    def _done(self) -> bool:
        res = self.result
        if self.sink.fatal_error:
            res.fatal_error = self.sink.fatal_error
            return True
        return self.stop.is_set() or bool(
            self.opts.max_records and res.records >= self.opts.max_records
        )

    def _send(self, lines: list[bytes]) -> None:
        n = self.opts.records_per_message
        values = (
            lines if n == 1 else [b"\n".join(lines[j : j + n]) for j in range(0, len(lines), n)]
        )
        self.sink.send(values)
        size = sum(map(len, values))
        res = self.result
        res.records += len(lines)
        res.messages += len(values)
        res.bytes += size
        self._origin_records += len(lines)
        now = time.monotonic()
        t0, r0 = self._window
        if now - t0 >= 1.0:
            self._rate_now = (res.records - r0) / (now - t0)
            self._window = (now, res.records)
        m = self.metrics
        if m is not None:
            m.records.inc(len(lines))
            m.messages.inc(len(values))
            m.bytes.inc(size)
            if now - t0 >= 1.0:
                m.achieved_rate.set(self._rate_now)
                m.queue_depth.set(self.sink.pending())
        if self.progress is not None:
            self.progress.update(res.records, self._rate_now, self._origin or "")

    def _start_origin(self, origin: str) -> None:
        self._origin = origin
        self._origin_records = 0
        self._origin_started = time.monotonic()
        if self.metrics:
            self.metrics.source.info({"source": origin})

    def _finish_origin(self, complete: bool) -> None:
        if self._origin is None:
            return
        seconds = time.monotonic() - self._origin_started
        log.info(
            "%s %s",
            "finished" if complete else "stopped in",
            self._origin,
            extra={
                "event": "input_done" if complete else "input_stopped",
                "input": self._origin,
                "records": self._origin_records,
                "seconds": round(seconds, 3),
            },
        )
        if complete and self.metrics:
            self.metrics.files.inc()
        self._origin = None
