"""The local MinIO server: real S3 round trip, clean stop, and a helpful error when missing."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from devstack.minio import MinioNotInstalled, MinioServer, minio_binary


def test_minio_serves_s3_and_leaves_no_process_behind(tmp_path: Path) -> None:
    server = MinioServer(tmp_path / "data").start()
    try:
        pid = server._proc.pid  # type: ignore[union-attr]
        client = server.client()
        client.make_bucket("roundtrip")
        client.put_object("roundtrip", "a/b.txt", io.BytesIO(b"hello"), 5)
        assert client.get_object("roundtrip", "a/b.txt").read() == b"hello"
        assert server.env()["AWS_ACCESS_KEY_ID"] == server.access_key
    finally:
        server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_missing_binary_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DTMON_MINIO_BIN", str(tmp_path / "no-minio"))
    with pytest.raises(MinioNotInstalled, match=r"run `make tools`"):
        minio_binary()
