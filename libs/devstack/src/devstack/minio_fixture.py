"""The `minio_server` pytest fixture: one real MinIO server per test session.

Registered by devstack's pytest plugin; tests that need their own objects create a
uniquely named bucket on it instead of restarting the server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.minio import MinioServer


@pytest.fixture(scope="session")
def minio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MinioServer]:
    """A started MinioServer (``.endpoint``, ``.access_key``, ``.secret_key``, ``.client()``)."""
    server = MinioServer(tmp_path_factory.mktemp("minio") / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()
