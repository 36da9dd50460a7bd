"""Fixtures for the minidt tests: the real 500-row sample of data_000000.txt.

The sample lives in the shared data directory next to the repository (CI clones it the same
way); it is never copied into the repo.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def _repo_root() -> Path:
    """The directory holding versions.env, found by walking up from this file."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "versions.env").is_file():
            return parent
    raise RuntimeError(f"no versions.env above {__file__}: cannot locate the repository root")


SAMPLE_PATH = _repo_root().parent / "shared" / "data" / "minidt" / "data_000000_head500.txt"


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    assert SAMPLE_PATH.is_file(), f"shared sample missing: {SAMPLE_PATH}"
    return SAMPLE_PATH.read_bytes()
