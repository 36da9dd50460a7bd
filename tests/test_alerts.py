"""The chart's PrometheusRule, as rendered, checked by Prometheus's own promtool: `promtool
check rules` (syntax, PromQL) and `promtool test rules` on synthetic series, one scenario per
alert with a firing and a quiet case. promtool comes from Debian's `prometheus` package
(`make system-deps`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests import chart_support as cs

MONITORING = ("--api-versions", "monitoring.coreos.com/v1")
NS = 'namespace="dtmon"'


def _promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: run `make system-deps` (Debian's prometheus package)"
    return path


def _rules(*args: str) -> list[dict[str, Any]]:
    docs = cs.load_docs(cs.helm_template(*MONITORING, *args).stdout)
    return [d for d in docs if d["kind"] == "PrometheusRule"]


def _annotations(groups: list[dict[str, Any]], alert: str, **values: str) -> dict[str, str]:
    """The rule's annotations with {{ $labels.x }} / {{ $value ... }} filled in as Prometheus
    would for the given values (a check that the templates reference real labels)."""
    rule = next(r for g in groups for r in g["rules"] if r.get("alert") == alert)
    out = {}
    for key, text in rule["annotations"].items():
        text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: values[m.group(1)], text)
        text = re.sub(r"\{\{ \$value[^}]*\}\}", values.get("value", ""), text)
        out[key] = text
    return out


def _alert(groups, alert: str, severity: str, **labels: str) -> dict[str, Any]:
    value = labels.pop("value")
    return {
        "exp_labels": {"severity": severity, "namespace": "dtmon", **labels},
        "exp_annotations": _annotations(groups, alert, value=value, **labels),
    }


def _tests(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def case(series: dict[str, str], evals: list[tuple[str, str, list[dict[str, Any]]]]):
        return {
            "interval": "1m",
            "input_series": [{"series": s, "values": v} for s, v in series.items()],
            "alert_rule_test": [
                {"eval_time": t, "alertname": name, "exp_alerts": exp} for t, name, exp in evals
            ],
        }

    flag = "dtmon_api_dqm_flagged_channels"
    return [
        case(
            {
                f'{flag}{{{NS},chamber="0",flag="dead"}}': "0 0 1x15",
                f'{flag}{{{NS},chamber="1",flag="dead"}}': "0x17",
                f'{flag}{{namespace="other",chamber="2",flag="dead"}}': "3x17",
            },
            [
                ("5m", "DtmonDeadChannels", []),  # flagged for 3 of the 5 minutes
                (
                    "10m",
                    "DtmonDeadChannels",
                    [_alert(groups, "DtmonDeadChannels", "warning", chamber="0", value="1")],
                ),
            ],
        ),
        case(
            {
                f'{flag}{{{NS},chamber="3",flag="bursting"}}': "0 2x15",
                f'{flag}{{{NS},chamber="3",flag="noisy"}}': "0x16",
            },
            [
                (
                    "8m",
                    "DtmonNoisyChannels",
                    [
                        _alert(
                            groups,
                            "DtmonNoisyChannels",
                            "warning",
                            chamber="3",
                            flag="bursting",
                            value="2",
                        )
                    ],
                ),
            ],
        ),
        case(
            {
                f'dtmon_api_dqm_chamber_status{{{NS},chamber="2"}}': "1 1 2x10",
                f'dtmon_api_dqm_chamber_status{{{NS},chamber="1"}}': "1x12",
            },
            [
                ("3m", "DtmonChamberRed", []),
                (
                    "6m",
                    "DtmonChamberRed",
                    [_alert(groups, "DtmonChamberRed", "critical", chamber="2", value="2")],
                ),
            ],
        ),
        case(
            {f"dtmon_api_dqm_trigger_rate_hz{{{NS}}}": "10x80 2x30"},
            [
                ("70m", "DtmonTriggerRateDropped", []),
                ("85m", "DtmonTriggerRateDropped", []),  # dropped, but not for 10 minutes yet
                (
                    "95m",
                    "DtmonTriggerRateDropped",
                    [_alert(groups, "DtmonTriggerRateDropped", "warning", value="2")],
                ),
            ],
        ),
        case(
            {
                f'dtmon_api_dqm_chamber_hit_rate_hz{{{NS},chamber="1"}}': "100x80 300x30",
                f'dtmon_api_dqm_chamber_hit_rate_hz{{{NS},chamber="2"}}': "100x80 130x30",
                f'dtmon_api_dqm_chamber_hit_rate_hz{{{NS},chamber="3"}}': "100x80 40x30",
            },
            [
                ("75m", "DtmonChamberHitRateOutOfBand", []),
                (
                    "95m",  # baseline [20m, 80m]: before the change at 81m
                    "DtmonChamberHitRateOutOfBand",
                    [
                        _alert(
                            groups,
                            "DtmonChamberHitRateOutOfBand",
                            "warning",
                            chamber="1",
                            value="3",
                        ),
                        _alert(
                            groups,
                            "DtmonChamberHitRateOutOfBand",
                            "warning",
                            chamber="3",
                            value="400m",
                        ),
                    ],
                ),
            ],
        ),
        case(
            {f"dtmon_processor_consumer_lag_records{{{NS}}}": "0x5 200000x10"},
            [
                ("8m", "DtmonPipelineLag", []),
                (
                    "12m",
                    "DtmonPipelineLag",
                    [_alert(groups, "DtmonPipelineLag", "warning", value="200k")],
                ),
            ],
        ),
        case(
            {f"dtmon_api_last_batch_age_seconds{{{NS}}}": "1x5 120x10"},
            [
                ("6m", "DtmonBatchesStale", []),
                (
                    "10m",
                    "DtmonBatchesStale",
                    [_alert(groups, "DtmonBatchesStale", "critical", value="2m 0s")],
                ),
            ],
        ),
    ]


def test_prometheus_rule_passes_promtool_check_and_unit_tests(tmp_path: Path) -> None:
    (rule,) = _rules()
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == cs.NAMESPACE
    groups = rule["spec"]["groups"]
    alerts = {r["alert"] for g in groups for r in g["rules"]}
    assert alerts == {
        "DtmonDeadChannels",
        "DtmonNoisyChannels",
        "DtmonChamberRed",
        "DtmonTriggerRateDropped",
        "DtmonChamberHitRateOutOfBand",
        "DtmonPipelineLag",
        "DtmonBatchesStale",
    }
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    check = subprocess.run(
        [_promtool(), "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 7 rules found" in check.stdout

    tests = tmp_path / "tests.yaml"
    tests.write_text(
        yaml.safe_dump(
            {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": _tests(groups)},
            sort_keys=False,
        )
    )
    run = subprocess.run(
        [_promtool(), "test", "rules", str(tests)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_rule_values_and_switches() -> None:
    (rule,) = _rules(
        "--set",
        "monitoring.alerts.pipelineLagRecords=5000",
        "--set",
        "monitoring.alerts.labels.release=kps",
    )
    assert rule["metadata"]["labels"]["release"] == "kps"
    lag = next(
        r for g in rule["spec"]["groups"] for r in g["rules"] if r["alert"] == "DtmonPipelineLag"
    )
    assert lag["expr"].endswith("> 5000")
    assert _rules("--set", "monitoring.alerts.enabled=false") == []
    docs = cs.load_docs(cs.helm_template().stdout)  # no Prometheus Operator: no rule
    assert not [d for d in docs if d["kind"] == "PrometheusRule"]


def test_alerts_query_metrics_the_services_declare() -> None:
    (rule,) = _rules()
    names = set(re.findall(r"\b(dtmon_[a-z0-9_]+)", yaml.safe_dump(rule["spec"])))
    assert names
    for name in sorted(names):
        service = name.split("_")[1]
        sources = "\n".join(
            p.read_text() for p in (cs.ROOT / "services" / service / "src").rglob("*.py")
        )
        short = name.removeprefix(f"dtmon_{service}_")
        assert f'"{name}"' in sources or f'"{short}"' in sources, f"{name} is declared nowhere"
