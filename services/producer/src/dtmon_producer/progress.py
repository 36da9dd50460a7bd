"""A one-line progress display on stderr, only when stderr is a terminal.

No dependency and no per-record work: the pump calls `update` once per chunk and the bar
redraws at most five times a second.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import TextIO


class ProgressBar:
    """`[#####.....]  12,345/50,000 rec  1,000 rec/s  data_000001.txt` (bar only with a total)."""

    def __init__(self, total: int | None = None, stream: TextIO | None = None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self._last = 0.0
        self._drawn = False

    def update(self, records: int, rate: float, origin: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < 0.2:
            return
        self._last = now
        width = shutil.get_terminal_size((100, 20)).columns
        name = origin.rsplit("/", 1)[-1]
        if self.total:
            frac = min(1.0, records / self.total)
            bar = "[" + "#" * int(20 * frac) + "." * (20 - int(20 * frac)) + "] "
            pos = f"{records:,}/{self.total:,} rec"
        else:
            bar, pos = "", f"{records:,} rec"
        line = f"{bar}{pos}  {rate:,.0f} rec/s  {name}"[: width - 1]
        self.stream.write("\r" + line.ljust(width - 1))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
