"""A Prometheus configuration from ServiceMonitor and PrometheusRule objects, translated the way
the Prometheus Operator translates them (pkg/prometheus/promcfg.go at PROMETHEUS_OPERATOR_VERSION).

Why: the operator does not build with `go install` here (its go.mod has replace directives),
so the local cluster runs Debian's Prometheus beside the node instead (k8s/cluster/prometheus.sh)
and this module plays the operator's part. Its input is the objects the real API server admitted,
so a scrape target that comes up proves the chart's ServiceMonitor selects the right Service and
port. Only the fields dtmon's chart uses are translated; any other field is refused rather than
silently ignored, so this stand-in can never scrape what the operator would not.

    kubectl get servicemonitors,prometheusrules -A -o json \
      | python3 servicemonitor_scrape.py --kubeconfig KUBECONFIG --rules-dir DIR >prometheus.yml

The configuration is written as JSON, which Prometheus reads as YAML. Stdlib only: it runs with
the host's python3 like the other cluster scripts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

# The operator's defaults for a Prometheus resource that sets none (scrape and evaluation).
DEFAULT_INTERVAL = "30s"
# What is translated; anything else in a ServiceMonitor is refused.
MONITOR_FIELDS = {"selector", "namespaceSelector", "endpoints", "targetLabels", "jobLabel"}
ENDPOINT_FIELDS = {
    "port",
    "path",
    "interval",
    "scrapeTimeout",
    "scheme",
    "honorLabels",
    "relabelings",
}
RELABEL_FIELDS = {
    "sourceLabels": "source_labels",
    "separator": "separator",
    "targetLabel": "target_label",
    "regex": "regex",
    "modulus": "modulus",
    "replacement": "replacement",
    "action": "action",
}

Obj = dict[str, Any]


def sanitize_label_name(name: str) -> str:
    """A label key as a meta-label suffix: app.kubernetes.io/name -> app_kubernetes_io_name."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _refuse_unknown(kind: str, given: Obj, known: set[str]) -> None:
    extra = sorted(set(given) - known)
    if extra:
        raise ValueError(f"{kind}: {', '.join(extra)} not translated by this stand-in")


def relabel_config(rc: Obj) -> Obj:
    """A RelabelConfig of the CRD (camelCase) as Prometheus' relabel_config (snake_case)."""
    _refuse_unknown("relabeling", rc, set(RELABEL_FIELDS))
    out = {RELABEL_FIELDS[k]: v for k, v in rc.items()}
    if "action" in out:
        out["action"] = out["action"].lower()
    return out


def _selector_relabelings(selector: Obj) -> list[Obj]:
    """Keep only the endpoints of Services the selector matches (the operator's default
    "Relabel" selector mechanism)."""
    _refuse_unknown("selector", selector, {"matchLabels", "matchExpressions"})
    out: list[Obj] = []
    for key in sorted(selector.get("matchLabels", {})):
        s = sanitize_label_name(key)
        out.append(
            {
                "action": "keep",
                "source_labels": [
                    f"__meta_kubernetes_service_label_{s}",
                    f"__meta_kubernetes_service_labelpresent_{s}",
                ],
                "regex": f"({selector['matchLabels'][key]});true",
            }
        )
    for exp in selector.get("matchExpressions", []):
        s = sanitize_label_name(exp["key"])
        value = [
            f"__meta_kubernetes_service_label_{s}",
            f"__meta_kubernetes_service_labelpresent_{s}",
        ]
        present = [f"__meta_kubernetes_service_labelpresent_{s}"]
        values = "|".join(exp.get("values", []))
        rule = {
            "In": {"action": "keep", "source_labels": value, "regex": f"({values});true"},
            "NotIn": {"action": "drop", "source_labels": value, "regex": f"({values});true"},
            "Exists": {"action": "keep", "source_labels": present, "regex": "true"},
            "DoesNotExist": {"action": "drop", "source_labels": present, "regex": "true"},
        }[exp["operator"]]
        out.append(rule)
    return out


def _namespaces(monitor: Obj) -> Obj | None:
    """kubernetes_sd_configs' namespaces: the selector's names, all, or the monitor's own."""
    sel = monitor["spec"].get("namespaceSelector", {})
    _refuse_unknown("namespaceSelector", sel, {"any", "matchNames"})
    if sel.get("any"):
        return None
    return {"names": sel.get("matchNames") or [monitor["metadata"]["namespace"]]}


