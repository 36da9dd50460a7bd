"""Run the transformation on one DataFrame of lines: one Spark action, counts per part."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from dtmon_processor.assemble import PartCounts, group_rows
from dtmon_processor.transform import aggregate_batch, parse_lines
from minidt.binning import Binning


def compute_counts(lines: DataFrame, binning: Binning) -> dict[int, PartCounts]:
    """(part, line, ts, batch_ts) lines -> counts per part, with a single `collect`.

    The collected table is the aggregated one (kinds x chambers x bins), never records.
    """
    return group_rows(aggregate_batch(parse_lines(lines), binning).collect())


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
