"""Kafka credentials reach both client kinds with the right property names, and a setting
that cannot work is refused at start with one line naming the flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from dtmon_common.cli import command_parser
from dtmon_common.kafka_security import (
    KafkaSecurity,
    KafkaSecurityError,
    read_password,
    security_from_args,
)
from dtmon_common.options.producer import PRODUCER


def test_plaintext_adds_no_client_property() -> None:
    assert KafkaSecurity().librdkafka() == {}
    assert KafkaSecurity().jvm() == {}


def test_scram_user_for_librdkafka_and_the_jvm() -> None:
    sec = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "dtmon-api", 'p"w\\d')
    assert sec.librdkafka() == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": "SCRAM-SHA-512",
        "sasl.username": "dtmon-api",
        "sasl.password": 'p"w\\d',
    }
    jvm = sec.jvm()
    assert jvm["security.protocol"] == "SASL_PLAINTEXT"
    assert jvm["sasl.mechanism"] == "SCRAM-SHA-512"
    assert jvm["sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="dtmon-api" password="p\\"w\\\\d";'
    )


def test_the_password_never_shows_in_repr() -> None:
    assert "s3cret" not in repr(KafkaSecurity("SASL_PLAINTEXT", "PLAIN", "u", "s3cret"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "SASL_PLAINTEXT", "password": "x"}, "needs --kafka-username"),
        ({"protocol": "SASL_PLAINTEXT", "username": "u"}, "needs --kafka-password-file"),
        ({"protocol": "SSL"}, "--kafka-security-protocol must be one of"),
        ({"mechanism": "GSSAPI"}, "--kafka-sasl-mechanism must be one of"),
    ],
)
def test_settings_that_cannot_work_are_refused(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(KafkaSecurityError, match=message):
        KafkaSecurity(**kwargs)


def test_password_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(KafkaSecurityError, match=f"{tmp_path}/absent"):
        read_password(tmp_path / "absent")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(KafkaSecurityError, match="empty"):
        read_password(tmp_path / "empty")
    (tmp_path / "pw").write_text("s3cret\n")
    assert read_password(tmp_path / "pw") == "s3cret"


def test_environment_configures_it_like_the_chart_does(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("s3cret")
    env = {
        "DTMON_KAFKA_SECURITY_PROTOCOL": "sasl_plaintext",
        "DTMON_KAFKA_USERNAME": "dtmon-producer",
        "DTMON_KAFKA_PASSWORD_FILE": str(tmp_path / "password"),
    }
    args = command_parser(PRODUCER, env=env).parse_args([])
    sec = security_from_args(args)
    assert (sec.protocol, sec.mechanism, sec.username, sec.password) == (
        "SASL_PLAINTEXT",
        "SCRAM-SHA-512",
        "dtmon-producer",
        "s3cret",
    )
