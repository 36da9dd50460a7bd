"""The local stack's plan keeps the processor's batch byte bound true for the producer's
packing: a message larger than --max-message-bytes would void it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dtmon_tools.stack import StackConfig, plan
from minidt.codecs import decode_words, format_csv_lines


def _processor_flag(cfg: StackConfig, flag: str) -> int:
    argv = next(s.argv for s in plan(cfg) if s.name == "processor")
    return int(argv[argv.index(flag) + 1])


@pytest.mark.parametrize("per_message", [1, 100])
def test_processor_message_bound_fits_the_producers_largest_message(
    tmp_path: Path, per_message: int
) -> None:
    cfg = StackConfig(records_per_message=per_message, data_dir=tmp_path)
    largest = decode_words(np.full(per_message, np.iinfo(np.uint64).max, dtype=np.uint64))
    message = "\n".join(format_csv_lines(largest)).encode()
    assert len(message) <= _processor_flag(cfg, "--max-message-bytes")
