"""The simulator's fault-injection flags and their parsing, without importing numpy (the
producer's CLI builds its parser before it knows whether the source is the simulator)."""

from __future__ import annotations

import argparse
from typing import Any

from dtmon_common.options import Group, Option

N_CHAMBERS = 4
NOISY_RATE_HZ = 100.0
"""Extra hits per second of a noisy channel (a quiet channel sees ~10 Hz of muons and noise)."""
BURST_EVERY_S = 5.0
"""Mean interval between bursts of a bursting channel."""
BURST_HITS = 32
BURST_SPAN_NS = 1.8e6
"""A burst: 32 hits within 1.8 ms, as FPGA 1 channel 126 did in the real data."""

Channel = tuple[int, int]


class FaultSpecError(argparse.ArgumentTypeError, ValueError):
    """A bad --sim-* value; argparse prints its message after the flag's name."""


def parse_channels(text: str) -> tuple[Channel, ...]:
    """``"0:5,3:120"`` -> ((0, 5), (3, 120)); empty text -> ()."""
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        chamber, sep, channel = item.partition(":")
        if not sep:
            raise FaultSpecError(f"{item!r}: expected chamber:channel, e.g. 0:5")
        c, ch = int(chamber), int(channel)
        low = (c % 2) * 64
        if not 0 <= c < N_CHAMBERS or not low <= ch < low + 64:
            raise FaultSpecError(
                f"{item!r}: chamber {c} has raw channels {low}-{low + 63} (chambers 0-3)"
                if 0 <= c < N_CHAMBERS
                else f"{item!r}: chamber must be 0-3"
            )
        out.append((c, ch))
    return tuple(out)


def parse_shifts(text: str) -> tuple[float, ...]:
    """``"3:20"`` -> t0 shifted by +20 ns in chamber 3, 0 elsewhere."""
    shifts = [0.0] * N_CHAMBERS
    for item in filter(None, (s.strip() for s in text.split(","))):
        chamber, sep, ns = item.partition(":")
        if not sep or not 0 <= int(chamber) < N_CHAMBERS:
            raise FaultSpecError(
                f"{item!r}: expected chamber:nanoseconds with chamber 0-3, e.g. 3:20"
            )
        shifts[int(chamber)] = float(ns)
    return tuple(shifts)


FAULTS = Group(
    "simulator faults (--source sim; off by default)",
    (
        Option(
            "--sim-dead",
            "inject dead channels, chamber:channel,...",
            type=parse_channels,
            default="",
        ),
        Option(
            "--sim-noisy",
            f"inject noisy channels (+{NOISY_RATE_HZ:g} Hz each), chamber:channel,...",
            type=parse_channels,
            default="",
        ),
        Option(
            "--sim-bursting",
            f"inject bursting channels ({BURST_HITS} hits in {BURST_SPAN_NS / 1e6:g} ms, "
            f"every {BURST_EVERY_S:g} s on average), chamber:channel,...",
            type=parse_channels,
            default="",
        ),
        Option(
            "--sim-t0-shift",
            "shift the chamber hits' times (hence t0 and t_max), chamber:ns,...",
            type=parse_shifts,
            default="",
        ),
    ),
)
"""The injection options, declared next to their parsers; the producer's CLI and the README
tables add them to dtmon_common's producer declaration (PRODUCER.extended(FAULTS))."""


def faults_from_args(args: Any) -> Any:
    """The Faults named by the flags (imports the numpy side only now)."""
    from dtmon_producer.sim.faults import Faults

    return Faults(
        dead=tuple(args.sim_dead),
        noisy=tuple(args.sim_noisy),
        bursting=tuple(args.sim_bursting),
        t0_shift_ns=tuple(args.sim_t0_shift),
    )
