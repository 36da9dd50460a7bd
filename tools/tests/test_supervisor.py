"""The supervisor with real child processes (small Python servers and scripts)."""

from __future__ import annotations

import io
import re
import sys
import threading

from devstack.ports import free_port
from dtmon_tools.stack import Service
from dtmon_tools.supervisor import Output, Supervisor


def _server(name: str, after: tuple[str, ...] = ()) -> Service:
    port = free_port()
    argv = (sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1")
    return Service(name, argv, ready=f"http://127.0.0.1:{port}/", after=after, stop_seconds=5)


def test_starts_after_dependencies_and_stops_upstream_first() -> None:
    services = [
        _server("kafka"),
        _server("api", after=("kafka",)),
        _server("processor", after=("kafka",)),
        _server("producer", after=("processor", "api")),
    ]
    out = io.StringIO()
    supervisor = Supervisor(services, Output(out), poll_seconds=0.05)
    supervisor.on_all_ready = lambda: supervisor.request_stop("test")
    assert supervisor.run() == 0
    text = out.getvalue()
    starts = re.findall(r"\| (\w+): start, pid", text)
    assert starts.index("kafka") < starts.index("api") < starts.index("producer")
    assert "stopping (test): producer, processor, api, kafka" in text
    summary = next(line for line in text.splitlines() if "stopped: " in line)
    names = [part.split()[0] for part in summary.split("stopped: ")[1].split(", ")]
    assert names == ["producer", "processor", "api", "kafka"]
    assert "forced" not in summary


def test_a_dead_service_is_restarted_and_one_that_keeps_failing_stops_all() -> None:
    crash = Service(
        "api", (sys.executable, "-c", "raise SystemExit(3)"), ready="http://127.0.0.1:1/"
    )
    steady = _server("kafka")
    out = io.StringIO()
    supervisor = Supervisor([steady, crash], Output(out), max_restarts=2, poll_seconds=0.05)
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(supervisor.run()))
    thread.start()
    thread.join(timeout=30)
    assert done == [1], out.getvalue()
    text = out.getvalue()
    assert "api exited (rc 3)" in text and "restart 1 in 1 s" in text and "restart 2 in 2 s" in text
    assert "api exited (rc 3) 3 times in a row" in text and "keeps failing" in text
    assert "(2 restarts)" in text and "kafka signal SIGTERM" in text
