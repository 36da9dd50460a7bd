"""The chart's values.schema.json bounds every value that feeds a service option exactly as
the option's one declaration does (dtmon_common.options), so a `helm install` the schema
accepts never crash-loops on a flag the service rejects, and the schema never rejects what
the service accepts. Where the chart is narrower on purpose, the reason is written here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from dtmon_common.options import Option
from dtmon_common.options.api import API
from dtmon_common.options.processor import RUN
from dtmon_common.options.producer import PRODUCER
from tests import chart_support as cs

# Helm value -> (the service whose container gets it, the option it feeds).
VALUES: dict[str, tuple[str, Option]] = {
    "logLevel": ("api", API.option("--log-level")),
    "logFormat": ("api", API.option("--log-format")),
    "topics.hits.name": ("producer", PRODUCER.option("--hits-topic")),
    "topics.results.name": ("api", API.option("--results-topic")),
    "producer.rate": ("producer", PRODUCER.option("--rate")),
    "producer.maxRecords": ("producer", PRODUCER.option("--max-records")),
    "producer.metricsPort": ("producer", PRODUCER.option("--metrics-port")),
    "processor.master": ("processor", RUN.option("--master")),
    "processor.checkpointLocation": ("processor", RUN.option("--checkpoint-location")),
    "processor.triggerSeconds": ("processor", RUN.option("--trigger-seconds")),
    "processor.maxOffsetsPerTrigger": ("processor", RUN.option("--max-offsets-per-trigger")),
    "processor.maxBatchBytes": ("processor", RUN.option("--max-batch-bytes")),
    "processor.maxMessageBytes": ("processor", RUN.option("--max-message-bytes")),
    "processor.driverMaxOffsets": ("processor", RUN.option("--driver-max-offsets")),
    "processor.shufflePartitions": ("processor", RUN.option("--shuffle-partitions")),
    "processor.startingOffsets": ("processor", RUN.option("--starting-offsets")),
    "processor.metricsPort": ("processor", RUN.option("--metrics-port")),
    "processor.uiPort": ("processor", RUN.option("--ui-port")),
    "processor.driver.memory": ("processor", RUN.option("--driver-memory")),
    "api.port": ("api", API.option("--port")),
}

# Constraints the chart adds on purpose, with the reason (anything else is drift).
NARROWER: dict[str, dict[str, str]] = {
    "producer.metricsPort": {"minimum": "the probes and the Service need a real port"},
    "processor.metricsPort": {"minimum": "the probes and the Service need a real port"},
    "processor.uiPort": {"minimum": "the Service and the Prometheus servlet need a port"},
    "api.port": {"minimum": "the container must listen on a real port"},
    "processor.master": {"pattern": "in a cluster only k8s:// or local[...] masters work"},
    "processor.driver.memory": {"pattern": "a JVM size; Spark fails late on anything else"},
    "topics.hits.name": {"pattern": "Kafka's legal topic names"},
    "topics.results.name": {"pattern": "Kafka's legal topic names"},
}
IGNORED = {"description", "title"}


def _schema_at(path: str) -> dict[str, Any]:
    node: dict[str, Any] = json.loads((cs.CHART / "values.schema.json").read_text())
    for part in path.split("."):
        node = node["properties"][part]
    return node


def _value_at(path: str) -> Any:
    node: Any = yaml.safe_load((cs.CHART / "values.yaml").read_text())
    for part in path.split("."):
        node = node[part]
    return node


@pytest.mark.parametrize("path", sorted(VALUES))
def test_schema_bounds_the_value_as_the_option_does(path: str) -> None:
    _service, option = VALUES[path]
    schema = {k: v for k, v in _schema_at(path).items() if k not in IGNORED}
    want = option.json_schema()
    if "enum" in want:
        assert sorted(schema.get("enum", [])) == sorted(want["enum"]), (
            f"values.schema.json {path}: enum {schema.get('enum')} but {option.flag} "
            f"accepts {want['enum']}"
        )
        return
    extra = set(schema) - set(want) - set(NARROWER.get(path, {}))
    assert not extra, f"{path}: schema constraints {sorted(extra)} that {option.flag} lacks"
    for key, value in want.items():
        if key in NARROWER.get(path, {}):
            continue
        assert schema.get(key) == value, (
            f"values.schema.json {path}: {key}={schema.get(key)!r}, but {option.flag} "
            f"declares {key}={value!r}; expected fragment {json.dumps(want)}"
        )


@pytest.mark.parametrize("path", sorted(VALUES))
def test_the_default_value_is_one_the_service_accepts(path: str) -> None:
    _service, option = VALUES[path]
    value = _value_at(path)
    if value == "" and option.default is not None:
        return  # "" = the chart computes it (e.g. the s3a:// checkpoint)
    option.check(option.parse(str(value)) if isinstance(value, str) else value)


def test_each_value_reaches_its_option_in_the_rendered_chart() -> None:
    """Render with every mapped value set to a distinct legal value; each must arrive in its
    service's container as the option's own environment variable."""
    probes: dict[str, Any] = {
        "logLevel": "WARNING",
        "logFormat": "text",
        "topics.hits.name": "hits-x",
        "topics.results.name": "results-x",
        "producer.rate": 0,
        # Integers from 1e6 up: Helm holds values as float64, which `quote` alone renders as
        # "1.2e+06", an integer option's parse error (the templates pipe them through int64).
        "producer.maxRecords": 5_000_000,
        "producer.metricsPort": 9111,
        "processor.master": "local[3]",
        "processor.checkpointLocation": "s3a://b/cp-x",
        "processor.triggerSeconds": 4.5,
        "processor.maxOffsetsPerTrigger": 1_200_000,
        "processor.maxBatchBytes": 67_108_864,
        "processor.maxMessageBytes": 555,
        "processor.driverMaxOffsets": 0,
        "processor.shufflePartitions": 6,
        "processor.startingOffsets": "earliest",
        "processor.metricsPort": 9112,
        "processor.uiPort": 4041,
        "processor.driver.memory": "3g",
        "api.port": 8001,
    }
    assert set(probes) == set(VALUES)
    args: list[str] = []
    for path, value in probes.items():
        args += ["--set-json", f"{path}={json.dumps(value)}"]  # typed: --set makes 4.5 a string
    docs = cs.load_docs(cs.helm_template(*args).stdout)
    env = _container_env(docs)
    for path, (service, option) in VALUES.items():
        got = env[service].get(option.env)
        assert got is not None, f"{path} sets no {option.env} for dtmon-{service}"
        assert option.parse(got) == option.parse(str(probes[path])), (path, got)


def _container_env(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Service name -> its container's literal environment, from the rendered Deployments."""
    out: dict[str, dict[str, str]] = {}
    for doc in docs:
        if doc.get("kind") != "Deployment":
            continue
        component = doc["metadata"]["labels"].get("app.kubernetes.io/component")
        container = doc["spec"]["template"]["spec"]["containers"][0]
        out[component] = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    return out


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("logLevel=CRITICAL", False),  # the services have no CRITICAL level
        ("processor.triggerSeconds=6", False),
        ("processor.triggerSeconds=0.2", False),
        ("producer.rate=0", True),  # the producer reads 0 as "unthrottled"
        ("processor.triggerSeconds=5", True),
    ],
)
def test_helm_agrees_with_the_services_on_the_edges(value: str, accepted: bool) -> None:
    proc = cs.helm_template("--set", value, check=False)
    assert (proc.returncode == 0) == accepted, proc.stderr
