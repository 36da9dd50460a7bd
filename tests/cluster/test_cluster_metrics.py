"""Metrics for real: the chart's ServiceMonitors and PrometheusRule admitted by the API server
with the Prometheus Operator's CRDs (PROMETHEUS_OPERATOR_VERSION, installed by deploy.sh), and
a real Prometheus (Debian's, k8s/cluster/prometheus.sh) scraping what they select: the three
services and Spark's servlet, found through the chart's Services. Its configuration is
translated from the admitted objects as the operator would translate them, so a target that is
up proves the ServiceMonitor selects the right Service and port. Then every PromQL expression
of the Grafana dashboard returns data while the pipeline runs, and every alert rule evaluates."""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from .kube import NAMESPACE, RELEASE, ROOT, SCRIPTS, helm, kubectl, script

pytestmark = pytest.mark.timeout(1800)

PROMETHEUS = "http://10.200.0.1:9090"  # NODE_IP:PROM_PORT of k8s/cluster/lib.sh
DASHBOARD = ROOT / "helm" / "dtmon" / "dashboards" / "dtmon.json"
# The dashboard's template variables as a user picks them for this release.
VARIABLES = {"namespace": NAMESPACE, "datasource": "prometheus"}
# scrape pool -> (the Service it must find, the port name), from the chart's endpoints.
_SM = f"serviceMonitor/{NAMESPACE}/{RELEASE}"
_DRIVER = f"{RELEASE}-processor-driver"
POOLS = {
    f"{_SM}-producer/0": (f"{RELEASE}-producer", "metrics"),
    f"{_SM}-processor/0": (_DRIVER, "metrics"),
    f"{_SM}-processor/1": (_DRIVER, "spark-ui"),
    f"{_SM}-processor/2": (_DRIVER, "spark-ui"),
    f"{_SM}-api/0": (f"{RELEASE}-api", "http"),
}
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy


def _get(path: str, **params: str) -> Any:
    url = f"{PROMETHEUS}{path}?{urllib.parse.urlencode(params)}"
    with _DIRECT.open(url, timeout=30) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]


def _query(expr: str) -> list[dict[str, Any]]:
    return _get("/api/v1/query", query=expr)["result"]


def _eventually(check, timeout: float, what: str) -> Any:
    """Retry check() until it returns a truthy value; fail with its last complaint."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except AssertionError as exc:
            last = exc
        time.sleep(3)
    raise AssertionError(f"{what} after {timeout:.0f} s: {last}")


def _rendered(kind: str) -> list[dict[str, Any]]:
    """The chart's objects of one kind, as deploy.sh renders them on this cluster."""
    out = helm(
        "template",
        RELEASE,
        str(ROOT / "helm" / "dtmon"),
        "-n",
        NAMESPACE,
        "-f",
        str(SCRIPTS / "values.yaml"),
        "--api-versions",
        "monitoring.coreos.com/v1",
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d and d["kind"] == kind]


def _dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, PromQL with the template variables substituted) of every panel target."""
    out = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace("${" + name + "}", value).replace("$" + name, value)
            assert "$" not in expr, f"unsubstituted variable in {expr}"
            out.append((panel["title"], expr))
    return out


@pytest.fixture(scope="module")
def prometheus(cluster: None) -> Iterator[None]:
    """Debian's Prometheus on the node, configured from the admitted ServiceMonitors."""
    script("prometheus.sh", "start", timeout=180)
    try:
        yield
    finally:
        script("prometheus.sh", "stop", timeout=60)


@pytest.mark.parametrize("kind", ["ServiceMonitor", "PrometheusRule"])
def test_the_api_server_admits_the_monitoring_objects(cluster: None, kind: str) -> None:
    rendered = {d["metadata"]["name"]: d["spec"] for d in _rendered(kind)}
    assert rendered, f"the chart renders no {kind}"
    stored = json.loads(kubectl("-n", NAMESPACE, "get", kind.lower(), "-o", "json").stdout)
    assert {o["metadata"]["name"]: o["spec"] for o in stored["items"]} == rendered


