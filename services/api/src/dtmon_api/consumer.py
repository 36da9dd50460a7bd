"""Background thread that replays the results topic from the beginning, then follows it.

Why a thread, not an asyncio task: confluent-kafka's poll blocks, and an earlier version of
this dashboard froze because its plotting loop waited on a poll. Here the consumer never
touches the event loop except to wake SSE streams through `on_applied`.

No consumer-group commits: every start assigns all partitions at their earliest retained
offset, so a restart rebuilds the same state from what the topic still holds. The broker
may be down or the topic missing when the pod starts (Kubernetes gives no start order), so
connecting is retried with capped exponential backoff, never fatal.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from dtmon_api.metrics import Metrics
from dtmon_api.state import REFUSALS, BatchStore, Outcome, StoredBatch
from dtmon_common.kafka_security import KafkaSecurity
from dtmon_common.signing import Headers, KeyRing, Refusal
from minidt.contract import ContractError, validate_message

log = logging.getLogger(__name__)

_DISCONNECTED_CODES = {KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT}


class TopicMissing(RuntimeError):
    """The results topic does not exist (yet): the processor or Strimzi creates it."""


@dataclass
class ConsumerState:
    """What /readyz and /api/v1/status report; written by the consumer thread only."""

    connected: bool = False
    caught_up: bool = False
    partitions: list[int] = field(default_factory=list)
    end_offsets_at_start: dict[int, int] = field(default_factory=dict)
    next_offsets: dict[int, int] = field(default_factory=dict)
    invalid_messages: int = 0
    last_error: str | None = None


class ResultsConsumer:
    """Feeds a BatchStore from `topic`; call `start()` once and `stop()` at shutdown."""

    def __init__(
        self,
        *,
        bootstrap_servers: str,
        topic: str,
        store: BatchStore,
        metrics: Metrics,
        on_applied: Callable[[StoredBatch], None],
        backoff_max_seconds: float = 30.0,
        poll_seconds: float = 0.2,
        keys: KeyRing | None = None,
        max_message_bytes: int = 2 * 1024 * 1024,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.keys = keys
        self.security = security or KafkaSecurity()
        self.max_message_bytes = max_message_bytes
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.store = store
        self.metrics = metrics
        self.on_applied = on_applied
        self.backoff_max = backoff_max_seconds
        self.poll_seconds = poll_seconds
        self.state = ConsumerState()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dtmon-api-consumer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("consumer thread did not stop within %.0f s", timeout)

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._session()
                backoff = 0.5
            except TopicMissing as exc:
                # The broker answers; the processor (or Strimzi) has not created the topic
                # yet. Metadata requests are cheap, so look again soon.
                self._set_connected(True, str(exc))
                delay = min(backoff, 5.0)
                log.warning("results topic missing, retrying in %.1f s: %s", delay, exc)
                self._stop.wait(delay)
                backoff = min(backoff * 2, self.backoff_max)
            except KafkaException as exc:
                self._set_connected(False, str(exc))
                log.warning(
                    "results consumer cannot start, retrying in %.1f s: %s",
                    backoff,
                    exc,
                    extra={"topic": self.topic, "bootstrap_servers": self.bootstrap_servers},
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max)
            except Exception:  # a bug must not kill the consumer silently for good
                log.exception("results consumer crashed; restarting in %.1f s", backoff)
                self._set_connected(False, "internal error, see logs")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.backoff_max)

    def _config(self) -> dict[str, object]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            # Required by librdkafka even though we only assign(): never joined or committed.
            "group.id": f"dtmon-api-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "reconnect.backoff.max.ms": 5000,
            "socket.connection.setup.timeout.ms": 5000,
            "log.connection.close": False,
            "error_cb": self._on_error,
            "logger": logging.getLogger("dtmon_api.kafka"),
            **self.security.librdkafka(),
        }

    def _on_error(self, err: KafkaError) -> None:
        if err.code() in _DISCONNECTED_CODES:
            self._set_connected(False, err.str())

    def _set_connected(self, connected: bool, error: str | None = None) -> None:
        if connected != self.state.connected:
            log.info("results consumer %s", "connected" if connected else f"lost broker: {error}")
        self.state.connected = connected
        if error is not None:
            self.state.last_error = error
        self.metrics.consumer_connected.set(1 if connected else 0)

    def _session(self) -> None:
        consumer = Consumer(self._config())
        try:
            partitions, ends = self._discover(consumer)
            self.state.partitions = partitions
            if not self.state.end_offsets_at_start:
                self.state.end_offsets_at_start = dict(ends)
            start = {p: self.state.next_offsets.get(p, OFFSET_BEGINNING) for p in partitions}
            consumer.assign([TopicPartition(self.topic, p, start[p]) for p in partitions])
            self._set_connected(True)
            pending = {
                p
                for p, end in self.state.end_offsets_at_start.items()
                if self.state.next_offsets.get(p, 0) < end
            }
            self._check_caught_up(pending)
            last_probe = time.monotonic()
            while not self._stop.is_set():
                # consume() would wait out its whole timeout unless the batch fills up, adding
                # up to poll_seconds to every batch's delivery: block in poll() for the first
                # message only, then drain whatever else is already fetched without waiting.
                first = consumer.poll(self.poll_seconds)
                messages = [] if first is None else [first, *consumer.consume(499, timeout=0)]
                for msg in messages:
                    err = msg.error()
                    if err is None:
                        self._set_connected(True)
                        self._handle(msg.partition(), msg.offset(), msg.value(), msg.headers())
                        if msg.offset() + 1 >= self.state.end_offsets_at_start.get(
                            msg.partition(), 0
                        ):
                            pending.discard(msg.partition())
                    elif err.code() == KafkaError._PARTITION_EOF:
                        self._set_connected(True)
                        pending.discard(msg.partition())
                    else:
                        log.warning("results topic error: %s", err.str())
                self._check_caught_up(pending)
                if not self.state.connected and time.monotonic() - last_probe > 3:
                    last_probe = time.monotonic()
                    try:
                        consumer.list_topics(self.topic, timeout=2)
                        self._set_connected(True)
                    except KafkaException:
                        pass
        finally:
            consumer.close()

    def _discover(self, consumer: Consumer) -> tuple[list[int], dict[int, int]]:
        metadata = consumer.list_topics(self.topic, timeout=5)
        topic_md = metadata.topics.get(self.topic)
        if topic_md is None or topic_md.error is not None or not topic_md.partitions:
            reason = topic_md.error.str() if topic_md is not None and topic_md.error else "absent"
            raise TopicMissing(f"topic {self.topic!r} not available: {reason}")
        partitions = sorted(topic_md.partitions)
        ends = {}
        for p in partitions:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(self.topic, p), timeout=5, cached=False
            )
            ends[p] = high
        return partitions, ends

    def _check_caught_up(self, pending: set[int]) -> None:
        if not pending and not self.state.caught_up:
            self.state.caught_up = True
            self.metrics.consumer_caught_up.set(1)
            stats = self.store.stats()
            log.info(
                "results consumer caught up",
                extra={
                    "batches_applied": stats.applied,
                    "duplicates": stats.duplicates,
                    "invalid": self.state.invalid_messages,
                },
            )

    def _refuse(self, reason: str, detail: str, partition: int, offset: int) -> None:
        """Count and log one refused message; it never reaches the store."""
        self.state.invalid_messages += 1
        self.metrics.refused.labels(reason=reason).inc()
        outcome = {"contract": "invalid", "incompatible": "incompatible"}.get(reason, "refused")
        self.metrics.messages.labels(outcome=outcome).inc()
        if reason in ("contract", "incompatible"):
            self.metrics.invalid.labels(reason=reason).inc()
        log.warning(
            "refused message at %s[%d]@%d (%s): %s",
            self.topic,
            partition,
            offset,
            reason,
            detail[:500],
            extra={"topic": self.topic, "partition": partition, "offset": offset, "reason": reason},
        )

    def _handle(
        self, partition: int, offset: int, value: bytes | None, headers: Headers = None
    ) -> None:
        """Size, then signature, then contract, then plausibility: each step is cheaper than
        the next, and nothing unauthenticated is ever parsed."""
        self.state.next_offsets[partition] = offset + 1
        raw = value if value is not None else b""
        if len(raw) > self.max_message_bytes:
            self._refuse(
                "oversized", f"{len(raw)} bytes > {self.max_message_bytes}", partition, offset
            )
            return
        refusal = Refusal.UNSIGNED if self.keys is None else self.keys.verify(raw, headers)
        if refusal is not None:
            detail = "no signing key configured" if self.keys is None else "signature check failed"
            self._refuse(refusal.value, detail, partition, offset)
            return
        try:
            result = validate_message(raw)
        except (ContractError, RecursionError, ValueError) as err:
            self._refuse("contract", str(err), partition, offset)
            return
        applied = self.store.apply(result)
        if applied.outcome in REFUSALS:
            self._refuse(applied.outcome.value, applied.reason, partition, offset)
            return
        self.metrics.messages.labels(outcome=applied.outcome.value).inc()
        if applied.outcome is Outcome.APPLIED and applied.stored is not None:
            stored = applied.stored
            if applied.new_query:
                self.metrics.query_changes.inc()
                log.info(
                    "new run started: processor query %s replaces %s",
                    result.query_id,
                    self.store.stats().previous_query_id,
                    extra={
                        "query_id": result.query_id,
                        "batch_id": result.batch_id,
                        "partition": partition,
                        "offset": offset,
                    },
                )
            self.metrics.observe_batch(
                result.hits, list(result.hits_per_chamber), result.emitted_at_ms, stored.latency_ms
            )
            self.on_applied(stored)
        else:
            log.info(
                "skipped %s message at %s[%d]@%d: %s",
                applied.outcome.value,
                self.topic,
                partition,
                offset,
                applied.reason,
                extra={"partition": partition, "offset": offset},
            )
