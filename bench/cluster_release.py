"""The dtmon release on the local cluster (`make cluster-up`, `make deploy`), as
bench_cluster_scaling.py drives it: every change is a `helm upgrade` of the chart with
k8s/cluster/values.yaml plus the benchmark's own values, never an edit of live objects,
except one: the producer Deployment is scaled to 0 the moment its --max-records run ends,
because a Deployment restarts an exited container, which would send the records again.

kubectl and helm are the binaries `make cluster-up` and `make tools` built, through
tests/cluster/kube.py (the cluster tests' own wrappers).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from tests.cluster import kube

CHART = kube.ROOT / "helm" / "dtmon"
CLUSTER_VALUES = kube.ROOT / "k8s" / "cluster" / "values.yaml"
PRODUCER = "app.kubernetes.io/instance=dtmon,app.kubernetes.io/component=producer"
EXECUTORS = "spark-role=executor"
API = f"/api/v1/namespaces/{kube.NAMESPACE}/services/dtmon-api:8000/proxy/api/v1"


def minio_version() -> str:
    """deploy.sh sets minio.image.tag from versions.env: so must every upgrade here."""
    text = (kube.ROOT / "versions.env").read_text()
    match = re.search(r"^MINIO_VERSION=(\S+)$", text, re.MULTILINE)
    if not match:
        raise RuntimeError("no MINIO_VERSION in versions.env")
    return match.group(1)


def upgrade(values: dict[str, Any]) -> None:
    """`helm upgrade` to exactly k8s/cluster/values.yaml plus `values` (no --reuse-values: a
    configuration never inherits the previous one's). The seed Job (a post-upgrade hook that
    re-uploads the dataset) is off: the buckets exist since `make deploy`."""
    args = ["upgrade", "dtmon", str(CHART), "-n", kube.NAMESPACE, "-f", str(CLUSTER_VALUES)]
    merged = {"minio.image.tag": minio_version(), "minio.seed.enabled": False, **values}
    for path, value in merged.items():
        args += ["--set-json", f"{path}={json.dumps(value)}"]
    kube.helm(*args, "--timeout", "10m")


def cluster_ready() -> None:
    """Fail early, with the way out, when the cluster or the release is missing."""
    if not kube.KUBECONFIG.exists():
        raise SystemExit("no local cluster: run `make cluster-up images deploy` first")
    if kube.helm("status", "dtmon", "-n", kube.NAMESPACE, check=False).returncode != 0:
        raise SystemExit("no dtmon release on the local cluster: run `make deploy` first")


def wait_broker_rolled(timeout: float = 600) -> None:
    """A new hits topic restarts the broker (it creates topics and ACLs at start)."""
    names = kube.kubectl("-n", kube.NAMESPACE, "get", "statefulset", "-o", "name").stdout.split()
    broker = next(n for n in names if n.endswith("-broker"))
    kube.kubectl(
        "-n", kube.NAMESPACE, "rollout", "status", broker, f"--timeout={int(timeout)}s",
        timeout=timeout + 30,
    )  # fmt: skip


@dataclass(frozen=True)
class FillResult:
    records: int
    seconds: float
    pod: str


def wait_producer_done(topic: str, timeout: float = 900) -> FillResult:
    """Wait for the first --max-records run of the producer writing `topic` to exit 0, read
    its summary log line, then scale the Deployment to 0 before the restarted container
    gets far (it needs seconds to start; what it still sends shows as extra records)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pod in _pods(PRODUCER):
            if _env(pod, "DTMON_HITS_TOPIC") != topic:
                continue
            status = (pod["status"].get("containerStatuses") or [{}])[0]
            now = status.get("state", {}).get("terminated")
            before = status.get("lastState", {}).get("terminated")
            if (now or {}).get("exitCode") == 0 or (before or {}).get("exitCode") == 0:
                name = pod["metadata"]["name"]
                # The container may have restarted since the status was read: the first run's
                # summary is in the previous container's log then, else in the current one.
                logs = [
                    kube.kubectl("-n", kube.NAMESPACE, "logs", name, *flag, check=False).stdout
                    for flag in (["--previous"], [])
                ]
                kube.kubectl("-n", kube.NAMESPACE, "scale", "deploy/dtmon-producer", "--replicas=0")
                return _summary("\n".join(logs), name)
        time.sleep(1)
    raise TimeoutError(f"the producer did not finish filling {topic} in {timeout:.0f} s")


def _summary(logs: str, pod: str) -> FillResult:
    for line in logs.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("event") == "summary":
            return FillResult(int(entry["records"]), float(entry["seconds"]), pod)
    raise RuntimeError(f"no summary line in the logs of {pod}:\n{logs[-2000:]}")


def batches(limit: int) -> list[dict[str, Any]]:
    """The API's newest batches (newest last), reduced to what the drain rate needs: the
    full messages carry every histogram."""
    proc = kube.kubectl("get", "--raw", f"{API}/batches?limit={limit}", check=False)
    if proc.returncode != 0:
        return []  # the API restarting or not ready yet: the next poll sees the batches
    return [
        {
            "query_id": b["query_id"],
            "batch_id": b["batch_id"],
            "rows": b["input"]["rows"],
            "hits": b["hits"],
            "emitted_at_ms": b["emitted_at_ms"],
        }
        for b in json.loads(proc.stdout)
    ]


def running_executors() -> int:
    return sum(1 for p in _pods(EXECUTORS) if p["status"].get("phase") == "Running")


def _pods(selector: str) -> list[dict[str, Any]]:
    out = kube.kubectl("-n", kube.NAMESPACE, "get", "pods", "-l", selector, "-o", "json")
    return json.loads(out.stdout)["items"]


def _env(pod: dict[str, Any], name: str) -> str | None:
    for env in pod["spec"]["containers"][0].get("env", []):
        if env["name"] == name:
            return env.get("value")
    return None
