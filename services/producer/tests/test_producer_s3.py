"""The S3 source against a real MinIO server (started by the `minio_server` fixture):
objects in name order, gzip and simulator objects streamed, and wrong credentials/bucket."""

from __future__ import annotations

import gzip
import io
import uuid
from pathlib import Path

from devstack.minio import MinioServer
from dtmon_producer.sim.simulator import Simulator
from dtmon_producer.sources.s3 import S3Settings, S3Source
from minidt.codecs import CSV_HEADER
from services.producer.tests.producer_helpers import SAMPLE, run_producer, sample_lines


def _bucket(server: MinioServer) -> str:
    name = f"minidt-{uuid.uuid4().hex[:12]}"
    server.client().make_bucket(name)
    return name


def _put(server: MinioServer, bucket: str, name: str, data: bytes) -> None:
    server.client().put_object(bucket, name, io.BytesIO(data), len(data))


def test_s3_prefix_streams_every_object_in_name_order(
    minio_server: MinioServer, tmp_path: Path
) -> None:
    bucket = _bucket(minio_server)
    sim_lines: list[bytes] = []
    sim = Simulator(seed=12)
    while len(sim_lines) < 60_000:  # ~1.5 MB: several read blocks per object
        sim_lines.extend(sim.next_lines())
    sim_text = CSV_HEADER.encode() + b"\n" + b"\n".join(sim_lines) + b"\n"
    # Uploaded out of name order; another prefix must be ignored.
    _put(minio_server, bucket, "stream/data_000002.txt", sim_text)
    _put(minio_server, bucket, "stream/data_000000.txt", SAMPLE.read_bytes())
    _put(minio_server, bucket, "stream/data_000001.txt.gz", gzip.compress(SAMPLE.read_bytes()))
    _put(minio_server, bucket, "other/data_000000.txt", b"9,9,9,9,9,9\n")
    expected = sample_lines() * 2 + sim_lines

    out = tmp_path / "from_s3.txt"
    proc = run_producer(
        "--source", f"s3://{bucket}/stream/", "--s3-endpoint", minio_server.url,
        "--rate", "0", "--output", str(out),
        **minio_server.env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().splitlines() == [CSV_HEADER.encode(), *expected]
    for name in ("data_000000.txt", "data_000001.txt.gz", "data_000002.txt"):
        assert f"finished s3://{bucket}/stream/{name}" in proc.stderr

    # The same through the API, with explicit keys and a host:port endpoint: the response is
    # read in blocks (never the whole object at once).
    settings = S3Settings(
        endpoint=minio_server.endpoint,
        access_key=minio_server.access_key,
        secret_key=minio_server.secret_key,
        insecure=True,
    )
    chunks = list(S3Source(f"s3://{bucket}/stream/data_000002", settings).chunks())
    assert len(chunks) > 1
    assert [line for c in chunks for line in c.lines] == sim_lines


def _one_line_error(proc: object) -> str:
    assert proc.returncode == 2, proc.stderr  # type: ignore[attr-defined]
    lines = proc.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    return lines[0]


def test_wrong_s3_credentials_or_bucket_fail_with_one_line(minio_server: MinioServer) -> None:
    bucket = _bucket(minio_server)
    _put(minio_server, bucket, "data_000000.txt", SAMPLE.read_bytes())
    common = ("--s3-endpoint", minio_server.url, "--bootstrap-servers", "127.0.0.1:1")

    line = _one_line_error(
        run_producer(
            "--source", f"s3://{bucket}/", *common,
            AWS_ACCESS_KEY_ID=minio_server.access_key, AWS_SECRET_ACCESS_KEY="wrong-secret",
        )
    )  # fmt: skip
    assert f"s3://{bucket}/" in line and "SignatureDoesNotMatch" in line

    line = _one_line_error(
        run_producer("--source", "s3://no-such-bucket-dtmon/", *common, **minio_server.env())
    )
    assert "no-such-bucket-dtmon" in line and "NoSuchBucket" in line

    line = _one_line_error(
        run_producer("--source", f"s3://{bucket}/nothing-here/", *common, **minio_server.env())
    )
    assert "no objects" in line

    _put(minio_server, bucket, "bin/data.dat", b"\x00" * 12)
    line = _one_line_error(
        run_producer(
            "--source", f"s3://{bucket}/bin/", "--format", "binary", *common, **minio_server.env()
        )
    )
    assert f"s3://{bucket}/bin/data.dat" in line and "multiple of 8" in line
