"""Consumer lag measured against the hits topic's end offsets, independently of batches.

Spark's progress events only arrive when a micro-batch ends, and their `latestOffset` is the
offset the batch was planned up to, so a lag derived from them reads 0 while a backlog of
millions waits (issue 12's probe saw exactly that). Here a thread asks the broker for the
partitions' end offsets every few seconds and subtracts what the query has processed (the
end offsets of its last completed batch, from the progress listener). The same metadata
request is the processor's broker probe: `BrokerWatch` turns readiness false when it goes
unanswered, e.g. while the broker is frozen.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from pyspark.sql.streaming import StreamingQueryListener

from dtmon_common.broker_watch import PROBE_CLIENT_CONFIG
from dtmon_common.kafka_security import KafkaSecurity
from dtmon_processor.metrics import ProcessorMetrics

log = logging.getLogger(__name__)


class HitsLag:
    """`probe(timeout)` refreshes the lag gauge; `processed_up_to` is fed by the listener."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        metrics: ProcessorMetrics,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.topic = topic
        self.metrics = metrics
        self._lock = threading.Lock()
        self._processed: dict[int, int] = {}
        self._consumer: Consumer | None = None
        self._config = {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"dtmon-processor-lag-{uuid.uuid4().hex[:12]}",  # never joined
            "enable.auto.commit": False,
            "logger": logging.getLogger("dtmon_processor.kafka"),
            **PROBE_CLIENT_CONFIG,
            **(security or KafkaSecurity()).librdkafka(),
        }

    def processed_up_to(self, offsets: dict[int, int]) -> None:
        """Record the end offsets (next offset to read, per partition) of a finished batch."""
        with self._lock:
            for partition, offset in offsets.items():
                self._processed[partition] = max(offset, self._processed.get(partition, 0))

    def probe(self, timeout: float) -> int | None:
        """Ask the broker for the end offsets; set and return the lag (None before the first
        batch: what the query has processed is not known yet). Raises when the broker does
        not answer within `timeout`, which is what BrokerWatch counts as no contact."""
        if self._consumer is None:
            self._consumer = Consumer(self._config)
        metadata = self._consumer.list_topics(self.topic, timeout=timeout)
        topic = metadata.topics.get(self.topic)
        if topic is None or topic.error is not None:
            raise KafkaException(topic.error if topic is not None else "topic missing")
        ends: dict[int, int] = {}
        lows: dict[int, int] = {}
        for partition in sorted(topic.partitions):
            low, high = self._consumer.get_watermark_offsets(
                TopicPartition(self.topic, partition), timeout=timeout, cached=False
            )
            ends[partition], lows[partition] = high, low
        with self._lock:
            if not self._processed:
                return None
            processed = dict(self._processed)
        lag = sum(max(0, end - processed.get(p, lows[p])) for p, end in ends.items())
        self.metrics.consumer_lag.set(lag)
        self.metrics.end_offsets.set(sum(ends.values()))
        return lag

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class ProgressListener(StreamingQueryListener):
    """Feeds HitsLag with each finished batch's end offsets of the hits topic."""

    def __init__(self, lag: HitsLag) -> None:
        self.lag = lag

    def onQueryStarted(self, event: Any) -> None:
        return None

    def onQueryProgress(self, event: Any) -> None:
        from dtmon_processor.stream import source_offsets

        for source in event.progress.sources:
            offsets = source_offsets(getattr(source, "endOffset", None))
            mine = {int(p): off for (t, p), off in offsets.items() if t == self.lag.topic}
            if mine:
                self.lag.processed_up_to(mine)

    def onQueryIdle(self, event: Any) -> None:
        return None

    def onQueryTerminated(self, event: Any) -> None:
        return None
