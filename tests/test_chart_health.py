"""The chart's detector-health settings: api.reference passes the reference location, the S3
endpoint and credentials to dtmon-api and opens its egress to S3; unset, none of it."""

from __future__ import annotations

from typing import Any

from tests import chart_support as cs

REF = "s3://dtmon-data/reference/run1.json"


def _api_env(docs: list[dict[str, Any]]) -> dict[str, Any]:
    dep = next(
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "dtmon-api"
    )
    return {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}


def _s3_clients(docs: list[dict[str, Any]]) -> list[str]:
    pol = next(d for d in docs if d["metadata"]["name"] == "dtmon-s3-clients")
    return pol["spec"]["podSelector"]["matchExpressions"][0]["values"]


def test_reference_wires_env_credentials_and_egress() -> None:
    docs = cs.load_docs(cs.helm_template("--set", f"api.reference={REF}").stdout)
    env = _api_env(docs)
    assert env["DTMON_REFERENCE"]["value"] == REF
    assert env["DTMON_REFERENCE_S3_ENDPOINT"]["value"] == "http://dtmon-minio.dtmon.svc:9000"
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "dtmon-s3"
    assert "api" in _s3_clients(docs)


def test_no_reference_no_s3_for_the_api() -> None:
    docs = cs.load_docs(cs.helm_template().stdout)
    env = _api_env(docs)
    assert "DTMON_REFERENCE" not in env and "AWS_ACCESS_KEY_ID" not in env
    assert "api" not in _s3_clients(docs)


def test_reference_must_be_an_s3_location() -> None:
    proc = cs.helm_template("--set", "api.reference=/data/ref.json", check=False)
    assert proc.returncode != 0 and "/api/reference" in proc.stderr
