"""The per-batch computation as Spark SQL expressions: lines in, one small table of counts out.

Why this shape: earlier implementations ran one Spark action per quantity (nine or more per
batch) and paid seconds of fixed overhead. Here the whole batch is ONE action (one Spark job
when adaptive execution is off, see session.py) over two shuffles:

1. ``parse_lines``: a Kafka value may pack several newline-separated records; each line is
   trimmed, classified (blank / header / record / malformed) and parsed with one regular
   expression plus casts, replicating ``minidt.codecs.parse_csv``'s grammar exactly. No Python
   UDF: everything runs as generated JVM code on the executors.
2. ``aggregate_batch``: group by (part, ORBIT_CNT) (orbits can be split across Kafka
   partitions, so per-orbit work needs this shuffle). Each orbit yields its chamber hits as a
   small array and its earliest scintillator hit (t0). Non-hit lines share one group per part
   (null orbit) that only counts rows / malformed / Kafka timestamps; partial aggregation
   folds it map-side, so it costs one row per task.
3. Every orbit row becomes "contributions" ``(kind, chamber, bin, n)`` (occupancy bins,
   multiplicity, scintillator occupancy, drift-time bins, orbit counts...), which a second
   aggregation sums. The result has at most a few thousand rows per part: the only thing the
   driver collects (``assemble.py`` turns it into v1 messages).

``part`` splits one DataFrame into several independent batches (static batch mode computes all
its batches in one job); the streaming path uses a single part 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from minidt.binning import Binning
from minidt.codecs import CSV_HEADER, MAX_INT_DIGITS
from minidt.detector import (
    BX_NS,
    CHANNELS_PER_CHAMBER,
    HIT_HEAD,
    N_CHAMBERS,
    SCINT_CHANNEL,
    SCINT_FPGA,
    T0_CORRECTION_NS,
    TDC_PER_BX,
)

# Contribution kinds (the `kind` column of the aggregated table).
KIND_INPUT = 0  # n = parsed rows; also carries malformed count and timestamp span
KIND_HITS = 1  # n = HEAD == 2 records
KIND_SCINT_HITS = 2
KIND_ORBITS = 3  # n = distinct orbits with >= 1 hit
KIND_SCINT_ORBITS = 4
KIND_OCCUPANCY = 5  # (chamber, bin)
KIND_MULTIPLICITY = 6  # (chamber, bin)
KIND_SCINT_OCCUPANCY = 7  # (chamber, bin)
KIND_DRIFT = 8  # (chamber, bin)

_MAX_FLOAT_CHARS = 64  # as minidt.codecs: longer TDC_MEAS text is malformed
_INT = f"[0-9]{{1,{MAX_INT_DIGITS}}}"
# A whole record in one match: five unsigned integers and a decimal number that contains at
# least one digit, drawn from the characters minidt's parser accepts. Casting TDC_MEAS then
# rejects texts that pass the character class but are no number ("1.2.3", "1e").
RECORD_REGEX = "^" + ",".join([_INT] * 5) + f",(?=[.+eE-]*[0-9])[0-9.+eE-]{{1,{_MAX_FLOAT_CHARS}}}$"
# minidt trims spaces, tabs and CR around a line ('\n' already split lines); SQL escapes.
_TRIM_SQL = "trim(BOTH ' \\t\\r' FROM line)"
_CONTRIB_ARRAY = "array<struct<kind:int,chamber:int,bin:int,n:bigint>>"


def lines_from_values(
    df: DataFrame,
    value_col: str = "value",
    ts_col: str = "timestamp",
    batch_ts_col: str | None = None,
) -> DataFrame:
    """Kafka-like rows (binary/str value, timestamp) -> one row per line:
    (part, line, ts, batch_ts).

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


def _chamber(fpga: Column, channel: Column) -> Column:
    """minidt.detector.chamber_of: 2*fpga + channel//64 for FPGA 0/1 and channel 0-127."""
    valid = fpga.isin(0, 1) & (channel >= 0) & (channel < 2 * CHANNELS_PER_CHAMBER)
    return F.when(valid, fpga * 2 + F.floor(channel / CHANNELS_PER_CHAMBER)).otherwise(-1)


