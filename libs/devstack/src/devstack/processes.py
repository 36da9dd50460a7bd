"""Child processes that never outlive their parent.

Every server dtmon starts locally (Kafka's JVM, MinIO, the services under `make run`) is
spawned through `spawn`, which asks the Linux kernel to send SIGTERM to the child when the
parent dies (PR_SET_PDEATHSIG). That is what keeps an interrupted or `kill -9`-ed test run
from leaving a java process behind, without any cleanup code having to run.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1


def script(name: str) -> str:
    """A console script of this environment by absolute path, so PATH need not include it."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(
    argv: Sequence[str],
    *,
    log: Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout: int | IO[bytes] | None = None,
) -> subprocess.Popen[bytes]:
    """Start argv in its own process group, tied to this process's lifetime.

    Output goes to `log` (appended) when given, else to `stdout` (inherit by default).
    The own process group lets `stop` signal a launcher script and its children together.
    """
    out: int | IO[bytes] | None = stdout
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        out = open(log, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        return subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            env=None if env is None else dict(env),
            cwd=cwd,
            preexec_fn=_die_with_parent,
            start_new_session=True,
        )
    finally:
        if log is not None and hasattr(out, "close"):
            out.close()  # type: ignore[union-attr]


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM the process group, wait, then SIGKILL what is left; returns the exit code."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=10)
    # Reap stragglers of the group even when the leader exited first.
    _signal_group(proc, signal.SIGKILL)
    return int(proc.returncode)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """`kill -9` semantics for fault tests: no chance to flush or clean up."""
    _signal_group(proc, signal.SIGKILL)
    proc.wait(timeout=10)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)
