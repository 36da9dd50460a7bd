"""One declaration of every option of every dtmon command.

An `Option` states a flag's type, range, choices, default and help once. Everything else is
derived from it: the argparse argument and its `DTMON_*` environment variable
(`add_options`), the value checks of code that is configured without a parser (`check`),
the README tables (`dtmon_tools.config_docs`) and the JSON-Schema fragment a Helm value that
maps to the option must carry (`json_schema`; tests/test_chart_options.py compares them).

The catalogues live beside this module, one per command: `producer`, `processor`, `api`,
with the groups they share in `shared`. They import nothing from the services, so the docs
generator and the chart test read them without starting anything.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dtmon_common.topics import ENV_PREFIX

T = TypeVar("T")

_KIND = {int: "an integer", float: "a number", str: "text", Path: "a path"}


@dataclass(frozen=True)
class Option:
    """One flag: `--some-option`, also `DTMON_SOME_OPTION`.

    `type` is `bool` for an on/off switch (`--loop`), else the value's type. Bounds are
    inclusive (`minimum`, `maximum`) or exclusive (`above`, `below`). `upper` accepts
    choices in any case. `many` reads a comma-separated list. `default` may be a callable,
    evaluated when a parser is built (a path that depends on where the code runs).
    """

    flag: str
    help: str
    type: type = str
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    below: float | None = None
    upper: bool = False
    many: bool = False
    metavar: str | None = None
    required: bool = False

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.dest.upper()

    @property
    def is_switch(self) -> bool:
        return self.type is bool

    def default_value(self) -> Any:
        if self.is_switch:
            return False
        return self.default() if callable(self.default) else self.default

    def check(self, value: Any) -> None:
        """Raise ValueError, saying what is wrong, if `value` is outside this option's range."""
        if value is None or self.is_switch:
            return
        if self.choices and value not in self.choices:
            raise ValueError(f"must be one of {', '.join(self.choices)}, got {value}")
        if self.minimum is not None and self.maximum is not None:
            if not self.minimum <= value <= self.maximum:
                raise ValueError(
                    f"must be between {self.minimum:g} and {self.maximum:g}, got {value}"
                )
        elif self.minimum is not None and value < self.minimum:
            raise ValueError(f"must be >= {self.minimum:g}, got {value}")
        elif self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be <= {self.maximum:g}, got {value}")
        if self.above is not None and not value > self.above:
            raise ValueError(f"must be > {self.above:g}, got {value}")
        if self.below is not None and not value < self.below:
            raise ValueError(f"must be < {self.below:g}, got {value}")

    def parse(self, text: str) -> Any:
        """A command-line or environment string as this option's value (argparse `type=`)."""
        if self.many:
            return tuple(self._one(item.strip()) for item in text.split(",") if item.strip())
        return self._one(text)

    def _one(self, text: str) -> Any:
        if self.upper:
            text = text.upper()
        try:
            value = self.type(text)
        except argparse.ArgumentTypeError:
            raise  # a parser of its own (e.g. "chamber:channel" lists) says what is wrong
        except ValueError as exc:
            kind = _KIND.get(self.type)
            raise argparse.ArgumentTypeError(
                f"expected {kind}, got {text!r}" if kind else f"{text!r}: {exc}"
            ) from None
        try:
            self.check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    def json_schema(self) -> dict[str, Any]:
        """The constraints a JSON-Schema value that feeds this option must state, no more."""
        if self.is_switch:
            return {"type": "boolean"}
        if self.choices:
            accepted = list(self.choices)
            if self.upper:
                accepted += [c.lower() for c in self.choices]
            return {"enum": accepted}
        out: dict[str, Any] = {
            "type": {int: "integer", float: "number"}.get(self.type, "string"),
        }
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.above is not None:
            out["exclusiveMinimum"] = self.above
        if self.below is not None:
            out["exclusiveMaximum"] = self.below
        return out

    def add_to(self, group: Any) -> argparse.Action:
        if self.is_switch:
            return group.add_argument(self.flag, action="store_true", help=self.help)
        kwargs: dict[str, Any] = {
            "default": self.default_value(),
            "help": self.help,
            "metavar": self.metavar,
        }
        if self.required:
            kwargs["required"] = True
        if self.type is not str or self.upper or self.many:
            kwargs["type"] = self.parse
        if self.choices:
            kwargs["choices"] = list(self.choices)
            kwargs.pop("metavar")
        return group.add_argument(self.flag, **kwargs)


@dataclass(frozen=True)
class Group:
    """Options shown together in `--help` and in the README tables."""

    title: str
    options: tuple[Option, ...]

    def __iter__(self) -> Iterator[Option]:
        return iter(self.options)


@dataclass(frozen=True)
class Command:
    """Every option of one command (`dtmon-producer`, `dtmon-processor run`, ...)."""

    name: str
    groups: tuple[Group, ...]
    topics: frozenset[str] = field(default_factory=frozenset)
    """The topics the command reads or writes: "hits", "results"."""

    def options(self) -> Iterator[Option]:
        for group in self.groups:
            yield from group

    def option(self, flag: str) -> Option:
        for opt in self.options():
            if opt.flag == flag:
                return opt
        raise KeyError(f"{self.name} has no option {flag}")

    def check(self, **values: Any) -> None:
        """Raise ValueError naming the flag of the first value outside its option's range;
        for configuration built without a parser (the API's Settings in tests)."""
        by_dest = {o.dest: o for o in self.options()}
        for dest, value in values.items():
            try:
                by_dest[dest].check(value)
            except ValueError as exc:
                raise ValueError(f"{by_dest[dest].flag} ({dest}): {exc}") from None

    def extended(self, *groups: Group) -> Command:
        """This command with option groups a service declares next to the code they
        configure (the simulator's fault injection, the API's data-quality thresholds)."""
        return Command(self.name, (*self.groups, *groups), self.topics)

    def defaults(self) -> dict[str, Any]:
        """dest -> default, for code that builds a configuration without a parser."""
        return {opt.dest: opt.default_value() for opt in self.options()}


def add_options(parser: argparse.ArgumentParser, groups: Iterable[Group]) -> None:
    """Declare `groups` on `parser` (an EnvArgumentParser reads `DTMON_*` for each)."""
    for group in groups:
        target = parser.add_argument_group(group.title)
        for opt in group:
            opt.add_to(target)


def settings_from(cls: type[T], args: argparse.Namespace, **extra: Any) -> T:
    """A settings dataclass from the parsed options of the same names, plus `extra`: code
    takes its configuration from the declarations by name, never by a hand-written copy."""
    names = {f.name for f in dataclasses.fields(cls)} - set(extra)  # type: ignore[arg-type]
    given = {k: v for k, v in vars(args).items() if k in names}
    return cls(**given, **extra)
