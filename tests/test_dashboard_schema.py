"""The Grafana dashboard of the chart against Grafana's published dashboard schema.

Grafana publishes its dashboard schema on npm as @grafana/schema: TypeScript types generated
from the dashboard kind's CUE definition (no JSON Schema is in the package). The dashboard JSON
is pasted as an object literal typed `Dashboard`, so `tsc --strict` checks every field's type,
every enum value and, because object literals are checked for excess properties, every field
name. Grafana itself cannot be installed here (docs/deploy-kubernetes.md); its queries are run
against a real Prometheus in tests/cluster/test_cluster_metrics.py. `make grafana-schema`
installs the pinned packages (tools/grafana-schema) into .cache.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests import chart_support as cs

SCHEMA_DIR = cs.ROOT / ".cache" / "grafana-schema"
TSC = SCHEMA_DIR / "node_modules" / "typescript" / "bin" / "tsc"
DASHBOARDS = sorted((cs.CHART / "dashboards").glob("*.json"))
TYPES = "@grafana/schema/dist/esm/raw/dashboard/x/Dashboard_types.gen"


def _tsc_check(dashboard: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Type-check one dashboard as a `Dashboard` literal (beside node_modules, so the
    package's exports map resolves)."""
    if not TSC.is_file():
        raise AssertionError(f"{TSC} missing: run `make grafana-schema`")
    check = SCHEMA_DIR / f"check-{uuid.uuid4().hex}.ts"
    check.write_text(
        f'import type {{ Dashboard }} from "{TYPES}";\n'
        f"export const dashboard: Dashboard = {json.dumps(dashboard, indent=1)};\n"
    )
    try:
        return subprocess.run(
            ["node", str(TSC), "--noEmit", "--strict", "--module", "nodenext", str(check)],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=SCHEMA_DIR,
        )
    finally:
        check.unlink()


def test_the_pinned_schema_is_the_one_installed() -> None:
    package = json.loads((cs.ROOT / "tools" / "grafana-schema" / "package.json").read_text())
    assert package["devDependencies"]["@grafana/schema"] == cs.versions()["GRAFANA_SCHEMA_VERSION"]
    installed = SCHEMA_DIR / "node_modules" / "@grafana" / "schema" / "package.json"
    assert json.loads(installed.read_text())["version"] == cs.versions()["GRAFANA_SCHEMA_VERSION"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_the_dashboard_matches_grafanas_schema(path: Path) -> None:
    proc = _tsc_check(json.loads(path.read_text()))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.update(graphTooltip="shared"), "DashboardCursorSync"),
        (lambda d: d["panels"][0].update(gridPos={"x": 0, "y": 0}), "GridPos"),
        (lambda d: d["panels"][0].update(colour="red"), "colour"),
    ],
    ids=["wrong-type", "missing-field", "unknown-field"],
)
def test_a_dashboard_the_schema_forbids_is_refused(change, complaint: str) -> None:
    dashboard = json.loads(DASHBOARDS[0].read_text())
    change(dashboard)
    proc = _tsc_check(dashboard)
    assert proc.returncode != 0 and complaint in proc.stdout, proc.stdout
