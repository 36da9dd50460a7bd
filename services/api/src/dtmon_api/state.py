"""The service's memory: bounded batch history, cumulative sums and a sliding window.

One `BatchStore` is written by the Kafka consumer thread and read by request handlers, so
every public method takes the lock. Everything it holds is a pure function of the sequence of
messages applied, which is why replaying the topic after a restart rebuilds the same state.

Identity: a batch is `(query_id, batch_id)`. A new query_id means a fresh processor
checkpoint, whose batch ids start again from 0; it becomes the *current* query, and the
cumulative sums and the window restart with it (its batches may re-cover data the old query
already counted). Batches of a query that has been superseded are stale and skipped, so two
processors writing at once cannot make the views flip back and forth.

Plausibility, applied even to signed messages (a bug or a leaked key must not be able to
wreck the views): a batch emitted more than `max_clock_skew_ms` in the future, a batch id
more than `max_batch_jump` ahead of the current query's newest, and a new query_id whose
first emission is not later than the current query's first emission are refused, counted
and never applied. The clock is only consulted for the future check, so a replay after a
restart still rebuilds the same state from the same messages.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from minidt.contract import BatchResult, ContractError, Histogram, merge_histograms

HISTOGRAM_FIELDS = ("occupancy", "orbit_multiplicity", "scint_occupancy", "drift_time_ns")
SCALAR_FIELDS = ("hits", "scintillator_hits", "orbits", "scintillator_orbits")
_SEEN_PER_QUERY = 16_384
"""Batch ids remembered per query for de-duplication (hours at one batch per second)."""
_CANDIDATES = 1000
"""Refused query ids whose first emission time is remembered (bounded against floods)."""
DEFAULT_MAX_BATCH_JUMP = 10_000
"""Batch ids a query may skip: a processor never skips ids, so a gap means a forgery or a bug."""
DEFAULT_MAX_CLOCK_SKEW_MS = 60_000


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class Outcome(enum.Enum):
    """What `BatchStore.apply` did with a message."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    STALE_QUERY = "stale_query"
    INCOMPATIBLE = "incompatible"
    FUTURE = "future"
    """emitted_at_ms beyond the allowed clock skew."""
    BATCH_JUMP = "batch_jump"
    """batch_id too far ahead of the current query's newest."""
    OLDER_QUERY = "older_query"
    """a query_id whose first emission is not newer than the current query's."""


REFUSALS = frozenset(
    {Outcome.INCOMPATIBLE, Outcome.FUTURE, Outcome.BATCH_JUMP, Outcome.OLDER_QUERY}
)
"""Outcomes that mean the message was refused as implausible, not merely redundant."""


@dataclass(frozen=True)
class StoredBatch:
    """One applied batch with its wire form serialised once for every client."""

    seq: int
    """Position in the order of application; SSE clients track it."""
    result: BatchResult
    json: str
    interval_ms: int | None
    """emitted_at_ms minus that of the previous batch of the same query (None for the first)."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.result.query_id, self.result.batch_id)

    @property
    def event_id(self) -> str:
        """SSE event id `<query_id>:<batch_id>`: unambiguous across processor checkpoints."""
        return f"{self.result.query_id}:{self.result.batch_id}"

    @property
    def latency_ms(self) -> int | None:
        """End-to-end latency: emitted_at_ms minus the newest input record's timestamp."""
        last = self.result.input.last_ts_ms
        return None if last is None else self.result.emitted_at_ms - last


