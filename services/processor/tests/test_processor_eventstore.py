"""The event-building state in the checkpoint: written by one batch, read by the next,
identically through the local fast path and through Hadoop's FileSystem (which s3a://
checkpoints use); a missing file falls back to the newest earlier one; old files expire."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pyspark.sql import SparkSession

from dtmon_processor.events import Carry, EventState
from dtmon_processor.eventstore import RETAIN_BATCHES, CheckpointEventStore, encode_state


def _state(k: int) -> EventState:
    return EventState(
        watermarks={(0, 0): (3_387_201_636 + k, 1_000), (1, 1): (616_958, None)},
        carry=Carry(
            np.array([0, 1]),
            np.array([5, 128]),
            np.array([617_000 + k, 617_000 + k]),
            np.array([10, 12]),
            np.array([3.0, 29.5]),
            np.array([1_000, 2_000]),
        ),
        frontier=616_990 + k,
    )


def test_state_round_trips_through_both_paths(spark: SparkSession, tmp_path: Path) -> None:
    local = CheckpointEventStore(spark, str(tmp_path))
    hadoop = CheckpointEventStore(spark, str(tmp_path))
    hadoop._local = None  # the path an s3a:// checkpoint takes, on the same folder
    assert encode_state(local.load(0)) == encode_state(EventState())
    for k, (writer, reader) in enumerate([(local, hadoop), (hadoop, local), (local, local)]):
        writer.save(k, _state(k))
        got = reader.load(k + 1)
        assert encode_state(got) == encode_state(_state(k))
    # Batch 5 finds no state of batch 4: the newest earlier one (batch 2) is used.
    assert encode_state(hadoop.load(5)) == encode_state(local.load(5)) == encode_state(_state(2))
    local.save(RETAIN_BATCHES, _state(0))
    assert not (tmp_path / "dtmon-events" / "0.json").exists()
