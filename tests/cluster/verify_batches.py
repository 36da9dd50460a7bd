"""Checks the batches the API on the cluster serves against the minidt reference on exactly
the records they read: nothing lost, nothing counted twice. Event building closes each orbit
once, whole, in some batch (the hits of an orbit cut by a batch boundary are carried), so
every quantity summed over the batches, from the query's first batch to one that carried
nothing out, equals the reference on all the records those batches read.

Runs on the cluster's node (k8s/cluster/node-exec.sh), reaching the services by their
cluster DNS names as the pods do: the batches' Kafka offsets come from the processor's Spark
offset log in its s3a:// checkpoint in MinIO, the records from the broker. Prints one JSON
summary; exits 1 if anything differs.

    python -m tests.cluster.verify_batches --api http://dtmon-api:8000 ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from urllib.parse import urlparse

import httpx
import numpy as np
from minio import Minio

from dtmon_common.kafka_security import KafkaSecurity
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
    parser.add_argument(
        "--kafka-username", help="SASL/SCRAM user (password in $KAFKA_PASSWORD) that reads hits"
    )
    args = parser.parse_args()
    client: dict[str, str] = {}
    if args.kafka_username:
        # Another client of the processor's user, which may read hits ("dtmon-processor-"
        # is one of its consumer-group prefixes).
        client = KafkaSecurity(
            "SASL_PLAINTEXT", username=args.kafka_username, password=os.environ["KAFKA_PASSWORD"]
        ).librdkafka() | {"group.id": "dtmon-processor-verify"}

    batches = httpx.get(f"{args.api}/api/v1/batches", params={"limit": 1000}, timeout=30).json()
    ranges = batch_ranges(offset_log(args.s3_endpoint, args.bucket, args.prefix), args.hits_topic)
    ids = [b["batch_id"] for b in batches]
    problems: list[str] = []
    if ids != list(range(len(ids))):
        problems.append(f"the API does not hold every batch from 0: {ids[:5]}...{ids[-5:]}")
    if batches and batches[-1]["events"]["carried_out_hits"]:
        problems.append(f"the last batch still carries {batches[-1]['events']['carried_out_hits']}")
    missing = [i for i in ids if i not in ranges]
    if missing:
        problems.append(f"batches missing from the offset log: {missing}")
    lines: list[str] = []
    for batch_id in ids:
        if batch_id in ranges:
            lines.extend(read_lines(args.bootstrap, args.hits_topic, ranges[batch_id], client))
    expected = compute_quantities(parse_csv(lines).hits)
    for key in QUANTITY_FIELDS:
        if isinstance(expected[key], list) and expected[key] and isinstance(expected[key][0], dict):
            got = np.sum([[h["bin_counts"] for h in b[key]] for b in batches], axis=0).tolist()
            want = [h["bin_counts"] for h in expected[key]]
        else:
            got = np.sum([b[key] for b in batches], axis=0).tolist()
            want = expected[key]
        if got != want:
            problems.append(f"{key} summed over the batches differs from the reference")
    summary = {
        "batches": len(batches),
        "hits": sum(b["hits"] for b in batches),
        "reference_hits": expected["hits"],
        "records": len(lines),
        "problems": problems,
    }
    print(json.dumps(summary))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
