"""Fixtures for the producer tests: the session MinIO server, and helpers on real services."""

from __future__ import annotations

# The lead registers devstack.minio_fixture in devstack's pytest plugin; importing the
# fixture here makes it available to these tests either way (a conftest definition simply
# takes precedence over the plugin's).
from devstack.minio_fixture import minio_server  # noqa: F401
