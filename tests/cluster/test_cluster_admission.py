"""Pod Security on the real API server: the dtmon namespace ENFORCES "restricted", every pod
of the pipeline (Spark's executor pods included) was admitted under it, and a pod that breaks
it is refused."""

from __future__ import annotations

import json

import pytest

from .kube import NAMESPACE, kubectl

pytestmark = pytest.mark.timeout(1800)

PRIVILEGED_POD = """
apiVersion: v1
kind: Pod
metadata: {name: not-restricted, namespace: dtmon}
spec:
  containers:
    - name: c
      image: dtmon.local/pause:1
      imagePullPolicy: Never
      securityContext: {privileged: true}
"""


def test_the_namespace_enforces_restricted(cluster: None) -> None:
    namespace = json.loads(kubectl("get", "namespace", NAMESPACE, "-o", "json").stdout)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_pipeline_pod_runs_under_restricted(cluster: None) -> None:
    pods = json.loads(kubectl("-n", NAMESPACE, "get", "pods", "-o", "json").stdout)["items"]
    running = [
        p["metadata"]["labels"].get("app.kubernetes.io/component")
        for p in pods
        if p["status"]["phase"] == "Running"
    ]
    for component in ("kafka", "minio", "producer", "processor", "api"):
        assert component in running, running
    assert running.count("spark-executor") >= 2, running
    # Re-evaluating the running pods against the profile pinned to this Kubernetes version:
    # the API server warns about every pod that would violate it.
    dry = kubectl(
        "label",
        "--dry-run=server",
        "--overwrite",
        "namespace",
        NAMESPACE,
        "pod-security.kubernetes.io/enforce-version=v1.35",
    )
    assert "violate" not in dry.stderr.lower(), dry.stderr


def test_a_pod_that_breaks_restricted_is_refused(cluster: None) -> None:
    proc = kubectl("apply", "-f", "-", stdin=PRIVILEGED_POD, check=False)
    assert proc.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in proc.stderr, proc.stderr
    assert "privileged" in proc.stderr
    assert kubectl("-n", NAMESPACE, "get", "pod", "not-restricted", check=False).returncode != 0
