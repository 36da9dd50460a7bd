"""The chart, skaffold.yaml and the services agree with each other.

Image names in skaffold.yaml and the chart values, the Dockerfiles skaffold builds, and every
DTMON_* environment variable a chart template sets is one the service actually reads (read
from the service's own `--help`, which EnvArgumentParser annotates with `[env: DTMON_...]`).
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest
import yaml

from tests import chart_support as cs

SERVICES = ("producer", "processor", "api")
# The python3 each Debian suite ships: the images' interpreter (Debian's own, on BASE_IMAGE).
DEBIAN_PYTHON = {"bookworm": "3.11", "trixie": "3.13"}
# Variables set on purpose that are not DTMON_* flags: what each is read by.
OTHER_ENV = {
    "HOME": "a writable home (/tmp) under a read-only root filesystem",
    "AWS_ACCESS_KEY_ID": "S3 clients (minio package, hadoop-aws)",
    "AWS_SECRET_ACCESS_KEY": "S3 clients (minio package, hadoop-aws)",
    "AWS_REGION": "S3 clients",
    "POD_NAME": "spark.kubernetes.driver.pod.name=${env:POD_NAME} in spark-defaults.conf",
    "SPARK_CONF_DIR": "spark-submit reads spark-defaults.conf from it",
    "SEED_ENDPOINT": "the seed Job's embedded upload script",
    "SEED_BUCKETS": "the seed Job's embedded upload script",
    "SEED_OBJECT": "the seed Job's embedded upload script",
    "TEST_BASE_URL": "the helm test Pod's embedded script",
    "TEST_TIMEOUT_SECONDS": "the helm test Pod's embedded script",
}
RENDER_ARGS = (
    (),
    ("--set", "producer.source=s3"),
    ("--set", "processor.master=local[*]"),
    (
        "--set",
        "minio.enabled=false",
        "--set",
        "s3.endpoint=http://s3:9000",
        "--set",
        "s3.existingSecret=s3",
    ),
)


def _skaffold() -> dict[str, Any]:
    return yaml.safe_load((cs.ROOT / "skaffold.yaml").read_text())


def _values() -> dict[str, Any]:
    return yaml.safe_load((cs.CHART / "values.yaml").read_text())


def _help_text(service: str) -> str:
    exe = cs.ROOT / ".venv" / "bin" / f"dtmon-{service}"
    assert exe.is_file(), f"{exe} missing: run `make venv`"
    commands = [[str(exe), "--help"]]
    if service == "processor":
        commands.append([str(exe), "run", "--help"])  # the streaming sub-command's flags
    env = {**os.environ, "COLUMNS": "1000"}  # no wrapping inside "[env: NAME]"
    out = []
    for cmd in commands:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stderr}"
        out.append(proc.stdout)
    return "\n".join(out)


@pytest.fixture(scope="module")
def service_env() -> dict[str, set[str]]:
    """Service -> the DTMON_* variables its CLI reads."""
    return {s: set(re.findall(r"\[env:\s*(DTMON_[A-Z0-9_]+)\]", _help_text(s))) for s in SERVICES}


def test_skaffold_images_match_chart_values() -> None:
    sk = _skaffold()
    values = _values()
    artifacts = {a["image"]: a for a in sk["build"]["artifacts"]}
    assert set(artifacts) == {values[s]["image"]["repository"] for s in SERVICES}
    for service in SERVICES:
        image = values[service]["image"]["repository"]
        art = artifacts[image]
        assert art["context"] == "."
        assert art["docker"]["dockerfile"] == f"services/{service}/Dockerfile"
        key = image.replace("-", "_")
        releases = [sk["deploy"]["helm"]["releases"][0]] + [
            r
            for p in sk["profiles"]
            for r in p.get("deploy", {}).get("helm", {}).get("releases", [])
        ]
        for release in releases:
            assert release["chartPath"] == "helm/dtmon"
            templates = release["setValueTemplates"]
            assert templates[f"{service}.image.repository"] == f"{{{{.IMAGE_REPO_{key}}}}}"
            assert templates[f"{service}.image.tag"].startswith(f"{{{{.IMAGE_TAG_{key}}}}}")
    assert {p["name"] for p in sk["profiles"]} >= {"dev", "kind", "production"}


def test_every_dockerfile_exists() -> None:
    for art in _skaffold()["build"]["artifacts"]:
        path = cs.ROOT / art["context"] / art["docker"]["dockerfile"]
        assert path.is_file(), f"skaffold builds {art['image']} from {path}, which is missing"


def test_dev_profile_syncs_existing_sources() -> None:
    """Sync rules copy real source trees to where the image installed the packages."""
    sk = _skaffold()
    dev = next(p for p in sk["profiles"] if p["name"] == "dev")
    for patch in dev["patches"]:
        index = int(patch["path"].split("/")[3])
        art = sk["build"]["artifacts"][index]
        path = cs.ROOT / art["docker"]["dockerfile"]
        assert path.is_file(), f"{path} missing"
        dockerfile = path.read_text()
        assert "python3" in dockerfile, f"{art['docker']['dockerfile']}: no Debian python3"
        python = DEBIAN_PYTHON[cs.versions()["DEBIAN_SUITE"]]
        for rule in patch["value"]["manual"]:
            prefix = rule["src"].split("*", 1)[0]
            assert (cs.ROOT / prefix).is_dir(), f"dev sync source {rule['src']} matches nothing"
            assert prefix.startswith(rule["strip"])
            venv = rule["dest"].split("/lib/", 1)[0]
            assert venv in dockerfile, f"{art['image']}: {venv} is not where the image installs"
            assert rule["dest"] == f"{venv}/lib/python{python}/site-packages"


def test_chart_env_vars_are_read_by_the_services(service_env: dict[str, set[str]]) -> None:
    values = _values()
    repo_to_service = {values[s]["image"]["repository"]: s for s in SERVICES}
    unknown: list[str] = []
    seen: set[str] = set()
    for args in RENDER_ARGS:
        docs = cs.load_docs(cs.helm_template(*args).stdout)
        for repo, names in cs.env_names(docs).items():
            service = repo_to_service.get(repo)
            if service is None:
                continue  # MinIO's own image: its variables are MinIO's
            for name in names:
                seen.add(name)
                if name.startswith("DTMON_"):
                    if name not in service_env[service]:
                        unknown.append(f"{name} (set for dtmon-{service})")
                elif name not in OTHER_ENV:
                    unknown.append(f"{name} (set for dtmon-{service}, not explained)")
    assert not unknown, "variables no service reads:\n" + "\n".join(sorted(unknown))
    assert {"DTMON_BOOTSTRAP_SERVERS", "DTMON_MASTER", "DTMON_PORT", "DTMON_RATE"} <= seen


def test_seed_job_uses_real_producer_flags() -> None:
    docs = cs.load_docs(cs.helm_template().stdout)
    (job,) = [d for d in docs if d["kind"] == "Job"]
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    producer_help = _help_text("producer")
    line = next(x for x in script.splitlines() if x.strip().startswith("dtmon-producer"))
    for flag in re.findall(r"--[a-z][a-z-]+", line):
        assert re.search(rf"(^|\s){re.escape(flag)}[\s,]", producer_help), flag


def test_metrics_ports_match_service_defaults() -> None:
    values = _values()
    producer = _help_text("producer")
    assert values["producer"]["metricsPort"] == 9101
    assert "9101" in producer
    assert values["api"]["port"] == 8000


def test_dashboard_queries_metrics_the_services_define() -> None:
    """Every dtmon_* series the Grafana dashboard queries is declared by its service (the
    prometheus_client name, before the _total/_bucket suffix the client adds)."""
    dashboard = (cs.CHART / "dashboards" / "dtmon.json").read_text()
    names = set(re.findall(r"\b(dtmon_[a-z0-9_]+)", dashboard))
    assert names
    for name in sorted(names):
        base = re.sub(r"_(total|bucket|sum|count)$", "", name)
        service = base.split("_")[1]
        assert service in SERVICES, name
        prefix = f"dtmon_{service}_"
        sources = "\n".join(
            p.read_text() for p in (cs.ROOT / "services" / service / "src").rglob("*.py")
        )
        declared = f'"{base}"' in sources or f'"{base.removeprefix(prefix)}"' in sources
        assert declared, f"dashboard queries {name}; dtmon-{service} declares no {base}"
