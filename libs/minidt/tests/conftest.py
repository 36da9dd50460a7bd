"""Fixtures for the minidt tests: the real 500-row sample of data_000000.txt, shipped in minidt."""

from __future__ import annotations

import pytest

from minidt.samples import REAL_SAMPLE

SAMPLE_PATH = REAL_SAMPLE


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    return SAMPLE_PATH.read_bytes()
