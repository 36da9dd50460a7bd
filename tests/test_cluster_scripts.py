"""The local cluster's scripts (k8s/cluster) and the Kafka image's entry point, offline:
shellcheck-clean, and wired to the Makefile targets the README names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = [
    *sorted((ROOT / "k8s" / "cluster").glob("*.sh")),
    ROOT / "k8s" / "images" / "kafka" / "kafka-kraft.sh",
]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_is_shellcheck_clean(script: Path) -> None:
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "shellcheck"), "-x", "-P", "SCRIPTDIR", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=script.parent,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_make_targets_run_the_cluster_scripts() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target, script in (
        ("cluster-binaries", "build-binaries.sh"),
        ("cluster-up", "up.sh"),
        ("images", "images.sh build"),
        ("deploy", "deploy.sh"),
        ("cluster-down", "down.sh"),
    ):
        body = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.M)
        assert body and f"k8s/cluster/{script}" in body.group(1), target


def test_scripts_source_the_one_place_for_paths_and_pins() -> None:
    for script in (ROOT / "k8s" / "cluster").glob("*.sh"):
        if script.name != "lib.sh":
            assert '. "$(dirname "$0")/lib.sh"' in script.read_text(), script.name
    lib = (ROOT / "k8s" / "cluster" / "lib.sh").read_text()
    assert '. "$ROOT/versions.env"' in lib
