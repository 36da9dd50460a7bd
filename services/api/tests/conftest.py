"""Shared helpers for the API tests: simulated v1 batches, a publisher, a live uvicorn server.

Everything is real: messages are built by `minidt.reference` from simulated detector hits,
published to the session's KRaft broker, and read back over HTTP from uvicorn.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from confluent_kafka import Producer

from devstack.ports import free_port
from dtmon_api.app import create_app
from dtmon_api.header_timeout import header_timeout_protocol
from dtmon_api.settings import Settings
from dtmon_common.signing import KeyRing, parse_keys
from dtmon_producer.sim.simulator import Simulator
from minidt.codecs import Hits
from minidt.reference import reference_message

BASE_MS = 1_795_000_000_000
TEST_KEYS: KeyRing = parse_keys("test-1:" + "5" * 64, "tests")
"""The processor's key in these tests; the API's settings trust it."""


@dataclass
class Batch:
    """A published (or publishable) batch: its wire dict and the hits it was computed from."""

    message: dict[str, Any]
    hits: Hits

    @property
    def key(self) -> tuple[str, int]:
        return (self.message["query_id"], self.message["batch_id"])


def make_batches(
    n: int,
    *,
    query_id: str = "q-1",
    first_batch: int = 0,
    seed: int = 7,
    period_ms: int = 1000,
    base_ms: int = BASE_MS,
) -> list[Batch]:
    """`n` consecutive batches of one query, one simulator window each, `period_ms` apart
    (batch b is emitted at base_ms + b * period_ms)."""
    sim = Simulator(seed=seed)
    out = []
    for i in range(n):
        hits = sim.next_hits()
        bid = first_batch + i
        emitted = base_ms + bid * period_ms
        msg = reference_message(
            hits,
            query_id=query_id,
            batch_id=bid,
            input_rows=len(hits.head) + 5,
            malformed=bid % 3,
            first_ts_ms=emitted - 3_000,
            last_ts_ms=emitted - 1_500 + 10 * i,
            emitted_at_ms=emitted,
        )
        out.append(Batch(msg, hits))
    return out


def publish(
    bootstrap: str,
    topic: str,
    values: list[dict[str, Any] | bytes],
    keys: KeyRing | None = TEST_KEYS,
) -> None:
    """Produce and flush; dicts are JSON-encoded with the batch id as key, like the processor,
    and every value is signed with `keys` (None: unsigned, as a forger would send it)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for value in values:
        raw = json.dumps(value).encode() if isinstance(value, dict) else value
        key = str(value["batch_id"]).encode() if isinstance(value, dict) else None
        headers = keys.sign(raw) if keys is not None else None
        producer.produce(topic, raw, key=key, headers=headers)
    assert producer.flush(15) == 0, "messages not delivered within 15 s"


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll `predicate` until truthy; fail naming `what` (generous for a loaded 2-core box)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except httpx.HTTPError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last value: {last!r}")


@dataclass
class RunningApi:
    url: str
    settings: Settings
    server: uvicorn.Server

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as c:
            return c.get(path, **kwargs)

    def ready(self) -> bool:
        return self.get("/readyz").status_code == 200


@contextmanager
def serve_api(settings: Settings, *, wait_ready: bool = True) -> Iterator[RunningApi]:
    """Run `create_app(settings)` under uvicorn on a free loopback port in a thread."""
    port = free_port()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
        lifespan="on",
        http=header_timeout_protocol(
            settings.header_timeout_seconds, app.state.services.metrics.header_timeouts
        ),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    api = RunningApi(f"http://127.0.0.1:{port}", settings, server)
    try:
        wait_until(lambda: server.started, 20, "uvicorn start")
        if wait_ready:
            wait_until(api.ready, 30, "/readyz 200")
        yield api
    finally:
        server.should_exit = True
        thread.join(15)
        assert not thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def results_topic(make_topic: Callable[..., str]) -> str:
    return make_topic(partitions=1, prefix="results")


@pytest.fixture
def api_settings(kafka_broker: Any, results_topic: str) -> Settings:
    return Settings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        results_topic=results_topic,
        history=50,
        window_seconds=5.0,
        sse_keepalive_seconds=0.5,
        max_sse_clients=4,
        max_limit=40,
        default_limit=20,
        signing_keys=TEST_KEYS,
    )


@pytest.fixture(name="make_batches")
def make_batches_fixture() -> Callable[..., list[Batch]]:
    """`make_batches(n, query_id=..., first_batch=..., seed=...)` (see the function)."""
    return make_batches


@pytest.fixture(name="serve_api")
def serve_api_fixture() -> Callable[..., Any]:
    """`with serve_api(settings) as api:` runs the app under uvicorn (see the function)."""
    return serve_api


@pytest.fixture(name="publish")
def publish_fixture(kafka_broker: Any) -> Callable[[str, list[dict[str, Any] | bytes]], None]:
    """`publish(topic, values)` on the session broker."""
    return lambda topic, values, keys=TEST_KEYS: publish(
        kafka_broker.bootstrap_servers, topic, values, keys
    )


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., Any]:
    return wait_until
