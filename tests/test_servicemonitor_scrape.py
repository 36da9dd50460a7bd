"""k8s/cluster/servicemonitor_scrape.py, offline: the chart's rendered ServiceMonitors become
the scrape jobs the Prometheus Operator would generate, and their keep/drop relabelings,
evaluated here on the chart's rendered Services, select exactly the Service and port each
endpoint names. The cluster test (tests/cluster/test_cluster_metrics.py) then proves the same
against the real API server and a real Prometheus."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import chart_support as cs

_PATH = cs.ROOT / "k8s" / "cluster" / "servicemonitor_scrape.py"
_spec = importlib.util.spec_from_file_location("servicemonitor_scrape", _PATH)
assert _spec and _spec.loader
sms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sms)

KUBECONFIG = "/state/kubeconfig"


def _rendered() -> list[dict[str, Any]]:
    out = cs.helm_template(
        "-f",
        str(cs.ROOT / "k8s" / "cluster" / "values.yaml"),
        "--api-versions",
        "monitoring.coreos.com/v1",
    )
    return cs.load_docs(out.stdout)


def _meta_labels(service: dict[str, Any], port: str) -> dict[str, str]:
    """What role=endpoints discovery knows of one port of a Service's endpoints."""
    labels = {"__meta_kubernetes_endpoint_port_name": port}
    for key, value in service["metadata"].get("labels", {}).items():
        s = sms.sanitize_label_name(key)
        labels[f"__meta_kubernetes_service_label_{s}"] = value
        labels[f"__meta_kubernetes_service_labelpresent_{s}"] = "true"
    return labels


def _kept(job: dict[str, Any], labels: dict[str, str]) -> bool:
    """Prometheus' keep and drop actions (full-match regex on the joined source labels)."""
    for rc in job["relabel_configs"]:
        if rc.get("action") not in ("keep", "drop"):
            continue
        value = rc.get("separator", ";").join(labels.get(s, "") for s in rc["source_labels"])
        matched = re.fullmatch(rc.get("regex", "(.*)"), value) is not None
        if matched != (rc["action"] == "keep"):
            return False
    return True


def test_each_endpoint_selects_exactly_its_service_and_port() -> None:
    docs = _rendered()
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    services = [d for d in docs if d["kind"] == "Service"]
    assert {m["metadata"]["name"] for m in monitors} == {
        "dtmon-producer",
        "dtmon-processor",
        "dtmon-api",
    }
    for monitor in monitors:
        jobs = sms.scrape_configs(monitor, KUBECONFIG)
        assert len(jobs) == len(monitor["spec"]["endpoints"])
        for job, ep in zip(jobs, monitor["spec"]["endpoints"], strict=True):
            selected = [
                (svc["metadata"]["name"], port["name"])
                for svc in services
                for port in svc["spec"]["ports"]
                if _kept(job, _meta_labels(svc, port["name"]))
            ]
            assert len(selected) == 1 and selected[0][1] == ep["port"], (job["job_name"], selected)
            assert job["metrics_path"] == ep["path"]
            assert job["scrape_interval"] == ep["interval"] == "5s"


def test_jobs_carry_the_operators_names_and_target_labels() -> None:
    monitor = next(d for d in _rendered() if d["kind"] == "ServiceMonitor")
    job = sms.scrape_configs(monitor, KUBECONFIG)[0]
    name = monitor["metadata"]["name"]
    assert job["job_name"] == f"serviceMonitor/dtmon/{name}/0"
    assert job["kubernetes_sd_configs"] == [
        {"role": "endpoints", "kubeconfig_file": KUBECONFIG, "namespaces": {"names": ["dtmon"]}}
    ]
    targets = {rc.get("target_label") for rc in job["relabel_configs"]}
    # The dashboard's queries select on namespace; the operator also sets these.
    assert {"namespace", "service", "pod", "container", "job", "endpoint"} <= targets
    # The chart's own relabeling comes last, camelCase turned into Prometheus' snake_case.
    assert job["relabel_configs"][-1] == {
        "source_labels": ["__metrics_path__"],
        "target_label": "metrics_path",
        "action": "replace",
    }


def test_the_prometheusrule_becomes_a_rule_file(tmp_path: Path) -> None:
    objects = [d for d in _rendered() if d["kind"] in ("ServiceMonitor", "PrometheusRule")]
    proc = subprocess.run(
        [sys.executable, str(_PATH), "--kubeconfig", KUBECONFIG, "--rules-dir", str(tmp_path)],
        input=json.dumps({"items": objects}),
        capture_output=True,
        text=True,
        check=True,
    )
    config = json.loads(proc.stdout)
    assert len(config["scrape_configs"]) == 5
    (rule_file,) = config["rule_files"]
    rules = json.loads(Path(rule_file).read_text())
    rule = next(d for d in objects if d["kind"] == "PrometheusRule")
    assert rules == {"groups": rule["spec"]["groups"]}
    # promtool, from Debian's prometheus package, parses the rule file.
    check = subprocess.run(
        ["promtool", "check", "rules", rule_file], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize(
    "field",
    [
        {"spec": {"sampleLimit": 10}},
        {"endpoint": {"tlsConfig": {"insecureSkipVerify": True}}},
        {"endpoint": {"targetPort": 8000}},
    ],
    ids=["monitor", "endpoint", "unnamed-port"],
)
def test_what_is_not_translated_is_refused(field: dict[str, Any]) -> None:
    monitor = next(d for d in _rendered() if d["kind"] == "ServiceMonitor")
    monitor["spec"].update(field.get("spec", {}))
    monitor["spec"]["endpoints"][0].update(field.get("endpoint", {}))
    if "targetPort" in field.get("endpoint", {}):
        del monitor["spec"]["endpoints"][0]["port"]
    with pytest.raises(ValueError):
        sms.scrape_configs(monitor, KUBECONFIG)
