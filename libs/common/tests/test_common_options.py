"""The option declarations: ranges, their JSON-Schema form, and the catalogues' invariants."""

from __future__ import annotations

import pytest

from dtmon_common.options import Option
from dtmon_common.options.api import API
from dtmon_common.options.processor import BATCH, RUN
from dtmon_common.options.producer import PRODUCER

COMMANDS = (PRODUCER, RUN, BATCH, API)


def test_schema_states_the_same_range_as_the_check() -> None:
    trigger = RUN.option("--trigger-seconds")
    assert trigger.json_schema() == {"type": "number", "minimum": 0.5, "maximum": 5.0}
    trigger.check(0.5)
    with pytest.raises(ValueError, match=r"between 0\.5 and 5"):
        trigger.check(5.5)
    assert PRODUCER.option("--rate").json_schema() == {"type": "number", "minimum": 0}
    assert API.option("--window-seconds").json_schema() == {
        "type": "number",
        "exclusiveMinimum": 0,
    }
    assert Option("--x", "x", type=bool).json_schema() == {"type": "boolean"}
    assert API.option("--log-level").json_schema()["enum"][:4] == [
        "DEBUG",
        "INFO",
        "WARNING",
        "ERROR",
    ]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_default_is_within_its_own_range(command) -> None:
    for option in command.options():
        option.check(option.default_value())
        assert option.help and not option.help.endswith("."), option.flag


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_one_vocabulary(command) -> None:
    flags = [o.flag for o in command.options()]
    assert len(flags) == len(set(flags)), "a flag declared twice"
    assert "--host" not in flags or command is API, "metrics bind with --metrics-host"
    topics = {"hits": "--hits-topic", "results": "--results-topic"}
    for topic, flag in topics.items():
        assert (flag in flags) == (topic in command.topics), (command.name, flag)


def test_check_names_the_flag() -> None:
    with pytest.raises(ValueError, match=r"--history \(history\): must be >= 1, got 0"):
        API.check(history=0)


def test_settings_take_the_options_of_the_same_name() -> None:
    import argparse
    from dataclasses import dataclass

    from dtmon_common.options import settings_from

    @dataclass(frozen=True)
    class Settings:
        history: int
        window_seconds: float
        default_limit: int = 100

    args = argparse.Namespace(history=5, window_seconds=2.0, host="ignored")
    assert settings_from(Settings, args, default_limit=7) == Settings(5, 2.0, 7)
