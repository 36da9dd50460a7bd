"""The Kafka side: an idempotent confluent-kafka producer that never loses or repeats a record.

enable.idempotence with acks=all and an infinite message timeout means a broker restart only
delays records: librdkafka retries them in order with sequence numbers the broker uses to
drop duplicates. The only ways a record fails are fatal client errors, which are counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from dtmon_common.kafka_security import KafkaSecurity

log = logging.getLogger("dtmon_producer.kafka")

MAX_BACKOFF_S = 30.0


def producer_config(bootstrap_servers: str, **overrides: Any) -> dict[str, Any]:
    """librdkafka settings: safe delivery first, then throughput (lz4, 20 ms linger)."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "client.id": "dtmon-producer",
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": "lz4",
        "linger.ms": 20,
        "batch.size": 1_000_000,
        "batch.num.messages": 20_000,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 512 * 1024,
        "message.timeout.ms": 0,  # never expire: a broker restart delays, never drops
        "delivery.report.only.error": True,  # no Python callback per delivered record
        "reconnect.backoff.max.ms": 2000,
    }
    config.update(overrides)
    return config


class KafkaSink:
    """Sends raw values to one topic; counts failed deliveries; flushes on close."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        on_failure: Callable[[], None] | None = None,
        security: KafkaSecurity | None = None,
        **overrides: Any,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.security = security or KafkaSecurity()
        self.topic = topic
        self.delivery_errors = 0
        self._on_failure = on_failure
        self.fatal_error: str | None = None
        self._last_error_log = 0.0
        self._producer = Producer(
            producer_config(
                bootstrap_servers,
                error_cb=self._on_error,
                on_delivery=self.on_delivery,
                logger=logging.getLogger("librdkafka"),
                **self.security.librdkafka(),
                **overrides,
            )
        )

    # ---- set-up -------------------------------------------------------------------------
    def wait_ready(
        self,
        stop: threading.Event,
        *,
        create_partitions: int | None = None,
        timeout: float = 0.0,
    ) -> bool:
        """Block until the broker answers and the topic exists (creating it when asked).

        Retries with exponential backoff (1 s doubling to 30 s) and one log line per attempt,
        so a producer started before its broker waits instead of crash-looping. `timeout` 0
        waits forever. Returns False if stopped or timed out.
        """
        deadline = time.monotonic() + timeout if timeout > 0 else None
        backoff = 1.0
        while not stop.is_set():
            problem = self._probe(create_partitions)
            if problem is None:
                return True
            if deadline is not None and time.monotonic() + backoff > deadline:
                log.error("giving up on Kafka after %.0f s: %s", timeout, problem)
                return False
            log.warning("%s; retrying in %.0f s", problem, backoff)
            stop.wait(backoff)
            backoff = min(MAX_BACKOFF_S, backoff * 2)
        return False

    def _probe(self, create_partitions: int | None) -> str | None:
        """None when ready, else a one-line description of what is missing."""
        try:
            meta = self._producer.list_topics(timeout=5)
        except KafkaException as exc:
            return f"Kafka broker {self.bootstrap_servers} unreachable ({exc.args[0].str()})"
        if self.topic in meta.topics and meta.topics[self.topic].error is None:
            return None
        if create_partitions is None:
            return (
                f"topic {self.topic!r} does not exist on {self.bootstrap_servers} "
                "(create it, or pass --create-topic)"
            )
        return self._create(create_partitions)

    def _create(self, partitions: int) -> str | None:
        admin = AdminClient(
            {"bootstrap.servers": self.bootstrap_servers, **self.security.librdkafka()}
        )
        future = admin.create_topics([NewTopic(self.topic, num_partitions=partitions)])[self.topic]
        try:
            future.result(timeout=30)
            log.info("created topic %s with %d partition(s)", self.topic, partitions)
        except KafkaException as exc:
            err: KafkaError = exc.args[0]
            if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                return f"cannot create topic {self.topic!r}: {err.str()}"
        return "topic just created, waiting for its metadata"

    # ---- sending ------------------------------------------------------------------------
    def send(self, values: list[bytes]) -> None:
        """Queue values for delivery; waits (serving callbacks) while the local queue is full."""
        produce = self._producer.produce
        topic = self.topic
        for value in values:
            try:
                produce(topic, value)
            except BufferError:
                while True:
                    self._producer.poll(0.05)
                    try:
                        produce(topic, value)
                        break
                    except BufferError:
                        continue
        self._producer.poll(0)

    def pending(self) -> int:
        """Records queued locally or in flight, not yet acknowledged by the broker."""
        return len(self._producer)

    def flush(self, stop_waiting: threading.Event | None = None) -> int:
        """Wait until every queued record is acknowledged (or `stop_waiting` is set)."""
        while self.pending():
            if stop_waiting is not None and stop_waiting.is_set():
                break
            self._producer.flush(1.0)
        return self.pending()

    def close(self) -> None:
        self._producer.poll(0)

    # ---- callbacks (called from poll/flush on this thread) --------------------------------
    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self.fatal_error = err.str()
            log.error("fatal Kafka producer error: %s", err.str())
            return
        now = time.monotonic()
        if now - self._last_error_log > 10:  # the client retries by itself; keep logs readable
            self._last_error_log = now
            log.warning("Kafka: %s (the client keeps retrying)", err.str())

    def on_delivery(self, err: KafkaError | None, _msg: object) -> None:
        """Delivery report; only failures arrive here (delivery.report.only.error)."""
        if err is not None:
            self.delivery_errors += 1
            if self._on_failure is not None:
                self._on_failure()
            log.error("delivery failed: %s", err.str())
