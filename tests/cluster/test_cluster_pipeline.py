"""The pipeline on the real cluster, as a user meets it after `make deploy`: `helm test`
passes, Spark's driver runs its batches on executor pods, checkpoints live in MinIO, the
dashboard answers through `kubectl port-forward`, and every batch the API serves equals the
minidt reference on exactly that batch's records."""

from __future__ import annotations

import base64
import json
import time

import httpx
import pytest
from minio import Minio

from devstack import chromium

from .kube import NAMESPACE, RELEASE, ROOT, helm, kubectl, on_node, port_forward

pytestmark = pytest.mark.timeout(1800)

ARTIFACTS = ROOT / "artifacts"
CHECKPOINT_BUCKET = "dtmon-checkpoints"
CHECKPOINT_PREFIX = f"{RELEASE}/processor"


def _secret(name: str) -> dict[str, str]:
    secret = kubectl("-n", NAMESPACE, "get", "secret", name, "-o", "json")
    return {k: base64.b64decode(v).decode() for k, v in json.loads(secret.stdout)["data"].items()}


def _s3_credentials() -> dict[str, str]:
    return _secret(f"{RELEASE}-s3")


def test_helm_test_passes(cluster: None) -> None:
    proc = helm("test", RELEASE, "-n", NAMESPACE, "--timeout", "10m")
    assert "Succeeded" in proc.stdout, proc.stdout


def test_the_driver_runs_batches_on_two_executor_pods(cluster: None) -> None:
    pods = kubectl("-n", NAMESPACE, "get", "pods", "-l", "spark-role=executor", "-o", "json")
    running = [p for p in json.loads(pods.stdout)["items"] if p["status"]["phase"] == "Running"]
    assert len(running) >= 2, pods.stdout[-2000:]
    with port_forward(f"svc/{RELEASE}-processor-driver", 4040) as port:
        base = f"http://127.0.0.1:{port}/api/v1/applications"
        app = httpx.get(base, timeout=10).json()[0]["id"]
        executors = httpx.get(f"{base}/{app}/executors", timeout=10).json()
    workers = [e for e in executors if e["id"] != "driver" and e["isActive"]]
    assert len(workers) >= 2, executors
    # Every registered executor has run tasks of the micro-batches.
    assert all(e["totalTasks"] > 0 for e in workers), workers


def test_checkpoints_are_written_to_minio_over_s3a(cluster: None) -> None:
    creds = _s3_credentials()
    with port_forward(f"svc/{RELEASE}-minio", 9000) as port:
        client = Minio(
            f"127.0.0.1:{port}",
            access_key=creds["AWS_ACCESS_KEY_ID"],
            secret_key=creds["AWS_SECRET_ACCESS_KEY"],
            secure=False,
        )
        objects = client.list_objects(
            CHECKPOINT_BUCKET, prefix=f"{CHECKPOINT_PREFIX}/", recursive=True
        )
        names = [o.object_name for o in objects]
    assert any("/offsets/" in n for n in names), names[:50]
    assert any("/commits/" in n for n in names), names[:50]


def _stop_the_producer_and_wait_for_the_flush(timeout: float = 300) -> None:
    """No new records; after its event timeout the processor closes every open orbit, and
    the newest batch, unchanged for a while, carries nothing out."""
    kubectl("-n", NAMESPACE, "scale", f"deployment/{RELEASE}-producer", "--replicas=0")
    api = f"/api/v1/namespaces/{NAMESPACE}/services/{RELEASE}-api:8000/proxy/api/v1/batches"
    deadline = time.monotonic() + timeout
    seen: tuple[int, int] | None = None
    while time.monotonic() < deadline:
        last = json.loads(kubectl("get", "--raw", f"{api}?limit=1").stdout)[-1]
        now = (last["batch_id"], last["events"]["carried_out_hits"])
        if now == seen and now[1] == 0:
            return
        seen = now
        time.sleep(8)
    raise AssertionError(f"the processor did not flush its open orbits within {timeout} s")


def test_the_batches_account_for_every_record_read(cluster: None) -> None:
    _stop_the_producer_and_wait_for_the_flush()
    creds = _s3_credentials()
    kafka_password = _secret(f"{RELEASE}-processor")["password"]
    proc = on_node(
        "env",
        f"AWS_ACCESS_KEY_ID={creds['AWS_ACCESS_KEY_ID']}",
        f"AWS_SECRET_ACCESS_KEY={creds['AWS_SECRET_ACCESS_KEY']}",
        f"KAFKA_PASSWORD={kafka_password}",
        str(ROOT / ".venv" / "bin" / "python"),
        "-m",
        "tests.cluster.verify_batches",
        "--api",
        f"http://{RELEASE}-api:8000",
        "--s3-endpoint",
        f"http://{RELEASE}-minio:9000",
        "--bucket",
        CHECKPOINT_BUCKET,
        "--prefix",
        CHECKPOINT_PREFIX,
        "--bootstrap",
        f"{RELEASE}-kafka-kafka-bootstrap:9092",
        "--kafka-username",
        f"{RELEASE}-processor",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["batches"] >= 3 and summary["hits"] == summary["reference_hits"] > 0, summary


def test_the_dashboard_over_port_forward(cluster: None) -> None:
    from playwright.sync_api import expect, sync_playwright

    shot = ARTIFACTS / "cluster-dashboard.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with port_forward(f"svc/{RELEASE}-api", 8000) as port:
        url = f"http://127.0.0.1:{port}"
        batches = httpx.get(f"{url}/api/v1/batches", params={"limit": 50}, timeout=10).json()
        assert sum(b["hits"] for b in batches) > 0, batches[-1:]
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
        with sync_playwright() as pw:
            browser = chromium.launch(pw)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(url)
                expect(page.locator("#conn")).to_have_text("live", timeout=30_000)
                page.click("[data-view=cumulative]")
                for chamber in range(4):
                    expect(page.locator(f"#ch{chamber}-hits")).not_to_have_text(
                        "0 hits", timeout=30_000
                    )
                page.screenshot(path=str(shot), full_page=True)
            finally:
                browser.close()
