"""Runs the local stack: start in dependency order, restart what dies, stop in data-flow order.

Why not a Procfile runner: `make run` must heal (a service that dies is restarted with a
bounded backoff and a visible count) and must stop cleanly (upstream first, each service
given time to finish its work, the broker last, no SIGKILL in the normal case, no
traceback). Each child runs in its own session, so a terminal's Ctrl-C reaches only this
supervisor, which then stops the children one by one; the kernel still ends them if the
supervisor itself is killed (devstack.processes.spawn).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

from devstack import processes
from devstack.probes import is_ready
from dtmon_tools.stack import STOP_ORDER, Service

BACKOFF_SECONDS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
"""Waits before restart 1, 2, ...; the last one repeats."""
HEALTHY_AFTER_SECONDS = 60.0
"""A service that ran this long before dying was working: its failure streak starts over."""


class Output:
    """Prefixes every child line with its service name; one lock keeps lines whole."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.width = 9

    def line(self, name: str, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._lock:
            self._stream.write(f"{stamp} {name:<{self.width}} | {text}\n")
            self._stream.flush()

    def pump(self, name: str, pipe: IO[bytes]) -> threading.Thread:
        def run() -> None:
            for raw in iter(pipe.readline, b""):
                self.line(name, raw.decode(errors="replace").rstrip("\n"))
            pipe.close()

        thread = threading.Thread(target=run, name=f"out-{name}", daemon=True)
        thread.start()
        return thread


@dataclass
class Child:
    """One service's current process and its history."""

    service: Service
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    ready: bool = False
    restarts: int = 0
    streak: int = 0
    """Failures in a row, each soon after its start."""
    restart_at: float = 0.0
    """When a pending start may happen (monotonic clock); 0 = at once."""
    pending: bool = True
    finished: bool = False
    reader: threading.Thread | None = None
    stop_report: str = ""


class Supervisor:
    """`run()` blocks until Ctrl-C/SIGTERM or a service keeps failing; returns the exit code."""

    def __init__(
        self,
        services: list[Service],
        output: Output,
        *,
        env: Mapping[str, str] | None = None,
        max_restarts: int = 5,
        on_all_ready: Callable[[], None] | None = None,
        poll_seconds: float = 0.2,
    ) -> None:
        self.children = {s.name: Child(s) for s in services}
        self.out = output
        self.out.width = max(len(s.name) for s in services) + 1
        self.env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.max_restarts = max_restarts
        self.on_all_ready = on_all_ready
        self.poll = poll_seconds
        self._stop = threading.Event()
        self._stop_reason = ""
        self._announced = False

    # -- signals ---------------------------------------------------------------------------

    def install_signals(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        # A second Ctrl-C while stopping changes nothing: the ordered stop goes on.
        if not self._stop.is_set():
            self._stop_reason = signal.Signals(signum).name
            self._stop.set()

    def request_stop(self, reason: str) -> None:
        self._stop_reason = reason
        self._stop.set()

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> int:
        rc = 0
        try:
            while not self._stop.is_set():
                rc = self._tick()
                if rc:
                    break
                self._stop.wait(self.poll)
        finally:
            self._stop_all()
        return rc

    def _tick(self) -> int:
        now = time.monotonic()
        for child in self.children.values():
            s = child.service
            if child.finished:
                continue
            if child.proc is None:
                deps_ready = all(self.children[d].ready for d in s.after)
                if child.pending and now >= child.restart_at and deps_ready:
                    self._start(child)
                continue
            code = child.proc.poll()
            if code is None:
                if not child.ready and is_ready(s.ready):
                    child.ready = True
                    self.say(f"{s.name} ready ({time.monotonic() - child.started:.1f} s)")
                continue
            rc = self._exited(child, code)
            if rc:
                return rc
        if not self._announced and all(c.ready or c.finished for c in self.children.values()):
            self._announced = True
            if self.on_all_ready is not None:
                self.on_all_ready()
        return 0

    def _start(self, child: Child) -> None:
        s = child.service
        child.proc = processes.spawn(s.argv, env=self.env, stdout=subprocess.PIPE)
        assert child.proc.stdout is not None
        child.reader = self.out.pump(s.name, child.proc.stdout)
        child.started = time.monotonic()
        child.ready = False
        child.pending = False
        what = f"restart {child.restarts}" if child.restarts else "start"
        self.say(f"{s.name}: {what}, pid {child.proc.pid}")

    def _exited(self, child: Child, code: int) -> int:
        s = child.service
        ran = time.monotonic() - child.started
        if child.reader is not None:
            child.reader.join(timeout=2)  # its last lines before the verdict
        if child.proc is not None:
            # What the dead leader left in its group (a JVM holding ports) goes with it.
            processes.stop(child.proc, timeout=5)
        child.proc = None
        child.ready = False
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"rc {code}"
        if code == 0 and s.may_finish:
            child.finished = True
            self.say(f"{s.name} finished ({how}); the pipeline keeps running, Ctrl-C stops it")
            return 0
        child.streak = child.streak + 1 if ran < HEALTHY_AFTER_SECONDS else 1
        if child.streak > self.max_restarts:
            self.say(
                f"{s.name} exited ({how}) {child.streak} times in a row, each within "
                f"{HEALTHY_AFTER_SECONDS:.0f} s of its start: it keeps failing, stopping everything"
            )
            self._stop_reason = f"{s.name} keeps failing"
            return 1
        wait = BACKOFF_SECONDS[min(child.streak, len(BACKOFF_SECONDS)) - 1]
        child.restarts += 1
        child.restart_at = time.monotonic() + wait
        child.pending = True
        self.say(
            f"{s.name} exited ({how}) after {ran:.1f} s; restart {child.restarts} in {wait:g} s "
            f"(failure {child.streak} of at most {self.max_restarts} in a row)"
        )
        return 0

    # -- stopping --------------------------------------------------------------------------

    def _stop_all(self) -> None:
        self.say(f"stopping ({self._stop_reason or 'done'}): {', '.join(self._stop_order())}")
        for name in self._stop_order():
            self._stop_one(self.children[name])
        summary = ", ".join(
            f"{c.service.name} {c.stop_report or 'not running'}"
            + (f" ({c.restarts} restarts)" if c.restarts else "")
            for c in (self.children[n] for n in self._stop_order())
        )
        self.say(f"stopped: {summary}")

    def _stop_order(self) -> list[str]:
        rank = {name: i for i, name in enumerate(STOP_ORDER)}
        return sorted(self.children, key=lambda n: rank.get(n, -1))

    def _stop_one(self, child: Child) -> None:
        proc = child.proc
        if proc is None:
            return
        t0 = time.monotonic()
        forced = ""
        if proc.poll() is None:
            # The leader first: a service stops its own helpers (Spark's JVM) in order.
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=child.service.stop_seconds)
            except subprocess.TimeoutExpired:
                forced = ", forced"
                processes.stop(proc, timeout=5)
        processes.stop(proc, timeout=5)  # reaps anything its group left behind
        if child.reader is not None:
            child.reader.join(timeout=2)
        code = proc.returncode
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"rc {code}"
        child.stop_report = f"{how} in {time.monotonic() - t0:.1f} s{forced}"
        child.proc = None

    def say(self, text: str) -> None:
        self.out.line("dtmon", text)
