"""Event building: when an orbit is complete, and what a batch carries to the next one.

Why: the two FPGAs write alternating packets of ~4 words, so one orbit's hits spread over up
to ~270 rows (docs/detector.md, "How the readout orders the words"). A batch cut through such
an orbit would lose the chamber 0/1 hits' scintillator t0 and count the orbit twice at lower
multiplicity. So a batch only *closes* the orbits that are complete and carries the hits of
the others to the next batch.

The rule, in orbit-counter space per FPGA (each FPGA writes its hits in non-decreasing orbit
order, apart from a counter reset): FPGA f has *passed* orbit O once it has written a hit of
a later orbit, i.e. its watermark W_f (the largest orbit it has written since its last reset)
satisfies ``O < W_f <= O + RESET_GAP``; or ``O > W_f + RESET_GAP``, which means O belongs
to the counter epoch before f's reset. Kafka partitions each hold a subsequence of the
stream, and a batch reads them up to different points, so the watermark is kept per (Kafka
partition, FPGA) and f has passed O only when it has in every partition; a partition that
delivered no hit of f for ``timeout_ms`` is forgotten (the producer may have stopped using
it). An orbit is closed when both FPGAs have passed it,
when its oldest carried hit has waited ``timeout_ms`` of wall-clock (batch) time (a quiet FPGA
or a stream that stops; counted as timeout-closed), or when the input ends (``flush``). A
counter reset therefore never holds anything forever: once both FPGAs have reset, every
pre-reset orbit is passed. A drop of more than RESET_GAP orbits in an FPGA's hits is a reset:
its watermark restarts at the largest post-reset orbit.

Everything here is a pure function of (carried state, this batch's records), so a batch that
Spark re-runs after a crash closes and carries exactly the same hits. The rule runs inside
the per-partition kernel (each partition sees whole orbits but not every FPGA's newest orbit,
so its watermarks may lag the global ones: it can only carry more, never close too early)
and on the driver for carried orbits that received no new hit (with the merged watermarks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WATERMARK_FPGAS = (0, 1)
RESET_GAP = 1 << 23
"""Orbits (~12.5 min of detector time): a drop larger than this in one FPGA's orbit counter is
a counter reset. It must exceed the detector time one batch spans, or the batch's older orbits
look neither passed nor pre-reset and are carried until the timeout: a batch of 1M records
(a backlog, or a stream that fell behind) spans ~200 s of detector time, which with 2^20
(~93 s) carried half of its hits and collapsed throughput above ~170k records/s. The batch
bounds keep a batch below ~1.6M records (~5.5 min); still far below the reset seen in the
real data (3,387,201,636 -> 616,958)."""

CARRY_FIELDS = ("fpga", "channel", "orbit", "bx", "tdc", "since_ms")


@dataclass(frozen=True)
class Carry:
    """Hits of open orbits (one array per CARRY_FIELDS entry, row-aligned).

    ``since_ms`` is the batch timestamp of the batch that first carried the hit's orbit (null
    in static batch mode, where only ``flush`` closes what the watermarks do not)."""

    fpga: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    channel: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    orbit: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    bx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    tdc: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    since_ms: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.orbit)

    def select(self, mask: np.ndarray) -> Carry:
        return Carry(*(getattr(self, f)[mask] for f in CARRY_FIELDS))

    @staticmethod
    def concat(parts: list[Carry]) -> Carry:
        if not parts:
            return Carry()
        return Carry(*(np.concatenate([getattr(p, f) for p in parts]) for f in CARRY_FIELDS))

    def sorted(self) -> Carry:
        """Canonical order, so the stored state (and a re-run) is byte-identical."""
        order = np.lexsort((self.tdc, self.bx, self.channel, self.fpga, self.orbit))
        return Carry(*(getattr(self, f)[order] for f in CARRY_FIELDS))


Watermarks = dict[tuple[int, int], tuple[int, int | None]]
"""(Kafka partition, FPGA) -> (watermark orbit, batch time in ms of its last hit)."""


@dataclass(frozen=True)
class EventState:
    """What one batch hands to the next: the watermarks, the open orbits' hits, and the
    frontier (the newest closed orbit, so detector time is counted once: ``orbit_span``)."""

    watermarks: Watermarks = field(default_factory=dict)
    carry: Carry = field(default_factory=Carry)
    frontier: int | None = None


@dataclass(frozen=True)
class BatchRule:
    """How this batch closes orbits: the carried state, the batch's wall-clock time (ms, None
    in static mode), the timeout (ms, None = never) and whether the input ends here."""

    state: EventState = field(default_factory=EventState)
    batch_ts_ms: int | None = None
    timeout_ms: int | None = None
    flush: bool = True


def local_watermarks(
    previous: Watermarks, kpart: np.ndarray, fpga: np.ndarray, orbit: np.ndarray
) -> tuple[Watermarks, dict[tuple[int, int], tuple[int | None, int | None]]]:
    """(watermarks after these hits, per (partition, FPGA) (max orbit, max post-reset orbit)).

    A hit more than RESET_GAP below the previous watermark is post-reset; if any exists the
    watermark restarts at the largest of them, else it is the largest orbit seen."""
    marks = dict(previous)
    partial: dict[tuple[int, int], tuple[int | None, int | None]] = {}
    watched = np.isin(fpga, WATERMARK_FPGAS)
    keys = np.unique(np.stack([kpart[watched], fpga[watched]], axis=1), axis=0)
    for kp, f in keys.tolist():
        o = orbit[(kpart == kp) & (fpga == f)]
        prev = previous.get((kp, f))
        after_reset = o < prev[0] - RESET_GAP if prev else np.zeros(len(o), dtype=bool)
        hi = int(o[~after_reset].max()) if (~after_reset).any() else None
        lo = int(o[after_reset].max()) if after_reset.any() else None
        partial[kp, f] = (hi, lo)
        mark = merge_watermark(prev[0] if prev else None, hi, lo)
        if mark is not None:
            marks[kp, f] = (mark, prev[1] if prev else None)
    return marks, partial


def merge_watermark(prev: int | None, plain_max: int | None, reset_max: int | None) -> int | None:
    """The watermark after a batch: the post-reset maximum if the FPGA reset, else the max."""
    if reset_max is not None:
        return reset_max
    values = [v for v in (prev, plain_max) if v is not None]
    return max(values) if values else None


def passed(orbits: np.ndarray, watermarks: Watermarks) -> np.ndarray:
    """Per orbit: has every FPGA, in every Kafka partition, written a later orbit (or reset
    past it)?"""
    done = np.ones(len(orbits), dtype=bool)
    for f in WATERMARK_FPGAS:
        mine = [w for (_, g), (w, _) in watermarks.items() if g == f]
        if not mine:
            return np.zeros(len(orbits), dtype=bool)
        for w in mine:
            later = (orbits < w) & (orbits >= w - RESET_GAP)
            before_reset = orbits > w + RESET_GAP
            done &= later | before_reset
    return done


def close_orbits(
    orbits: np.ndarray,
    oldest_since_ms: np.ndarray,
    watermarks: Watermarks,
    rule: BatchRule,
) -> tuple[np.ndarray, np.ndarray]:
    """(closed, closed by timeout) per distinct orbit; ``oldest_since_ms`` is the earliest
    carry time of the orbit's hits (int64 max for an orbit with no carried hit)."""
    if rule.flush:
        return np.ones(len(orbits), dtype=bool), np.zeros(len(orbits), dtype=bool)
    complete = passed(orbits, watermarks)
    timed_out = np.zeros(len(orbits), dtype=bool)
    if rule.timeout_ms is not None and rule.batch_ts_ms is not None:
        timed_out = ~complete & (oldest_since_ms <= rule.batch_ts_ms - rule.timeout_ms)
    return complete | timed_out, timed_out
