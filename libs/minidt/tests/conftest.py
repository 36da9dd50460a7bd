"""Fixtures for the minidt tests; `sample_file` (the real sample) comes from devstack's plugin."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_bytes(sample_file: Path) -> bytes:
    return sample_file.read_bytes()
