"""The per-batch computation as Spark SQL expressions: lines in, one small table of counts out.

Why this shape: earlier implementations ran one Spark action per quantity (nine or more per
batch) and paid seconds of fixed overhead; the next one expressed the per-orbit work as SQL
higher-order functions over a ``collect_list`` and paid for analysing that large plan every
batch plus slow per-orbit arrays. Here the whole batch is ONE action (one Spark job when
adaptive execution is off, see session.py) over ONE shuffle, with a small plan:

1. ``parse_lines``: a Kafka value may pack several newline-separated records; each line is
   trimmed, classified (blank / header / record / malformed) and parsed with one regular
   expression plus casts, replicating ``minidt.codecs.parse_csv``'s grammar exactly. No Python
   UDF: generated JVM code on the executors.
2. ``aggregate_batch``: repartition by (part, ORBIT_CNT) (orbits can be split across Kafka
   partitions, so per-orbit work needs this shuffle), then ``mapInArrow`` runs the vectorised
   numpy kernel (``kernel.py``) on each partition: occupancy, per-orbit distinct-channel
   multiplicity, earliest-scintillator drift times, scintillator occupancy, counters. Each
   partition emits partial counts ``(part, kind, chamber, bin, n, ...)``, a few hundred rows:
   the only thing the driver collects; ``assemble.py`` sums them into v1 messages.

``part`` splits one DataFrame into several independent batches (static batch mode computes all
its batches in one job); the streaming path uses a single part 0.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from dtmon_processor import kernel as K
from dtmon_processor.events import BatchRule
from minidt.binning import Binning
from minidt.codecs import CSV_HEADER, MAX_INT_DIGITS

_MAX_FLOAT_CHARS = 64  # as minidt.codecs: longer TDC_MEAS text is malformed
_INT = f"[0-9]{{1,{MAX_INT_DIGITS}}}"
# A whole record in one match: five unsigned integers and a decimal number that contains at
# least one digit, drawn from the characters minidt's parser accepts. Casting TDC_MEAS then
# rejects texts that pass the character class but are no number ("1.2.3", "1e").
RECORD_REGEX = "^" + ",".join([_INT] * 5) + f",(?=[.+eE-]*[0-9])[0-9.+eE-]{{1,{_MAX_FLOAT_CHARS}}}$"
# minidt trims spaces, tabs and CR around a line ('\n' already split lines); SQL escapes.
_TRIM_SQL = "trim(BOTH ' \\t\\r' FROM line)"


def lines_from_values(
    df: DataFrame,
    value_col: str = "value",
    ts_col: str = "timestamp",
    batch_ts_col: str | None = None,
    partition_col: str | None = None,
) -> DataFrame:
    """Kafka-like rows (binary/str value, timestamp) -> one row per line:
    (part, line, ts, batch_ts, kpart).

    ``kpart`` is the Kafka partition (0 without ``partition_col``): event building keeps one
    orbit watermark per Kafka partition and FPGA, because a batch reads the partitions up to
    different points of the stream.

    ``ts`` is the Kafka record timestamp in epoch ms; every record yields at least one line
    (``split`` of an empty value is ``[""]``), so min/max over lines is min/max over records.
    ``batch_ts`` (epoch ms) is carried through to the result when given: the streaming query
    feeds ``current_timestamp()``, which Spark pins to the micro-batch's timestamp recorded in
    the checkpoint's offset log (identical when a batch is re-run after a crash).
    """
    batch_ts = F.unix_millis(F.col(batch_ts_col)) if batch_ts_col else F.lit(None).cast("long")
    return df.select(
        F.lit(0).alias("part"),
        F.explode(F.split(F.col(value_col).cast("string"), "\n")).alias("line"),
        F.unix_millis(F.col(ts_col)).alias("ts"),
        batch_ts.alias("batch_ts"),
        (F.col(partition_col) if partition_col else F.lit(0)).cast("int").alias("kpart"),
    )


def parse_lines(lines: DataFrame) -> DataFrame:
    """(part, line, ts) -> typed records with flags, following minidt.codecs.parse_csv.

    Blank and header lines are neither rows nor malformed; a record is either parsed (all
    six fields valid) or malformed. Field columns are null on non-records.
    """
    staged_cols, record_cols = _cached("parse", _parse_columns)
    return lines.select(*staged_cols).select(*record_cols)


def _parse_columns() -> tuple[list[Column], list[Column]]:
    text = F.expr(_TRIM_SQL)
    staged = [
        F.col("part"),
        F.col("ts"),
        F.col("batch_ts"),
        F.col("kpart"),
        F.split(text, ",").alias("f"),
        ((F.length(text) == 0) | (text == F.lit(CSV_HEADER))).alias("ignorable"),
        text.rlike(RECORD_REGEX).alias("shaped"),
    ]
    tdc = F.expr("try_cast(get(f, 5) AS DOUBLE)")
    is_record = (
        ~F.col("ignorable")
        & F.col("shaped")
        & tdc.isNotNull()
        & ~F.isnan(tdc)
        & (F.abs(tdc) != F.lit(float("inf")))
    )

    def field(i: int) -> Column:
        return F.when(is_record, F.expr(f"try_cast(get(f, {i}) AS BIGINT)"))

    record = [
        F.col("part"),
        F.col("ts"),
        F.col("batch_ts"),
        F.col("kpart"),
        is_record.alias("is_record"),
        (~F.col("ignorable") & ~is_record).alias("is_malformed"),
        field(0).alias("head"),
        field(1).alias("fpga"),
        field(2).alias("channel"),
        field(3).alias("orbit"),
        field(4).alias("bx"),
        F.when(is_record, tdc).alias("tdc"),
    ]
    return staged, record


_CACHE: dict[tuple[Any, ...], Any] = {}


def _cached(name: str, build: Callable[..., Any], *args: Any) -> Any:
    """Build the (large) Column expressions once per JVM and binning, then reuse them.

    Why: building them goes through hundreds of py4j calls (1-2 s per batch on a busy
    2-core machine); Columns are unresolved expressions, valid for any DataFrame with the
    same column names, so each micro-batch only pays a handful of calls.
    """
    from pyspark import SparkContext

    key = (name, id(SparkContext._active_spark_context), *args)
    if key not in _CACHE:
        _CACHE[key] = build(*args)
    return _CACHE[key]


def aggregate_batch(
    parsed: DataFrame, binning: Binning, rule: BatchRule | None = None
) -> DataFrame:
    """Typed records -> partial counts (part, kind, chamber, bin, n, malformed, ts_min, ts_max,
    batch_ts), several rows per (part, kind, chamber, bin) that the driver sums.

    One shuffle puts every (part, ORBIT_CNT) in one partition; ``kernel.partition_counts``
    (numpy, vectorised through Arrow) then does all per-orbit work. Non-records (null orbit)
    land together and only count rows / malformed / timestamps. ``rule`` (events.py) carries
    the open orbits of the previous batch; the default closes every orbit.
    """
    shuffled = parsed.select(*K.INPUT_COLUMNS).repartition("part", "orbit")
    return map_in_arrow(shuffled, functools.partial(K.partition_counts, binning=binning, rule=rule))


def map_in_arrow(df: DataFrame, func: Callable[..., Any]) -> DataFrame:
    """Run the per-partition numpy kernel on Arrow batches (no pandas conversion on the way).

    pyspark's public ``mapInArrow`` checks that pandas is importable even though the Arrow
    path never converts to pandas, so pandas is a declared dependency of the processor.
    """
    return df.mapInArrow(func, K.OUTPUT_SCHEMA)
