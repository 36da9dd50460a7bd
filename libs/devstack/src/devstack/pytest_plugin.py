"""pytest fixtures for real infrastructure, loaded in every test session via `pytest11`.

One broker per test session (Kafka start-up costs seconds on two cores); each test gets its
own topics through `make_topic`, so tests stay independent without restarting anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.kafka import KafkaBroker, running_broker
from devstack.minio_fixture import minio_server
from minidt.samples import REAL_SAMPLE

__all__ = ["kafka_broker", "make_topic", "minio_server", "sample_file"]

_topic_seq = itertools.count()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A real KRaft broker on a free loopback port for the whole session."""
    with running_broker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


@pytest.fixture
def make_topic(kafka_broker: KafkaBroker, request: pytest.FixtureRequest) -> Callable[..., str]:
    """Create a fresh, uniquely named topic on the session broker: `make_topic(partitions=4)`."""
    stem = "".join(c if c.isalnum() else "-" for c in request.node.name)[:60]

    def create(partitions: int = 1, prefix: str = "t") -> str:
        name = f"{prefix}-{stem}-{next(_topic_seq)}"
        return kafka_broker.create_topic(name, partitions)

    return create


@pytest.fixture(scope="session")
def sample_file() -> Path:
    """The real 500-row sample of data_000000.txt that minidt ships (public detector data)."""
    return REAL_SAMPLE


_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """End the process once pytest has reported: a Kafka client that a test left alive keeps
    librdkafka threads retrying the session's stopped broker, and they would print "Connection
    refused" after pytest's summary until the interpreter tore them down. The summary stays the
    last thing a test run prints, and the exit status is pytest's own."""
    if _exit_status and not hasattr(config, "workerinput"):
        import os
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
