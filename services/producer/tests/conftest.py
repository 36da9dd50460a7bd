"""Fixtures for the producer tests: the session MinIO server, and helpers on real services."""

from __future__ import annotations

# `minio_server` comes from devstack's pytest plugin (devstack.minio_fixture).
