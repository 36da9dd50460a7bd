"""Simulated v1 batches with known faults, for the detector-health tests.

A reference run and a monitored run share the simulator's seed (so the same channels are
noisy by design in both, as on a real detector) but never the same windows: the monitored
simulator skips the windows the reference used.
"""

from __future__ import annotations

from typing import Any

from dtmon_api.state import BatchStore
from dtmon_producer.sim.faults import Faults
from dtmon_producer.sim.simulator import Simulator
from minidt.contract import validate_message
from minidt.reference import reference_message

BASE_MS = 1_795_000_000_000
PERIOD_MS = 1460
"""One simulator window (16,384 orbits = 1.46 s of detector time) per batch, as if the
processor's trigger followed detector time."""


def messages(
    sim: Simulator, n: int, *, query_id: str, first_batch: int = 0, base_ms: int = BASE_MS
) -> list[dict[str, Any]]:
    out = []
    for bid in range(first_batch, first_batch + n):
        hits = sim.next_hits()
        emitted = base_ms + bid * PERIOD_MS
        out.append(
            reference_message(
                hits,
                query_id=query_id,
                batch_id=bid,
                input_rows=len(hits),
                malformed=0,
                first_ts_ms=emitted - 1200,
                last_ts_ms=emitted - 200,
                emitted_at_ms=emitted,
            )
        )
    return out


def simulator(seed: int, skip: int = 0, faults: Faults | None = None) -> Simulator:
    sim = Simulator(seed=seed, faults=faults)
    for _ in range(skip):
        sim.next_hits()
    return sim


def fill_store(store: BatchStore, msgs: list[dict[str, Any]]) -> BatchStore:
    for m in msgs:
        store.apply(validate_message(m))
    return store


def new_store(window_seconds: float = 60.0) -> BatchStore:
    return BatchStore(history=600, window_seconds=window_seconds, max_window_batches=10_000)
