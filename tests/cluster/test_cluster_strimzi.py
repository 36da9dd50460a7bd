"""The chart's Strimzi resources against Strimzi's real CRDs (generated from Maven Central's
io.strimzi artifacts at STRIMZI_VERSION) on the real API server. `helm install
--dry-run=server` sends nothing to the server, so the rendered objects go through a
server-side dry-run apply: CRD schema validation and admission, nothing stored."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from .kube import NAMESPACE, ROOT, helm, kubectl

pytestmark = pytest.mark.timeout(1800)

KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}


def _strimzi_docs() -> list[dict[str, Any]]:
    chart = str(ROOT / "helm" / "dtmon")
    rendered = helm("template", "dtmon", chart, "-n", NAMESPACE, "--set", "kafka.mode=strimzi")
    return [d for d in yaml.safe_load_all(rendered.stdout) if d and d.get("kind") in KINDS]


def _server_dry_run(docs: list[dict[str, Any]], check: bool = True):
    return kubectl(
        "apply",
        "--dry-run=server",
        "--server-side",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(docs),
        check=check,
    )


def test_the_charts_kafka_resources_are_accepted(cluster: None) -> None:
    docs = _strimzi_docs()
    assert {d["kind"] for d in docs} == KINDS
    proc = _server_dry_run(docs)
    for doc in docs:
        name = doc["metadata"]["name"]
        assert f"{name} serverside-applied (server dry run)" in proc.stdout, proc.stdout


def test_a_resource_the_crd_forbids_is_refused(cluster: None) -> None:
    pool = next(d for d in _strimzi_docs() if d["kind"] == "KafkaNodePool")
    pool["spec"]["roles"] = ["gateway"]
    proc = _server_dry_run([pool], check=False)
    assert proc.returncode != 0
    assert "spec.roles" in proc.stderr and "gateway" in proc.stderr, proc.stderr
