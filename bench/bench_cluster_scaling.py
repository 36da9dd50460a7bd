"""How the processor scales with Spark executors on the local Kubernetes cluster
(`make bench-cluster`; not part of `make bench`, which needs no cluster).

Needs the cluster up with the chart deployed (`make cluster-up images deploy`). For each
configuration (executors E, Kafka partitions P of the hits topic):

1. fill: a new hits topic `dt-hits-<run>-p<P>-<n>` with P partitions (the chart's broker creates
   it, and the users' ACLs for it, when it restarts with the new values), the processor off,
   the chart's producer unthrottled (`producer.rate=0`) with `producer.maxRecords=N`; when
   its run ends the Deployment is scaled to 0. A topic already filled for the same P in this
   run is reused (a fresh checkpoint reads it again from the start).
2. drain: the producer off, the processor on with `processor.executor.instances=E`, a fresh
   S3A checkpoint, `startingOffsets=earliest`, `maxOffsetsPerTrigger=M`, a 0.5 s trigger (a
   batch never waits for it), `shufflePartitions=E` (one per executor core, so the kernel
   stage can use every executor) and Spark told to wait for all E executors before the
   first batch. The drain rate is computed from the batches the API serves (bench/drain.py
   says exactly what is measured).

Everything goes through `helm upgrade` of the chart (bench/cluster_release.py). At the end the
release is put back as `make deploy` left it (k8s/cluster/deploy.sh) unless --no-restore.
Prints a table; writes JSON (--json, default .cache/bench/bench_cluster_scaling.json).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.cluster.kube: the cluster tests' kubectl/helm wrappers

import cluster_release as release  # noqa: E402
import drain as measure  # noqa: E402
from bench_pipeline import machine_info  # noqa: E402

from tests.cluster import kube  # noqa: E402

DEFAULT_JSON = ROOT / ".cache" / "bench" / "bench_cluster_scaling.json"
POLL_SECONDS = 2.0
SETTLE_SECONDS = 12.0  # no new batch with rows for this long after the backlog: drained
BATCHES_PER_POLL = 20  # far more than arrive between two polls


@dataclass(frozen=True)
class Config:
    executors: int
    partitions_per_executor: int

    @property
    def partitions(self) -> int:
        return self.executors * self.partitions_per_executor

    @property
    def name(self) -> str:
        return f"e{self.executors}p{self.partitions}"


@dataclass
class Filled:
    topic: str
    records: int
    seconds: float


def fill(run: str, partitions: int, records: int, attempt: int) -> Filled:
    """A new topic every time: a failed fill's records must not join the next backlog."""
    topic = f"dt-hits-{run}-p{partitions}-{attempt}"
    topics = {"topics.hits.name": topic, "topics.hits.partitions": partitions}
    # The broker restarts with the new topic first: a producer started against the old
    # broker would meet a topic and ACLs that do not exist yet.
    release.upgrade({**topics, "producer.enabled": False, "processor.enabled": False})
    release.wait_broker_rolled()
    release.upgrade(
        {
            **topics,
            "processor.enabled": False,
            "producer.rate": 0,
            "producer.maxRecords": records,
            "producer.resources.limits.cpu": "2",
        }
    )
    done = release.wait_producer_done(topic)
    print(f"  filled {topic}: {done.records:,} records in {done.seconds:.1f} s", flush=True)
    return Filled(topic, done.records, done.seconds)


