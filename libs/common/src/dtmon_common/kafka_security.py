"""How a service proves who it is to Kafka: nothing (a local broker) or a SASL user.

One value carries the credentials to both kinds of client a service has: librdkafka
(confluent-kafka's producers, consumers and admin clients) and, in the processor, the JVM
client inside Spark's Kafka source. Their property names differ, so both are derived here
and no call site spells a SASL property itself. The password is read from a file (a mounted
Secret key: Strimzi's KafkaUser Secret and the chart's own broker Secret both name it
`password`) so it never appears in a flag, an environment listing or a log line.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

PLAINTEXT = "PLAINTEXT"
SASL_PLAINTEXT = "SASL_PLAINTEXT"
PROTOCOLS = (PLAINTEXT, SASL_PLAINTEXT)
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")
_LOGIN_MODULES = {
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
}


class KafkaSecurityError(ValueError):
    """A Kafka security setting that cannot work; the message names the flag."""


@dataclass(frozen=True)
class KafkaSecurity:
    """The security protocol and, for SASL, the user this service connects as."""

    protocol: str = PLAINTEXT
    mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise KafkaSecurityError(
                f"--kafka-security-protocol must be one of {', '.join(PROTOCOLS)}, "
                f"got {self.protocol}"
            )
        if self.mechanism not in MECHANISMS:
            raise KafkaSecurityError(
                f"--kafka-sasl-mechanism must be one of {', '.join(MECHANISMS)}, "
                f"got {self.mechanism}"
            )
        if self.sasl and not self.username:
            raise KafkaSecurityError(
                f"--kafka-security-protocol {self.protocol} needs --kafka-username"
            )
        if self.sasl and not self.password:
            raise KafkaSecurityError(
                f"--kafka-security-protocol {self.protocol} needs --kafka-password-file"
            )

    @property
    def sasl(self) -> bool:
        return self.protocol != PLAINTEXT

    def librdkafka(self) -> dict[str, str]:
        """Properties to merge into every confluent-kafka client's configuration."""
        if not self.sasl:
            return {}
        return {
            "security.protocol": self.protocol,
            "sasl.mechanisms": self.mechanism,
            "sasl.username": self.username or "",
            "sasl.password": self.password or "",
        }

    def jvm(self) -> dict[str, str]:
        """The same for Kafka's Java client (Spark's source takes them with a `kafka.` prefix)."""
        if not self.sasl:
            return {}
        return {
            "security.protocol": self.protocol,
            "sasl.mechanism": self.mechanism,
            "sasl.jaas.config": (
                f'{_LOGIN_MODULES[self.mechanism]} required username="{_jaas(self.username)}" '
                f'password="{_jaas(self.password)}";'
            ),
        }


def _jaas(value: str | None) -> str:
    return (value or "").replace("\\", "\\\\").replace('"', '\\"')


def read_password(path: Path) -> str:
    """The first line of a password file; a missing or empty file says which."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise KafkaSecurityError(f"--kafka-password-file {path}: {exc.strerror or exc}") from None
    password = text.splitlines()[0].strip() if text.strip() else ""
    if not password:
        raise KafkaSecurityError(f"--kafka-password-file {path}: the file is empty")
    return password


def security_from_args(args: argparse.Namespace) -> KafkaSecurity:
    """The KafkaSecurity of the parsed `--kafka-*` options; raises KafkaSecurityError."""
    password_file = getattr(args, "kafka_password_file", None)
    return KafkaSecurity(
        protocol=args.kafka_security_protocol,
        mechanism=args.kafka_sasl_mechanism,
        username=args.kafka_username or None,
        password=read_password(Path(password_file)) if password_file else None,
    )
