"""Where the repository's installed artefacts live (`.cache/...`), wherever we run from."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from dtmon_common import paths as common_paths


def repo_root() -> Path:
    """The checkout devstack runs from (it is only ever installed editable from one)."""
    root = common_paths.repo_root()
    if root is None:
        raise RuntimeError(f"devstack is not inside a dtmon checkout ({__file__})")
    return root


def cache_dir() -> Path:
    return repo_root() / ".cache"


def env_path(var: str, default: Path) -> Path:
    """A path from the environment (as the Makefile exports it) or the repo default."""
    value = os.environ.get(var)
    return Path(value) if value else default


@cache
def versions() -> dict[str, str]:
    """versions.env parsed: the single source of truth for pinned versions."""
    out: dict[str, str] = {}
    for line in (repo_root() / "versions.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out
