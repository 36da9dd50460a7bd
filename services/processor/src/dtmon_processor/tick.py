"""Wake a quiet stream so that open orbits still close.

Why: Spark runs no micro-batch while the hits topic receives nothing, so the wall-clock
timeout of event building (events.py) could never fire and the last open orbits of a run would
wait in the checkpoint until the DAQ starts again. When a batch ends with open orbits and no
new batch starts within the timeout, this sends ONE empty record to the hits topic: an empty
line is neither a record nor malformed (the parser skips it), but it makes Spark run a batch,
and that batch closes the timed-out orbits. Needs write access to the hits topic.
"""

from __future__ import annotations

import logging
import threading

from confluent_kafka import Producer

from dtmon_common.kafka_security import KafkaSecurity

log = logging.getLogger(__name__)


class IdleTicker:
    """``batch_started()`` cancels the pending tick; ``batch_ended(open_hits)`` arms one."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        after_seconds: float,
        security: KafkaSecurity | None = None,
    ) -> None:
        self.topic = topic
        self.after_seconds = after_seconds
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "linger.ms": 0,
                **(security or KafkaSecurity()).librdkafka(),
            }
        )
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def batch_started(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def batch_ended(self, open_hits: int) -> None:
        if open_hits == 0:
            return
        with self._lock:
            self._timer = threading.Timer(self.after_seconds, self._tick)
            self._timer.daemon = True
            self._timer.start()

    def _tick(self) -> None:
        log.info("no batch for %.0f s with open orbits: waking the stream", self.after_seconds)
        self._producer.produce(self.topic, value=b"")
        self._producer.flush(10)

    def close(self) -> None:
        self.batch_started()
        self._producer.flush(5)
