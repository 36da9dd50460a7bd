"""The local cluster of `make cluster-up` as the cluster tests use it: kubectl and helm with
its kubeconfig, commands run on its node, and `kubectl port-forward` as a context manager.
Everything goes through the project's own k8s/cluster scripts and the binaries they built.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "k8s" / "cluster"
STATE = ROOT / ".cache" / "cluster"
KUBECONFIG = STATE / "kubeconfig"
KUBECTL = STATE / "bin" / "kubectl"
HELM = ROOT / ".cache" / "bin" / "helm"
NAMESPACE = "dtmon"
RELEASE = "dtmon"


def script(name: str, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run one of k8s/cluster/*.sh; fail with its output when it fails."""
    proc = subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"{name} {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
    return proc


def kubectl(
    *args: str, check: bool = True, stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(KUBECTL), "--kubeconfig", str(KUBECONFIG), *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, f"kubectl {' '.join(args)}:\n{proc.stdout}{proc.stderr}"
    return proc


def get_raw(path: str, wait: float = 180) -> str:
    """`kubectl get --raw path`, retried while the Service behind the proxy has no ready
    endpoint (a pod restarting, or readiness false during a broker restart)."""
    deadline = time.monotonic() + wait
    while True:
        proc = kubectl("get", "--raw", path, check=False)
        if proc.returncode == 0:
            return proc.stdout
        if time.monotonic() > deadline:
            raise AssertionError(f"kubectl get --raw {path}:\n{proc.stdout}{proc.stderr}")
        time.sleep(3)


def helm(*args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [str(HELM), "--kubeconfig", str(KUBECONFIG), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if check:
        assert proc.returncode == 0, f"helm {' '.join(args)}:\n{proc.stdout}{proc.stderr}"
    return proc


def on_node(*argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a command on the node with cluster DNS (k8s/cluster/node-exec.sh)."""
    return subprocess.run(
        ["bash", str(SCRIPTS / "node-exec.sh"), *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def diagnostics() -> str:
    """What a failed deploy needs to be understood: pods, events and recent logs."""
    parts = [
        kubectl("get", "pods", "-A", "-o", "wide", check=False).stdout,
        kubectl("-n", NAMESPACE, "get", "events", "--sort-by=.lastTimestamp", check=False).stdout[
            -6000:
        ],
    ]
    pods = kubectl("-n", NAMESPACE, "get", "pods", "-o", "name", check=False).stdout.split()
    for pod in pods:
        logs = kubectl("-n", NAMESPACE, "logs", pod, "--tail=30", check=False)
        parts.append(f"--- {pod}\n{logs.stdout[-3000:]}{logs.stderr[-500:]}")
    return "\n".join(parts)


@contextmanager
def port_forward(target: str, port: int, namespace: str = NAMESPACE) -> Iterator[int]:
    """`kubectl port-forward TARGET :PORT` as a user runs it; yields the local port."""
    proc = subprocess.Popen(
        [
            str(KUBECTL),
            "--kubeconfig",
            str(KUBECONFIG),
            "-n",
            namespace,
            "port-forward",
            "--address",
            "127.0.0.1",
            target,
            f":{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"kubectl port-forward {target}: {line}"
        yield int(match.group(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