def drain_backlog(
    cfg: Config, run: str, filled: Filled, per_trigger: int, timeout: float
) -> dict[str, Any]:
    """Start the processor on the filled topic; poll the API until the backlog is read."""
    seen = {b["query_id"] for b in release.batches(BATCHES_PER_POLL)}
    load_start = os.getloadavg()
    t0 = time.time()
    release.upgrade(
        {
            "topics.hits.name": filled.topic,
            "topics.hits.partitions": cfg.partitions,
            "producer.enabled": False,
            "processor.executor.instances": cfg.executors,
            "processor.shufflePartitions": cfg.executors,
            "processor.checkpointLocation": f"s3a://dtmon-checkpoints/bench/{run}/{cfg.name}",
            "processor.startingOffsets": "earliest",
            "processor.maxOffsetsPerTrigger": per_trigger,
            "processor.triggerSeconds": 0.5,
            "processor.sparkConf": {
                "spark.scheduler.minRegisteredResourcesRatio": "1.0",
                "spark.scheduler.maxRegisteredResourcesWaitingTime": "600s",
            },
        }
    )
    got: dict[int, dict[str, Any]] = {}
    query: str | None = None
    most_executors = 0
    last_new = time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        most_executors = max(most_executors, release.running_executors())
        for b in release.batches(BATCHES_PER_POLL):
            if b["query_id"] in seen or (query is not None and b["query_id"] != query):
                continue
            query = b["query_id"]
            if b["batch_id"] not in got and b["rows"] > 0:
                got[b["batch_id"]] = {**b, "seen_at_s": round(time.time() - t0, 1)}
                last_new = time.monotonic()
        rows = sum(b["rows"] for b in got.values())
        if rows >= filled.records and time.monotonic() - last_new > SETTLE_SECONDS:
            break
        time.sleep(POLL_SECONDS)
    else:
        raise TimeoutError(f"{cfg.name}: backlog not drained in {timeout:.0f} s ({got=})")
    result = measure.drain_rate(list(got.values()))
    first = min(got.values(), key=lambda b: b["batch_id"])
    return {
        "executors": cfg.executors,
        "kafka_partitions": cfg.partitions,
        "partitions_per_executor": cfg.partitions_per_executor,
        "shuffle_partitions": cfg.executors,
        "max_offsets_per_trigger": per_trigger,
        "topic": filled.topic,
        "backlog_sent": filled.records,
        "extra_records": result.records - filled.records,
        "executor_pods_running_max": most_executors,
        "first_batch_after_upgrade_s": round(first["emitted_at_ms"] / 1000 - t0, 1),
        "loadavg_1m_start": round(load_start[0], 2),
        "loadavg_1m_end": round(os.getloadavg()[0], 2),
        **result.as_dict(),
        "batch_list": sorted(got.values(), key=lambda b: b["batch_id"]),
    }


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| executors | partitions (per executor) | records/s | hits/s | batches (measured) "
        "| rows/batch | warm-up batch s | load1 start-end |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['executors']} | {r['kafka_partitions']} | {r['error']} |||||")
            continue
        lines.append(
            f"| {r['executors']} | {r['kafka_partitions']} ({r['partitions_per_executor']}) "
            f"| {r['records_per_s']:,} | {r['hits_per_s']:,} "
            f"| {r['batches']} ({r['measured_batches']}) | {r['mean_batch_rows']:,} "
            f"| {r['warmup_batch']['cycle_s']} "
            f"| {r['loadavg_1m_start']}-{r['loadavg_1m_end']} |"
        )
    return "\n".join(lines)


def write(path: Path, report: dict[str, Any], filled: dict[int, Filled], t0: float) -> None:
    """After every configuration: an interrupted sweep keeps what it measured."""
    report["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    report["sweep_seconds"] = round(time.monotonic() - t0)
    report["fills"] = {str(p): vars(f) for p, f in filled.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--executors", default="1,2,3", help="executor counts to run")
    ap.add_argument("--partitions-per-executor", default="1,3")
    ap.add_argument(
        "--configs",
        default="",
        help="EXP,...: run these (executors x partitions per executor) in this order instead",
    )
    ap.add_argument("--records", type=int, default=1_200_000, help="backlog per topic")
    ap.add_argument("--per-trigger", type=int, default=200_000, help="maxOffsetsPerTrigger")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per drain")
    ap.add_argument("--json", type=Path, default=DEFAULT_JSON)
    ap.add_argument("--no-restore", action="store_true", help="leave the release as it ends")
    args = ap.parse_args(argv)
    release.cluster_ready()
    if args.configs:
        configs = [Config(*map(int, c.split("x"))) for c in args.configs.split(",")]
    else:
        configs = [
            Config(int(e), int(p))
            for e in args.executors.split(",")
            for p in args.partitions_per_executor.split(",")
        ]
    # A `timeout` or Ctrl-C still writes what was measured (the finally below).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    run = time.strftime("b%H%M%S")
    report: dict[str, Any] = {
        "machine": machine_info(),
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
        "method": (measure.__doc__ or "").strip(),
        "records_per_topic": args.records,
        "max_offsets_per_trigger": args.per_trigger,
        "configs": [],
    }
    filled: dict[int, Filled] = {}
    failed = False
    attempts = 0
    t_start = time.monotonic()
    try:
        for cfg in configs:
            print(f"==> {cfg.name}: {cfg.executors} executor(s), {cfg.partitions} partition(s)")
            try:
                if cfg.partitions not in filled:
                    attempts += 1
                    filled[cfg.partitions] = fill(run, cfg.partitions, args.records, attempts)
                row = drain_backlog(
                    cfg, run, filled[cfg.partitions], args.per_trigger, args.timeout
                )
                print(
                    f"  {row['records_per_s']:,} records/s, {row['hits_per_s']:,} hits/s "
                    f"({row['measured_batches']} batches measured)",
                    flush=True,
                )
            except (AssertionError, RuntimeError, TimeoutError, ValueError) as exc:
                failed = True
                row = {
                    "executors": cfg.executors,
                    "kafka_partitions": cfg.partitions,
                    "error": str(exc)[:2000],
                }
                print(f"  FAILED: {str(exc)[:500]}\n{kube.diagnostics()[-3000:]}", flush=True)
            report["configs"].append(row)
            write(args.json, report, filled, t_start)
    finally:
        write(args.json, report, filled, t_start)
        if not args.no_restore:
            kube.script("deploy.sh", timeout=1500)
    m = report["machine"]
    print(table(report["configs"]))
    print(
        f"{m['cpu_model']}, {m['cores']} cores; load average (1/5/15 min) "
        f"{report['loadavg_before']} before, {report['loadavg_after']} after; "
        f"{report['sweep_seconds']} s in all"
    )
    print(f"JSON: {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
