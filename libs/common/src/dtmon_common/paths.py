"""The one repo-root finder: where a checkout keeps `.cache/` (jars, checkpoints, run data)."""

from __future__ import annotations

from functools import cache
from pathlib import Path


@cache
def repo_root() -> Path | None:
    """The dtmon checkout this code runs from (an editable install), or None when it is
    installed elsewhere (a container image), where callers fall back to their own places."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "versions.env").is_file() and (parent / "services").is_dir():
            return parent
    return None


def cache_dir() -> Path:
    """`<checkout>/.cache`, or `./.cache` outside a checkout."""
    root = repo_root()
    return (root if root is not None else Path.cwd()) / ".cache"
