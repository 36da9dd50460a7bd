"""Flags that fall back to environment variables of the same name (12-factor).

Humans pass `--bootstrap-servers`, containers set `DTMON_BOOTSTRAP_SERVERS`; both reach the
same argparse option, so the Helm chart, the README table and `--help` cannot drift apart.
Precedence: command-line flag, then environment variable, then the built-in default.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

from dtmon_common.topics import ENV_PREFIX

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_name(dest: str) -> str:
    """The environment variable that backs option `dest` (e.g. rate -> DTMON_RATE)."""
    return ENV_PREFIX + dest.upper().replace("-", "_")


class EnvArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose optional arguments also read `DTMON_<DEST>` from the environment.

    Types are applied to environment values exactly as to flags (argparse converts string
    defaults through `type`), so a bad `DTMON_RATE=abc` fails with the same one-line error as
    `--rate abc`, naming the variable.
    """

    def __init__(self, *args: Any, env: dict[str, str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)
        self._env = os.environ if env is None else env
        self.env_vars: dict[str, str] = {}

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:  # type: ignore[override]
        return self._apply_env(super().add_argument(*args, **kwargs))

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Any:
        """Groups call their own add_argument, so wire the env lookup into them too."""
        group = super().add_argument_group(*args, **kwargs)
        group_add = group.add_argument

        def add_argument(*a: Any, **kw: Any) -> argparse.Action:
            return self._apply_env(group_add(*a, **kw))

        group.add_argument = add_argument  # type: ignore[method-assign]
        return group

    def _apply_env(self, action: argparse.Action) -> argparse.Action:
        if not action.option_strings or action.dest in ("help", "version"):
            return action
        var = env_name(action.dest)
        self.env_vars[action.dest] = var
        action.help = f"{action.help or ''} [env: {var}]".strip()
        if var in self._env:
            raw = self._env[var]
            if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
                action.default = _parse_bool(raw, var, self)
                if isinstance(action, argparse._StoreFalseAction):
                    action.default = not action.default
            elif action.nargs in ("*", "+"):
                action.default = [_convert(action, item, var, self) for item in raw.split(",")]
            else:
                action.default = _convert(action, raw, var, self)
        return action

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        return super().parse_args(args, namespace)


def _parse_bool(raw: str, var: str, parser: argparse.ArgumentParser) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    parser.error(f"{var}={raw!r}: expected one of true/false/1/0/yes/no")
    raise AssertionError("unreachable")


def _convert(action: argparse.Action, raw: str, var: str, parser: argparse.ArgumentParser) -> Any:
    if action.type is None:
        value: Any = raw
    else:
        try:
            value = action.type(raw)  # type: ignore[misc]
        except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
            parser.error(f"{var}={raw!r}: {exc}")
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(repr, action.choices))
        parser.error(f"{var}={raw!r}: invalid choice (choose from {choices})")
    return value


def add_kafka_arguments(parser: argparse.ArgumentParser) -> None:
    """The Kafka connection options every service shares, with identical names and defaults."""
    from dtmon_common.topics import DEFAULT_BOOTSTRAP_SERVERS, HITS_TOPIC, RESULTS_TOPIC

    group = parser.add_argument_group("Kafka")
    group.add_argument(
        "--bootstrap-servers",
        default=DEFAULT_BOOTSTRAP_SERVERS,
        help="Kafka bootstrap servers, comma-separated host:port",
    )
    group.add_argument("--hits-topic", default=HITS_TOPIC, help="topic of raw DAQ words")
    group.add_argument("--results-topic", default=RESULTS_TOPIC, help="topic of batch results")


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    """`--log-level` and `--log-format`, shared so every service logs alike."""
    group = parser.add_argument_group("logging")
    group.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        type=str.upper,
        help="log verbosity",
    )
    group.add_argument(
        "--log-format",
        default="text",
        choices=["text", "json"],
        help="text for terminals, json (one object per line) for log collectors",
    )


def add_signing_arguments(parser: argparse.ArgumentParser) -> None:
    """The result-signing key options, shared by the processor (signs) and the API (verifies)."""
    group = parser.add_argument_group("result signing")
    group.add_argument(
        "--signing-key-file",
        default=None,
        help="file of <key_id>:<secret> lines; the first key signs results, every key "
        "verifies them (two while rotating)",
    )
    group.add_argument(
        "--signing-keys",
        default=None,
        help="the same keys inline, comma-separated (prefer the environment variable: "
        "flags are visible to every local user)",
    )


def keyring_from_args(args: argparse.Namespace) -> Any:
    """The KeyRing of --signing-key-file / --signing-keys; raises SigningKeyError."""
    from dtmon_common.signing import load_keys

    return load_keys(args.signing_key_file, args.signing_keys)


def add_readiness_arguments(parser: argparse.ArgumentParser) -> None:
    """How long the broker may stay silent before readiness turns false; every service."""
    from dtmon_common.broker_watch import DEFAULT_UNREACHABLE_AFTER

    def positive(text: str) -> float:
        value = float(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
        return value

    parser.add_argument(
        "--broker-timeout-seconds",
        type=positive,
        default=DEFAULT_UNREACHABLE_AFTER,
        help="readiness (/readyz) answers 503 once the broker has not answered a metadata "
        "request for this long",
    )
