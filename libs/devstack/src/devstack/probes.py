"""Readiness probes shared by `dtmon up`, the end-to-end fixtures and the benchmarks.

A probe is a URL: `kafka://host:port/topic1,topic2` is ready when the broker answers a
metadata request and lists every topic; `http://...` is ready on a 2xx answer.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from urllib.parse import urlsplit

from devstack.ports import port_in_use


class ProbeTimeout(RuntimeError):
    """A dependency did not become ready in time; the message names it."""


def is_ready(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "kafka":
        return _kafka_ready(parts.hostname or "127.0.0.1", parts.port or 9092, parts.path)
    if parts.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return 200 <= resp.status < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False
    raise ValueError(f"unsupported probe {url!r}: use kafka://host:port/topics or http://...")


def _kafka_ready(host: str, port: int, path: str) -> bool:
    if not port_in_use(port, host):  # avoid librdkafka's connection-refused noise
        return False
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    wanted = [t for t in path.strip("/").split(",") if t]
    try:
        meta = AdminClient({"bootstrap.servers": f"{host}:{port}"}).list_topics(timeout=3)
    except KafkaException:
        return False
    return bool(meta.brokers) and all(t in meta.topics for t in wanted)


def wait_until_ready(urls: Iterable[str], timeout: float = 300.0, interval: float = 0.5) -> None:
    """Block until every probe answers, in order; raise ProbeTimeout naming the first laggard."""
    deadline = time.monotonic() + timeout
    for url in urls:
        while not is_ready(url):
            if time.monotonic() > deadline:
                raise ProbeTimeout(f"{url} not ready after {timeout:.0f} s")
            time.sleep(interval)
