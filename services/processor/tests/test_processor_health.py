"""Truthful health of the running processor (and producer), on a broker of their own.

Issue 12's probe found `dtmon_processor_consumer_lag_records` at 0 through a 3.6M-record
backlog (the gauge came from batch progress, taken when a batch had swallowed everything
available) and /healthz at 200 while the broker was frozen. Here: a backlog lands while the
query runs, and the lag must show it while batches work it off; the broker is SIGSTOPped,
and /readyz of the processor and of the producer must turn 503 within the stated bound,
then 200 again. The processor's memory over the backlog stays under a stated bound.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from devstack.kafka import KafkaBroker
from devstack.ports import free_port
from services.processor.tests.processor_helpers import TEST_KEY_LINE, produce

BIN = Path(sys.executable).parent
BACKLOG = 300_000
BROKER_TIMEOUT = 3.0
MEMORY_BOUND_MB = 2_500
"""Peak RSS of the processor (Python driver + Spark JVM + Python workers) with
--driver-memory 1g over the backlog; stated in the README."""


def _metric(url: str, name: str) -> float | None:
    try:
        text = httpx.get(url + "/metrics", timeout=3).text
    except httpx.HTTPError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def _status(url: str, path: str) -> int | None:
    try:
        return httpx.get(url + path, timeout=3).status_code
    except httpx.HTTPError:
        return None


def _tree_rss_mb(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 1e6


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited ({proc.returncode}) waiting for {what}")
        if predicate():
            return time.monotonic() - start
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _lines(n: int) -> list[bytes]:
    from dtmon_producer.sim.simulator import Simulator

    sim = Simulator(seed=12)
    out: list[bytes] = []
    while len(out) < n:
        out.extend(sim.next_lines())
    return out[:n]


def test_lag_shows_a_backlog_and_readiness_follows_a_frozen_broker(tmp_path: Path) -> None:
    with KafkaBroker(data_dir=tmp_path / "kafka") as broker:
        broker.create_topic("hits", 2)
        broker.create_topic("results", 1)
        produce(broker.bootstrap_servers, "hits", _lines(1000))
        proc_port, prod_port = free_port(), free_port()
        common = ["--bootstrap-servers", broker.bootstrap_servers, "--hits-topic", "hits"]
        timeout = ["--broker-timeout-seconds", str(BROKER_TIMEOUT)]
        env = {**os.environ, "DTMON_SIGNING_KEYS": TEST_KEY_LINE}
        processor = subprocess.Popen(
            [
                str(BIN / "dtmon-processor"),
                "run",
                *common,
                *timeout,
                "--results-topic",
                "results",
                "--checkpoint-location",
                str(tmp_path / "checkpoint"),
                "--starting-offsets",
                "earliest",
                "--trigger-seconds",
                "0.5",
                "--master",
                "local[2]",
                "--driver-memory",
                "1g",
                "--no-ui",
                "--metrics-port",
                str(proc_port),
            ],
            stdout=(tmp_path / "processor.log").open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        producer = subprocess.Popen(
            [
                str(BIN / "dtmon-producer"),
                *common,
                *timeout,
                "--rate",
                "50",
                "--metrics-port",
                str(prod_port),
            ],
            stdout=(tmp_path / "producer.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc_url, prod_url = f"http://127.0.0.1:{proc_port}", f"http://127.0.0.1:{prod_port}"
        try:
            _wait(
                lambda: (_metric(proc_url, "dtmon_processor_batches_total") or 0) >= 1,
                240,
                "the first batch",
                processor,
            )
            assert _status(proc_url, "/readyz") == 200
            _wait(lambda: _status(prod_url, "/readyz") == 200, 30, "producer ready", producer)

            backlog = _lines(BACKLOG)
            for i in range(0, BACKLOG, 50_000):  # flushed in chunks: librdkafka's queue is 100k
                produce(broker.bootstrap_servers, "hits", backlog[i : i + 50_000])
            max_lag, peak_rss = 0.0, 0.0
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                lag = _metric(proc_url, "dtmon_processor_consumer_lag_records")
                lag = 0.0 if lag is None or lag != lag else lag  # NaN: no batch finished yet
                max_lag = max(max_lag, lag)
                peak_rss = max(peak_rss, _tree_rss_mb(processor.pid))
                if max_lag >= BACKLOG / 3 and lag < 1000:
                    break  # seen, then worked off
                time.sleep(0.3)
            assert max_lag >= BACKLOG / 3, f"lag never showed the backlog (max {max_lag})"
            assert lag < 1000, f"backlog not worked off in time (lag {lag})"
            assert peak_rss < MEMORY_BOUND_MB, f"processor peak RSS {peak_rss:.0f} MB"

            with broker.frozen():
                took = _wait(
                    lambda: (
                        _status(proc_url, "/readyz") == 503 and _status(prod_url, "/readyz") == 503
                    ),
                    30,
                    "/readyz 503 of processor and producer",
                )
                # The stated bound: the timeout plus one probe (<= 2 x its 2 s interval).
                assert took < BROKER_TIMEOUT + 4 + 3, took
                assert _status(proc_url, "/healthz") == 200  # alive: no restart wanted
            _wait(
                lambda: _status(proc_url, "/readyz") == 200 and _status(prod_url, "/readyz") == 200,
                60,
                "/readyz 200 after the freeze",
            )
        finally:
            for p in (producer, processor):
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            for p in (producer, processor):
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait(30)
