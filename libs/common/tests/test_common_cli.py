"""Flags and DTMON_* environment variables reach the same option, with the same errors."""

from __future__ import annotations

import pytest

from dtmon_common.cli import EnvArgumentParser, env_name
from dtmon_common.options import Group, Option, add_options
from dtmon_common.options.shared import kafka
from dtmon_common.topics import DEFAULT_BOOTSTRAP_SERVERS, HITS_TOPIC

OPTIONS = Group(
    "t",
    (
        Option("--rate", "records/s", type=float, default=1000.0, minimum=0),
        Option("--loop", "repeat", type=bool),
        Option("--mode", "mode", default="a", choices=("a", "b")),
        Option("--level", "level", default="INFO", choices=("INFO", "DEBUG"), upper=True),
        Option("--origins", "list", default=(), many=True),
    ),
)


def _parser(env: dict[str, str]) -> EnvArgumentParser:
    parser = EnvArgumentParser(prog="t", env=env)
    add_options(parser, [OPTIONS, kafka("hits")])
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
        ({"DTMON_RATE": "fast"}, "DTMON_RATE='fast': expected a number, got 'fast'"),
        ({"DTMON_RATE": "-1"}, "DTMON_RATE='-1': must be >= 0, got -1.0"),
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


def test_option_values_case_and_lists() -> None:
    env = {"DTMON_LEVEL": "debug", "DTMON_ORIGINS": "http://a, http://b,"}
    args = _parser(env).parse_args([])
    assert (args.level, args.origins) == ("DEBUG", ("http://a", "http://b"))
    assert _parser({}).parse_args(["--level", "info"]).level == "INFO"
    assert _parser({}).parse_args([]).origins == ()


def test_only_the_topics_a_command_uses_are_options() -> None:
    assert "--results-topic" not in _parser({}).format_help()
    flags = [o.flag for o in kafka("results")]
    assert "--hits-topic" not in flags
    assert flags[:2] == ["--bootstrap-servers", "--results-topic"]
    assert {f for f in flags[2:]} == {
        "--kafka-security-protocol",
        "--kafka-sasl-mechanism",
        "--kafka-username",
        "--kafka-password-file",
    }


def test_bad_flag_names_the_flag_and_the_range(capsys) -> None:
    with pytest.raises(SystemExit):
        _parser({}).parse_args(["--rate", "-5"])
    assert "argument --rate: must be >= 0, got -5.0" in capsys.readouterr().err
