"""Run the transformation on one DataFrame of lines: one Spark action, counts per part."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from dtmon_processor.assemble import PartCounts, group_rows
from dtmon_processor.events import BatchRule, EventState
from dtmon_processor.eventstep import finish_batch
from dtmon_processor.transform import aggregate_batch, parse_lines
from minidt.binning import Binning


def compute_counts(lines: DataFrame, binning: Binning) -> dict[int, PartCounts]:
    """(part, line, ts, batch_ts) lines -> counts per part, with a single `collect`, every
    orbit closed (each part a self-contained batch).

    The collected table is the aggregated one (kinds x chambers x bins), never records.
    """
    return group_rows(aggregate_batch(parse_lines(lines), binning).collect())


def compute_batch(
    lines: DataFrame, binning: Binning, rule: BatchRule
) -> tuple[PartCounts, EventState]:
    """One batch (part 0) with event building: its counts and the state for the next batch,
    still one Spark job (the leftover carried orbits are closed on the driver)."""
    rows = aggregate_batch(parse_lines(lines), binning, rule).collect()
    counts = group_rows(rows).get(0, PartCounts())
    return counts, finish_batch(counts, rule, binning)


class JobCounter:
    """Counts the Spark jobs an action runs, through a job group (verifies "one job")."""

    def __init__(self, spark: SparkSession, group: str, description: str = "") -> None:
        self._sc = spark.sparkContext
        self.group = group
        self._sc.setJobGroup(group, description or group, interruptOnCancel=False)

    def jobs(self) -> int:
        return len(self._sc.statusTracker().getJobIdsForGroup(self.group))

    def clear(self) -> None:
        self._sc.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]
