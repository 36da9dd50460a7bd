"""Benchmark dtmon-producer against a real local broker: maximum rate and rate accuracy.

Why: earlier producers of this task slept per record and capped at 1,000-3,000 records/s;
the issue asks for >= 500,000 records/s with one record per message and >= 2,000,000 with
100 per message, and for the achieved rate to stay within 2% of --rate over 10 s from 100
to 100,000 records/s. Those targets are measured here, never in timed test assertions.

Method: the producer runs as a subprocess (exactly the CLI users run). Maximum rate: a
pre-generated simulator file, --rate 0, into a topic with LogAppendTime; end-to-end rate =
records / (last broker append time - the moment the producer started sending), so the
final flush is included; the producer's own loop rate is reported too. Accuracy: --source
sim with --rate R and --max-records 10*R; achieved = (N - 1) / (last - first producer
CreateTime). Also measured: the simulator's own generation rate (numpy only, and with CSV
formatting), and the peak memory of streaming a data-file-sized S3 object from MinIO.

Usage: python bench/bench_producer.py [--bootstrap-servers HOST:PORT] [--json PATH] [--quick]
(without --bootstrap-servers a private broker is started with devstack).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from minidt.codecs import CSV_HEADER

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = REPO_ROOT / ".cache" / "bench" / "bench_producer.json"


def create_topic(bootstrap: str, partitions: int, log_append_time: bool) -> str:
    name = f"bench-{uuid.uuid4().hex[:10]}"
    config = {"message.timestamp.type": "LogAppendTime"} if log_append_time else {}
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, config=config)])[name].result(timeout=30)
    time.sleep(0.5)
    return name


def timestamps(bootstrap: str, topic: str, partitions: int, records: int) -> tuple[int, int, int]:
    """(records, first ms, last ms) over the whole topic (records = newline-joined count)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": topic, "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    n, first, last = 0, 2**63, 0
    deadline = time.monotonic() + 300
    try:
        while n < records and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=20_000, timeout=1.0):
                if msg.error():
                    continue
                n += msg.value().count(b"\n") + 1
                ts = msg.timestamp()[1]
                first, last = min(first, ts), max(last, ts)
    finally:
        consumer.close()
    return n, first, last


def run_producer(*args: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "dtmon_producer.cli", "--metrics-port", "0", *args]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"producer failed ({proc.returncode}):\n{proc.stderr}")
    return time.monotonic() - t0, proc.stderr


def max_rate(bootstrap: str, data: Path, n: int, per_message: int) -> dict[str, Any]:
    topic = create_topic(bootstrap, 4, log_append_time=True)
    wall, log = run_producer(
        "--source", str(data), "--rate", "0", "--records-per-message", str(per_message),
        "--bootstrap-servers", bootstrap, "--hits-topic", topic, "--log-format", "json",
    )  # fmt: skip
    got, _first, last = timestamps(bootstrap, topic, 4, n)
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    start = next(e for e in events if e["msg"].startswith("producing to"))
    summary = next(e for e in events if e.get("event") == "summary")
    start_ms = datetime.fromisoformat(start["ts"].replace("Z", "+00:00")).timestamp() * 1000
    return {
        "records_per_message": per_message,
        "records": got,
        # From the first record handed to Kafka to the last one appended by the broker.
        "end_to_end_rate": got / max((last - start_ms) / 1000.0, 1e-3),
        "producer_loop_rate": summary["records"] / summary["seconds"],
        "process_wall_s": wall,
    }


def accuracy(bootstrap: str, rate: int, seconds: float) -> dict[str, Any]:
    n = int(rate * seconds)
    topic = create_topic(bootstrap, 1, log_append_time=False)
    run_producer(
        "--source", "sim", "--seed", "1", "--rate", str(rate), "--max-records", str(n),
        "--bootstrap-servers", bootstrap, "--hits-topic", topic,
    )  # fmt: skip
    got, first, last = timestamps(bootstrap, topic, 1, n)
    achieved = (got - 1) / ((last - first) / 1000.0)
    return {
        "target": rate,
        "records": got,
        "achieved": achieved,
        "error_pct": 100.0 * (achieved - rate) / rate,
    }