@dataclass
class Totals:
    """Sums over a set of batches of one query (cumulative or window)."""

    batches: int = 0
    first_batch_id: int | None = None
    last_batch_id: int | None = None
    first_emitted_at_ms: int | None = None
    last_emitted_at_ms: int | None = None
    input_rows: int = 0
    malformed: int = 0
    hits: int = 0
    hits_per_chamber: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    scintillator_hits: int = 0
    orbits: int = 0
    scintillator_orbits: int = 0
    histograms: dict[str, list[Histogram]] = field(default_factory=dict)

    def merged_histograms(self, result: BatchResult) -> dict[str, list[Histogram]]:
        """The histograms after adding `result`; raises ContractError if edges differ."""
        if not self.histograms:
            return {name: list(getattr(result, name)) for name in HISTOGRAM_FIELDS}
        merged: dict[str, list[Histogram]] = {}
        for name in HISTOGRAM_FIELDS:
            ours = self.histograms[name]
            theirs = getattr(result, name)
            out = []
            for chamber, (a, b) in enumerate(zip(ours, theirs, strict=True)):
                try:
                    out.append(merge_histograms(a, b))
                except ContractError as err:
                    raise ContractError(f"{name}[{chamber}]: {err}") from None
            merged[name] = out  # type: ignore[assignment]
        return merged

    def add(self, result: BatchResult, histograms: dict[str, list[Histogram]]) -> None:
        """Add `result`'s scalars and install the already merged histograms."""
        self.batches += 1
        if self.first_batch_id is None:
            self.first_batch_id = result.batch_id
            self.first_emitted_at_ms = result.emitted_at_ms
        self.last_batch_id = result.batch_id
        self.last_emitted_at_ms = result.emitted_at_ms
        self.input_rows += result.input.rows
        self.malformed += result.input.malformed
        self.hits += result.hits
        self.hits_per_chamber = [
            a + b for a, b in zip(self.hits_per_chamber, result.hits_per_chamber, strict=True)
        ]
        self.scintillator_hits += result.scintillator_hits
        self.orbits += result.orbits
        self.scintillator_orbits += result.scintillator_orbits
        self.histograms = histograms

    @classmethod
    def of(cls, batches: Sequence[BatchResult]) -> Totals:
        totals = cls()
        for result in batches:
            totals.add(result, totals.merged_histograms(result))
        return totals


@dataclass(frozen=True)
class ApplyResult:
    outcome: Outcome
    stored: StoredBatch | None = None
    reason: str = ""
    new_query: bool = False


@dataclass(frozen=True)
class StoreStats:
    """Counters for /api/v1/status and the dashboard's health panel."""

    current_query_id: str | None
    queries_seen: int
    applied: int
    duplicates: int
    stale: int
    incompatible: int
    refused: dict[str, int]
    """Implausible messages refused, by outcome value."""
    run_started_at_ms: int | None
    """First emission time of the current query: when the run on show started."""
    previous_query_id: str | None
    """The query the current one replaced (None if it is the first seen)."""
    retained: int
    window_batches: int


