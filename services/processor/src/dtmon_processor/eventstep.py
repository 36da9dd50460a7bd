"""The driver's half of event building: merge what the partitions reported into the state the
next batch starts from, and close carried orbits that no partition saw (events.py has the rule).

Why on the driver: a carried orbit that got no new hit in this batch is in no partition, and
only the driver knows every FPGA's newest orbit (the merged watermarks). It runs the same
kernel function on those few hits, so nothing is computed differently; a driver-side path for
small batches (the whole batch as one partition) would call the same two functions.
"""

from __future__ import annotations

import numpy as np

from dtmon_processor import kernel as K
from dtmon_processor.assemble import PartCounts, group_batch
from dtmon_processor.events import (
    RESET_GAP,
    BatchRule,
    Carry,
    EventState,
    Watermarks,
    merge_watermark,
)
from minidt.binning import Binning


def finish_batch(counts: PartCounts, rule: BatchRule, binning: Binning) -> EventState:
    """Complete ``counts`` in place (leftover carried orbits, carried-in count, orbit span)
    and return the state for the next batch."""
    prev = rule.state
    marks = merged_watermarks(prev.watermarks, counts.marks, rule)
    taken = np.fromiter(counts.absorbed, dtype=np.int64, count=len(counts.absorbed))
    left = prev.carry.select(~np.isin(prev.carry.orbit, taken))
    if len(left):
        out = K.Rows()
        K.event_counts(out, 0, left, marks, rule, binning)
        _add(counts, group_batch(out.batch()).get(0, PartCounts()))
    counts.carried_in = len(prev.carry)
    counts.orbit_span, frontier = orbit_span(counts.spans, prev.frontier, marks)
    carry = Carry.concat(counts.carry).sorted()
    return EventState(watermarks=marks, carry=carry, frontier=frontier)


def merged_watermarks(
    previous: Watermarks, partial: dict[tuple[int, int, int], int], rule: BatchRule
) -> Watermarks:
    """The partitions' partial watermarks merged per (Kafka partition, FPGA); entries whose
    last hit is older than the timeout are dropped (a Kafka partition no longer used)."""
    marks: Watermarks = {}
    keys = set(previous) | {(kp, f) for kp, f, _ in partial}
    for key in sorted(keys):
        prev = previous.get(key)
        plain, reset = partial.get((*key, 0)), partial.get((*key, 1))
        mark = merge_watermark(prev[0] if prev else None, plain, reset)
        seen = plain is not None or reset is not None
        last = rule.batch_ts_ms if seen else (prev[1] if prev else None)
        stale = (
            rule.timeout_ms is not None
            and rule.batch_ts_ms is not None
            and last is not None
            and rule.batch_ts_ms - last > rule.timeout_ms
        )
        if mark is not None and not stale:
            marks[key] = (mark, last)
    return marks


def orbit_span(
    segments: list[tuple[int, int]], frontier: int | None, marks: Watermarks
) -> tuple[int, int | None]:
    """(orbits of detector time this batch adds, the new frontier).

    The partitions' (first, last) segments of closed orbits are merged when less than
    RESET_GAP apart (one per counter epoch). Consecutive batches close overlapping orbit
    ranges (the FPGAs' packets interleave), so a segment of the frontier's epoch only adds the
    orbits beyond the frontier (the newest orbit an earlier batch closed); a segment of another
    epoch adds its whole length. Summed over batches this is the run's detector time."""
    merged: list[list[int]] = []
    for first, last in sorted(segments):
        if merged and first <= merged[-1][1] + RESET_GAP:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    total = 0
    for first, last in merged:
        if frontier is not None and first - RESET_GAP <= frontier <= last + RESET_GAP:
            total += max(0, last - max(first - 1, frontier))
        else:
            total += last - first + 1
    if not merged:
        return 0, frontier
    # The new frontier lives in the current epoch: the segment nearest the slowest FPGA.
    known = [w for w, _ in marks.values()]
    if known:
        slowest = min(known)
        current = min(merged, key=lambda seg: abs(seg[1] - slowest))
    else:
        current = merged[-1]
    if frontier is not None and current[0] - RESET_GAP <= frontier <= current[1] + RESET_GAP:
        return total, max(frontier, current[1])
    return total, current[1]


def _add(into: PartCounts, extra: PartCounts) -> None:
    """Sum the counts of the driver's leftover orbits into the batch's counts."""
    for kind, n in extra.scalars.items():
        into.scalars[kind] = into.scalars.get(kind, 0) + n
    for key, hist in extra.bins.items():
        target = into.bins.setdefault(key, {})
        for b, n in hist.items():
            target[b] = target.get(b, 0) + n
    into.carry.extend(extra.carry)
    into.spans.extend(extra.spans)
