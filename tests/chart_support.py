"""Shared helpers of the chart tests: find the pinned tools, render helm/dtmon, walk manifests.

Why a helper module: tests/test_chart.py, tests/test_consistency.py and tests/test_versions.py
all read the rendered chart the same way, and nothing here may download anything (the tools
come from `make tools`, the Kubernetes schemas from the kubernetes-validate package).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "dtmon"
NAMESPACE = "dtmon"
RELEASE = "dtmon"
# The Kubernetes version whose schemas the rendered chart is validated against.
KUBE_VERSION = "1.33.0"

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}


def tool(name: str) -> str:
    """Path of a tool installed by `make tools` (in <repo>/.cache/bin, or on PATH)."""
    local = ROOT / ".cache" / "bin" / name
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} not found in {local.parent} or on PATH: run `make tools`")
    return found


def versions() -> dict[str, str]:
    """versions.env as a dict: the single source of the pinned versions."""
    out: dict[str, str] = {}
    for line in (ROOT / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def helm_template(
    *args: str, chart: Path = CHART, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `helm template` on the chart (release dtmon, namespace dtmon) with extra args."""
    cmd = [
        tool("helm"),
        "template",
        RELEASE,
        str(chart),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return proc


def load_docs(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a rendered manifest stream."""
    return [d for d in yaml.safe_load_all(text) if d]


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource id, pod spec) of every workload and bare Pod in the render."""
    for doc in docs:
        kind = doc["kind"]
        rid = f"{kind}/{doc['metadata']['name']}"
        if kind in WORKLOAD_KINDS:
            yield rid, doc["spec"]["template"]["spec"]
        elif kind == "Pod":
            yield rid, doc["spec"]


def env_names(docs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Container image repository -> names of the environment variables the chart sets."""
    out: dict[str, set[str]] = {}
    for _, spec in pod_specs(docs):
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            repo = (
                container["image"].rsplit(":", 1)[0]
                if "@" not in container["image"]
                else (container["image"].split("@", 1)[0].rsplit(":", 1)[0])
            )
            names = out.setdefault(repo, set())
            names.update(e["name"] for e in container.get("env", []))
    return out