def scrape_configs(monitor: Obj, kubeconfig: str) -> list[Obj]:
    """One scrape job per endpoint of a ServiceMonitor, named as the operator names it."""
    spec = monitor["spec"]
    _refuse_unknown(f"ServiceMonitor {monitor['metadata']['name']}", spec, MONITOR_FIELDS)
    ns, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
    sd: Obj = {"role": "endpoints", "kubeconfig_file": kubeconfig}
    namespaces = _namespaces(monitor)
    if namespaces is not None:
        sd["namespaces"] = namespaces
    target = [
        "__meta_kubernetes_endpoint_address_target_kind",
        "__meta_kubernetes_endpoint_address_target_name",
    ]
    jobs = []
    for i, ep in enumerate(spec["endpoints"]):
        _refuse_unknown(f"ServiceMonitor {name} endpoint {i}", ep, ENDPOINT_FIELDS)
        if "port" not in ep:
            raise ValueError(f"ServiceMonitor {name} endpoint {i}: only named ports are translated")
        job: Obj = {"job_name": f"serviceMonitor/{ns}/{name}/{i}"}
        job["honor_labels"] = bool(ep.get("honorLabels", False))
        job["kubernetes_sd_configs"] = [sd]
        job["scrape_interval"] = ep.get("interval", DEFAULT_INTERVAL)
        if "scrapeTimeout" in ep:
            job["scrape_timeout"] = ep["scrapeTimeout"]
        job["metrics_path"] = ep.get("path", "/metrics")
        job["scheme"] = ep.get("scheme", "http")
        relabel: list[Obj] = [
            {"source_labels": ["job"], "target_label": "__tmp_prometheus_job_name"}
        ]
        relabel += _selector_relabelings(spec["selector"])
        relabel += [
            {
                "action": "keep",
                "source_labels": ["__meta_kubernetes_endpoint_port_name"],
                "regex": ep["port"],
            },
            {"source_labels": target, "separator": ";", "regex": "Node;(.*)"}
            | {"replacement": "${1}", "target_label": "node"},
            {"source_labels": target, "separator": ";", "regex": "Pod;(.*)"}
            | {"replacement": "${1}", "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {
                "source_labels": ["__meta_kubernetes_pod_container_name"],
                "target_label": "container",
            },
            # filterRunning (default true): completed pods are not scraped.
            {
                "action": "drop",
                "source_labels": ["__meta_kubernetes_pod_phase"],
                "regex": "(Failed|Succeeded)",
            },
        ]
        for label in spec.get("targetLabels", []):
            s = sanitize_label_name(label)
            relabel.append(
                {
                    "source_labels": [f"__meta_kubernetes_service_label_{s}"],
                    "target_label": s,
                    "regex": "(.+)",
                    "replacement": "${1}",
                }
            )
        relabel.append(
            {
                "source_labels": ["__meta_kubernetes_service_name"],
                "target_label": "job",
                "replacement": "${1}",
            }
        )
        if spec.get("jobLabel"):
            relabel.append(
                {
                    "source_labels": [
                        f"__meta_kubernetes_service_label_{sanitize_label_name(spec['jobLabel'])}"
                    ],
                    "target_label": "job",
                    "regex": "(.+)",
                    "replacement": "${1}",
                }
            )
        relabel.append({"target_label": "endpoint", "replacement": ep["port"]})
        relabel += [relabel_config(rc) for rc in ep.get("relabelings", [])]
        # The operator's sharding rules follow; with one shard they keep every target.
        job["relabel_configs"] = relabel
        jobs.append(job)
    return jobs


def rule_file(rule: Obj) -> tuple[str, Obj]:
    """A PrometheusRule as the rule file the operator mounts: its spec is one already."""
    meta = rule["metadata"]
    _refuse_unknown(f"PrometheusRule {meta['name']}", rule["spec"], {"groups"})
    return f"{meta['namespace']}-{meta['name']}.json", {"groups": rule["spec"]["groups"]}


def _ns_name(obj: Obj) -> tuple[str, str]:
    return obj["metadata"]["namespace"], obj["metadata"]["name"]


def prometheus_config(objects: list[Obj], kubeconfig: str, rules_dir: Path) -> tuple[Obj, dict]:
    """The whole configuration, and the rule files (name -> content) it reads from rules_dir."""
    monitors = [o for o in objects if o["kind"] == "ServiceMonitor"]
    rules = dict(rule_file(o) for o in objects if o["kind"] == "PrometheusRule")
    config: Obj = {
        "global": {
            "scrape_interval": DEFAULT_INTERVAL,
            "evaluation_interval": DEFAULT_INTERVAL,
        },
        "rule_files": [str(rules_dir / name) for name in sorted(rules)],
        "scrape_configs": [
            job for m in sorted(monitors, key=_ns_name) for job in scrape_configs(m, kubeconfig)
        ],
    }
    return config, rules


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True, help="for Kubernetes service discovery")
    parser.add_argument("--rules-dir", type=Path, required=True, help="where rule files go")
    args = parser.parse_args(argv)
    objects = json.load(sys.stdin)["items"]
    config, rules = prometheus_config(objects, args.kubeconfig, args.rules_dir.resolve())
    args.rules_dir.mkdir(parents=True, exist_ok=True)
    for name, content in rules.items():
        (args.rules_dir / name).write_text(json.dumps(content, indent=1))
    json.dump(config, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
