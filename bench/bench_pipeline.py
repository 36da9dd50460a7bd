"""Benchmark the joined pipeline end to end: producer -> Kafka -> processor -> API -> SSE.

Why: the component benchmarks say how fast each piece is alone; this one says what a user of
`make run` gets on this machine. For each producer rate (records/s; 0 = unthrottled) a fresh
pipeline runs the detector simulator for a fixed time while this process holds an SSE stream
open on the results API and timestamps every batch event as it arrives. Reported per rate:

- achieved rates: records/s handed to Kafka by the producer, and records/s and hits/s that
  came out of the pipeline (batch `input.rows` / `hits` arriving over SSE, from one batch
  arrival to another), measured after a warm-up (the processor's first empty batch before
  producing, then two batches with records plus --warmup seconds);
- bounded lag ("sustained"): (a) processed rows >= 95 % of the records the producer sent,
  2 triggers after the producer stopped (a trigger lasts max(interval, mean batch time), as
  Spark runs late batches back to back), and (b) the backlog is not growing during the last
  third of the run. The backlog is sampled at each batch arrival (producer's record counter,
  interpolated, minus rows delivered so far; sampling at arrivals removes the saw-tooth of
  1 s micro-batches) and "growing" means its least-squares slope exceeds 5 % of the input
  rate (the pipeline processes less than 95 % of what comes in) and, over that span, one
  trigger's worth of input (what batch-to-batch jitter alone produces);
- end-to-end latency p50/p95: SSE arrival time minus `input.last_ts_ms` (Kafka CreateTime of
  the batch's newest record, stamped when the producer hands it to librdkafka);
- CPU seconds per million hits: user+system CPU of every service's process tree (the broker
  JVM, the processor's Python driver with its Spark JVM, the API, the producer), as deltas
  from the end of warm-up to the end of the run (drain included, as it processes hits that
  were produced in the window), divided by the hits delivered in that window;
- peak RSS per service (sum over the process tree, sampled every 0.5 s).

Services are started from dtmon_tools.stack.plan, the same commands `make run` uses, on free
ports, with fresh topics and a fresh checkpoint per rate; one KRaft broker is shared. The
measuring side (this process: SSE client and sampler) is not counted in the CPU figures.

The highest sustained rate is found by search (double from --search-start while sustained,
then bisect); 1,000 and 100,000 records/s are measured besides (latency, CPU per hit); a last
run at --overload-factor times the highest sustained rate gives the processor's peak RSS
under overload (its batches are bounded by records and by bytes).

Usage: python bench/bench_pipeline.py [--json PATH] [--duration 30] [--rates 1000,100000]
           [--search-start 200000] [--search-cap 3200000] [--search-steps 2]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from devstack import processes
from devstack.kafka import KafkaBroker
from devstack.probes import wait_until_ready
from dtmon_tools.stack import Service, StackConfig, plan

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_JSON = REPO_ROOT / ".cache" / "bench" / "bench_pipeline.json"
BIG_RATE = 100_000
"""From this rate on (and unthrottled) records are packed 100 per Kafka message, as a real
DAQ reader would: one message per record costs more in Kafka overhead than in physics."""
PACKED_RECORDS_PER_MESSAGE = 100
SUSTAINED_FRACTION = 0.95
GRACE_TRIGGERS = 2
SAMPLE_SECONDS = 0.5
WARMUP_BATCHES = 2
SERVICES = ("producer", "processor", "api", "kafka")
AIM_HITS_PER_S = 200_000
AIM_P95_S = 1.0
AIM_P95_RATE = 1000.0
CPU_RATES = (1000.0, 100_000.0)
"""Rates whose CPU seconds per million hits the headline reports."""


# -- machine ---------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on (they mean little without it)."""
    model = "unknown"
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    commit = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024**2, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "git_commit": commit or None,
        "date_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


# -- measuring threads -----------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One SSE batch event: when it reached us and what it covered."""

    arrived_s: float
    batch_id: int
    rows: int
    hits: int
    first_ts_ms: int | None
    last_ts_ms: int | None


