"""Processor benchmark on this machine, broker co-located (`make bench`).

(a) steady stream: --rate records/s (default 1,000) for --steady-seconds with a 1 s trigger;
    p50/p95/max of the foreachBatch duration (Spark job + assembly + publication).
(b) backlog: --backlog records (default 5M) already in the topic, drained with
    maxOffsetsPerTrigger = --batch-records (default 1M); sustained records/s over the drain.
(c) the same 1M records through minidt.reference (parse + quantities, numpy, one core):
    ratio of the Spark batch time (mean of (b)'s full batches) to the reference time.

(a) also records Spark's own per-trigger breakdown (query progress ``durationMs``: addBatch =
    our foreachBatch, walCommit / commitOffsets = the offset and commit logs, latestOffset)
    and which path (driver or distributed) each batch took; (b) is run on the default path
    and, for comparison, with every batch on the distributed path.

Prints a table and writes JSON (--json, default artifacts/bench_processor.json) with the
machine and its load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka import Producer
from pyspark.sql import DataFrame

from devstack.kafka import KafkaBroker
from dtmon_common.signing import generate_key_line, parse_keys
from dtmon_processor.metrics import ProcessorMetrics
from dtmon_processor.publish import ResultsPublisher, ensure_topic
from dtmon_processor.session import SparkSettings, build_session
from dtmon_processor.stream import BatchHandler, StreamSettings, start_query
from dtmon_producer.sim.simulator import Simulator
from minidt.codecs import parse_csv
from minidt.reference import compute_quantities

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_pipeline import machine_info  # a sibling script, not a package

BENCH_KEYS = parse_keys(generate_key_line("bench"), "bench")

ROOT = Path(__file__).resolve().parents[1]


class TimedHandler(BatchHandler):
    """BatchHandler that keeps (batch_id, seconds) of every batch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timings: list[tuple[int, float, int]] = []

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        t0 = time.perf_counter()
        super().__call__(df, batch_id)
        self.timings.append(
            (batch_id, time.perf_counter() - t0, int(self.metrics.input_rows._value.get()))
        )


def sim_lines(n: int, seed: int = 1) -> list[bytes]:
    sim = Simulator(seed=seed)
    out: list[bytes] = []
    while len(out) < n:
        out.extend(sim.next_lines())
    return out[:n]


def produce(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 2_000_000,
        }
    )
    for i, line in enumerate(lines):
        while True:
            try:
                p.produce(topic, value=line)
                break
            except BufferError:
                p.poll(0.05)
        if i % 50_000 == 0:
            p.poll(0)
    assert p.flush(300) == 0


def run_query(
    spark,
    broker,
    topic,
    tmp: Path,
    *,
    available_now: bool,
    max_offsets: int,
    stop_after: float | None = None,
    driver_max_offsets: int = 1_000_000,
) -> tuple[TimedHandler, list[Any]]:
    results = topic + "-results"
    ensure_topic(broker.bootstrap_servers, results, create=True)
    handler = TimedHandler(
        spark,
        ResultsPublisher(broker.bootstrap_servers, results, BENCH_KEYS),
        ProcessorMetrics(),
    )
    settings = StreamSettings(
        bootstrap_servers=broker.bootstrap_servers,
        hits_topic=topic,
        results_topic=results,
        checkpoint_location=str(tmp / f"cp-{topic}"),
        starting_offsets="earliest",
        max_offsets_per_trigger=max_offsets,
        trigger_seconds=1.0,
        available_now=available_now,
        driver_max_offsets=driver_max_offsets,
    )
    query = start_query(spark, settings, handler)
    if stop_after is None:
        query.awaitTermination()
    else:
        time.sleep(stop_after)
    progress = list(query.recentProgress)
    if stop_after is not None:
        query.stop()
    handler.close()
    handler.publisher.close()
    if query.exception():
        raise RuntimeError(str(query.exception()))
    return handler, progress


def phase_summary(
    phases: list[dict[str, float]], stat: Callable[[list[float]], float]
) -> dict[str, float]:
    """The handler's own per-phase milliseconds (stream.Laps), summarised over batches."""
    names = sorted({k for p in phases for k in p})
    return {k: round(stat([p.get(k, 0.0) for p in phases]), 1) for k in names}


def duration_breakdown(progress: list[Any], skip: int) -> dict[str, dict[str, float]]:
    """p50 / p95 per durationMs key of the query progress (Spark's own per-trigger profile)."""
    keys: dict[str, list[float]] = {}
    for p in progress[skip:]:
        for k, v in (p["durationMs"] or {}).items():
            keys.setdefault(k, []).append(float(v))
    return {
        k: {"p50": statistics.median(v), "p95": sorted(v)[max(0, int(0.95 * len(v)) - 1)]}
        for k, v in sorted(keys.items())
    }


def warm_up(spark) -> None:
    """JIT and code generation of the batch plan happen once per JVM (~10-20 s here): do it
    before measuring, as a long-running processor has done long before."""
    from dtmon_processor.compute import compute_counts
    from dtmon_processor.transform import lines_from_values
    from minidt.binning import DEFAULT_BINNING

    df = spark.createDataFrame(
        [(b"\n".join(sim_lines(5000, seed=9)), None)], "value binary, timestamp timestamp"
    )
    for _ in range(3):
        compute_counts(lines_from_values(df), DEFAULT_BINNING)


