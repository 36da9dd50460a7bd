"""Static batch mode: the streaming transformation applied to files (the task's "prototype on
a static batch", and how archived data is reprocessed).

Files are read by Spark (``.gz`` decompressed transparently), in the order given. With
``--rows-per-batch N`` every N consecutive record lines (blank and header lines excluded) form
one batch. Batches run one after the other with the streaming path's event building (an
orbit cut by a batch boundary is carried to the next batch, events.py), and the last batch
closes everything still open: the input has ended. Kafka timestamps do not exist here, so
``input.first_ts_ms``/``last_ts_ms`` are null.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dtmon_processor.assemble import build_message
from dtmon_processor.compute import compute_batch
from dtmon_processor.events import BatchRule, EventState
from minidt.binning import DEFAULT_BINNING, Binning
from minidt.codecs import CSV_HEADER


def file_lines(spark: SparkSession, files: Sequence[Path], rows_per_batch: int | None) -> DataFrame:
    """(part, line, ts, batch_ts) for the files, part = batch number."""
    frames = [
        spark.read.text(str(f)).select(
            F.lit(i).alias("file_idx"),
            F.monotonically_increasing_id().alias("pos"),  # file order within each file
            F.col("value").alias("line"),
        )
        for i, f in enumerate(files)
    ]
    lines = frames[0]
    for frame in frames[1:]:
        lines = lines.unionByName(frame)
    if rows_per_batch:
        text = F.expr("trim(BOTH ' \\t\\r' FROM line)")
        records = lines.where((F.length(text) > 0) & (text != F.lit(CSV_HEADER)))
        # One global numbering (a single-partition window): fine for archived files, and the
        # only way to cut batches at exact record counts across files.
        order = Window.orderBy("file_idx", "pos")
        part = F.floor((F.row_number().over(order) - 1) / rows_per_batch).cast("int")
        lines = records.select(part.alias("part"), "line")
    else:
        lines = lines.select(F.lit(0).alias("part"), "line")
    null_long = F.lit(None).cast("long")
    return lines.select(
        "part",
        "line",
        null_long.alias("ts"),
        null_long.alias("batch_ts"),
        F.lit(0).alias("kpart"),
    )


def batch_query_id(files: Sequence[Path]) -> str:
    """Stable per input set, so re-running on the same files gives the same ids."""
    names = "\n".join(str(f.resolve()) for f in files)
    return f"batch-{uuid.uuid5(uuid.NAMESPACE_URL, names)}"


def run_batches(
    spark: SparkSession,
    files: Sequence[Path],
    rows_per_batch: int | None,
    binning: Binning = DEFAULT_BINNING,
) -> Iterator[dict[str, Any]]:
    """v1 messages, batch 0 first. Empty input gives no message."""
    lines = file_lines(spark, files, rows_per_batch).persist()
    try:
        top = lines.agg(F.max("part")).collect()[0][0]
        query_id = batch_query_id(files)
        emitted_at_ms = int(time.time() * 1000)
        state = EventState()
        for part in range(0 if top is None else top + 1):
            rule = BatchRule(state=state, flush=part == top)
            batch = lines.where(F.col("part") == part).select(F.lit(0).alias("part"), *_REST)
            counts, state = compute_batch(batch, binning, rule)
            yield build_message(
                counts,
                binning=binning,
                query_id=query_id,
                batch_id=part,
                emitted_at_ms=emitted_at_ms,
            )
    finally:
        lines.unpersist()


_REST = ("line", "ts", "batch_ts", "kpart")
