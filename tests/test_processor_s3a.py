"""The processor as the Helm chart runs it: checkpoints on s3a:// (here a real MinIO server).

Same jar set as the processor image (the pom's s3a profile: connector + hadoop-aws), same
mechanism for the S3A settings (a spark-defaults.conf in SPARK_CONF_DIR), credentials from
the AWS_* variables the chart takes from its Secret. A rescheduled driver on Kubernetes
resumes from exactly this checkpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition

from devstack.paths import cache_dir
from devstack.processes import script
from minidt.samples import REAL_SAMPLE
from services.processor.tests.processor_helpers import TEST_KEY_LINE


def _results(bootstrap: str, topic: str) -> list[dict]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "s3a-check"})
    consumer.assign([TopicPartition(topic, 0, 0)])
    out = [json.loads(m.value()) for m in consumer.consume(num_messages=100, timeout=10)]
    consumer.close()
    return out


def test_processor_checkpoints_to_s3a_on_minio(
    kafka_broker, make_topic, minio_server, tmp_path: Path
) -> None:
    jars = cache_dir() / "spark-jars-s3a"
    assert any(jars.glob("hadoop-aws-*.jar")), f"{jars} lacks hadoop-aws: run `make s3a-jars`"
    # A fresh object store: the processor creates its checkpoint bucket itself.
    bucket = f"ckpt-{uuid.uuid4().hex[:8]}"
    assert not minio_server.client().bucket_exists(bucket)
    hits, results = make_topic(partitions=2), make_topic(partitions=1)
    producer = Producer({"bootstrap.servers": kafka_broker.bootstrap_servers})
    lines = (REAL_SAMPLE).read_text().splitlines()[1:]
    for line in lines:
        producer.produce(hits, value=line.encode())
    assert producer.flush(30) == 0

    conf = tmp_path / "spark-conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(
        f"spark.hadoop.fs.s3a.endpoint {minio_server.url}\n"
        "spark.hadoop.fs.s3a.endpoint.region us-east-1\n"
        "spark.hadoop.fs.s3a.path.style.access true\n"
        "spark.hadoop.fs.s3a.connection.ssl.enabled false\n"
    )
    env = {
        **os.environ,
        **minio_server.env(),
        "SPARK_CONF_DIR": str(conf),
        "DTMON_SIGNING_KEYS": TEST_KEY_LINE,
        "DTMON_SPARK_JARS_DIR": str(jars),
    }
    argv = [
        script("dtmon-processor"),
        "run",
        "--bootstrap-servers",
        kafka_broker.bootstrap_servers,
        "--hits-topic",
        hits,
        "--results-topic",
        results,
        "--starting-offsets",
        "earliest",
        "--available-now",
        "--checkpoint-location",
        f"s3a://{bucket}/processor",
        "--metrics-port",
        "0",
        "--no-ui",
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]

    messages = _results(kafka_broker.bootstrap_servers, results)
    # Event building: hits of orbits still open after the last batch are carried, in the
    # checkpoint, for the next run; none is lost.
    last = max(messages, key=lambda m: m["batch_id"])
    assert sum(m["hits"] for m in messages) + last["events"]["carried_out_hits"] == 248
    objects = {
        o.object_name
        for o in minio_server.client().list_objects(bucket, prefix="processor/", recursive=True)
    }
    assert "processor/offsets/0" in objects and "processor/commits/0" in objects, objects
    # The carried hits live in the s3a:// checkpoint too (exactly-once across a restart).
    assert f"processor/dtmon-events/{last['batch_id']}.json" in objects, objects
