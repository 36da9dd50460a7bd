"""Read Spark's offset log (<checkpoint>/offsets/<batch id>): the batch's timestamp and the end
offsets of its Kafka source.

Why: foreachBatch is handed a DataFrame, not its offset range. The log holds what the batch
reads (from the previous entry's offsets to this entry's), so the handler knows a batch's
record count before running it (to choose the driver or the distributed path) and its
timestamp, both identical when Spark re-runs the batch after a crash. Format: line 1 the
version ("v1"), line 2 {"batchWatermarkMs":..,"batchTimestampMs":..,"conf":..}, then one line
per source: {"topic": {"partition": offset}}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pyspark.sql import SparkSession

from dtmon_processor.eventstore import local_path
from dtmon_processor.rangeread import Range


@dataclass(frozen=True)
class OffsetEntry:
    timestamp_ms: int
    offsets: dict[tuple[str, str], int]  # (topic, partition) -> end offset


def parse_entry(text: str) -> OffsetEntry:
    lines = text.splitlines()
    meta = json.loads(lines[1])
    offsets: dict[tuple[str, str], int] = {}
    for line in lines[2:]:
        data: Any = json.loads(line) if line.strip() not in ("", "-") else None
        if isinstance(data, dict):
            for topic, parts in data.items():
                if isinstance(parts, dict):
                    for part, off in parts.items():
                        offsets[topic, part] = int(off)
    return OffsetEntry(int(meta["batchTimestampMs"]), offsets)


def read_entry(spark: SparkSession, checkpoint: str, batch_id: int) -> OffsetEntry | None:
    """The offset-log entry of ``batch_id``, None if it is not (or no longer) there."""
    text = read_text(spark, checkpoint, f"offsets/{batch_id}")
    return None if text is None else parse_entry(text)


def read_initial(spark: SparkSession, checkpoint: str) -> OffsetEntry | None:
    """Where the query's Kafka source started (the start of batch 0), as an entry with no
    timestamp. The connector writes it to <checkpoint>/sources/0/0: a zero byte, "v1", then
    {"topic": {"partition": offset}}."""
    text = read_text(spark, checkpoint, "sources/0/0")
    if text is None:
        return None
    lines = [line for line in text.lstrip("\x00").splitlines() if line.startswith("{")]
    if not lines:
        return None
    return parse_entry("v1\n" + '{"batchTimestampMs": 0}\n' + lines[0])


def read_text(spark: SparkSession, checkpoint: str, name: str) -> str | None:
    """A checkpoint file's text, None if absent; local files directly, others via Hadoop."""
    local = local_path(checkpoint)
    if local is not None:  # no py4j round trips for a local checkpoint (every batch)
        path = local / name
        return path.read_text(encoding="utf-8") if path.exists() else None
    jvm = spark.sparkContext._jvm  # type: ignore[attr-defined]
    hconf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    hpath = jvm.org.apache.hadoop.fs.Path(f"{checkpoint}/{name}")
    fs = hpath.getFileSystem(hconf)
    if not fs.exists(hpath):
        return None
    stream = fs.open(hpath)
    try:
        reader = jvm.java.io.BufferedReader(jvm.java.io.InputStreamReader(stream, "UTF-8"))
        lines = []
        while (line := reader.readLine()) is not None:
            lines.append(str(line))
    finally:
        stream.close()
    return "\n".join(lines)


def read_query_id(spark: SparkSession, checkpoint: str) -> str | None:
    """The query id in <checkpoint>/metadata ({"id": "..."}), None for a new checkpoint."""
    text = read_text(spark, checkpoint, "metadata")
    return None if text is None else str(json.loads(text.splitlines()[0])["id"])


def offset_ranges(current: OffsetEntry, previous: OffsetEntry) -> list[Range]:
    """What the batch between two entries reads: per partition, from the previous end offset
    (0 for a partition new in this entry, as batch_records counts it) to this one's."""
    return [
        Range(topic, int(part), previous.offsets.get((topic, part), 0), end)
        for (topic, part), end in current.offsets.items()
    ]


def batch_records(current: OffsetEntry, previous: OffsetEntry | None) -> int | None:
    """Kafka records (messages) in the batch between two entries; None without a previous
    entry (unknown start)."""
    if previous is None:
        return None
    return sum(max(0, end - previous.offsets.get(key, 0)) for key, end in current.offsets.items())