class SseRecorder(threading.Thread):
    """Holds /api/v1/stream open and timestamps each event the moment its last line arrives."""

    def __init__(self, url: str) -> None:
        super().__init__(name="sse", daemon=True)
        self.url = url
        self.arrivals: list[Arrival] = []
        self.connected = threading.Event()
        self.error: str | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def run(self) -> None:
        timeout = httpx.Timeout(10.0, read=None)
        try:
            with (
                httpx.Client(timeout=timeout) as client,
                client.stream("GET", self.url, headers={"Accept": "text/event-stream"}) as resp,
            ):
                resp.raise_for_status()
                self.connected.set()
                data: list[str] = []
                for line in resp.iter_lines():
                    if self._stopping.is_set():
                        return
                    if line.startswith("data:"):
                        data.append(line[6:] if line.startswith("data: ") else line[5:])
                    elif line == "" and data:
                        self._record(time.time(), "\n".join(data))
                        data = []
        except Exception as exc:  # reported by the caller; a dead stream invalidates the run
            if not self._stopping.is_set():
                self.error = f"SSE stream {self.url} failed: {exc!r}"

    def _record(self, arrived_s: float, payload: str) -> None:
        msg = json.loads(payload)
        inp = msg["input"]
        arrival = Arrival(
            arrived_s=arrived_s,
            batch_id=int(msg["batch_id"]),
            rows=int(inp["rows"]),
            hits=int(msg["hits"]),
            first_ts_ms=inp.get("first_ts_ms"),
            last_ts_ms=inp.get("last_ts_ms"),
        )
        with self._lock:
            self.arrivals.append(arrival)

    def snapshot(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def rows_by(self, t: float) -> int:
        return sum(a.rows for a in self.snapshot() if a.arrived_s <= t)

    def stop(self) -> None:
        # The thread is a daemon blocked on a socket read; it ends with the API process.
        self._stopping.set()


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def _scrape(url: str, *names: str) -> dict[str, float]:
    """Unlabelled Prometheus samples by name; missing names (or a down server) are absent."""
    try:
        text = httpx.get(url, timeout=1.0).text
    except httpx.HTTPError:
        return {}
    out: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in names:
            out[name] = float(value)
    return out


BATCH_SECONDS_SUM = "dtmon_processor_batch_duration_seconds_sum"
BATCH_SECONDS_COUNT = "dtmon_processor_batch_duration_seconds_count"


@dataclass
class Sample:
    t: float
    produced: float | None
    consumer_lag: float | None
    batch_seconds: tuple[float, float] | None
    """The processor's foreachBatch duration histogram (sum, count) so far."""
    load1: float


class Sampler(threading.Thread):
    """Every 0.5 s: CPU and RSS of each service's process tree, the producer's record counter,
    the processor's consumer-lag gauge and the load average.

    CPU is kept per pid (user+system, last value seen), so a process that exits keeps what it
    used; a window's CPU is the per-pid difference to a baseline taken with `mark()`.
    """

    def __init__(self, producer_metrics: str, processor_metrics: str) -> None:
        super().__init__(name="sampler", daemon=True)
        self.producer_metrics = producer_metrics
        self.processor_metrics = processor_metrics
        self.roots: dict[str, psutil.Process] = {}
        self.cpu: dict[str, dict[int, float]] = {s: {} for s in SERVICES}
        self.peak_rss: dict[str, int] = dict.fromkeys(SERVICES, 0)
        self.samples: list[Sample] = []
        self._baseline: dict[str, dict[int, float]] = {s: {} for s in SERVICES}
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def add(self, service: str, pid: int) -> None:
        with self._lock:
            self.roots[service] = psutil.Process(pid)

    def run(self) -> None:
        while not self._stopping.wait(SAMPLE_SECONDS):
            self.sample()

    def sample(self) -> None:
        with self._lock:
            roots = dict(self.roots)
        for service, root in roots.items():
            rss = 0
            for proc in _tree(root):
                try:
                    with proc.oneshot():
                        times = proc.cpu_times()
                        rss += proc.memory_info().rss
                except psutil.Error:
                    continue
                self.cpu[service][proc.pid] = times.user + times.system
            self.peak_rss[service] = max(self.peak_rss[service], rss)
        produced = _scrape(self.producer_metrics, "dtmon_producer_records_total")
        lag_name = "dtmon_processor_consumer_lag_records"
        proc = _scrape(self.processor_metrics, lag_name, BATCH_SECONDS_SUM, BATCH_SECONDS_COUNT)
        batch = (
            (proc[BATCH_SECONDS_SUM], proc[BATCH_SECONDS_COUNT])
            if BATCH_SECONDS_SUM in proc and BATCH_SECONDS_COUNT in proc
            else None
        )
        self.samples.append(
            Sample(
                time.time(),
                produced.get("dtmon_producer_records_total"),
                proc.get(lag_name),
                batch,
                os.getloadavg()[0],
            )
        )

    def mark(self) -> None:
        """Start the CPU window now."""
        self.sample()
        self._baseline = {s: dict(pids) for s, pids in self.cpu.items()}

    def cpu_seconds(self) -> dict[str, float]:
        return {
            s: sum(v - self._baseline[s].get(pid, 0.0) for pid, v in self.cpu[s].items())
            for s in SERVICES
        }

    def stop(self) -> None:
        self._stopping.set()
        self.join(timeout=5)
        self.sample()


# -- one pipeline ----------------------------------------------------------------------------


@dataclass
class RunSettings:
    duration: float
    warmup: float
    trigger_seconds: float
    drain_timeout: float
    first_batch_timeout: float
    seed: int
    workdir: Path


@dataclass
class Pipeline:
    """Processor, API and producer from the devstack plan, on free ports, fresh topics."""

    broker: KafkaBroker
    rate: float
    settings: RunSettings
    cfg: StackConfig = field(init=False)
    hits_topic: str = field(init=False)
    results_topic: str = field(init=False)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tag = f"{int(self.rate)}-{uuid.uuid4().hex[:6]}"
        self.hits_topic = f"bench-hits-{tag}"
        self.results_topic = f"bench-results-{tag}"
        self.cfg = StackConfig.on_free_ports(
            self.broker.port,
            rate=self.rate,
            records_per_message=self.records_per_message,
            seed=self.settings.seed,
            trigger_seconds=self.settings.trigger_seconds,
            data_dir=self.settings.workdir / f"rate-{tag}",
            hits_topic=self.hits_topic,
            results_topic=self.results_topic,
            producer_args=("--log-format", "json", "--progress", "never"),
        )
        self.services: dict[str, Service] = {s.name: s for s in plan(self.cfg)}
        self.broker.create_topic(self.hits_topic, partitions=self.cfg.hits_partitions)
        self.broker.create_topic(self.results_topic, partitions=1)

    @property
    def records_per_message(self) -> int:
        return PACKED_RECORDS_PER_MESSAGE if self.rate == 0 or self.rate >= BIG_RATE else 1

    def log(self, name: str) -> Path:
        return self.cfg.data_dir / "logs" / f"{name}.log"

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log(name)
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self, name: str, *extra: str, timeout: float = 300.0) -> subprocess.Popen[bytes]:
        argv = [*self.services[name].argv, *extra]
        proc = processes.spawn(argv, log=self.log(name))
        self.procs[name] = proc
        try:
            wait_until_ready([self.services[name].ready], timeout=timeout)
        except Exception as exc:
            raise RuntimeError(f"{name} did not become ready:\n{self.tail(name)}") from exc
        return proc

    def stop(self, name: str) -> int | None:
        proc = self.procs.pop(name, None)
        return None if proc is None else processes.stop(proc, timeout=30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def producer_summary(self) -> dict[str, Any]:
        """The producer's own count of what it sent (its JSON summary log line)."""
        for line in reversed(self.log("producer").read_text(errors="replace").splitlines()):
            with suppress(json.JSONDecodeError):
                rec = json.loads(line)
                if isinstance(rec, dict) and rec.get("event") == "summary":
                    return rec
        raise RuntimeError(f"producer wrote no summary line:\n{self.tail('producer')}")


def find_broker_pid(broker: KafkaBroker) -> int:
    """The broker JVM among our children (KafkaBroker keeps its Popen private)."""
    marker = str(broker.data_dir)
    for child in psutil.Process().children(recursive=True):
        with suppress(psutil.Error):
            cmd = child.cmdline()
            if "kafka.Kafka" in cmd and any(marker in part for part in cmd):
                return child.pid
    raise RuntimeError(f"no Kafka JVM with data in {marker} among this process's children")


@contextmanager
def running(pipeline: Pipeline) -> Iterator[Pipeline]:
    try:
        yield pipeline
    finally:
        pipeline.stop_all()


def run_rate(broker: KafkaBroker, broker_pid: int, rate: float, s: RunSettings) -> dict[str, Any]:
    """Bring up a fresh pipeline, drive it at `rate`, return the measured figures."""
    label = "unthrottled" if rate == 0 else f"{rate:,.0f} records/s"
    print(f"--> {label}: starting processor and API", file=sys.stderr, flush=True)
    with running(Pipeline(broker, rate, s)) as p:
        sampler = Sampler(
            f"http://{p.cfg.host}:{p.cfg.producer_metrics_port}/metrics",
            f"http://{p.cfg.host}:{p.cfg.processor_metrics_port}/metrics",
        )
        sampler.add("kafka", broker_pid)
        started = time.monotonic()
        sampler.add("processor", p.start("processor", "--starting-offsets", "earliest").pid)
        sampler.add("api", p.start("api").pid)
        startup_s = time.monotonic() - started
        sse = SseRecorder(f"{p.cfg.dashboard_url}/api/v1/stream")
        sse.start()
        if not sse.connected.wait(30):
            raise RuntimeError(sse.error or "SSE stream did not open within 30 s")
        sampler.start()
        # Spark's first micro-batch (empty: a new checkpoint on an empty topic) pays the JVM
        # and code-generation warm-up, tens of seconds on a loaded machine; let it pass before
        # producing, so the producer's first seconds do not pile up behind it.
        primed = wait_for(lambda: len(sse.snapshot()) >= 1, s.first_batch_timeout, sse)
        print(f"--> {label}: producing for {s.warmup:g}+{s.duration:g} s", file=sys.stderr)
        sampler.add("producer", p.start("producer").pid)
        # Measure from WARMUP_BATCHES batches with records plus --warmup seconds on. When the
        # pipeline cannot even do that in time, measure anyway: it is then plainly behind.
        warmed = wait_for(
            lambda: sum(a.rows > 0 for a in sse.snapshot()) >= WARMUP_BATCHES,
            s.first_batch_timeout,
            sse,
        )
        time.sleep(s.warmup)
        sampler.mark()
        t_mark = time.time()
        time.sleep(s.duration)
        t_stop = time.time()
        code = p.stop("producer")
        t_exit = time.time()
        summary = p.producer_summary()
        produced = int(summary["records"])
        # Grace: GRACE_TRIGGERS triggers after the producer has flushed and exited. A trigger
        # lasts its interval, or the batch time when Spark runs batches back to back.
        trigger = max(s.trigger_seconds, batch_seconds(list(sampler.samples), t_mark) or 0.0)
        time.sleep(GRACE_TRIGGERS * trigger)
        t_grace = time.time()
        rows_at_grace = sse.rows_by(t_grace)
        # Drain (reported, not judged): how long until everything sent came out.
        drain_deadline = time.monotonic() + s.drain_timeout
        while sse.rows_by(time.time()) < produced and time.monotonic() < drain_deadline:
            time.sleep(0.2)
        t_end = time.time()
        drained = sse.rows_by(t_end) >= produced
        sampler.stop()
        sse.stop()
        if sse.error:
            raise RuntimeError(sse.error)
        cpu = sampler.cpu_seconds()
        return summarize(
            rate=rate,
            records_per_message=p.records_per_message,
            arrivals=sse.snapshot(),
            samples=sampler.samples,
            produced=produced,
            producer_exit=code,
            rows_at_grace=rows_at_grace,
            window=(t_mark, t_stop),
            t_exit=t_exit,
            t_end=t_end,
            drained=drained,
            cpu=cpu,
            peak_rss=sampler.peak_rss,
            startup_s=startup_s,
            trigger_s=trigger,
        ) | {"primed": primed, "warmed_up": warmed, "grace_s": round(GRACE_TRIGGERS * trigger, 2)}


def wait_for(condition: Callable[[], bool], timeout: float, sse: SseRecorder) -> bool:
    """Poll `condition` until true (True) or `timeout` s passed (False); SSE errors raise."""
    deadline = time.monotonic() + timeout
    while not condition():
        if sse.error:
            raise RuntimeError(sse.error)
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# -- figures ---------------------------------------------------------------------------------


def lag_slope(
    arrivals: list[Arrival], samples: list[Sample], since: float, until: float
) -> float | None:
    """Least-squares slope (records/s) of the backlog sampled at batch arrivals in a window."""
    pts = [(s.t, s.produced) for s in samples if s.produced is not None]
    if len(pts) < 2:
        return None
    ts, produced = np.array(pts).T
    cumulative = 0
    xs: list[float] = []
    ys: list[float] = []
    for a in sorted(arrivals, key=lambda a: a.arrived_s):
        cumulative += a.rows
        if since <= a.arrived_s <= until:
            xs.append(a.arrived_s)
            ys.append(float(np.interp(a.arrived_s, ts, produced)) - cumulative)
    if len(xs) < 2:
        return None
    return float(np.polyfit(np.array(xs) - xs[0], np.array(ys), 1)[0])


def throughput(
    arrivals: list[Arrival], t_mark: float, t_stop: float
) -> tuple[float | None, float | None, tuple[float, float] | None]:
    """Records/s and hits/s delivered, from batch arrivals: the rows of the batches arriving
    after the last pre-window arrival, over the time between those arrivals.

    Counting from one arrival to another (not over the fixed window) is exact both when the
    processor idles between triggers and when batches run back to back; when no batch lands
    inside the window (overloaded: batches longer than the window), the first one after it
    closes the span, so the figure is then the processor's capacity while behind.
    """
    ordered = sorted(arrivals, key=lambda a: a.arrived_s)
    before = [a for a in ordered if a.arrived_s <= t_mark]
    start = before[-1].arrived_s if before else t_mark
    inside = [a for a in ordered if start < a.arrived_s <= t_stop]
    if not inside:
        inside = [a for a in ordered if a.arrived_s > t_stop][:1]
    if not inside or inside[-1].arrived_s <= start:
        return None, None, None
    span = inside[-1].arrived_s - start
    rows = sum(a.rows for a in inside) / span
    hits = sum(a.hits for a in inside) / span
    return rows, hits, (start, inside[-1].arrived_s)


def batch_seconds(samples: list[Sample], since: float) -> float | None:
    """Mean foreachBatch wall time of the processor's batches after `since`."""
    pts = [x.batch_seconds for x in samples if x.batch_seconds is not None]
    first = next((x.batch_seconds for x in samples if x.t >= since and x.batch_seconds), None)
    if not pts or first is None or pts[-1][1] <= first[1]:
        return None
    return (pts[-1][0] - first[0]) / (pts[-1][1] - first[1])


def summarize(
    *,
    rate: float,
    records_per_message: int,
    arrivals: list[Arrival],
    samples: list[Sample],
    produced: int,
    producer_exit: int | None,
    rows_at_grace: int,
    window: tuple[float, float],
    t_exit: float,
    t_end: float,
    drained: bool,
    cpu: dict[str, float],
    peak_rss: dict[str, int],
    startup_s: float,
    trigger_s: float,
) -> dict[str, Any]:
    t_mark, t_stop = window
    span = t_stop - t_mark
    produced_series = [(x.t, x.produced) for x in samples if x.produced is not None]
    ts, counts = np.array(produced_series).T if produced_series else (np.zeros(1), np.zeros(1))
    produced_rate = float(np.interp(t_stop, ts, counts) - np.interp(t_mark, ts, counts)) / span
    rows_rate, hits_rate, rate_span = throughput(arrivals, t_mark, t_stop)
    # Backlog trend over the last third of the window, widened to 3+ batches if needed.
    third = t_stop - span / 3
    since = third
    if sum(third <= a.arrived_s <= t_stop for a in arrivals) < 3:
        since = t_stop - span / 2
    slope = lag_slope(arrivals, samples, since, t_stop)
    # Growing = falling behind by more than 5 % of the input AND by more than one trigger's
    # worth of input over the span: batch-to-batch jitter alone moves the backlog that much.
    growing = slope is None or (
        slope > (1 - SUSTAINED_FRACTION) * max(produced_rate, 1.0)
        and slope * (t_stop - since) > produced_rate * trigger_s
    )
    fraction_at_grace = rows_at_grace / produced if produced else 0.0
    sustained = fraction_at_grace >= SUSTAINED_FRACTION and not growing
    # Latency: batches whose records were all produced after warm-up.
    lat = [
        a.arrived_s - a.last_ts_ms / 1000
        for a in arrivals
        if a.first_ts_ms is not None and a.last_ts_ms is not None and a.first_ts_ms >= t_mark * 1000
    ]
    hits_for_cpu = sum(a.hits for a in arrivals if a.arrived_s > t_mark)
    cpu_total = sum(cpu.values())
    lags = [
        x.consumer_lag
        for x in samples
        if x.consumer_lag is not None and x.consumer_lag == x.consumer_lag
    ]  # NaN = not known yet
    loads = [x.load1 for x in samples]
    drain_s = max((a.arrived_s for a in arrivals), default=t_exit) - t_exit if drained else None
    return {
        "target_rate": rate,
        "records_per_message": records_per_message,
        "startup_s": round(startup_s, 1),
        "window_s": round(span, 2),
        "produced_records": produced,
        "producer_exit_code": producer_exit,
        "produced_records_per_s": round(produced_rate),
        "processed_records_per_s": None if rows_rate is None else round(rows_rate),
        "processed_hits_per_s": None if hits_rate is None else round(hits_rate),
        "processed_rate_span_s": (
            None if rate_span is None else [round(x - t_mark, 2) for x in rate_span]
        ),
        "mean_batch_seconds": _round(batch_seconds(samples, t_mark), 3),
        "processed_fraction_at_grace": round(fraction_at_grace, 4),
        "backlog_slope_records_per_s": None if slope is None else round(slope),
        "backlog_growing": growing,
        "sustained": sustained,
        "drained": drained,
        "drain_s_after_producer_exit": None if drain_s is None else round(drain_s, 2),
        "batches": len(arrivals),
        "latency_batches": len(lat),
        "latency_p50_s": round(float(np.percentile(lat, 50)), 3) if lat else None,
        "latency_p95_s": round(float(np.percentile(lat, 95)), 3) if lat else None,
        "latency_max_s": round(max(lat), 3) if lat else None,
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_s_per_million_hits": (
            round(cpu_total / hits_for_cpu * 1e6, 1) if hits_for_cpu else None
        ),
        "hits_in_cpu_window": hits_for_cpu,
        "cpu_window_s": round(t_end - t_mark, 1),
        "peak_rss_mb": {k: round(v / 2**20) for k, v in peak_rss.items()},
        "max_consumer_lag_offsets": max(lags) if lags else None,
        "load1_mean": round(float(np.mean(loads)), 2) if loads else None,
        "load1_max": round(max(loads), 2) if loads else None,
        "batch_arrivals": [
            {
                "batch_id": a.batch_id,
                "arrived_s": round(a.arrived_s - t_mark, 3),
                "rows": a.rows,
                "hits": a.hits,
                "latency_s": (
                    None if a.last_ts_ms is None else round(a.arrived_s - a.last_ts_ms / 1000, 3)
                ),
            }
            for a in arrivals
        ],
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# -- report ----------------------------------------------------------------------------------


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "-" if value is None else format(value, spec)


def table(runs: list[dict[str, Any]]) -> str:
    head = (
        "| rate (rec/s) | rec/msg | produced rec/s | processed rec/s | hits/s | sustained "
        "| backlog slope | done @grace | p50 s | p95 s | batch s | CPU s/M hits "
        "| peak RSS MB prod/proc/api/kafka | load1 |"
    )
    rule = "|" + "|".join("---" for _ in range(head.count("|") - 1)) + "|"
    lines = [head, rule]
    for r in runs:
        rate = "unthrottled" if r["target_rate"] == 0 else f"{r['target_rate']:,.0f}"
        if "error" in r:
            lines.append(f"| {rate} | failed: {r['error'].splitlines()[0]} |")
            continue
        rss = r["peak_rss_mb"]
        lines.append(
            f"| {rate} | {r['records_per_message']} | {_fmt(r['produced_records_per_s'])} "
            f"| {_fmt(r['processed_records_per_s'])} | {_fmt(r['processed_hits_per_s'])} "
            f"| {'yes' if r['sustained'] else 'NO'} "
            f"| {_fmt(r['backlog_slope_records_per_s'], '+,.0f')}/s "
            f"| {r['processed_fraction_at_grace']:.1%} "
            f"| {_fmt(r['latency_p50_s'], '.2f')} | {_fmt(r['latency_p95_s'], '.2f')} "
            f"| {_fmt(r['mean_batch_seconds'], '.2f')} "
            f"| {_fmt(r['cpu_s_per_million_hits'], ',.0f')} "
            f"| {rss['producer']}/{rss['processor']}/{rss['api']}/{rss['kafka']} "
            f"| {_fmt(r['load1_mean'], '.1f')} |"
        )
    return "\n".join(lines)


def headline(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    sustained = [r for r in ok if r["sustained"]]
    best = max(sustained, key=lambda r: r["processed_hits_per_s"] or 0, default=None)
    low = next((r for r in ok if r["target_rate"] == AIM_P95_RATE), None)
    p95 = None if low is None else low["latency_p95_s"]
    return {
        "max_sustained_target_rate": None if best is None else best["target_rate"],
        "max_sustained_records_per_s": None if best is None else best["processed_records_per_s"],
        "max_sustained_hits_per_s": None if best is None else best["processed_hits_per_s"],
        "aim_hits_per_s": AIM_HITS_PER_S,
        "aim_hits_per_s_met": (
            best is not None and (best["processed_hits_per_s"] or 0) >= AIM_HITS_PER_S
        ),
        "p95_latency_s_at_1000": p95,
        "aim_p95_s": AIM_P95_S,
        "aim_p95_met": p95 is not None and p95 < AIM_P95_S,
        "cpu_s_per_million_hits": {
            f"{rate:.0f}": next(
                (r["cpu_s_per_million_hits"] for r in ok if r["target_rate"] == rate), None
            )
            for rate in CPU_RATES
        },
    }


def headline_text(h: dict[str, Any]) -> str:
    if h["max_sustained_target_rate"] is None:
        best = "no rate was sustained with bounded lag"
    else:
        rate = h["max_sustained_target_rate"]
        best = (
            f"highest rate sustained with bounded lag: {h['max_sustained_hits_per_s']:,} hits/s "
            f"({h['max_sustained_records_per_s']:,} records/s, producer --rate "
            f"{'0 (unthrottled)' if rate == 0 else f'{rate:g}'})"
        )
    met = "met" if h["aim_hits_per_s_met"] else "NOT met"
    p95 = h["p95_latency_s_at_1000"]
    p95_txt = "-" if p95 is None else f"{p95:.2f} s"
    met95 = "met" if h["aim_p95_met"] else "NOT met"
    return (
        f"{best}; aim >= {AIM_HITS_PER_S:,} hits/s: {met}.\n"
        f"p95 end-to-end latency at 1,000 records/s: {p95_txt}; aim < {AIM_P95_S:g} s: {met95}."
    )


# -- search ----------------------------------------------------------------------------------


def search_rates(
    run: Callable[[float], dict[str, Any]], start: float, cap: float, steps: int
) -> tuple[list[dict[str, Any]], float | None]:
    """The highest sustained producer rate: double from ``start`` while sustained (halve
    while not), up to ``cap``, then ``steps`` bisections between the highest sustained and
    the lowest unsustained rate. Returns every run and the highest sustained rate."""
    runs: list[dict[str, Any]] = []

    def ok(rate: float) -> bool:
        r = run(rate)
        r["search"] = True
        runs.append(r)
        return bool(r.get("sustained"))

    lo: float | None = None
    hi: float | None = None
    rate = start
    if ok(rate):
        lo = rate
        while rate * 2 <= cap:
            rate *= 2
            if ok(rate):
                lo = rate
            else:
                hi = rate
                break
    else:
        hi = rate
        while rate / 2 >= 1000:
            rate /= 2
            if ok(rate):
                lo = rate
                break
            hi = rate
    for _ in range(steps):
        if lo is None or hi is None:
            break
        mid = round((lo + hi) / 2, -3)
        if mid in (lo, hi):
            break
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return runs, lo


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="write results here")
    parser.add_argument(
        "--duration", type=float, default=30.0, help="measured seconds per rate (after warm-up)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help=f"seconds of producing before measuring, counted from the {WARMUP_BATCHES}nd batch",
    )
    parser.add_argument(
        "--rates",
        default="1000,100000",
        help="fixed producer rates measured besides the search (latency, CPU per hit); "
        "comma-separated records/s, 0 = unthrottled",
    )
    parser.add_argument(
        "--search-start", type=float, default=200_000, help="first rate of the search"
    )
    parser.add_argument(
        "--search-cap", type=float, default=3_200_000, help="the search doubles up to this"
    )
    parser.add_argument(
        "--search-steps", type=int, default=2, help="bisection steps after the doubling"
    )
    parser.add_argument(
        "--overload-factor",
        type=float,
        default=10.0,
        help="last run: this many times the highest sustained rate (processor peak RSS); 0 = skip",
    )
    parser.add_argument("--trigger-seconds", type=float, default=1.0)
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=30.0,
        help="after the grace period, wait up to this long for the backlog (reported only)",
    )
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    try:
        args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error(f"--rates: not a comma-separated list of numbers: {args.rates!r}")
    if not args.rate_list or any(r < 0 for r in args.rate_list):
        parser.error(f"--rates: need one or more rates >= 0, got {args.rates!r}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    load_before = os.getloadavg()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dtmon-bench-pipeline-") as tmp:
        settings = RunSettings(
            duration=args.duration,
            warmup=args.warmup,
            trigger_seconds=args.trigger_seconds,
            drain_timeout=args.drain_timeout,
            first_batch_timeout=120.0,
            seed=args.seed,
            workdir=Path(tmp),
        )
        print("--> starting the Kafka broker", file=sys.stderr, flush=True)
        with KafkaBroker(data_dir=Path(tmp) / "kafka") as broker:
            broker_pid = find_broker_pid(broker)

            def one(rate: float) -> dict[str, Any]:
                try:
                    return run_rate(broker, broker_pid, rate, settings)
                except Exception as exc:  # one failed rate should not hide the others
                    print(f"error at rate {rate:g}: {exc}", file=sys.stderr)
                    return {"target_rate": rate, "error": str(exc)}

            runs = [one(rate) for rate in args.rate_list]
            found, best = search_rates(one, args.search_start, args.search_cap, args.search_steps)
            runs += found
            overload = None
            if args.overload_factor > 0 and best:
                overload = one(best * args.overload_factor)
                overload["overload_factor"] = args.overload_factor
                runs.append(overload)
    head = headline(runs)
    head["search_max_sustained_rate"] = best
    if overload is not None and "error" not in overload:
        head["overload"] = {
            "target_rate": overload["target_rate"],
            "produced_records_per_s": overload["produced_records_per_s"],
            "processor_peak_rss_mb": overload["peak_rss_mb"].get("processor"),
            "load1_mean": overload["load1_mean"],
        }
    report = {
        "benchmark": "pipeline",
        "machine": machine,
        "load_average_before": [round(x, 2) for x in load_before],
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "warmup_batches": WARMUP_BATCHES,
            "trigger_seconds": args.trigger_seconds,
            "grace_triggers": GRACE_TRIGGERS,
            "sustained_fraction": SUSTAINED_FRACTION,
            "seed": args.seed,
            "source": "sim",
            "search": {
                "start": args.search_start,
                "cap": args.search_cap,
                "steps": args.search_steps,
                "overload_factor": args.overload_factor,
            },
        },
        "runs": runs,
        "headline": head,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    m = machine
    print(
        f"\nPipeline benchmark, {m['date_utc']}: {m['cpu_model']}, {m['cores']} cores, "
        f"{m['ram_gb']} GB RAM; {args.warmup:g} s warm-up + {args.duration:g} s per rate, "
        f"trigger {args.trigger_seconds:g} s\n"
    )
    print(table(runs))
    print()
    print(headline_text(head))
    if "overload" in head:
        o = head["overload"]
        print(
            f"overload ({args.overload_factor:g}x = {o['target_rate']:,.0f} records/s asked, "
            f"{o['produced_records_per_s']:,} produced): processor peak RSS "
            f"{o['processor_peak_rss_mb']} MB"
        )
    print(f"CPU s per million hits: {head['cpu_s_per_million_hits']}")
    print(f"JSON: {args.json}")
    return 1 if any("error" in r for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
