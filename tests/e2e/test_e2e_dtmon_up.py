"""`dtmon up` (what `make run` runs): batches reach the dashboard API; Ctrl-C leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from devstack.ports import free_port
from devstack.stack import script


def _processes_mentioning(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if "pgrep" not in line]


def test_dtmon_up_streams_to_the_dashboard_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
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
        deadline = time.monotonic() + 300
        hits = 0
        while time.monotonic() < deadline and hits == 0:
            time.sleep(1)
            assert up.poll() is None, f"dtmon up exited early:\n{log.read_text()[-3000:]}"
            try:
                hits = httpx.get(f"{api}/api/v1/summary", params={"view": "cumulative"}).json()[
                    "hits"
                ]
            except (httpx.HTTPError, KeyError, ValueError):
                continue
        assert hits > 0, f"no batch reached the API:\n{log.read_text()[-3000:]}"
        text = log.read_text()
        assert "dtmon is up" in text and f"{api}/" in text, "the banner names the dashboard"
        for name in ("kafka", "processor", "api", "producer"):
            assert f"{name} " in text and " | " in text, f"{name} lines are prefixed"
    finally:
        os.killpg(up.pid, signal.SIGINT)
        up.wait(timeout=60)
    # Every service's command line names the data dir or one of its ports.
    markers = [str(data_dir), *(f" {port}( |$)" for port in ports.values())]
    deadline = time.monotonic() + 30
    while any(_processes_mentioning(m) for m in markers) and time.monotonic() < deadline:
        time.sleep(0.5)
    for marker in markers:
        assert _processes_mentioning(marker) == [], f"a process outlived Ctrl-C ({marker})"
