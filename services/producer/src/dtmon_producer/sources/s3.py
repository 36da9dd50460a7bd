"""S3 inputs (`s3://bucket/prefix`) through the `minio` client: MinIO, CloudVeneto, AWS.

Objects are listed in name order and streamed block by block from the HTTP response, so
memory stays flat for a 30 MB object. Everything that can be checked before streaming
(credentials, bucket, at least one object) is checked in the constructor, so a wrong bucket
or key fails with one line before the first record is sent.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from dtmon_producer.errors import InputError
from dtmon_producer.sources import Chunk
from dtmon_producer.sources.formats import (
    WORD_BYTES,
    ByteOrder,
    Format,
    read_binary_words,
    read_text_lines,
    size_error,
)


@dataclass(frozen=True, slots=True)
class S3Location:
    """`s3://bucket/prefix` split into its parts (prefix may be empty)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith("s3://"):
            raise InputError(f"not an S3 URL (expected s3://bucket/prefix): {url}")
        bucket, _, prefix = url[len("s3://") :].partition("/")
        if not bucket:
            raise InputError(f"S3 URL without a bucket name: {url}")
        return cls(bucket, prefix)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True, slots=True)
class S3Settings:
    """Connection settings; None credentials fall back to the AWS_* environment variables."""

    endpoint: str
    access_key: str | None = None
    secret_key: str | None = None
    insecure: bool = False
    region: str | None = None


def make_client(settings: S3Settings) -> Minio:
    """A minio client; `http://`/`https://` in the endpoint override --s3-insecure."""
    endpoint, secure = settings.endpoint, not settings.insecure
    if endpoint.startswith("http://"):
        endpoint, secure = endpoint[len("http://") :], False
    elif endpoint.startswith("https://"):
        endpoint, secure = endpoint[len("https://") :], True
    endpoint = endpoint.rstrip("/")
    if not endpoint:
        raise InputError("--s3-endpoint is required for s3:// sources (host:port or URL)")
    access = settings.access_key or os.environ.get("AWS_ACCESS_KEY_ID")
    secret = settings.secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
    token = os.environ.get("AWS_SESSION_TOKEN")
    region = settings.region or os.environ.get("AWS_REGION") or None
    # urllib3 logs every retry as a warning; the one error line below says it all.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    # Few, short retries: a wrong endpoint should fail in seconds, not minutes.
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=10, read=60),
        retries=urllib3.Retry(total=3, backoff_factor=0.5, status_forcelist=[500, 502, 503, 504]),
    )
    try:
        return Minio(
            endpoint,
            access_key=access,
            secret_key=secret,
            session_token=token,
            secure=secure,
            region=region,
            http_client=http,
        )
    except ValueError as exc:
        raise InputError(f"invalid --s3-endpoint {settings.endpoint!r}: {exc}") from exc


class S3Source:
    """Every object under an S3 prefix, in name order, as CSV or binary records."""

    def __init__(
        self,
        url: str,
        settings: S3Settings,
        fmt: Format = "csv",
        byteorder: ByteOrder = "little",
    ) -> None:
        self.location = S3Location.parse(url)
        self.settings = settings
        self.fmt = fmt
        self.byteorder = byteorder
        self.client = make_client(settings)
        self.objects = self._list()

    def _where(self) -> str:
        return f"{self.location} at {self.settings.endpoint}"

    def _list(self) -> list[tuple[str, int]]:
        loc = self.location
        try:
            found = self.client.list_objects(loc.bucket, prefix=loc.prefix or None, recursive=True)
            objects = sorted(
                (obj.object_name, int(obj.size or 0))
                for obj in found
                if obj.object_name and not obj.is_dir
            )
        except S3Error as exc:
            raise InputError(f"S3 {self._where()}: {exc.code}: {exc.message}") from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise InputError(f"S3 {self._where()}: cannot list objects: {exc}") from exc
        if not objects:
            raise InputError(f"S3 {self._where()}: no objects under this prefix")
        if self.fmt == "binary":
            for name, size in objects:
                if not name.endswith(".gz") and size % WORD_BYTES:
                    raise InputError(size_error(f"s3://{loc.bucket}/{name}", size))
        return objects

    def describe(self) -> str:
        return f"{len(self.objects)} {self.fmt} object(s) from {self._where()}"

    def chunks(self) -> Iterator[Chunk]:
        for name, _size in self.objects:
            origin = f"s3://{self.location.bucket}/{name}"
            response = self._get(name, origin)
            try:
                stream: BinaryIO = response  # type: ignore[assignment]
                if name.endswith(".gz"):
                    stream = gzip.GzipFile(fileobj=response, mode="rb")  # type: ignore[arg-type]
                if self.fmt == "binary":
                    blocks = read_binary_words(stream, origin, self.byteorder)
                else:
                    blocks = read_text_lines(stream, origin)
                for lines in blocks:
                    yield Chunk(origin, lines)
            finally:
                response.close()
                response.release_conn()

    def _get(self, name: str, origin: str) -> urllib3.BaseHTTPResponse:
        try:
            return self.client.get_object(self.location.bucket, name)
        except S3Error as exc:
            raise InputError(f"S3 {origin}: {exc.code}: {exc.message}") from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise InputError(f"S3 {origin}: cannot read object: {exc}") from exc
