"""A stream that goes quiet still closes its last orbits: the real sample is produced once and
nothing follows; the processor wakes itself after the event timeout (an empty record on the
hits topic) and the next batch closes the open orbits by timeout. Every hit is then counted,
and every quantity summed over batches equals the reference on the sample."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from pyspark.sql import SparkSession

from devstack.kafka import KafkaBroker
from dtmon_processor.metrics import ProcessorMetrics
from dtmon_processor.publish import ResultsPublisher, ensure_topic
from dtmon_processor.stream import BatchHandler, StreamSettings, start_query
from minidt.codecs import parse_csv
from minidt.reference import compute_quantities
from services.processor.tests.processor_helpers import (
    SAMPLE,
    TEST_KEYS,
    produce,
    read_all,
    summed,
)


def test_quiet_stream_flushes_after_the_timeout(
    spark: SparkSession, kafka_broker: KafkaBroker, make_topic: Callable[..., str], tmp_path: Path
) -> None:
    lines = SAMPLE.read_bytes().splitlines()
    topic = make_topic(partitions=2)
    produce(kafka_broker.bootstrap_servers, topic, lines, [i % 2 for i in range(len(lines))])
    results = topic + "-results"
    ensure_topic(kafka_broker.bootstrap_servers, results, create=True)
    publisher = ResultsPublisher(kafka_broker.bootstrap_servers, results, TEST_KEYS)
    handler = BatchHandler(spark, publisher, ProcessorMetrics())
    settings = StreamSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        hits_topic=topic,
        results_topic=results,
        checkpoint_location=str(tmp_path / "cp"),
        starting_offsets="earliest",
        max_offsets_per_trigger=200,
        trigger_seconds=0.5,
        event_timeout_seconds=1.0,
    )
    query = start_query(spark, settings, handler)
    whole = compute_quantities(parse_csv(SAMPLE.read_bytes()).hits)
    messages: list[dict] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            got = read_all(kafka_broker.bootstrap_servers, results, timeout=5)
            messages = list(
                {m["batch_id"]: m for m in (json.loads(v) for *_, v, _t in got)}.values()
            )
            if sum(m["hits"] for m in messages) >= whole["hits"]:
                break
            time.sleep(1)
    finally:
        query.stop()
        handler.close()
        publisher.close()
    assert sum(m["hits"] for m in messages) == whole["hits"], "open orbits never closed"
    assert summed(messages) == whole
    assert sum(m["events"]["timeout_closed_orbits"] for m in messages) > 0
    assert max(messages, key=lambda m: m["batch_id"])["events"]["carried_out_hits"] == 0
