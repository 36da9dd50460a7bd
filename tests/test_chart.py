"""Offline validation of helm/dtmon with the real tools (no cluster, no network).

helm lint --strict, helm template over the value scenarios the chart supports, kubeconform in
strict mode against the Kubernetes JSON schemas shipped by the kubernetes-validate package,
what the operators require of the custom resources (Strimzi v1, ServiceMonitors), Pod Security
"restricted" on every pod, the NetworkPolicies, values.schema.json, and a checkov scan whose only
exceptions are the ones the chart explains in annotations.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from dtmon_common import topics
from dtmon_common.options.api import API
from dtmon_common.options.processor import RUN as PROCESSOR_RUN
from dtmon_common.options.producer import PRODUCER
from minidt.samples import REAL_SAMPLE
from tests import chart_support as cs

MONITORING = ("--api-versions", "monitoring.coreos.com/v1")
SCENARIOS: dict[str, tuple[str, ...]] = {
    "defaults": (),
    "external-kafka": (
        "--set",
        "kafka.mode=external",
        "--set",
        "kafka.externalBootstrapServers=kafka-0.example.internal:9092\\,kafka-1.example.internal:9093",
    ),
    "local-processor": ("--set", "processor.master=local[*]"),
    "kafka-3-persistent": (
        "--set",
        "kafka.replicas=3",
        "--set",
        "kafka.storage.type=persistent-claim",
        "--set",
        "kafka.storage.class=fast-ssd",
        "--set",
        "minio.persistence.enabled=true",
    ),
    "monitoring-on": (
        *MONITORING,
        "--set",
        "api.replicas=2",
        "--set",
        "api.ingress.enabled=true",
        "--set",
        "api.ingress.tlsSecretName=dtmon-tls",
    ),
    "monitoring-off": ("--set", "monitoring.grafanaDashboard.enabled=false"),
    "external-s3": (
        "--set",
        "minio.enabled=false",
        "--set",
        "s3.endpoint=https://s3.example.internal",
        "--set",
        "s3.existingSecret=dtmon-s3-credentials",
        "--set",
        "producer.source=s3",
    ),
    "kafka-broker": ("--set", "kafka.mode=broker"),
    "kafka-open": ("--set", "kafka.mode=broker", "--set", "kafka.authorization.enabled=false"),
    # What `make deploy` installs on the local cluster.
    "local-cluster": (
        "-f",
        str(cs.ROOT / "k8s" / "cluster" / "values.yaml"),
        "--set",
        f"minio.image.tag={cs.versions()['MINIO_VERSION']}",
    ),
}
USES_TOPICS = {
    "producer": PRODUCER.topics,
    "processor": PROCESSOR_RUN.topics,
    "api": API.topics,
}
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
# Scenarios whose Kafka is not Strimzi's: an existing cluster, or the chart's own broker.
BROKERLESS_OR_OWN_KAFKA = {"external-kafka", "kafka-broker", "kafka-open", "local-cluster"}
CUSTOM_KINDS = STRIMZI_KINDS | {"ServiceMonitor", "PrometheusRule"}  # rules: tests/test_alerts.py


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Every scenario rendered once per session."""
    return {name: cs.load_docs(cs.helm_template(*args).stdout) for name, args in SCENARIOS.items()}


@pytest.fixture(scope="session")
def schema_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """kubernetes-validate's strict schemas with their `/api/_definitions.json` references
    rewritten to local file URLs, which kubeconform resolves without any download."""
    src = (
        Path(kubernetes_validate.__file__).parent
        / "kubernetes-json-schema"
        / f"v{cs.KUBE_VERSION}-local-strict"
    )
    assert src.is_dir(), f"no schemas for Kubernetes {cs.KUBE_VERSION} in {src}"
    dst = tmp_path_factory.mktemp("k8s-schemas")
    target = f'"{dst.as_uri()}/_definitions.json'
    for path in src.glob("*.json"):
        (dst / path.name).write_text(path.read_text().replace('"/api/_definitions.json', target))
    return dst


