"""Fixtures for the end-to-end tests: a dedicated broker and pipelines built on it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.kafka import KafkaBroker, running_broker
from dtmon_common.topics import DEFAULT_HITS_PARTITIONS

from .pipeline import Pipeline

_seq = itertools.count()


@pytest.fixture(scope="package")
def e2e_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """The end-to-end tests' own broker, so restarting it never disturbs other tests."""
    with running_broker(tmp_path_factory.mktemp("e2e-kafka")) as broker:
        yield broker


@pytest.fixture
def make_pipeline(tmp_path: Path) -> Iterator[Callable[[KafkaBroker], Pipeline]]:
    made: list[Pipeline] = []

    def make(broker: KafkaBroker) -> Pipeline:
        n = next(_seq)
        hits, results = f"e2e-hits-{n}", f"e2e-results-{n}"
        broker.create_topic(hits, DEFAULT_HITS_PARTITIONS)
        broker.create_topic(results, 1)
        pipeline = Pipeline(broker, tmp_path / f"pipeline-{n}", hits, results)
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        pipeline.stop_all()
