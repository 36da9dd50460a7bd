"""/api/v1/health end to end through the real broker and uvicorn: the report, its OpenAPI
documentation, the dtmon_api_dqm_* metrics, and a reference saved by `dtmon-reference`
(the real console script) and loaded by a second API with --reference."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

from dtmon_api.health.options import HealthSettings
from dtmon_producer.sim.faults import Faults
from services.api.tests.health_helpers import PERIOD_MS, messages, simulator

VENV_BIN = Path(sys.executable).parent
N = 200  # cumulative drift times enough for the fit at the quarter-width trigger rate


def test_health_metrics_openapi_and_reference_round_trip(
    api_settings, results_topic, publish, serve_api, wait_until, tmp_path: Path
) -> None:
    base = int(time.time() * 1000) - N * PERIOD_MS
    run = simulator(8, faults=Faults(noisy=((1, 70),)))
    publish(results_topic, messages(run, N, query_id="q-health", base_ms=base))
    settings = dataclasses.replace(api_settings, window_seconds=60.0, history=250)
    ref_path = tmp_path / "reference.json"
    with serve_api(settings) as api:
        wait_until(
            lambda: api.get("/api/v1/health").json()["last_batch_id"] == N - 1,
            what=f"batch {N - 1}",
        )
        report = api.get("/api/v1/health").json()
        assert report["basis"] == "chamber_median" and report["reference"] is None
        assert report["window_batches"] == 42  # 60 s of 1.46 s batches, ending at the newest
        ch1 = report["chambers"][1]
        assert {"channel": 70, "flags": ["noisy"]}.items() <= next(
            f for f in ch1["flagged"] if f["channel"] == 70
        ).items()
        assert ch1["status"] == "yellow" and any("noisy: " in r for r in ch1["reasons"])
        assert ch1["cells"]["flags"][70 - 64] == ["noisy"]
        assert all(ch["fit_cumulative"]["converged"] for ch in report["chambers"])
        assert len(report["trend"]) == 1

        spec = api.get("/openapi.json").json()
        op = spec["paths"]["/api/v1/health"]["get"]
        assert op["tags"] == ["detector health"] and "bursting" in op["description"]
        ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/HealthReport")
        assert {"ChamberHealth", "CellMap", "TimeBoxFitOut"} <= set(spec["components"]["schemas"])
        assert "/api/v1/health/snapshot" in spec["paths"]

        metrics = api.get("/metrics").text
        assert 'dtmon_api_dqm_channel_flag{chamber="1",channel="70",flag="noisy"} 1.0' in metrics
        assert 'dtmon_api_dqm_chamber_status{chamber="1"} 1.0' in metrics
        assert 'dtmon_api_dqm_flagged_channels{chamber="1",flag="noisy"}' in metrics
        assert "dtmon_api_dqm_reference_loaded 0.0" in metrics
        assert api.get("/api/v1/health/reference").status_code == 404

        proc = subprocess.run(
            [str(VENV_BIN / "dtmon-reference"), "--api-url", api.url, "--output", str(ref_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert f"wrote {ref_path}: {N} batches" in proc.stdout

    with_ref = dataclasses.replace(settings, health=HealthSettings(reference=str(ref_path)))
    with serve_api(with_ref) as api:
        wait_until(
            lambda: api.get("/api/v1/health").json()["last_batch_id"] == N - 1,
            what=f"batch {N - 1}",
        )
        report = api.get("/api/v1/health").json()
        assert report["basis"] == "reference"
        assert report["reference"]["batches"] == N and report["reference"]["query_id"] == "q-health"
        # Compared with a reference that has the same noisy channel, nothing is flagged.
        assert report["status"] == "green", [c["reasons"] for c in report["chambers"]]
        assert api.get("/api/v1/health/reference").json()["batches"] == N
        assert "dtmon_api_dqm_reference_loaded 1.0" in api.get("/metrics").text


def test_dtmon_api_refuses_to_start_with_an_unreadable_reference(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(VENV_BIN / "dtmon-api"), "--reference", str(tmp_path / "nope.json"), "--port", "0"],
        env={**os.environ, "DTMON_SIGNING_KEYS": "k1:" + "1" * 64},  # past the key check
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "nope.json: cannot read the reference" in proc.stderr
