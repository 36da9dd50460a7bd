"""The reference run: a cumulative view saved as JSON to a file or to S3, loaded at start.

A reference is what "healthy" means for this detector, known noisy channels and dead ones
included: channels are flagged only when they differ from it. S3 objects are read and
written with the minio client (already what the producer uses); credentials come from the
standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY variables, never from a flag.
"""

from __future__ import annotations

import io
import time
from urllib.parse import urlparse

from pydantic import ValidationError

from dtmon_api.health.models import ReferenceRun


class ReferenceError(RuntimeError):
    """A reference cannot be read or written; the message names the location and why."""


def _s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    from minio import Minio
    from minio.credentials import EnvAWSProvider

    if not endpoint:
        raise ReferenceError("an s3:// reference needs --reference-s3-endpoint")
    url = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
    return Minio(url.netloc, credentials=EnvAWSProvider(), secure=url.scheme == "https")


def _split(location: str) -> tuple[str, str]:
    url = urlparse(location)
    key = url.path.lstrip("/")
    if not url.netloc or not key:
        raise ReferenceError(f"{location}: expected s3://bucket/key")
    return url.netloc, key


def read_reference(location: str, s3_endpoint: str = "") -> ReferenceRun:
    """Load and validate a reference from a path or s3://bucket/key."""
    try:
        if location.startswith("s3://"):
            bucket, key = _split(location)
            response = _s3_client(s3_endpoint).get_object(bucket, key)
            try:
                data = response.read()
            finally:
                response.close()
                response.release_conn()
        else:
            with open(location, "rb") as fh:
                data = fh.read()
        return ReferenceRun.model_validate_json(data)
    except ReferenceError:
        raise
    except ValidationError as err:
        raise ReferenceError(f"{location}: not a dtmon.reference.v1 document: {err}") from None
    except Exception as err:  # OSError, S3Error, urllib3 errors: one line naming the place
        raise ReferenceError(f"{location}: cannot read the reference: {err}") from None


def write_reference(reference: ReferenceRun, location: str, s3_endpoint: str = "") -> None:
    """Save a reference to a path or s3://bucket/key (the bucket must exist)."""
    data = reference.model_dump_json(indent=1).encode()
    try:
        if location.startswith("s3://"):
            bucket, key = _split(location)
            _s3_client(s3_endpoint).put_object(
                bucket, key, io.BytesIO(data), len(data), content_type="application/json"
            )
        else:
            with open(location, "wb") as fh:
                fh.write(data)
    except ReferenceError:
        raise
    except Exception as err:
        raise ReferenceError(f"{location}: cannot write the reference: {err}") from None


def now_ms() -> int:
    return int(time.time() * 1000)