def _kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _one(docs: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    found = [d for d in _kind(docs, kind) if d["metadata"]["name"].endswith(suffix)]
    assert len(found) == 1, f"expected one {kind} named *{suffix}, found {len(found)}"
    return found[0]


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def _executor_template(docs: list[dict[str, Any]]) -> dict[str, Any] | None:
    cm = _one(docs, "ConfigMap", "-processor-spark-conf")
    text = cm["data"].get("executor-pod-template.yaml")
    return yaml.safe_load(text) if text else None


def _spark_conf(docs: list[dict[str, Any]]) -> dict[str, str]:
    cm = _one(docs, "ConfigMap", "-processor-spark-conf")
    conf: dict[str, str] = {}
    for line in cm["data"]["spark-defaults.conf"].splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            conf[key] = value.strip()
    return conf


# ---------------------------------------------------------------------------------------------
# helm lint, rendering, schemas


def test_helm_lint_strict() -> None:
    for extra in ((), ("--set", "processor.master=local[*]")):
        proc = subprocess.run(
            [cs.tool("helm"), "lint", "--strict", str(cs.CHART), *extra],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "0 chart(s) failed" in proc.stdout


def _builtin_resources(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Built-in kinds of a render, plus Spark's executor pod template (a Pod spec in a
    ConfigMap that the API server never sees until Spark submits it)."""
    builtin = [d for d in docs if d["kind"] not in CUSTOM_KINDS]
    template = _executor_template(docs)
    if template is not None:
        template.setdefault("metadata", {})["name"] = "spark-executor-template"
        template["spec"]["containers"][0]["image"] = "validated-by-spark"
        builtin.append(template)
    return builtin


@pytest.fixture(scope="session")
def kubeconform_report(
    rendered: dict[str, list[dict[str, Any]]],
    schema_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Any]:
    """One kubeconform run over every scenario (one file each): the schemas compile once."""
    out = tmp_path_factory.mktemp("kubeconform")
    for name, docs in rendered.items():
        (out / f"{name}.yaml").write_text(yaml.safe_dump_all(_builtin_resources(docs)))
    proc = subprocess.run(
        [
            cs.tool("kubeconform"),
            "-strict",
            "-summary",
            "-verbose",
            "-output",
            "json",
            "-schema-location",
            f"{schema_dir}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            *sorted(str(p) for p in out.glob("*.yaml")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(proc.stdout)
    report["returncode"] = proc.returncode
    return report


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_kubeconform_strict(
    scenario: str, rendered: dict[str, list[dict[str, Any]]], kubeconform_report: dict[str, Any]
) -> None:
    results = [r for r in kubeconform_report["resources"] if Path(r["filename"]).stem == scenario]
    bad = [r for r in results if r["status"] != "statusValid"]
    assert not bad, json.dumps(bad, indent=1)
    assert len(results) == len(_builtin_resources(rendered[scenario]))
    assert kubeconform_report["returncode"] == 0


def test_kubeconform_catches_a_wrong_field(schema_dir: Path, tmp_path: Path) -> None:
    """The validation is real: an unknown field in a Deployment fails strict mode."""
    docs = cs.load_docs(cs.helm_template().stdout)
    dep = _one(docs, "Deployment", "-api")
    dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(yaml.safe_dump(dep))
    proc = subprocess.run(
        [
            cs.tool("kubeconform"),
            "-strict",
            "-schema-location",
            f"{schema_dir}/{{{{ .ResourceKind }}}}{{{{ .KindSuffix }}}}.json",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "imagePullPolicyy" in proc.stdout


BAD_VALUES = {
    "rate is a number": ("--set-string", "producer.rate=fast"),
    "replicas is an integer": ("--set-string", "kafka.replicas=three"),
    "unknown top-level key": ("--set", "kafkaa.enabled=true"),
    "unknown key in kafka": ("--set", "kafka.replica=3"),
    "unknown key in processor": ("--set", "processor.executors=4"),
    "storage type enum": ("--set", "kafka.storage.type=nfs"),
    "producer source enum": ("--set", "producer.source=ftp"),
    "spark master form": ("--set", "processor.master=yarn"),
    "log format enum": ("--set", "logFormat=xml"),
    "port range": ("--set", "api.port=70000"),
}


@pytest.mark.parametrize("why", sorted(BAD_VALUES))
def test_values_schema_rejects(why: str) -> None:
    proc = cs.helm_template(*BAD_VALUES[why], check=False)
    assert proc.returncode != 0, f"accepted bad values ({why})"
    assert "values don't meet the specifications of the schema" in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "kafka.mode=external"), "kafka.externalBootstrapServers is required"),
        (("--set", "minio.enabled=false"), "s3.endpoint is required"),
        (
            ("--set", "minio.enabled=false", "--set", "s3.endpoint=http://s3:9000"),
            "s3.existingSecret is required",
        ),
    ],
)
def test_missing_required_settings_fail_clearly(args: tuple[str, ...], message: str) -> None:
    proc = cs.helm_template(*args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_values_are_documented() -> None:
    """Every top-level section of values.yaml is preceded by a comment."""
    lines = (cs.CHART / "values.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[a-zA-Z]\w*:", line):
            assert lines[i - 1].startswith("#"), f"values.yaml: {line!r} has no comment above it"


# ---------------------------------------------------------------------------------------------
# Labels, names, NOTES


def test_standard_labels(rendered: dict[str, list[dict[str, Any]]]) -> None:
    wanted = {
        "app.kubernetes.io/name",
        "app.kubernetes.io/instance",
        "app.kubernetes.io/version",
        "app.kubernetes.io/part-of",
        "app.kubernetes.io/managed-by",
        "helm.sh/chart",
    }
    for docs in rendered.values():
        for doc in docs:
            labels = doc["metadata"].get("labels", {})
            missing = wanted - labels.keys()
            assert not missing, f"{doc['kind']}/{doc['metadata']['name']} lacks {missing}"
            assert doc["metadata"]["namespace"] == cs.NAMESPACE


def test_selectors_match_pod_labels(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for docs in rendered.values():
        workloads = _kind(docs, "Deployment") + _kind(docs, "StatefulSet")
        for dep in workloads:
            selector = dep["spec"]["selector"]["matchLabels"]
            labels = dep["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items(), dep["metadata"]["name"]
            assert "app.kubernetes.io/component" in selector
        pods = [d["spec"]["template"]["metadata"]["labels"] for d in workloads]
        for svc in _kind(docs, "Service"):
            sel = svc["spec"]["selector"]
            assert any(sel.items() <= p.items() for p in pods), f"{svc['metadata']['name']}"


def test_notes_print_the_port_forward_command(tmp_path: Path) -> None:
    """NOTES.txt rendered through `helm template` (a copy of the chart where it is a template)."""
    chart = tmp_path / "dtmon"
    shutil.copytree(cs.CHART, chart)
    notes = (chart / "templates" / "NOTES.txt").read_text()
    (chart / "templates" / "_notes.tpl").write_text(
        '{{- define "notes-check" -}}\n' + notes + "\n{{- end }}\n"
    )
    (chart / "templates" / "notes-check.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n"
        '{{ include "notes-check" . | indent 4 }}\n'
    )
    doc = cs.load_docs(
        cs.helm_template("--show-only", "templates/notes-check.yaml", chart=chart).stdout
    )
    out = doc[0]["data"]["notes"]
    assert "kubectl port-forward -n dtmon svc/dtmon-api 8000:8000" in out
    assert "helm test dtmon -n dtmon" in out


# ---------------------------------------------------------------------------------------------
# Custom resources: Strimzi and the Prometheus Operator


def test_strimzi_resources(rendered: dict[str, list[dict[str, Any]]]) -> None:
    want_version = cs.versions()["KAFKA_VERSION"]
    for name, docs in rendered.items():
        strimzi = [d for d in docs if d["kind"] in STRIMZI_KINDS]
        if name in BROKERLESS_OR_OWN_KAFKA:
            assert not strimzi, name
            continue
        (kafka,) = _kind(docs, "Kafka")
        cluster = kafka["metadata"]["name"]
        for doc in strimzi:
            assert doc["apiVersion"] == "kafka.strimzi.io/v1", doc["kind"]
            assert doc["metadata"]["labels"]["strimzi.io/cluster"] == cluster
            # Strimzi 1.x: KRaft and node pools are the only mode, the v1beta2 opt-in
            # annotations are gone.
            annotations = doc["metadata"].get("annotations", {})
            assert "strimzi.io/kraft" not in annotations
            assert "strimzi.io/node-pools" not in annotations
        spec = kafka["spec"]
        assert spec["kafka"]["version"] == want_version
        assert "zookeeper" not in spec and "replicas" not in spec["kafka"]
        assert spec["kafka"]["listeners"] == [
            {
                "name": "plain",
                "port": 9092,
                "type": "internal",
                "tls": False,
                "authentication": {"type": "scram-sha-512"},
            }
        ]
        assert spec["kafka"]["authorization"] == {"type": "simple"}
        assert {"topicOperator", "userOperator"} <= set(spec["entityOperator"])
        (pool,) = _kind(docs, "KafkaNodePool")
        assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
        replicas = pool["spec"]["replicas"]
        (volume,) = pool["spec"]["storage"]["volumes"]
        assert volume["kraftMetadata"] == "shared"
        rf = min(replicas, 3)
        assert spec["kafka"]["config"]["default.replication.factor"] == rf
        assert spec["kafka"]["config"]["min.insync.replicas"] == (2 if replicas >= 3 else 1)
        if name == "kafka-3-persistent":
            assert replicas == 3
            assert volume["type"] == "persistent-claim" and volume["class"] == "fast-ssd"
        else:
            assert replicas == 1 and volume["type"] == "ephemeral"
        topic_specs = {t["spec"]["topicName"]: t["spec"] for t in _kind(docs, "KafkaTopic")}
        assert set(topic_specs) == {topics.HITS_TOPIC, topics.RESULTS_TOPIC}
        assert topic_specs[topics.HITS_TOPIC]["partitions"] == topics.DEFAULT_HITS_PARTITIONS
        assert topic_specs[topics.RESULTS_TOPIC]["partitions"] == topics.DEFAULT_RESULTS_PARTITIONS
        for t in topic_specs.values():
            assert t["replicas"] == rf
            assert int(t["config"]["retention.ms"]) > 0


# What each service may do on Kafka, written out here independently of the chart's helper.
WANT_ACLS = {
    "producer": {("topic", topics.HITS_TOPIC, "literal", ("Describe", "Write"))},
    "processor": {
        ("topic", topics.HITS_TOPIC, "literal", ("Describe", "Read", "Write")),
        ("topic", topics.RESULTS_TOPIC, "literal", ("Describe", "Write")),
        ("group", "spark-kafka-source-", "prefix", ("Read",)),
        ("group", "dtmon-processor-", "prefix", ("Read",)),
    },
    "api": {
        ("topic", topics.RESULTS_TOPIC, "literal", ("Describe", "Read")),
        ("group", "dtmon-api-", "prefix", ("Read",)),
    },
}


def _granted(docs: list[dict[str, Any]]) -> dict[str, set[tuple[Any, ...]]]:
    """Each Kafka user's ACLs, from Strimzi's KafkaUsers or the chart broker's KAFKA_ACLS."""
    granted: dict[str, set[tuple[Any, ...]]] = {}
    for user in _kind(docs, "KafkaUser"):
        assert user["spec"]["authentication"] == {"type": "scram-sha-512"}
        granted[user["metadata"]["name"]] = {
            (r["type"], r["name"], r["patternType"], tuple(sorted(a["operations"])))
            for a in user["spec"]["authorization"]["acls"]
            for r in [a["resource"]]
        }
    for sts in _kind(docs, "StatefulSet"):
        env = _env(sts["spec"]["template"]["spec"]["containers"][0])
        for spec in (env.get("KAFKA_ACLS") or "").split():
            user, kind, name, pattern, ops = spec.split("|")
            entry = (kind, name, pattern, tuple(sorted(ops.split("+"))))
            granted.setdefault(user, set()).add(entry)
    return granted


@pytest.mark.parametrize("scenario", ["defaults", "kafka-broker", "local-cluster", "kafka-open"])
def test_each_service_is_a_kafka_user_with_only_what_it_needs(
    scenario: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    docs = rendered[scenario]
    granted = _granted(docs)
    secrets = {d["metadata"]["name"] for d in _kind(docs, "Secret")}
    for component, want in WANT_ACLS.items():
        deploy = _one(docs, "Deployment", f"-{component}")
        pod = deploy["spec"]["template"]["spec"]
        env = _env(pod["containers"][0])
        if scenario == "kafka-open":
            assert "DTMON_KAFKA_SECURITY_PROTOCOL" not in env
            assert not granted
            continue
        user = env["DTMON_KAFKA_USERNAME"]
        assert env["DTMON_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["DTMON_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert granted[user] == want, component
        (volume,) = [v for v in pod["volumes"] if v["name"] == "kafka-user"]
        # Strimzi's User Operator creates the Secret named after the user; the chart's broker
        # mode creates it itself.
        assert volume["secret"]["secretName"] == user
        assert (user in secrets) == (scenario != "defaults"), (scenario, user)
        mounted = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert str(Path(env["DTMON_KAFKA_PASSWORD_FILE"]).parent) in mounted


def test_services_use_the_topics_and_bootstrap(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for name, docs in rendered.items():
        if name == "external-kafka":
            bootstrap = "kafka-0.example.internal:9092,kafka-1.example.internal:9093"
        else:
            # Strimzi's bootstrap Service (named after the Kafka), or the chart's own broker's
            # Service under the same name.
            kafkas = _kind(docs, "Kafka")
            cluster = kafkas[0]["metadata"]["name"] if kafkas else "dtmon-kafka"
            bootstrap = f"{cluster}-kafka-bootstrap.dtmon.svc:9092"
            if not kafkas:
                services = {d["metadata"]["name"] for d in _kind(docs, "Service")}
                assert f"{cluster}-kafka-bootstrap" in services, name
        for dep in _kind(docs, "Deployment"):
            if dep["metadata"]["name"].endswith("-minio"):
                continue
            env = _env(dep["spec"]["template"]["spec"]["containers"][0])
            assert env["DTMON_BOOTSTRAP_SERVERS"] == bootstrap
            assert env["DTMON_LOG_FORMAT"] == "json"
            # Each service gets the topics it uses, and only those (dtmon_common.options).
            component = dep["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
            uses = USES_TOPICS[component]
            assert env.get("DTMON_HITS_TOPIC") == (topics.HITS_TOPIC if "hits" in uses else None)
            wanted = topics.RESULTS_TOPIC if "results" in uses else None
            assert env.get("DTMON_RESULTS_TOPIC") == wanted


def test_service_monitors_only_with_the_prometheus_operator(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    for name, docs in rendered.items():
        monitors = _kind(docs, "ServiceMonitor")
        if name != "monitoring-on":
            assert not monitors, name
            continue
        assert {m["metadata"]["name"].removeprefix("dtmon-") for m in monitors} == {
            "producer",
            "processor",
            "api",
        }
        services = _kind(docs, "Service")
        for mon in monitors:
            assert mon["apiVersion"] == "monitoring.coreos.com/v1"
            sel = mon["spec"]["selector"]["matchLabels"]
            matched = [s for s in services if sel.items() <= s["metadata"]["labels"].items()]
            assert len(matched) == 1, mon["metadata"]["name"]
            port_names = {p["name"] for p in matched[0]["spec"]["ports"]}
            for endpoint in mon["spec"]["endpoints"]:
                assert endpoint["port"] in port_names, (mon["metadata"]["name"], endpoint)
                assert endpoint["path"].startswith("/metrics")


def test_grafana_dashboard_configmap(rendered: dict[str, list[dict[str, Any]]]) -> None:
    assert not _kind(rendered["monitoring-off"], "ConfigMap") or all(
        "grafana_dashboard" not in d["metadata"]["labels"]
        for d in _kind(rendered["monitoring-off"], "ConfigMap")
    )
    cm = _one(rendered["defaults"], "ConfigMap", "-grafana-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["dtmon.json"])
    assert dashboard == json.loads((cs.CHART / "dashboards" / "dtmon.json").read_text())
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("throughput", "lag", "batch duration", "latency", "chamber", "malformed"):
        assert topic in titles, f"dashboard has no {topic} panel"
    assert not list((cs.CHART / "templates").rglob("*.json")), "dashboard JSON belongs outside"


# ---------------------------------------------------------------------------------------------
# Processor: Spark driver on Kubernetes


def test_spark_driver_on_kubernetes(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["defaults"]
    dep = _one(docs, "Deployment", "-processor")
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["strategy"] == {"type": "Recreate"}
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = _env(container)
    assert env["DTMON_MASTER"] == "k8s://https://kubernetes.default.svc:443"
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["DTMON_CHECKPOINT_LOCATION"].startswith("s3a://dtmon-checkpoints/")
    assert env["DTMON_SPARK_PROMETHEUS"] == "true"
    assert pod["automountServiceAccountToken"] is True
    conf = _spark_conf(docs)
    svc = _one(docs, "Service", "-processor-driver")
    assert svc["spec"]["clusterIP"] == "None"
    ports = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
    assert conf["spark.driver.host"] == f"{svc['metadata']['name']}.dtmon.svc"
    assert conf["spark.driver.port"] == str(ports["driver-rpc"])
    assert conf["spark.driver.blockManager.port"] == str(ports["blockmanager"])
    assert conf["spark.kubernetes.driver.pod.name"] == "${env:POD_NAME}"
    assert conf["spark.submit.deployMode"] == "client"
    assert conf["spark.kubernetes.namespace"] == "dtmon"
    assert conf["spark.kubernetes.container.image"] == container["image"]
    assert conf["spark.executor.instances"] == "2"
    assert conf["spark.ui.prometheus.enabled"] == "true"
    assert conf["spark.local.dir"] in {m["mountPath"] for m in container["volumeMounts"]}
    assert conf["spark.hadoop.fs.s3a.endpoint"] == "http://dtmon-minio.dtmon.svc:9000"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert env["SPARK_CONF_DIR"] in mounts
    assert conf["spark.kubernetes.executor.podTemplateFile"].startswith(env["SPARK_CONF_DIR"])
    # RBAC: the driver's ServiceAccount may manage pods in its namespace only.
    role = _one(docs, "Role", "-processor")
    pod_rule = next(r for r in role["rules"] if "pods" in r["resources"])
    assert {"create", "delete", "watch", "list"} <= set(pod_rule["verbs"])
    binding = _one(docs, "RoleBinding", "-processor")
    assert binding["subjects"][0]["name"] == pod["serviceAccountName"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert not _kind(docs, "ClusterRole") and not _kind(docs, "ClusterRoleBinding")
    template = _executor_template(docs)
    assert template is not None
    assert (
        template["spec"]["containers"][0]["name"]
        == (conf["spark.kubernetes.executor.podTemplateContainerName"])
    )
    assert template["metadata"]["labels"]["app.kubernetes.io/component"] == "spark-executor"


def test_spark_local_mode(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["local-processor"]
    dep = _one(docs, "Deployment", "-processor")
    assert _env(dep["spec"]["template"]["spec"]["containers"][0])["DTMON_MASTER"] == "local[*]"
    assert dep["spec"]["template"]["spec"]["automountServiceAccountToken"] is False
    assert not _kind(docs, "Role") and not _kind(docs, "RoleBinding")
    assert _executor_template(docs) is None
    assert not any(k.startswith("spark.kubernetes.") for k in _spark_conf(docs))


# ---------------------------------------------------------------------------------------------
# MinIO, external S3, secrets


def test_minio_and_seed_job(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["defaults"]
    secret = _one(docs, "Secret", "-s3")
    assert set(secret["data"]) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    job = _one(docs, "Job", "-seed")
    assert "post-install" in job["metadata"]["annotations"]["helm.sh/hook"]
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert "dtmon-producer --source sim --max-records" in script
    assert "make_bucket" in script and "fput_object" in script
    values_text = (cs.CHART / "values.yaml").read_text()
    for raw in secret["data"].values():
        assert raw not in values_text
    # A second render generates different credentials: nothing is a literal in the chart.
    again = _one(cs.load_docs(cs.helm_template().stdout), "Secret", "-s3")
    assert again["data"] != secret["data"]
    assert not re.search(r"(?im)^\s*(password|secretKey|accessKey)\s*:", values_text)


def test_external_s3(rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered["external-s3"]
    assert not [d for d in docs if d["metadata"]["name"].endswith(("-minio", "-seed", "-s3"))]
    refs = set()
    for _, spec in cs.pod_specs(docs):
        for c in spec["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.add(ref["name"])
    assert refs == {"dtmon-s3-credentials"}
    assert _spark_conf(docs)["spark.hadoop.fs.s3a.endpoint"] == "https://s3.example.internal"
    assert _spark_conf(docs)["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"
    env = _env(_one(docs, "Deployment", "-producer")["spec"]["template"]["spec"]["containers"][0])
    assert env["DTMON_SOURCE"] == "s3://dtmon-data/minidt"
    assert env["DTMON_S3_ENDPOINT"] == "https://s3.example.internal"


# ---------------------------------------------------------------------------------------------
# API, PDB, Ingress, helm test


def test_api_probes_pdb_ingress(rendered: dict[str, list[dict[str, Any]]]) -> None:
    for name, docs in rendered.items():
        dep = _one(docs, "Deployment", "-api")
        c = dep["spec"]["template"]["spec"]["containers"][0]
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert _env(c)["DTMON_HOST"] == "0.0.0.0"
        pdbs = _kind(docs, "PodDisruptionBudget")
        if name == "monitoring-on":
            assert dep["spec"]["replicas"] == 2 and len(pdbs) == 1
            (ing,) = _kind(docs, "Ingress")
            backend = ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
            assert backend["name"] == _one(docs, "Service", "-api")["metadata"]["name"]
        else:
            assert dep["spec"]["replicas"] == 1 and not pdbs and not _kind(docs, "Ingress")


def _mounts_signing(dep: dict[str, Any]) -> bool:
    spec = dep["spec"]["template"]["spec"]
    secret_volumes = {
        v["name"] for v in spec.get("volumes", []) if v.get("secret", {}).get("secretName")
    }
    mounts = [m for c in spec["containers"] for m in c.get("volumeMounts", [])]
    return any(m["name"] == "signing-keys" and m["name"] in secret_volumes for m in mounts)


def test_signing_secret_mounted_only_by_processor_and_api(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The result-signing key reaches exactly the signer and the verifier, read-only, and
    the services are told where it is; the producer never sees it."""
    from dtmon_common.signing import parse_keys

    docs = rendered["defaults"]
    secret = _one(docs, "Secret", "-signing")
    text = base64.b64decode(secret["data"]["keys"]).decode()
    assert parse_keys(text, "chart").signing_key.key_id  # a usable generated key
    for name in ("-processor", "-api", "-producer"):
        dep = _one(docs, "Deployment", name)
        c = dep["spec"]["template"]["spec"]["containers"][0]
        if name == "-producer":
            assert not _mounts_signing(dep) and "DTMON_SIGNING_KEY_FILE" not in _env(c)
            continue
        assert _mounts_signing(dep)
        mount = next(m for m in c["volumeMounts"] if m["name"] == "signing-keys")
        assert mount["readOnly"] is True
        assert _env(c)["DTMON_SIGNING_KEY_FILE"] == mount["mountPath"] + "/keys"
    # Readiness follows the broker on every service (their /readyz), liveness does not.
    for name in ("-processor", "-producer", "-api"):
        c = _one(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    mine = cs.load_docs(cs.helm_template("--set", "signing.existingSecret=my-keys").stdout)
    assert not [d for d in _kind(mine, "Secret") if d["metadata"]["name"].endswith("-signing")]
    for name in ("-processor", "-api"):
        vols = _one(mine, "Deployment", name)["spec"]["template"]["spec"]["volumes"]
        assert {"secretName": "my-keys"}.items() <= next(
            v["secret"] for v in vols if v["name"] == "signing-keys"
        ).items()


def test_helm_test_hook(rendered: dict[str, list[dict[str, Any]]]) -> None:
    pod = _one(rendered["defaults"], "Pod", "-test-pipeline")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    code = pod["spec"]["containers"][0]["command"][-1]
    compile(code, "helm-test", "exec")  # the embedded script is valid Python
    assert "/readyz" in code and "/api/v1/batches" in code
    env = _env(pod["spec"]["containers"][0])
    assert env["TEST_BASE_URL"] == "http://dtmon-api.dtmon.svc:8000"


# ---------------------------------------------------------------------------------------------
# Security: Pod Security "restricted", resources, NetworkPolicies, checkov


def _all_pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    specs = list(cs.pod_specs(docs))
    template = _executor_template(docs)
    if template is not None:
        specs.append(("executor-pod-template", template["spec"]))
    return specs


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_pod_security_restricted(scenario: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    specs = _all_pod_specs(rendered[scenario])
    assert len(specs) >= 4
    for rid, spec in specs:
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True, rid
        assert psc["seccompProfile"]["type"] == "RuntimeDefault", rid
        assert not spec.get("hostNetwork") and not spec.get("hostPID"), rid
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        assert not any("hostPath" in v for v in volumes.values()), rid
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, rid
            assert sc["readOnlyRootFilesystem"] is True, rid
            assert sc["capabilities"]["drop"] == ["ALL"], rid
            assert not sc["capabilities"].get("add"), rid
            assert sc["seccompProfile"]["type"] == "RuntimeDefault", rid
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert "emptyDir" in volumes[mounts["/tmp"]], f"{rid}: /tmp must be an emptyDir"
            if rid == "executor-pod-template":
                continue  # Spark sets the executor's requests/limits from spark.executor.*
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= c["resources"][kind].keys(), f"{rid} {kind}"


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In"
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_network_policies(scenario: str, rendered: dict[str, list[dict[str, Any]]]) -> None:
    docs = rendered[scenario]
    policies = _kind(docs, "NetworkPolicy")
    deny = _one(docs, "NetworkPolicy", "-default-deny")
    assert deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in deny["spec"] and "egress" not in deny["spec"]
    pod_labels = []
    for doc in docs:
        if doc["kind"] in cs.WORKLOAD_KINDS:
            pod_labels.append(doc["spec"]["template"]["metadata"]["labels"])
        elif doc["kind"] == "Pod":
            pod_labels.append(doc["metadata"]["labels"])
    template = _executor_template(docs)
    if template is not None:
        pod_labels.append(template["metadata"]["labels"])
    for labels in pod_labels:
        component = labels["app.kubernetes.io/component"]
        assert _selects(deny["spec"]["podSelector"], labels), f"{component} escapes deny-all"
        egress_ports = {
            port["port"]
            for p in policies
            if _selects(p["spec"]["podSelector"], labels)
            for rule in p["spec"].get("egress", [])
            for port in rule.get("ports", [])
        }
        assert 53 in egress_ports, f"{component} cannot resolve names"
        if component in {"producer", "processor", "spark-executor", "api"}:
            want = {9092, 9093} if scenario == "external-kafka" else {9092}
            assert want <= egress_ports, f"{component} cannot reach Kafka"
        if component in {"processor", "spark-executor", "seed"}:
            assert (443 if scenario == "external-s3" else 9000) in egress_ports, component
        if component == "processor" and template is not None:
            assert {443, 6443} & egress_ports, "the driver cannot reach the Kubernetes API"
    api = _one(docs, "NetworkPolicy", "-api")
    assert api["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_checkov_scan_has_no_unexplained_failure(tmp_path: Path) -> None:
    """checkov over the fullest renders; every exception is a `checkov.io/skipN` annotation
    whose reason is written in templates/_helpers.tpl."""
    for name in ("monitoring-on", "external-s3"):
        (tmp_path / f"{name}.yaml").write_text(cs.helm_template(*SCENARIOS[name]).stdout)
    proc = subprocess.run(
        [
            cs.tool("checkov"),
            "--directory",
            str(tmp_path),
            "--framework",
            "kubernetes",
            "--output",
            "json",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(proc.stdout)
    results = report[0] if isinstance(report, list) else report
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in results.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)
    assert results["summary"]["passed"] > 100
    for skipped in results["results"]["skipped_checks"]:
        reason = skipped["check_result"].get("suppress_comment", "")
        assert len(reason) > 30, f"{skipped['check_id']} skipped without a reason"


def test_helm_test_script_against_the_real_api(
    kafka_broker: Any, make_topic: Any, tmp_path: Path
) -> None:
    """The `helm test` Pod's script, run as rendered against a real dtmon-api on the session
    broker: it times out while no batch exists, and passes once one is published."""
    from confluent_kafka import Producer

    from devstack.ports import free_port
    from devstack.processes import spawn, stop
    from dtmon_common.signing import generate_key_line, parse_keys
    from minidt.codecs import parse_csv
    from minidt.reference import reference_message

    pod = _one(cs.load_docs(cs.helm_template().stdout), "Pod", "-test-pipeline")
    script = pod["spec"]["containers"][0]["command"][-1]
    topic = make_topic(partitions=1, prefix="results")
    port = free_port()
    keys_line = generate_key_line("helm-test")
    api = spawn(
        [
            str(cs.ROOT / ".venv" / "bin" / "dtmon-api"),
            "--port",
            str(port),
            "--bootstrap-servers",
            kafka_broker.bootstrap_servers,
            "--results-topic",
            topic,
        ],
        log=tmp_path / "api.log",
        env={**os.environ, "DTMON_SIGNING_KEYS": keys_line},
    )

    def run_script(timeout_s: int) -> subprocess.CompletedProcess[str]:
        env = {
            "TEST_BASE_URL": f"http://127.0.0.1:{port}",
            "TEST_TIMEOUT_SECONDS": str(timeout_s),
            "PATH": "/usr/bin:/bin",
        }
        return subprocess.run(
            [str(cs.ROOT / ".venv" / "bin" / "python"), "-c", script],
            capture_output=True,
            text=True,
            timeout=timeout_s + 60,
            env=env,
        )

    try:
        empty = run_script(20)
        assert empty.returncode != 0
        assert "ok: /readyz" in empty.stdout, empty.stdout + empty.stderr
        assert "timed out waiting for a batch" in empty.stderr

        hits = parse_csv(REAL_SAMPLE.read_text()).hits
        message = reference_message(
            hits,
            query_id="helm-test",
            batch_id=0,
            input_rows=len(hits.head),
            malformed=0,
            first_ts_ms=1_700_000_000_000,
            last_ts_ms=1_700_000_000_500,
            emitted_at_ms=1_700_000_001_000,
        )
        producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
        value = json.dumps(message).encode()
        headers = parse_keys(keys_line, "test").sign(value)
        producer.produce(topic, key=b"0", value=value, headers=headers)
        assert producer.flush(30) == 0

        ok = run_script(90)
        assert ok.returncode == 0, ok.stdout + ok.stderr + (tmp_path / "api.log").read_text()
        assert "ok: a batch in /api/v1/batches" in ok.stdout
    finally:
        stop(api)


def test_spark_executor_launcher_starts_the_real_executor_backend(tmp_path: Path) -> None:
    """The launcher the executor pod template runs (the image's `dtmon-spark-executor`)
    starts Spark's KubernetesExecutorBackend from PySpark's jars with the environment Spark
    gives executor pods; with no driver listening, the backend reports it cannot reach the
    driver URL."""
    from devstack.ports import free_port

    template = _executor_template(cs.load_docs(cs.helm_template().stdout))
    assert template is not None
    assert template["spec"]["containers"][0]["command"] == ["dtmon-spark-executor"]
    launcher = cs.ROOT / ".venv" / "bin" / "dtmon-spark-executor"
    port = free_port()  # nothing listens there: the "driver" is gone
    spark_env = {
        "SPARK_EXECUTOR_MEMORY": "256m",
        "SPARK_DRIVER_URL": f"spark://CoarseGrainedScheduler@127.0.0.1:{port}",
        "SPARK_EXECUTOR_ID": "1",
        "SPARK_EXECUTOR_CORES": "1",
        "SPARK_APPLICATION_ID": "spark-chart-test",
        "SPARK_EXECUTOR_POD_IP": "127.0.0.1",
        "SPARK_EXECUTOR_POD_NAME": "dtmon-processor-exec-1",
        "SPARK_JAVA_OPT_0": f"-Djava.io.tmpdir={tmp_path}",
    }
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(launcher), "executor"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**base, **spark_env},
        cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "KubernetesExecutorBackend: Started daemon" in out, out[-3000:]
    assert f"Failed to connect to /127.0.0.1:{port}" in out, out[-3000:]

    missing = subprocess.run(
        [str(launcher), "executor"], capture_output=True, text=True, timeout=60, env=base
    )
    assert missing.returncode != 0
    assert "Spark did not set SPARK_EXECUTOR_MEMORY" in missing.stderr


def test_install_prereqs_script_is_shellcheck_clean() -> None:
    script = cs.ROOT / "k8s" / "install-prereqs.sh"
    proc = subprocess.run(
        [str(cs.ROOT / ".venv" / "bin" / "shellcheck"), "-x", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cs.ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = script.read_text()
    # The order matters: CRDs and operators first, then the namespace the chart goes into.
    assert text.index("helm upgrade --install strimzi ") < text.index(
        "helm upgrade --install kube-prometheus-stack "
    )
    assert "k8s/kube-prometheus-stack-values.yaml" in text.replace("$here", "k8s")
    assert "k8s/strimzi-values.yaml" in text.replace("$here", "k8s")


def test_k8s_values_match_the_chart() -> None:
    """The Grafana sidecar looks for the label the chart puts on its dashboard ConfigMap, in
    every namespace; Prometheus selects ServiceMonitors without a release label."""
    kps = yaml.safe_load((cs.ROOT / "k8s" / "kube-prometheus-stack-values.yaml").read_text())
    sidecar = kps["grafana"]["sidecar"]["dashboards"]
    values = yaml.safe_load((cs.CHART / "values.yaml").read_text())
    labels = values["monitoring"]["grafanaDashboard"]["labels"]
    assert sidecar["enabled"] is True
    assert labels[sidecar["label"]] == sidecar["labelValue"] == "1"
    assert sidecar["searchNamespace"] == "ALL"
    spec = kps["prometheus"]["prometheusSpec"]
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    kind = yaml.safe_load((cs.ROOT / "k8s" / "kind-cluster.yaml").read_text())
    assert kind["kind"] == "Cluster" and kind["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    strimzi = yaml.safe_load((cs.ROOT / "k8s" / "strimzi-values.yaml").read_text())
    envs = {e["name"]: e["value"] for e in strimzi["extraEnvs"]}
    assert envs["STRIMZI_POD_SECURITY_PROVIDER_CLASS"] == "restricted"
    assert values["networkPolicy"]["prometheusNamespaceSelector"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    assert "--namespace monitoring" in (cs.ROOT / "k8s" / "install-prereqs.sh").read_text()