def _peak_rss_mb(*args: str, env: dict[str, str]) -> float:
    """Run the producer and return its own peak resident memory (MB), from wait4."""
    cmd = [sys.executable, "-m", "dtmon_producer.cli", "--metrics-port", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"producer failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    return usage.ru_maxrss / 1024.0


def s3_streaming(data: Path) -> dict[str, Any]:
    """Peak memory streaming one data-file-sized object from a real MinIO, vs a tiny one."""
    from devstack.minio import MinioServer

    with MinioServer() as server:
        client = server.client()
        client.make_bucket("bench")
        client.fput_object("bench", "big/data_000000.txt", str(data))
        client.put_object("bench", "tiny/data_000000.txt", io.BytesIO(b"2,0,1,1,1,1\n"), 12)
        env = {**os.environ, **server.env()}
        common = ("--s3-endpoint", server.url, "--rate", "0", "--output", os.devnull)
        tiny = _peak_rss_mb("--source", "s3://bench/tiny/", *common, env=env)
        t0 = time.monotonic()
        big = _peak_rss_mb("--source", "s3://bench/big/", *common, env=env)
        wall = time.monotonic() - t0
    return {
        "object_mb": data.stat().st_size / 1e6,
        "peak_rss_mb": big,
        "peak_rss_tiny_object_mb": tiny,
        "process_wall_s": wall,
    }


def sim_generation(windows: int = 30) -> dict[str, float]:
    from dtmon_producer.sim.simulator import Simulator

    sim = Simulator(seed=1)
    t0 = time.perf_counter()
    rows = sum(len(sim.next_hits()) for _ in range(windows))
    numpy_rate = rows / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    rows = sum(len(sim.next_lines()) for _ in range(windows))
    text_rate = rows / (time.perf_counter() - t0)
    return {"numpy_records_per_s": numpy_rate, "csv_lines_per_s": text_rate}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap-servers", default=None)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument(
        "--records", type=int, default=2_000_000, help="records for max rate (and the S3 object)"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="accuracy window")
    parser.add_argument("--quick", action="store_true", help="smaller runs (smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.records, args.seconds = 200_000, 2.0

    broker = None
    bootstrap = args.bootstrap_servers
    if bootstrap is None:
        from devstack.kafka import KafkaBroker

        broker = KafkaBroker(heap="1g").start()
        bootstrap = broker.bootstrap_servers
    try:
        with tempfile.TemporaryDirectory(prefix="bench-producer-") as tmp:
            data = Path(tmp) / "data_000000.txt"
            run_producer(
                "--source", "sim", "--seed", "7", "--max-records", str(args.records),
                "--output", str(data),
            )  # fmt: skip
            assert data.read_bytes().startswith(CSV_HEADER.encode())
            results: dict[str, Any] = {
                "machine": {"python": platform.python_version(), "cpus": _cpus()},
                "simulator": sim_generation(),
                "max_rate": [max_rate(bootstrap, data, args.records, k) for k in (1, 100)],
                "s3_streaming": s3_streaming(data),
                "accuracy": [
                    accuracy(bootstrap, r, args.seconds) for r in (100, 1_000, 10_000, 100_000)
                ],
            }
    finally:
        if broker is not None:
            broker.stop()

    print(f"simulator: {results['simulator']['numpy_records_per_s']:,.0f} records/s generated, "
          f"{results['simulator']['csv_lines_per_s']:,.0f} CSV lines/s")  # fmt: skip
    print(f"\n{'records/message':>16} {'records':>10} {'end-to-end/s':>14} {'loop rate/s':>12}")
    for r in results["max_rate"]:
        print(
            f"{r['records_per_message']:>16} {r['records']:>10,} {r['end_to_end_rate']:>14,.0f} "
            f"{r['producer_loop_rate'] or 0:>12,.0f}"
        )
    s3 = results["s3_streaming"]
    print(
        f"\nS3 streaming of a {s3['object_mb']:.0f} MB object: peak RSS {s3['peak_rss_mb']:.0f} MB "
        f"(tiny object: {s3['peak_rss_tiny_object_mb']:.0f} MB)"
    )
    print(f"\n{'target/s':>10} {'records':>10} {'achieved/s':>12} {'error %':>8}")
    for r in results["accuracy"]:
        print(
            f"{r['target']:>10,} {r['records']:>10,} {r['achieved']:>12,.1f} {r['error_pct']:>8.2f}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nJSON: {args.json}")
    return 0


def _cpus() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
