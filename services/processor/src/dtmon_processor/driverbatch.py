"""The driver path: a micro-batch's Kafka values on the driver as Arrow, parsed and counted
there by the same kernel functions as the distributed path.

Why: on the distributed path (Spark SQL parse, a shuffle by orbit, ``mapInArrow``) every
micro-batch pays the shuffle and the Arrow round trip to the Python workers, 0.4-0.6 s on a
2-core machine whatever the batch size. Here the values come from the driver's own Kafka
consumer reading the batch's offset range (rangeread.py: no Spark job), or, when that read
cannot complete the range, from one Spark job that only reads Kafka and converts to Arrow in
the JVM (``collect_values``: no Python worker, no shuffle); the driver joins each Kafka
partition's values into one text, parses it with the project's CSV grammar (minidt.codecs,
which the Spark SQL parse replicates) and runs the kernel on the whole batch, where every
orbit is whole by construction. Measured on 2 cores it is also the faster path for 1M-record
batches; the distributed path remains for batches above ``--driver-max-offsets`` (executors
on other machines).

Memory: the driver holds the batch's values about three times (Arrow, joined text, parsed
columns), hence the batch byte bound of stream.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dtmon_processor import kernel as K
from dtmon_processor.assemble import PartCounts, group_batch
from dtmon_processor.events import BatchRule, EventState
from dtmon_processor.eventstep import finish_batch
from minidt.binning import Binning
from minidt.codecs import parse_csv
from minidt.detector import HIT_HEAD

_NEWLINE = pa.scalar(b"\n", pa.binary())


@dataclass(frozen=True)
class DriverBatch:
    """The counts and next state of one batch, and the largest Kafka value it held (checked
    against the size the byte bound assumes)."""

    counts: PartCounts
    state: EventState
    max_value_bytes: int


def collect_values(df: DataFrame) -> pa.Table:
    """(value, kpart, ts) of every Kafka record of the batch, in one Spark job."""
    return df.select(
        F.col("value"),
        F.col("partition").cast("int").alias("kpart"),
        F.unix_millis(F.col("timestamp")).alias("ts"),
    ).toArrow()


def joined_text(values: pa.ChunkedArray) -> bytes:
    """The values joined by newlines (one line set, as splitting each value would give)."""
    pieces = []
    for chunk in values.chunks:
        if len(chunk):
            offsets = pa.array([0, len(chunk)], pa.int32())
            pieces.append(pc.binary_join(pa.ListArray.from_arrays(offsets, chunk), _NEWLINE)[0])
    return b"\n".join(p.as_py() for p in pieces)


def batch_records(table: pa.Table) -> K.BatchRecords:
    """Parse each Kafka partition's text (event building needs a hit's partition)."""
    kparts = table.column("kpart").to_numpy(zero_copy_only=False)
    ts = table.column("ts")
    rows = malformed = 0
    cols: list[list[np.ndarray]] = [[] for _ in range(6)]
    for kp in np.unique(kparts).tolist():
        values = table.column("value").filter(pa.array(kparts == kp))
        parsed = parse_csv(joined_text(values))
        rows += len(parsed.hits)
        malformed += parsed.malformed
        h = parsed.hits
        hit = h.head == HIT_HEAD
        for i, col in enumerate((h.fpga, h.channel, h.orbit, h.bx, h.tdc)):
            cols[i].append(col[hit])
        cols[5].append(np.full(int(hit.sum()), kp, dtype=np.int64))
    fpga, channel, orbit, bx, tdc, kpart = (
        np.concatenate(c) if c else np.zeros(0, dtype=np.float64 if i == 4 else np.int64)
        for i, c in enumerate(cols)
    )
    lo, hi = pc.min(ts).as_py(), pc.max(ts).as_py()
    return K.BatchRecords(
        rows=rows,
        malformed=malformed,
        ts=(lo, hi, None),
        hits=K.new_hits(
            fpga.astype(np.int64, copy=False),
            channel.astype(np.int64, copy=False),
            orbit.astype(np.int64, copy=False),
            bx.astype(np.int64, copy=False),
            tdc.astype(np.float64, copy=False),
        ),
        kpart=kpart.astype(np.int64, copy=False),
    )


def count_table(table: pa.Table, binning: Binning, rule: BatchRule) -> DriverBatch:
    """The kernel over a collected (value, kpart, ts) table, then the driver's event step."""
    counts = PartCounts()
    if table.num_rows:
        out = K.Rows()
        K.record_counts(out, 0, batch_records(table), binning, rule)
        counts = group_batch(out.batch()).get(0, PartCounts())
    largest = pc.max(pc.binary_length(table.column("value"))).as_py() if table.num_rows else 0
    return DriverBatch(counts, finish_batch(counts, rule, binning), int(largest or 0))
