"""Checks every batch the API on the cluster serves against the minidt reference on exactly
that batch's records. Runs on the cluster's node (k8s/cluster/node-exec.sh), reaching the
services by their cluster DNS names as the pods do: the batch's Kafka offsets come from the
processor's Spark offset log in its s3a:// checkpoint in MinIO, the records from the broker.
Prints one JSON summary; exits 1 if any batch differs.

    python -m tests.cluster.verify_batches --api http://dtmon-api:8000 ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from urllib.parse import urlparse

import httpx
from minio import Minio

from minidt.codecs import parse_csv
from minidt.reference import QUANTITY_FIELDS, compute_quantities
from tests.e2e.pipeline import batch_ranges, read_lines


def offset_log(endpoint: str, bucket: str, prefix: str) -> dict[int, str]:
    """batch id -> text of `<checkpoint>/offsets/<batch id>` in the object store."""
    url = urlparse(endpoint)
    client = Minio(
        url.netloc,
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        secure=url.scheme == "https",
        region=os.environ.get("AWS_REGION", "us-east-1"),
    )
    out: dict[int, str] = {}
    for obj in client.list_objects(bucket, prefix=f"{prefix.strip('/')}/offsets/"):
        name = obj.object_name.rsplit("/", 1)[-1]
        if name.isdigit():
            response = client.get_object(bucket, obj.object_name)
            try:
                out[int(name)] = response.read().decode()
            finally:
                response.close()
                response.release_conn()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--hits-topic", default="dt-hits")
    args = parser.parse_args()

    batches = httpx.get(f"{args.api}/api/v1/batches", params={"limit": 1000}, timeout=30).json()
    ranges = batch_ranges(offset_log(args.s3_endpoint, args.bucket, args.prefix), args.hits_topic)
    mismatches: list[int] = []
    missing: list[int] = []
    for batch in batches:
        if batch["batch_id"] not in ranges:
            missing.append(batch["batch_id"])
            continue
        lines = read_lines(args.bootstrap, args.hits_topic, ranges[batch["batch_id"]])
        expected = compute_quantities(parse_csv(lines).hits)
        if {k: batch[k] for k in QUANTITY_FIELDS} != expected:
            mismatches.append(batch["batch_id"])
    summary = {
        "batches": len(batches),
        "hits": sum(b["hits"] for b in batches),
        "offset_log_entries": len(ranges),
        "missing_from_offset_log": missing,
        "mismatches": mismatches,
    }
    print(json.dumps(summary))
    return 1 if mismatches or missing else 0


if __name__ == "__main__":
    sys.exit(main())
