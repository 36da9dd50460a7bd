"""Publishing batch results: one idempotent producer, flushed before the batch returns.

Why flush inside foreachBatch: Spark commits a micro-batch to the checkpoint only after the
foreachBatch function returns. Flushing first means a committed batch has always been
published; a crash between publication and commit re-runs the batch with the same offsets,
which (transform + assemble being deterministic) re-emits the same bytes under the same key.
So every batch id reaches the results topic identically once or more, never differently.
"""

from __future__ import annotations

import logging

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from dtmon_common.kafka_security import KafkaSecurity
from dtmon_common.signing import KeyRing
from dtmon_common.topics import DEFAULT_RESULTS_PARTITIONS

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """A result could not be delivered; the batch fails and is retried from the checkpoint."""


def ensure_topic(
    bootstrap_servers: str,
    topic: str,
    *,
    create: bool,
    timeout: float = 30.0,
    security: KafkaSecurity | None = None,
) -> None:
    """Make sure the results topic exists: create it (one partition keeps results ordered)
    or fail with a message naming it, before the query starts consuming."""
    admin = AdminClient(
        {"bootstrap.servers": bootstrap_servers, **(security or KafkaSecurity()).librdkafka()}
    )
    try:
        meta = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise PublishError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from None
    if topic in meta.topics and meta.topics[topic].error is None:
        return
    if not create:
        raise PublishError(
            f"results topic {topic!r} does not exist on {bootstrap_servers} "
            "(create it, or drop --no-create-results-topic to let the processor create it)"
        )
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=DEFAULT_RESULTS_PARTITIONS, replication_factor=-1)]
    )
    try:
        futures[topic].result(timeout)
        log.info("created results topic", extra={"topic": topic})
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise PublishError(f"cannot create results topic {topic!r}: {exc}") from None


class ResultsPublisher:
    """Idempotent producer for dt-results; `publish` returns once the broker acknowledged.

    Every value goes out with the HMAC headers of `keys` (see dtmon_common.signing): the
    results service applies nothing else. The signature is over the exact bytes produced,
    so a re-emitted batch carries the identical signature too."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        keys: KeyRing,
        *,
        timeout_s: float = 120.0,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.topic = topic
        self.keys = keys
        self.timeout_s = timeout_s
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "enable.idempotence": True,  # acks=all, no duplicates from internal retries
                "linger.ms": 0,
                "compression.type": "zstd",
                "message.max.bytes": 4 * 1024 * 1024,
                "delivery.timeout.ms": int(timeout_s * 1000),
                **(security or KafkaSecurity()).librdkafka(),
            }
        )

    def publish(self, key: str, value: bytes) -> None:
        errors: list[str] = []

        def on_delivery(err: object, _msg: object) -> None:
            if err is not None:
                errors.append(str(err))

        self._producer.produce(
            self.topic,
            key=key.encode(),
            value=value,
            headers=self.keys.sign(value),
            on_delivery=on_delivery,
        )
        remaining = self._producer.flush(self.timeout_s)
        if remaining or errors:
            reason = errors[0] if errors else f"{remaining} message(s) still queued"
            raise PublishError(f"result of batch {key} not delivered to {self.topic!r}: {reason}")

    def close(self) -> None:
        self._producer.flush(10)