class Edges:
    """Histogram edges as Spark expressions, possibly chosen per row by chamber.

    ``bin_of(value, chamber)`` follows minidt.binning.fill exactly: the index i with
    ``edges[i] <= v < edges[i + 1]`` (searchsorted(edges, v, 'right') - 1), -1 for underflow,
    nbins for overflow and NaN. Uniform edges (``low + i * width``, as minidt builds them)
    need no lookup table: an arithmetic guess is corrected by comparing against the exact
    edge floats on both sides, so rounding in the division can never move a value to a
    neighbouring bin. Other edges count the edges <= v (linear, fine for a few hundred).
    Keeping the expression free of big literal arrays keeps the task binary small.
    """

    def __init__(self, per_chamber: Sequence[Sequence[float]]) -> None:
        self.per_chamber = [tuple(float(e) for e in edges) for edges in per_chamber]
        self.nbins = [len(e) - 1 for e in self.per_chamber]
        self.uniform = all(_is_uniform(e) for e in self.per_chamber)
        self.same = len(set(self.per_chamber)) == 1

    def _pick(self, values: Sequence[float | int], chamber: Column | None) -> Column:
        if self.same or chamber is None:
            return F.lit(values[0])
        return F.element_at(F.array(*[F.lit(v) for v in values]), chamber + 1)

    def bin_of(self, value: Column, chamber: Column | None = None) -> Column:
        return _let(value.cast("double"), lambda v: self._bin_of_bound(v, chamber))

    def _bin_of_bound(self, v: Column, chamber: Column | None) -> Column:
        nbins = self._pick(self.nbins, chamber)
        low = self._pick([e[0] for e in self.per_chamber], chamber)

        def classify(idx: Column) -> Column:
            return (
                F.when(F.isnan(v), nbins)
                .when(v < low, -1)
                .when((idx >= 0) & (idx < nbins), idx)
                .otherwise(nbins)
            )

        if self.uniform:
            width = self._pick([(e[-1] - e[0]) / (len(e) - 1) for e in self.per_chamber], chamber)
            guess = F.least(F.greatest(F.floor((v - low) / width), F.lit(0)), nbins - 1)

            def corrected(g: Column) -> Column:
                lo = low + g.cast("double") * width  # the exact edge floats low + i * width
                hi = low + (g + 1).cast("double") * width
                return classify(F.when(v < lo, g - 1).when(v >= hi, g + 1).otherwise(g))

            return _let(guess.cast("int"), corrected)
        edges = (
            F.array(*[F.lit(e) for e in self.per_chamber[0]])
            if self.same or chamber is None
            else F.element_at(
                F.array(*[F.array(*[F.lit(x) for x in e]) for e in self.per_chamber]),
                chamber + 1,
            )
        )
        return _let(F.size(F.filter(edges, lambda e: e <= v)) - 1, classify)


def _let(value: Column, body: Callable[[Column], Column]) -> Column:
    """``body(value)`` with ``value`` evaluated once and bound to a lambda variable.

    Why: Column expressions are trees; using a sub-expression several times copies it, and
    the bin lookup nests such uses, so the plan grew to tens of kilobytes and every
    micro-batch paid for analysing and optimising it. A one-element ``transform`` is a
    ``let`` binding that keeps the tree linear.
    """
    return F.element_at(F.transform(F.array(value), body), 1)


def _is_uniform(edges: Sequence[float]) -> bool:
    n = len(edges) - 1
    width = (edges[-1] - edges[0]) / n
    return all(float(edges[0] + i * width) == e for i, e in enumerate(edges))


def _contrib(kind: int, chamber: Column | int, bin_: Column | int, n: Column | int) -> Column:
    return F.struct(
        F.lit(kind).alias("kind"),
        F.lit(chamber).cast("int").alias("chamber")
        if isinstance(chamber, int)
        else chamber.cast("int").alias("chamber"),
        F.lit(bin_).cast("int").alias("bin")
        if isinstance(bin_, int)
        else bin_.cast("int").alias("bin"),
        (F.lit(n) if isinstance(n, int) else n).cast("long").alias("n"),
    )


def aggregate_batch(parsed: DataFrame, binning: Binning) -> DataFrame:
    """Typed records -> (part, kind, chamber, bin, n, malformed, ts_min, ts_max, batch_ts).

    One row per non-empty (part, kind, chamber, bin); plus KIND_INPUT rows (chamber = bin = 0)
    whose n is the parsed-row count and which carry malformed count and timestamp span.
    """
    key, orbit_aggs, contrib, final_aggs, keep = _cached("aggregate", _aggregate_columns, binning)
    per_orbit = parsed.groupBy("part", key).agg(*orbit_aggs)
    contributions = per_orbit.select("part", "malformed", "ts_min", "ts_max", "batch_ts", contrib)
    return (
        contributions.groupBy("part", "k.kind", "k.chamber", "k.bin").agg(*final_aggs).where(keep)
    )