class BatchStore:
    """Thread-safe, bounded state; see the module docstring for the semantics."""

    def __init__(
        self,
        history: int,
        window_seconds: float,
        max_window_batches: int,
        *,
        max_batch_jump: int = DEFAULT_MAX_BATCH_JUMP,
        max_clock_skew_ms: int = DEFAULT_MAX_CLOCK_SKEW_MS,
        now_ms: Callable[[], int] = _wall_clock_ms,
    ) -> None:
        self._lock = threading.Lock()
        self._max_jump = max_batch_jump
        self._max_skew_ms = max_clock_skew_ms
        self._now_ms = now_ms
        self._candidates: OrderedDict[str, int] = OrderedDict()
        self._run_started_ms: int | None = None
        self._previous: str | None = None
        self._history: deque[StoredBatch] = deque(maxlen=history)
        self._window: deque[StoredBatch] = deque()
        self._window_ms = round(window_seconds * 1000)
        self._max_window = max_window_batches
        self._seq = itertools.count(1)
        self._latest_seq = 0
        self._current: str | None = None
        self._superseded: OrderedDict[str, None] = OrderedDict()
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._cumulative = Totals()
        self._prev_emitted_ms: int | None = None
        self._window_cache: tuple[int, Totals] | None = None
        self._counts = {o: 0 for o in Outcome}
        self.version = 0
        """Bumped on every applied batch; cache key for derived views."""

    # -- writing (consumer thread) -------------------------------------------------------

    def apply(self, result: BatchResult) -> ApplyResult:
        """Apply one validated message once; never raises for well-formed input."""
        with self._lock:
            qid, bid = result.query_id, result.batch_id
            refusal = self._implausible(result)
            if refusal is not None:
                return self._count(refusal)
            if qid in self._superseded:
                return self._count(ApplyResult(Outcome.STALE_QUERY, reason=f"query {qid} ended"))
            new_query = qid != self._current
            if not new_query and bid in self._seen:
                return self._count(
                    ApplyResult(Outcome.DUPLICATE, reason=f"batch {qid}:{bid} already applied")
                )
            if new_query:
                older = self._older_query(qid, result.emitted_at_ms)
                if older is not None:
                    return self._count(older)
            base = Totals() if new_query else self._cumulative
            try:
                histograms = base.merged_histograms(result)
            except ContractError as err:
                return self._count(ApplyResult(Outcome.INCOMPATIBLE, reason=str(err)))
            if new_query:
                self._start_query(qid, result.emitted_at_ms)
            self._cumulative.add(result, histograms)
            self._seen[bid] = None
            if len(self._seen) > _SEEN_PER_QUERY:
                self._seen.popitem(last=False)
            interval = (
                None
                if self._prev_emitted_ms is None
                else result.emitted_at_ms - self._prev_emitted_ms
            )
            self._prev_emitted_ms = result.emitted_at_ms
            stored = StoredBatch(
                seq=next(self._seq),
                result=result,
                json=json.dumps(result.model_dump(mode="json"), separators=(",", ":")),
                interval_ms=interval,
            )
            self._latest_seq = stored.seq
            self._history.append(stored)
            self._window.append(stored)
            self._trim_window()
            self.version += 1
            return self._count(ApplyResult(Outcome.APPLIED, stored=stored, new_query=new_query))

    def _implausible(self, result: BatchResult) -> ApplyResult | None:
        """Refuse what no healthy processor emits: a batch from the future, or a batch id
        far ahead of the current query's newest (it would be counted, then its successors
        would look like duplicates of nothing)."""
        limit = self._now_ms() + self._max_skew_ms
        if result.emitted_at_ms > limit:
            return ApplyResult(
                Outcome.FUTURE,
                reason=f"emitted_at_ms {result.emitted_at_ms} is more than "
                f"{self._max_skew_ms} ms ahead of this server's clock",
            )
        last = self._cumulative.last_batch_id
        if (
            result.query_id == self._current
            and last is not None
            and result.batch_id > last + self._max_jump
        ):
            return ApplyResult(
                Outcome.BATCH_JUMP,
                reason=f"batch {result.batch_id} jumps more than {self._max_jump} "
                f"ahead of batch {last}",
            )
        return None

    def _older_query(self, qid: str, emitted_at_ms: int) -> ApplyResult | None:
        """A new query takes over only if it started after the current one: judged by the
        first emission time seen for it, remembered, so a refused query cannot win later
        with a later batch."""
        first = self._candidates.setdefault(qid, emitted_at_ms)
        while len(self._candidates) > _CANDIDATES:
            self._candidates.popitem(last=False)
        if self._current is None or self._run_started_ms is None:
            return None
        if first > self._run_started_ms:
            return None
        return ApplyResult(
            Outcome.OLDER_QUERY,
            reason=f"query {qid} first emitted at {first}, not after the current query "
            f"{self._current} (started {self._run_started_ms})",
        )

    def _start_query(self, qid: str, emitted_at_ms: int) -> None:
        self._candidates.pop(qid, None)
        self._run_started_ms = emitted_at_ms
        self._previous = self._current
        if self._current is not None:
            self._superseded[self._current] = None
            while len(self._superseded) > 1000:
                self._superseded.popitem(last=False)
        self._current = qid
        self._seen.clear()
        self._cumulative = Totals()
        self._window.clear()
        self._prev_emitted_ms = None

    def _trim_window(self) -> None:
        newest = self._window[-1].result.emitted_at_ms
        while self._window and (
            self._window[0].result.emitted_at_ms <= newest - self._window_ms
            or len(self._window) > self._max_window
        ):
            self._window.popleft()
        self._window_cache = None

    def _count(self, res: ApplyResult) -> ApplyResult:
        self._counts[res.outcome] += 1
        return res

    # -- reading (request handlers) ------------------------------------------------------

    @property
    def current_query_id(self) -> str | None:
        with self._lock:
            return self._current

    def latest(self) -> StoredBatch | None:
        with self._lock:
            return self._history[-1] if self._history else None

    def latest_seq(self) -> int:
        with self._lock:
            return self._latest_seq

    def recent(self, limit: int) -> list[StoredBatch]:
        """The newest `limit` retained batches, oldest first."""
        with self._lock:
            n = len(self._history)
            return [self._history[i] for i in range(max(0, n - limit), n)]

    def get(self, batch_id: int, query_id: str | None = None) -> StoredBatch | None:
        """A retained batch of `query_id` (default: the current query)."""
        with self._lock:
            qid = self._current if query_id is None else query_id
            for stored in reversed(self._history):
                if stored.result.batch_id == batch_id and stored.result.query_id == qid:
                    return stored
            return None

    def after(self, seq: int) -> list[StoredBatch]:
        """Retained batches applied after `seq`, oldest first (what an SSE client missed)."""
        with self._lock:
            if self._latest_seq <= seq:
                return []
            out: list[StoredBatch] = []
            for stored in reversed(self._history):
                if stored.seq <= seq:
                    break
                out.append(stored)
            out.reverse()
            return out

    def resume_seq(self, last_event_id: str) -> int:
        """The seq to resume an SSE stream after, given the client's Last-Event-ID.

        Accepts `<query_id>:<batch_id>` (what the stream sends) or a bare batch id (taken to be
        of the current query). An id of a superseded query resumes at the start of the
        current query's retained batches, so a reconnecting dashboard misses nothing.
        """
        qid, _, bid_text = last_event_id.strip().rpartition(":")
        try:
            bid = int(bid_text)
        except ValueError:
            return self.latest_seq()
        with self._lock:
            qid = qid or (self._current or "")
            if qid != self._current:
                first = next((s for s in self._history if s.result.query_id == self._current), None)
                return first.seq - 1 if first else self._latest_seq
            for stored in reversed(self._history):
                if stored.result.query_id != qid:
                    break
                if stored.result.batch_id <= bid:
                    return stored.seq
            # Older than everything retained of this query: replay all of it.
            first = next((s for s in self._history if s.result.query_id == qid), None)
            return first.seq - 1 if first else self._latest_seq

    def cumulative(self) -> Totals:
        """A consistent snapshot: `add` replaces lists and histograms, never edits them."""
        with self._lock:
            return dataclasses.replace(self._cumulative)

    def window_batches(self) -> list[StoredBatch]:
        """The batches of the sliding window, oldest first (per-batch detail for the
        data-quality flags, which test how a channel's hits spread over the batches)."""
        with self._lock:
            return list(self._window)

    def window(self) -> Totals:
        """Sums over the window; computed once per applied batch and cached.

        The sum (tens of ms for a minute of batches) runs outside the lock, so the consumer
        and the SSE streams never wait for it."""
        with self._lock:
            cache, version = self._window_cache, self.version
            if cache is not None and cache[0] == version:
                return cache[1]
            results = [s.result for s in self._window]
        totals = Totals.of(results)
        with self._lock:
            if self.version == version:
                self._window_cache = (version, totals)
        return totals

    def stats(self) -> StoreStats:
        with self._lock:
            return StoreStats(
                current_query_id=self._current,
                queries_seen=len(self._superseded) + (self._current is not None),
                applied=self._counts[Outcome.APPLIED],
                duplicates=self._counts[Outcome.DUPLICATE],
                stale=self._counts[Outcome.STALE_QUERY],
                incompatible=self._counts[Outcome.INCOMPATIBLE],
                refused={o.value: self._counts[o] for o in REFUSALS},
                run_started_at_ms=self._run_started_ms,
                previous_query_id=self._previous,
                retained=len(self._history),
                window_batches=len(self._window),
            )