def test_a_servicemonitor_the_crd_forbids_is_refused(cluster: None) -> None:
    monitor = _rendered("ServiceMonitor")[0]
    monitor["metadata"]["name"] += "-refused"  # a new object: no conflict with helm's fields
    monitor["spec"]["endpoints"][0]["interval"] = "every 5 seconds"
    proc = kubectl(
        *("apply", "--dry-run=server", "--server-side", "-f", "-"),
        stdin=json.dumps(monitor),
        check=False,
    )
    assert proc.returncode != 0
    assert "spec.endpoints[0].interval" in proc.stderr, proc.stderr


def test_every_servicemonitor_endpoint_scrapes_its_service(prometheus: None) -> None:
    def all_up() -> list[dict[str, Any]]:
        active = _get("/api/v1/targets", state="active")["activeTargets"]
        pools = {t["scrapePool"] for t in active}
        assert pools == set(POOLS), f"scrape pools {sorted(pools)}"
        down = [(t["scrapePool"], t["lastError"]) for t in active if t["health"] != "up"]
        assert not down, f"not up: {down}"
        return active

    active = _eventually(all_up, 120, "not every target up")
    for target in active:
        service, port = POOLS[target["scrapePool"]]
        labels = target["labels"]
        assert labels["service"] == service and labels["endpoint"] == port, labels
        assert labels["namespace"] == NAMESPACE and labels["pod"], labels
    # One `up` series per target: endpoints that share a port stay apart (metrics_path).
    up = _query(f'up{{namespace="{NAMESPACE}"}}')
    assert len(up) == len(active), [s["metric"] for s in up]
    assert all(s["value"][1] == "1" for s in up), up


@pytest.mark.parametrize("path", ["/metrics/prometheus", "/metrics/executors/prometheus"])
def test_sparks_servlet_is_scraped(prometheus: None, path: str) -> None:
    """Spark's own metrics (PrometheusServlet, driver and executors) through the spark-ui port."""
    expr = f'count({{namespace="{NAMESPACE}", metrics_path="{path}", __name__=~"metrics_.+"}})'
    series = _eventually(lambda: _query(expr), 120, f"no Spark series from {path}")
    assert float(series[0]["value"][1]) > 0


def test_every_dashboard_query_returns_data(prometheus: None) -> None:
    """What a Grafana user sees: every panel query, variables substituted, has a finite value."""
    exprs = _dashboard_exprs()
    assert len(exprs) >= 10

    def all_answer() -> bool:
        empty = []
        for title, expr in exprs:
            result = _query(expr)
            if not result or not all(math.isfinite(float(s["value"][1])) for s in result):
                empty.append(f"{title}: {expr} -> {result}")
        assert not empty, "\n".join(empty)
        return True

    _eventually(all_answer, 240, "dashboard queries without data")


def test_the_namespace_variable_offers_the_release_namespace(prometheus: None) -> None:
    """The dashboard's `label_values(METRIC, namespace)`, as Grafana asks Prometheus for it."""
    (variable,) = [
        v for v in json.loads(DASHBOARD.read_text())["templating"]["list"] if v["type"] == "query"
    ]
    metric, label = variable["query"]["query"].removeprefix("label_values(").rstrip(")").split(",")
    values = _get(f"/api/v1/label/{label.strip()}/values", **{"match[]": metric.strip()})
    assert NAMESPACE in values, values


def test_every_alert_rule_evaluates(prometheus: None) -> None:
    expected = {
        r["alert"]
        for rule in _rendered("PrometheusRule")
        for g in rule["spec"]["groups"]
        for r in g["rules"]
    }

    def all_ok() -> bool:
        rules = [r for g in _get("/api/v1/rules")["groups"] for r in g["rules"]]
        assert {r["name"] for r in rules} == expected
        bad = [(r["name"], r["health"], r.get("lastError")) for r in rules if r["health"] != "ok"]
        assert not bad, bad
        return True

    _eventually(all_ok, 120, "alert rules not evaluated")
