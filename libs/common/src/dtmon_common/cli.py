"""Flags that fall back to environment variables of the same name (12-factor).

Humans pass `--bootstrap-servers`, containers set `DTMON_BOOTSTRAP_SERVERS`; both reach the
same argparse option, so the Helm chart, the README table and `--help` cannot drift apart.
Precedence: command-line flag, then environment variable, then the built-in default.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from dtmon_common.options import Command, add_options
from dtmon_common.topics import ENV_PREFIX

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_name(dest: str) -> str:
    """The environment variable that backs option `dest` (e.g. rate -> DTMON_RATE)."""
    return ENV_PREFIX + dest.upper().replace("-", "_")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults in --help (unless there is none to show), descriptions kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False or action.default in ("", ()):
            return action.help
        return super()._get_help_string(action)


class EnvArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose optional arguments also read `DTMON_<DEST>` from the environment.

    Types are applied to environment values exactly as to flags (argparse converts string
    defaults through `type`), so a bad `DTMON_RATE=abc` fails with the same one-line error as
    `--rate abc`, naming the variable.
    """

    def __init__(self, *args: Any, env: dict[str, str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
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


def command_parser(command: Command, **kwargs: Any) -> EnvArgumentParser:
    """An EnvArgumentParser with every option of `command` (`kwargs`: description, ...)."""
    parser = EnvArgumentParser(prog=command.name, **kwargs)
    add_options(parser, command.groups)
    return parser


def keyring_from_args(args: argparse.Namespace) -> Any:
    """The KeyRing of --signing-key-file / --signing-keys; raises SigningKeyError."""
    from dtmon_common.signing import load_keys

    return load_keys(args.signing_key_file, args.signing_keys)
