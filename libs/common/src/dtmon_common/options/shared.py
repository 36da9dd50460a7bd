"""Option groups more than one command has: Kafka, metrics and health, logging."""

from __future__ import annotations

from pathlib import Path

from dtmon_common.broker_watch import DEFAULT_UNREACHABLE_AFTER
from dtmon_common.kafka_security import MECHANISMS, PROTOCOLS
from dtmon_common.options import Group, Option
from dtmon_common.topics import DEFAULT_BOOTSTRAP_SERVERS, HITS_TOPIC, RESULTS_TOPIC

BOOTSTRAP_SERVERS = Option(
    "--bootstrap-servers",
    "Kafka bootstrap servers, comma-separated host:port",
    default=DEFAULT_BOOTSTRAP_SERVERS,
)
HITS = Option("--hits-topic", "topic of raw DAQ words", default=HITS_TOPIC)
RESULTS = Option("--results-topic", "topic of batch results", default=RESULTS_TOPIC)
_TOPIC_OPTIONS = {"hits": HITS, "results": RESULTS}
KAFKA_SECURITY = (
    Option(
        "--kafka-security-protocol",
        "PLAINTEXT (a local broker) or SASL_PLAINTEXT (a user and password, as the chart's "
        "brokers require)",
        default=PROTOCOLS[0],
        choices=PROTOCOLS,
        upper=True,
    ),
    Option(
        "--kafka-sasl-mechanism",
        "SASL mechanism of --kafka-username",
        default=MECHANISMS[0],
        choices=MECHANISMS,
        upper=True,
    ),
    Option("--kafka-username", "Kafka user this service connects as (SASL)"),
    Option(
        "--kafka-password-file",
        "file whose first line is that user's password (a mounted Secret key)",
        type=Path,
    ),
)


def kafka(*topics: str) -> Group:
    """The broker, how to authenticate to it, and only the topics a command uses."""
    return Group(
        "Kafka", (BOOTSTRAP_SERVERS, *(_TOPIC_OPTIONS[t] for t in topics), *KAFKA_SECURITY)
    )


PORT = {"type": int, "minimum": 0, "maximum": 65535}


def metrics(default_port: int) -> Group:
    """`--metrics-host`/`--metrics-port` of a service's /metrics, /healthz and /readyz."""
    return Group(
        "metrics and health",
        (
            Option(
                "--metrics-port",
                "port of /metrics, /healthz and /readyz (0 = no such server)",
                default=default_port,
                **PORT,
            ),
            Option(
                "--metrics-host",
                "address the metrics server binds (0.0.0.0 in containers)",
                default="127.0.0.1",
            ),
        ),
    )


LOG_LEVEL = Option(
    "--log-level",
    "log verbosity (DEBUG also shows the libraries' own chatter: py4j, Spark)",
    default="INFO",
    choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    upper=True,
)
LOGGING = Group(
    "logging",
    (
        LOG_LEVEL,
        Option(
            "--log-format",
            "text for terminals, json (one object per line) for log collectors",
            default="text",
            choices=("text", "json"),
        ),
    ),
)


SIGNING = Group(
    "result signing",
    (
        Option(
            "--signing-key-file",
            "file of <key_id>:<secret> lines; the first key signs results, every key "
            "verifies them (two while rotating)",
        ),
        Option(
            "--signing-keys",
            "the same keys inline, comma-separated (prefer the environment variable: "
            "flags are visible to every local user)",
        ),
    ),
)
"""The processor signs with these keys, the API verifies with them."""

READINESS = Group(
    "readiness",
    (
        Option(
            "--broker-timeout-seconds",
            "readiness (/readyz) answers 503 once the broker has not answered a metadata "
            "request for this long",
            type=float,
            default=DEFAULT_UNREACHABLE_AFTER,
            above=0,
        ),
    ),
)