def _aggregate_columns(
    binning: Binning,
) -> tuple[Column, list[Column], Column, list[Column], Column]:
    is_hit = F.col("is_record") & (F.col("head") == HIT_HEAD)
    is_scint = is_hit & (F.col("fpga") == SCINT_FPGA) & (F.col("channel") == SCINT_CHANNEL)
    chamber = _chamber(F.col("fpga"), F.col("channel"))
    in_chamber = is_hit & (chamber >= 0)
    # Earliest scintillator hit: smallest time within the orbit in TDC units (bx*30 + tdc,
    # as minidt.detector.time_in_orbit_tdc), ties broken by bx then tdc. Double arithmetic
    # cannot overflow on absurd BX values (ANSI mode would fail the batch).
    t_in_orbit = F.col("bx").cast("double") * F.lit(float(TDC_PER_BX)) + F.col("tdc")
    key = F.when(is_hit, F.col("orbit")).alias("orbit")
    orbit_aggs = [
        F.count_if(F.col("is_record")).alias("rows"),
        F.count_if(F.col("is_malformed")).alias("malformed"),
        F.min("ts").alias("ts_min"),
        F.max("ts").alias("ts_max"),
        F.max("batch_ts").alias("batch_ts"),
        F.count_if(is_hit).alias("hits"),
        F.count_if(is_scint).alias("scint_hits"),
        F.collect_list(
            F.when(
                in_chamber,
                F.struct(
                    chamber.cast("int").alias("c"),
                    F.col("channel").alias("ch"),
                    F.col("bx").alias("bx"),
                    F.col("tdc").alias("tdc"),
                ),
            )
        ).alias("hs"),
        F.min(
            F.when(
                is_scint,
                F.struct(
                    t_in_orbit.alias("key"), F.col("bx").alias("bx"), F.col("tdc").alias("tdc")
                ),
            )
        ).alias("t0"),
    ]
    contrib = F.explode(_orbit_contributions(binning)).alias("k")
    input_row = F.col("k.kind") == KIND_INPUT
    final_aggs = [
        F.sum("k.n").alias("n"),
        F.sum(F.when(input_row, F.col("malformed"))).alias("malformed"),
        F.min(F.when(input_row, F.col("ts_min"))).alias("ts_min"),
        F.max(F.when(input_row, F.col("ts_max"))).alias("ts_max"),
        F.max(F.when(input_row, F.col("batch_ts"))).alias("batch_ts"),
    ]
    keep = (F.col("n") > 0) | (F.col("kind") == KIND_INPUT)
    return key, orbit_aggs, contrib, final_aggs, keep


def _orbit_contributions(binning: Binning) -> Column:
    """The array of (kind, chamber, bin, n) contributions of one per-orbit row.

    Per chamber hit of the orbit: an occupancy bin, and when the orbit has a scintillator hit
    a scintillator-occupancy bin and a drift-time bin. Per chamber with hits: one
    multiplicity bin (distinct channels). Per orbit: counters.
    """
    is_orbit = F.col("orbit").isNotNull()
    has_t0 = F.col("t0").isNotNull()
    occupancy = Edges([binning.occupancy_edges(c) for c in range(N_CHAMBERS)])
    multiplicity = Edges([binning.orbit_multiplicity])
    drift = Edges([binning.drift_time_ns])
    t0_corr = F.array(*[F.lit(float(t)) for t in T0_CORRECTION_NS])

    counters = F.array(
        _contrib(KIND_INPUT, 0, 0, F.col("rows")),
        F.when(is_orbit, _contrib(KIND_HITS, 0, 0, F.col("hits"))),
        F.when(is_orbit, _contrib(KIND_SCINT_HITS, 0, 0, F.col("scint_hits"))),
        F.when(is_orbit, _contrib(KIND_ORBITS, 0, 0, 1)),
        F.when(has_t0, _contrib(KIND_SCINT_ORBITS, 0, 0, 1)),
    )

    def n_distinct(c: Column) -> Column:
        return F.size(
            F.array_distinct(F.transform(F.filter("hs", lambda h: h["c"] == c), lambda h: h["ch"]))
        )

    def mult_of(c: Column) -> Column:
        return _let(
            n_distinct(c),
            lambda n: F.when(n > 0, _contrib(KIND_MULTIPLICITY, c, multiplicity.bin_of(n), 1)),
        )

    mult = F.transform(F.array(*[F.lit(c) for c in range(N_CHAMBERS)]), mult_of)
    occ = F.transform(
        "hs", lambda h: _contrib(KIND_OCCUPANCY, h["c"], occupancy.bin_of(h["ch"], h["c"]), 1)
    )
    socc = F.transform(
        "hs",
        lambda h: _contrib(KIND_SCINT_OCCUPANCY, h["c"], occupancy.bin_of(h["ch"], h["c"]), 1),
    )
    drifts = F.transform(
        "hs",
        lambda h: _contrib(
            KIND_DRIFT, h["c"], drift.bin_of(_drift_ns(h, F.element_at(t0_corr, h["c"] + 1))), 1
        ),
    )
    empty = F.array().cast(_CONTRIB_ARRAY)
    arrays = F.concat(
        counters,
        mult,
        occ,
        F.when(has_t0, socc).otherwise(empty),
        F.when(has_t0, drifts).otherwise(empty),
    )
    # Nulls from the F.when(...) slots above are dropped before exploding.
    return F.filter(arrays, lambda x: x.isNotNull())


def _drift_ns(h: Column, t0_corr: Column) -> Column:
    """minidt.detector.drift_time_ns, operation by operation in float64:
    ``25 * (bx_hit - bx_scint) + (tdc_hit - tdc_scint) * 25 / 30 + T0[chamber]``."""
    dbx = (h["bx"] - F.col("t0.bx")).cast("double")
    dtdc = h["tdc"] - F.col("t0.tdc")
    return F.lit(BX_NS) * dbx + dtdc * F.lit(BX_NS) / F.lit(float(TDC_PER_BX)) + t0_corr
