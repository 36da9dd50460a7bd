"""The bucket of an s3a:// checkpoint, created when it is missing, before the query starts.

Spark's S3A connector reads and writes objects but never creates a bucket, so on a fresh
object store (a new MinIO, a new S3 account) the query fails at start with NoSuchBucket and
the processor can only crash until someone creates it. Like its results topic, the processor
makes sure its own storage exists. The endpoint and addressing come from the same Spark
properties S3A uses (spark-defaults.conf), the credentials from the same AWS_* variables.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from urllib.parse import urlparse

log = logging.getLogger("dtmon.processor")

ENDPOINT = "spark.hadoop.fs.s3a.endpoint"
REGION = "spark.hadoop.fs.s3a.endpoint.region"


class CheckpointBucketError(RuntimeError):
    """The checkpoint's bucket is missing and could not be created; the message says why."""


def ensure_checkpoint_bucket(location: str, spark_conf: Mapping[str, str]) -> str | None:
    """Create the bucket of an s3a:// `location` if it does not exist; the bucket, or None
    for checkpoints that are not on S3."""
    url = urlparse(location)
    if url.scheme not in {"s3a", "s3"}:
        return None
    from minio import Minio
    from minio.error import S3Error

    bucket = url.netloc
    endpoint = urlparse(spark_conf.get(ENDPOINT) or "https://s3.amazonaws.com")
    host = endpoint.netloc or endpoint.path
    client = Minio(
        host,
        access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
        secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        secure=endpoint.scheme != "http",
        region=spark_conf.get(REGION) or os.environ.get("AWS_REGION") or None,
    )
    try:
        if client.bucket_exists(bucket):
            return bucket
        client.make_bucket(bucket)
    except (S3Error, OSError) as exc:
        raise CheckpointBucketError(
            f"checkpoint bucket {bucket!r} at {host} is missing and could not be created: {exc}"
        ) from exc
    log.info("created the checkpoint bucket %s at %s", bucket, host)
    return bucket
