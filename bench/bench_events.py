"""Cost of event building per batch (`make bench`): the same batch of real-order records
through the processor's Spark job without event building (every orbit closed at the cut) and
with it (carried state read from a checkpoint folder, carried hits absorbed, open orbits
carried out, state written back), plus the driver-only parts on their own.

Records: the real sample's rows in their DAQ order (alternating FPGA packets), repeated with
the orbit counter shifted so the stream keeps going; batches cut every --rows records, so
each one starts with the previous batch's open orbits. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from dtmon_processor.compute import compute_batch, compute_counts
from dtmon_processor.events import BatchRule, EventState
from dtmon_processor.eventstore import CheckpointEventStore
from dtmon_processor.session import SparkSettings, build_session
from dtmon_processor.transform import lines_from_values
from minidt.binning import DEFAULT_BINNING
from minidt.codecs import CSV_HEADER
from minidt.samples import REAL_SAMPLE

ROOT = Path(__file__).resolve().parents[1]


def real_order_records(n: int) -> list[bytes]:
    """n records: the real sample's rows again and again, orbits shifted 2,000 per copy
    (the sample's post-reset part spans ~400 orbits), pre-reset rows dropped after copy 0."""
    rows = [r for r in REAL_SAMPLE.read_bytes().splitlines()[1:] if r and r != CSV_HEADER.encode()]
    post = [r for r in rows if int(r.split(b",")[3]) < 10**7]
    out: list[bytes] = []
    copy = 0
    while len(out) < n:
        for r in post:
            f = r.split(b",")
            f[3] = str(int(f[3]) + 2_000 * copy).encode()
            out.append(b",".join(f))
        copy += 1
    return out[:n]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(spark: SparkSession, rows: int, batches: int, folder: Path) -> dict[str, Any]:
    records = real_order_records(rows * (batches + 1))
    frames = [
        spark.createDataFrame(
            [(b"\n".join(records[k * rows : (k + 1) * rows]), None)],
            "value binary, timestamp timestamp",
        )
        for k in range(batches)
    ]
    plain, built, driver, carried = [], [], [], []
    store = CheckpointEventStore(spark, str(folder))
    state = EventState()
    for k, df in enumerate(frames):
        lines = lines_from_values(df)
        t0 = time.perf_counter()
        compute_counts(lines, DEFAULT_BINNING)
        plain.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        state = store.load(k)
        t1 = time.perf_counter()
        rule = BatchRule(state=state, batch_ts_ms=1_000 * k, timeout_ms=10_000, flush=False)
        counts, state = compute_batch(lines, DEFAULT_BINNING, rule)
        t2 = time.perf_counter()
        store.save(k, state)
        t3 = time.perf_counter()
        built.append(t3 - t0)
        driver.append((t1 - t0) + (t3 - t2))
        carried.append(counts.carried_in)
    skip = 2  # JIT, caches
    plain, built, driver, carried = plain[skip:], built[skip:], driver[skip:], carried[skip:]
    return {
        "rows_per_batch": rows,
        "batches_measured": len(plain),
        "plain_p50_ms": 1000 * statistics.median(plain),
        "plain_p95_ms": 1000 * percentile(plain, 0.95),
        "event_building_p50_ms": 1000 * statistics.median(built),
        "event_building_p95_ms": 1000 * percentile(built, 0.95),
        "extra_p50_ms": 1000 * (statistics.median(built) - statistics.median(plain)),
        "state_io_p50_ms": 1000 * statistics.median(driver),
        "carried_in_hits_mean": statistics.mean(carried),
    }


def kernel_only(rows: int, reps: int = 30) -> dict[str, float]:
    """The numpy kernel + driver step alone (no Spark, one core): the deterministic part of
    the cost, measurable on a loaded machine where Spark job times vary by +-50%."""
    import numpy as np
    import pyarrow as pa

    from dtmon_processor.assemble import group_rows
    from dtmon_processor.eventstep import finish_batch
    from dtmon_processor.kernel import INPUT_COLUMNS, partition_counts
    from minidt.codecs import parse_csv

    def table(text: bytes) -> pa.RecordBatch:
        h = parse_csv(text).hits
        m = len(h)
        cols = {
            "part": np.zeros(m, np.int32),
            "ts": np.zeros(m, np.int64),
            "batch_ts": np.zeros(m, np.int64),
            "kpart": np.zeros(m, np.int32),
            "is_record": np.ones(m, bool),
            "is_malformed": np.zeros(m, bool),
            "head": h.head,
            "fpga": h.fpga,
            "channel": h.channel,
            "orbit": h.orbit,
            "bx": h.bx,
            "tdc": h.tdc,
        }
        return pa.RecordBatch.from_pydict({c: cols[c] for c in INPUT_COLUMNS})

    records = real_order_records(rows * 2)
    first, second = table(b"\n".join(records[:rows])), table(b"\n".join(records[rows:]))
    opened = BatchRule(state=EventState(), batch_ts_ms=0, timeout_ms=10_000, flush=False)
    counts = group_rows(next(partition_counts(iter([first]), DEFAULT_BINNING, opened)).to_pylist())
    state = finish_batch(counts[0], opened, DEFAULT_BINNING)
    carried = BatchRule(state=state, batch_ts_ms=1_000, timeout_ms=10_000, flush=False)
    timings: dict[str, list[float]] = {"plain": [], "events": []}
    for _ in range(reps):
        for name, rule in (("plain", BatchRule()), ("events", carried)):
            t0 = time.perf_counter()
            out = next(partition_counts(iter([second]), DEFAULT_BINNING, rule)).to_pylist()
            part = group_rows(out)[0]
            if name == "events":
                finish_batch(part, rule, DEFAULT_BINNING)
            timings[name].append(time.perf_counter() - t0)
    return {
        "kernel_plain_ms": 1000 * min(timings["plain"]),
        "kernel_events_ms": 1000 * min(timings["events"]),
        "carried_in_hits": len(state.carry),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000, 5_000])
    ap.add_argument("--batches", type=int, default=12)
    ap.add_argument("--json", type=Path, default=ROOT / "artifacts" / "bench_events.json")
    args = ap.parse_args(argv)
    spark = build_session(SparkSettings(master="local[2]", ui_enabled=False, with_kafka_jars=False))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            report = {
                "runs": [
                    run(spark, rows, args.batches, Path(tmp) / str(rows)) | kernel_only(rows)
                    for rows in args.rows
                ]
            }
    finally:
        spark.stop()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    for r in report["runs"]:
        print(
            f"{r['rows_per_batch']:>6} rows/batch: plain p50 {r['plain_p50_ms']:.0f} ms "
            f"(p95 {r['plain_p95_ms']:.0f}), with event building p50 "
            f"{r['event_building_p50_ms']:.0f} ms (p95 {r['event_building_p95_ms']:.0f}); "
            f"extra {r['extra_p50_ms']:+.0f} ms, of which state read+write "
            f"{r['state_io_p50_ms']:.1f} ms; {r['carried_in_hits_mean']:.0f} hits carried in; "
            f"kernel + driver step alone {r['kernel_plain_ms']:.1f} -> "
            f"{r['kernel_events_ms']:.1f} ms"
        )
    print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
