"""`dtmon up` (what `make run` runs): batches reach the dashboard API; a service killed with
-9 is restarted; Ctrl-C stops everything upstream first, in seconds, with no traceback, no
SIGKILL and nothing left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx

from devstack.ports import free_port
from devstack.processes import script


def _processes_mentioning(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def _wait(predicate, timeout: float, what: str, log: Path, up: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert up.poll() is None, f"dtmon up exited early:\n{log.read_text()[-3000:]}"
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _cumulative_hits(api: str) -> int:
    try:
        return int(httpx.get(f"{api}/api/v1/summary", params={"view": "cumulative"}).json()["hits"])
    except (httpx.HTTPError, KeyError, ValueError):
        return 0


def test_dtmon_up_streams_heals_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    data_dir = tmp_path / "stack"
    ports = {
        flag: free_port()
        for flag in (
            "--kafka-port",
            "--kafka-controller-port",
            "--api-port",
            "--spark-ui-port",
            "--producer-metrics-port",
            "--processor-metrics-port",
        )
    }
    argv = [script("dtmon"), "up", "--data-dir", str(data_dir), "--rate", "2000", "--seed", "3"]
    for flag, port in ports.items():
        argv += [flag, str(port)]
    log = tmp_path / "dtmon-up.log"
    with open(log, "wb") as out:
        # A terminal's Ctrl-C signals the whole foreground process group: give it its own.
        up = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    api = f"http://127.0.0.1:{ports['--api-port']}"
    try:
        _wait(lambda: _cumulative_hits(api) > 0, 300, "a batch at the API", log, up)
        text = log.read_text()
        assert "dtmon is up" in text and f"{api}/" in text, "the banner names the dashboard"
        for name in ("kafka", "processor", "api", "producer"):
            assert re.search(rf"^\S+ {name} +\| ", text, re.M), f"{name} lines are prefixed"

        # kill -9 of the API: the supervisor restarts it and says so; the rest keeps going.
        api_pid = int(re.findall(r"api: start, pid (\d+)", text)[-1])
        os.kill(api_pid, signal.SIGKILL)
        _wait(lambda: "api exited (signal SIGKILL)" in log.read_text(), 30, "the exit", log, up)
        _wait(lambda: "api: restart 1, pid" in log.read_text(), 30, "the restart", log, up)
        _wait(lambda: _cumulative_hits(api) > 0, 120, "the restarted API's replay", log, up)
    finally:
        stop_from = len(log.read_text())
        t0 = time.monotonic()
        os.killpg(up.pid, signal.SIGINT)
        code = up.wait(timeout=120)
    took = time.monotonic() - t0
    stop_log = log.read_text()[stop_from:]
    assert code == 0, stop_log
    assert took < 60, f"stopping took {took:.0f} s:\n{stop_log}"
    order = [m.group(1) for m in re.finditer(r"stopping \(SIGINT\): (.*)", stop_log)]
    assert order == ["producer, processor, api, kafka"], stop_log
    summary = re.search(r"stopped: (.*)", stop_log)
    assert summary, stop_log
    for name in ("producer", "processor", "api", "kafka"):
        assert re.search(rf"{name} rc 0 in", summary.group(1)), summary.group(1)
    assert "api rc 0 in" in summary.group(1) and "(1 restarts)" in summary.group(1)
    assert "forced" not in stop_log and "SIGKILL" not in stop_log
    assert "Traceback" not in stop_log and "Py4J" not in stop_log, stop_log
    assert "Connection refused" not in stop_log, "a client outlived the broker"
    # Every service's command line names the data dir or one of its ports.
    markers = [str(data_dir), *(f" {port}( |$)" for port in ports.values())]
    deadline = time.monotonic() + 30
    while any(_processes_mentioning(m) for m in markers) and time.monotonic() < deadline:
        time.sleep(0.5)
    for marker in markers:
        assert _processes_mentioning(marker) == [], f"a process outlived Ctrl-C ({marker})"
