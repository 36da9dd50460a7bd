"""Losing pods on the real cluster loses nothing: the Spark driver pod deleted with no grace
comes back through its Deployment and resumes the same query from its s3a:// checkpoint with
no gap in batch ids, an executor pod deleted mid-stream is replaced while batches go on, the
Kafka broker and MinIO pods restarted mid-stream come back with their data (local persistent
volumes) and the same query goes on, and a new API pod rebuilds its views from the results
topic.
(The pipeline tests that follow check every batch, these ones included, against the
reference on its records.)"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .kube import NAMESPACE, RELEASE, kubectl

pytestmark = pytest.mark.timeout(1800)

API = f"/api/v1/namespaces/{NAMESPACE}/services/{RELEASE}-api:8000/proxy/api/v1/batches"


def _batches(check: bool = True) -> list[dict[str, Any]]:
    proc = kubectl("get", "--raw", f"{API}?limit=1000", check=check)
    return json.loads(proc.stdout) if proc.returncode == 0 else []


def _pods(selector: str) -> list[dict[str, Any]]:
    out = kubectl("-n", NAMESPACE, "get", "pods", "-l", selector, "-o", "json").stdout
    return [p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


def _wait_for_batches_after(batch_id: int, more: int, timeout: float = 600) -> list[dict]:
    """Batches up to `batch_id + more`. Meanwhile the API may have no ready endpoint: its
    readiness is false while it cannot reach the broker (the broker restart below)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batches = _batches(check=False)
        if batches and batches[-1]["batch_id"] >= batch_id + more:
            return batches
        time.sleep(3)
    raise AssertionError(f"no batch past {batch_id + more} within {timeout} s")


def test_a_deleted_driver_resumes_its_query_from_the_checkpoint(cluster: None) -> None:
    before = _batches()
    assert before, "no batch before the fault"
    (driver,) = _pods("app.kubernetes.io/component=processor")
    kubectl(
        "-n", NAMESPACE, "delete", "pod", driver["metadata"]["name"], "--grace-period=0", "--force"
    )
    after = _wait_for_batches_after(before[-1]["batch_id"], more=3)
    (new_driver,) = _pods("app.kubernetes.io/component=processor")
    assert new_driver["metadata"]["name"] != driver["metadata"]["name"]
    # The same streaming query, resumed: one query id, batch ids with no gap and no repeat.
    assert {b["query_id"] for b in after} == {before[-1]["query_id"]}
    ids = [b["batch_id"] for b in after]
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids


def test_a_deleted_executor_is_replaced_and_batches_go_on(cluster: None) -> None:
    executors = _pods("spark-role=executor")
    assert len(executors) >= 2
    victim = executors[0]["metadata"]["name"]
    before = _batches()[-1]["batch_id"]
    kubectl("-n", NAMESPACE, "delete", "pod", victim, "--grace-period=0", "--force")
    _wait_for_batches_after(before, more=3)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        running = [
            p["metadata"]["name"]
            for p in _pods("spark-role=executor")
            if p["status"]["phase"] == "Running"
        ]
        if len(running) >= 2 and victim not in running:
            break
        time.sleep(3)
    else:
        raise AssertionError(f"executor {victim} not replaced: {running}")
    ids = [b["batch_id"] for b in _batches()]
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids


def test_a_deleted_api_rebuilds_its_views_from_the_results_topic(cluster: None) -> None:
    before = {b["batch_id"]: b for b in _batches()}
    (api,) = _pods("app.kubernetes.io/component=api")
    kubectl(
        "-n", NAMESPACE, "delete", "pod", api["metadata"]["name"], "--grace-period=0", "--force"
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        pods = _pods("app.kubernetes.io/component=api")
        fresh = [p for p in pods if p["metadata"]["name"] != api["metadata"]["name"]]
        ready = fresh and all(
            c["ready"] for p in fresh for c in p["status"].get("containerStatuses", [])
        )
        # While the Service switches pods, the proxy may answer with an error: try again.
        after = {b["batch_id"]: b for b in _batches(check=False)} if ready else {}
        if before.keys() <= after.keys():
            break
        time.sleep(3)
    else:
        raise AssertionError("the new API pod did not serve the batches the old one did")
    # Replayed from dt-results: the very same messages, not recomputed ones.
    assert all(after[i] == before[i] for i in before)


def _restart_and_go_on(selector: str, rollout: str) -> None:
    """Delete the pods of `selector` (a normal, graceful delete: a restart), wait for the
    controller's replacement, then for batches of the same query with no gap in ids."""
    before = _batches()
    old = {p["metadata"]["name"] + p["metadata"]["uid"] for p in _pods(selector)}
    kubectl("-n", NAMESPACE, "delete", "pod", "-l", selector, "--wait=true", timeout=300)
    kubectl("-n", NAMESPACE, "rollout", "status", rollout, "--timeout=600s", timeout=660)
    assert old.isdisjoint(p["metadata"]["name"] + p["metadata"]["uid"] for p in _pods(selector))
    after = _wait_for_batches_after(before[-1]["batch_id"], more=3)
    assert {b["query_id"] for b in after} == {before[-1]["query_id"]}
    ids = [b["batch_id"] for b in after]
    assert ids == list(range(ids[0], ids[0] + len(ids))), ids


def test_a_restarted_broker_keeps_its_log_and_the_stream_goes_on(cluster: None) -> None:
    _restart_and_go_on("app.kubernetes.io/component=kafka", f"statefulset/{RELEASE}-kafka-broker")


def test_a_restarted_minio_keeps_the_checkpoints_and_the_stream_goes_on(cluster: None) -> None:
    _restart_and_go_on("app.kubernetes.io/component=minio", f"deployment/{RELEASE}-minio")
