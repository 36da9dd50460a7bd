"""Flags and DTMON_* environment variables reach the same option, with the same errors."""

from __future__ import annotations

import pytest

from dtmon_common.cli import EnvArgumentParser, add_kafka_arguments, env_name
from dtmon_common.topics import DEFAULT_BOOTSTRAP_SERVERS, HITS_TOPIC


def _parser(env: dict[str, str]) -> EnvArgumentParser:
    parser = EnvArgumentParser(prog="t", env=env)
    parser.add_argument("--rate", type=float, default=1000.0, help="records/s")
    parser.add_argument("--loop", action="store_true", help="repeat")
    parser.add_argument("--mode", choices=["a", "b"], default="a")
    add_kafka_arguments(parser)
    return parser


def test_env_name() -> None:
    assert env_name("bootstrap_servers") == "DTMON_BOOTSTRAP_SERVERS"


def test_defaults_env_and_flags_in_order_of_precedence() -> None:
    assert _parser({}).parse_args([]).rate == 1000.0
    assert _parser({}).parse_args([]).bootstrap_servers == DEFAULT_BOOTSTRAP_SERVERS
    assert _parser({}).parse_args([]).hits_topic == HITS_TOPIC
    env = {"DTMON_RATE": "250", "DTMON_LOOP": "true", "DTMON_MODE": "b"}
    args = _parser(env).parse_args([])
    assert (args.rate, args.loop, args.mode) == (250.0, True, "b")
    assert _parser(env).parse_args(["--rate", "5"]).rate == 5.0


def test_help_names_the_variable() -> None:
    assert "[env: DTMON_RATE]" in _parser({}).format_help()


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"DTMON_RATE": "fast"}, "DTMON_RATE='fast'"),
        ({"DTMON_LOOP": "maybe"}, "DTMON_LOOP='maybe'"),
        ({"DTMON_MODE": "z"}, "DTMON_MODE='z': invalid choice"),
    ],
)
def test_bad_environment_value_is_one_clear_error(env, needle, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        _parser(env)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def test_grouped_arguments_read_the_environment_too() -> None:
    env = {"DTMON_BOOTSTRAP_SERVERS": "kafka:9092", "DTMON_HITS_TOPIC": "h2"}
    args = _parser(env).parse_args([])
    assert (args.bootstrap_servers, args.hits_topic) == ("kafka:9092", "h2")
    assert "[env: DTMON_BOOTSTRAP_SERVERS]" in _parser({}).format_help()
