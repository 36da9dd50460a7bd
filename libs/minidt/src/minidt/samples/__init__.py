"""Real detector data shipped with minidt, so that a clone alone can test against real rows.

`data_000000_head500.txt` is the first 500 rows (header included, byte for byte) of the public
miniDT stream file `data_000000.txt`.
"""

from __future__ import annotations

from pathlib import Path

REAL_SAMPLE: Path = Path(__file__).with_name("data_000000_head500.txt")
"""The first 500 rows of the real `data_000000.txt`."""