def steady(spark, broker, tmp: Path, rate: int, seconds: float) -> dict[str, Any]:
    topic = broker.create_topic("bench-steady", 4)
    lines = sim_lines(int(rate * (seconds + 5)), seed=2)
    stop = threading.Event()

    def feed() -> None:
        p = Producer({"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 5})
        start, sent = time.monotonic(), 0
        while not stop.is_set() and sent < len(lines):
            due = int((time.monotonic() - start) * rate)
            for line in lines[sent:due]:
                p.produce(topic, value=line)
            sent = max(sent, due)
            p.poll(0)
            time.sleep(0.01)
        p.flush(30)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    handler, progress = run_query(
        spark, broker, topic, tmp, available_now=False, max_offsets=100_000, stop_after=seconds
    )
    stop.set()
    feeder.join(30)
    durations = sorted(d for _, d, _ in handler.timings[3:])  # skip JIT warm-up batches
    return {
        "rate_records_per_s": rate,
        "batches": len(durations),
        "p50_ms": round(1000 * statistics.median(durations), 1),
        "p95_ms": round(1000 * durations[max(0, int(0.95 * len(durations)) - 1)], 1),
        "max_ms": round(1000 * durations[-1], 1),
        "paths": {p: list(handler.paths)[3:].count(p) for p in sorted(set(handler.paths))},
        "phases_p50_ms": phase_summary(list(handler.phases)[3:], statistics.median),
        "duration_ms_breakdown": duration_breakdown(progress, 3),
        "load1_after": round(os.getloadavg()[0], 2),
    }


def backlog(
    spark, broker, tmp: Path, n: int, per_batch: int, driver_max_offsets: int = 1_000_000
) -> tuple[dict[str, Any], list[bytes]]:
    topic = broker.create_topic(f"bench-backlog-{driver_max_offsets}", 4)
    lines = sim_lines(n, seed=3)
    t0 = time.perf_counter()
    produce(broker.bootstrap_servers, topic, lines)
    produce_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    handler, _ = run_query(
        spark,
        broker,
        topic,
        tmp,
        available_now=True,
        max_offsets=per_batch,
        driver_max_offsets=driver_max_offsets,
    )
    wall = time.perf_counter() - t0
    full = [d for _, d, _ in handler.timings][: max(1, n // per_batch)]
    return {
        "records": n,
        "records_per_batch": per_batch,
        "batches": len(handler.timings),
        "drain_seconds": round(wall, 2),
        "sustained_records_per_s": round(n / wall),
        "batch_seconds": [round(d, 2) for _, d, _ in handler.timings],
        "mean_full_batch_s": round(statistics.mean(full[1:] or full), 3),
        "produce_seconds": round(produce_s, 1),
        "paths": list(handler.paths),
        "phases_mean_ms": phase_summary(
            list(handler.phases)[1 : max(1, n // per_batch)], statistics.mean
        ),
        "load1_after": round(os.getloadavg()[0], 2),
    }, lines[:per_batch]


def reference_ratio(lines: list[bytes], spark_batch_s: float) -> dict[str, Any]:
    text = b"\n".join(lines)
    t0 = time.perf_counter()
    compute_quantities(parse_csv(text).hits)
    ref_s = time.perf_counter() - t0
    return {
        "records": len(lines),
        "reference_s": round(ref_s, 3),
        "spark_batch_s": spark_batch_s,
        "spark_over_reference": round(spark_batch_s / ref_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--steady-seconds", type=float, default=40.0)
    ap.add_argument("--backlog", type=int, default=5_000_000)
    ap.add_argument("--batch-records", type=int, default=1_000_000)
    ap.add_argument("--json", type=Path, default=ROOT / "artifacts" / "bench_processor.json")
    ap.add_argument(
        "--no-distributed-backlog",
        action="store_true",
        help="skip draining the backlog a second time on the distributed path",
    )
    args = ap.parse_args(argv)
    machine = machine_info()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-processor-") as d:
        tmp = Path(d)
        broker = KafkaBroker(data_dir=tmp / "kafka").start()
        spark = build_session(
            SparkSettings(master="local[*]", ui_enabled=False, driver_memory="6g")
        )
        try:
            warm_up(spark)
            a = steady(spark, broker, tmp, args.rate, args.steady_seconds)
            b, first_batch = backlog(spark, broker, tmp, args.backlog, args.batch_records)
            c = reference_ratio(first_batch, b["mean_full_batch_s"])
            dist = None
            if not args.no_distributed_backlog:
                dist, _ = backlog(spark, broker, tmp, args.backlog, args.batch_records, 0)
        finally:
            spark.stop()
            broker.stop()
    report = {
        "benchmark": "processor",
        "machine": machine,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "steady": a,
        "backlog": b,
        "backlog_distributed": dist,
        "reference": c,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    rows = [
        (
            f"(a) p95 batch duration @ {a['rate_records_per_s']} rec/s, 1 s trigger",
            f"{a['p95_ms']} ms (p50 {a['p50_ms']}, max {a['max_ms']}, aim <= 300)",
        ),
        (
            f"(b) backlog {b['records']} records, {b['records_per_batch']} per batch",
            f"{b['sustained_records_per_s']:,} records/s ({b['drain_seconds']} s; aim >= 300,000)",
        ),
        (
            "(c) Spark batch / numpy reference, 1M records",
            f"{c['spark_over_reference']}x ({c['spark_batch_s']} s vs {c['reference_s']} s)",
        ),
    ]
    for label, phases in (("(a)", a["phases_p50_ms"]), ("(b)", b["phases_mean_ms"])):
        rows.append(
            (
                f"{label} handler phases, ms ({'p50' if label == '(a)' else 'mean'})",
                ", ".join(f"{k} {v:g}" for k, v in phases.items()),
            )
        )
    if dist is not None:
        rows.append(
            (
                "(b') the same backlog, every batch on the distributed path",
                f"{dist['sustained_records_per_s']:,} records/s ({dist['drain_seconds']} s)",
            )
        )
    rows.append(
        (
            "load average before / after",
            f"{report['load_average_before']} / {report['load_average_after']}",
        )
    )
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"JSON: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
