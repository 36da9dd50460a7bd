"""The backlog drain rate of one processor query, from the batches the API serves.

What is measured, and why so: each batch's `emitted_at_ms` is its Spark batch timestamp, the
moment the driver planned it (taken from the offset log). While a backlog drains, Spark starts
the next batch as soon as one ends (the trigger interval is shorter than a batch), so the time
from one batch's timestamp to the next is that batch's full cycle: Kafka fetch, parse, shuffle,
the numpy kernel, event-building state read and written on S3A, publication, the commit and
the next batch's planning. The rate is therefore

    rows (or hits) of batches 1 .. L-1  /  (emitted_at(L) - emitted_at(1))

over the batches with rows of one query, numbered 0 .. L. Batch 0 is left out and reported on
its own: it carries the JVM's JIT and code generation, the executors' first Python workers
and the first S3A connections, minutes of steady running would not. Batch L is left out
because its end is not in the data (nothing follows it). Batches with no rows (an idle tick
of the processor, see dtmon_processor.tick) are not part of the drain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Drain:
    records: int  # rows of every batch of the query (the whole backlog it read)
    hits: int
    batches: int  # batches with rows
    warmup_rows: int  # batch 0
    warmup_seconds: float  # batch 0's cycle: emitted_at(1) - emitted_at(0)
    measured_batches: int  # batches 1 .. L-1
    measured_rows: int
    measured_hits: int
    measured_seconds: float
    cycle_seconds: list[float]  # each measured batch's cycle

    @property
    def records_per_s(self) -> float:
        return self.measured_rows / self.measured_seconds

    @property
    def hits_per_s(self) -> float:
        return self.measured_hits / self.measured_seconds

    @property
    def mean_batch_rows(self) -> float:
        return self.measured_rows / self.measured_batches

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "hits": self.hits,
            "batches": self.batches,
            "warmup_batch": {"rows": self.warmup_rows, "cycle_s": round(self.warmup_seconds, 3)},
            "measured_batches": self.measured_batches,
            "measured_rows": self.measured_rows,
            "measured_hits": self.measured_hits,
            "measured_seconds": round(self.measured_seconds, 3),
            "mean_batch_rows": round(self.mean_batch_rows),
            "batch_cycle_s": [round(c, 3) for c in self.cycle_seconds],
            "records_per_s": round(self.records_per_s),
            "hits_per_s": round(self.hits_per_s),
        }


def drain_rate(batches: list[dict[str, Any]]) -> Drain:
    """`batches`: one query's batches (batch_id, rows, hits, emitted_at_ms), any order.
    ValueError when fewer than 3 have rows (nothing would be left between warm-up and end)."""
    full = sorted((b for b in batches if b["rows"] > 0), key=lambda b: b["batch_id"])
    if len(full) < 3:
        raise ValueError(f"{len(full)} batches with rows: at least 3 are needed to measure")
    ts = [b["emitted_at_ms"] / 1000 for b in full]
    middle = full[1:-1]
    cycles = [ts[i + 1] - ts[i] for i in range(1, len(full) - 1)]
    return Drain(
        records=sum(b["rows"] for b in full),
        hits=sum(b["hits"] for b in full),
        batches=len(full),
        warmup_rows=full[0]["rows"],
        warmup_seconds=ts[1] - ts[0],
        measured_batches=len(middle),
        measured_rows=sum(b["rows"] for b in middle),
        measured_hits=sum(b["hits"] for b in middle),
        measured_seconds=ts[-1] - ts[1],
        cycle_seconds=cycles,
    )
