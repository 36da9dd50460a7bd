"""Losing pods on the real cluster loses nothing: the Spark driver pod deleted with no grace
comes back through its Deployment and resumes the same query from its s3a:// checkpoint with
no gap in batch ids, and an executor pod deleted mid-stream is replaced while batches go on.
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


def _batches() -> list[dict[str, Any]]:
    return json.loads(kubectl("get", "--raw", f"{API}?limit=1000").stdout)


def _pods(selector: str) -> list[dict[str, Any]]:
    out = kubectl("-n", NAMESPACE, "get", "pods", "-l", selector, "-o", "json").stdout
    return [p for p in json.loads(out)["items"] if not p["metadata"].get("deletionTimestamp")]


def _wait_for_batches_after(batch_id: int, more: int, timeout: float = 600) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batches = _batches()
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
