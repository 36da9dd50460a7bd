"""A reference run saved to and loaded from S3 (a real MinIO server): the same document comes
back, dtmon-api loads it at start, and a wrong key or bucket fails with one line naming it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from dtmon_api.health.options import HealthSettings
from dtmon_api.health.reference import ReferenceError, read_reference, write_reference
from dtmon_api.health.service import HealthService
from services.api.tests.health_helpers import fill_store, messages, new_store, simulator


def test_reference_round_trip_through_minio(minio_server, monkeypatch, tmp_path: Path) -> None:
    for key, value in minio_server.env().items():
        monkeypatch.setenv(key, value)
    bucket = f"ref-{uuid.uuid4().hex[:10]}"
    minio_server.client().make_bucket(bucket)
    store = fill_store(new_store(), messages(simulator(3), 12, query_id="q-s3"))
    snap = HealthService(store, HealthSettings(), 10).snapshot()
    assert snap is not None
    location = f"s3://{bucket}/references/run.json"
    write_reference(snap, location, minio_server.url)
    assert read_reference(location, minio_server.url) == snap

    loaded = HealthService(
        new_store(), HealthSettings(reference=location, reference_s3_endpoint=minio_server.url), 10
    )
    assert loaded.reference == snap
    assert loaded.report().basis == "reference"

    with pytest.raises(ReferenceError, match=f"s3://{bucket}/missing.json: cannot read"):
        read_reference(f"s3://{bucket}/missing.json", minio_server.url)
    with pytest.raises(ReferenceError, match="expected s3://bucket/key"):
        read_reference(f"s3://{bucket}", minio_server.url)

    # The console script writes to S3 as well (credentials from the environment).
    exe = Path(sys.executable).parent / "dtmon-reference"
    proc = subprocess.run(
        [str(exe), "--api-url", "http://127.0.0.1:9", "--output", location],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "cannot reach http://127.0.0.1:9" in proc.stderr
