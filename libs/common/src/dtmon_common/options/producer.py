"""`dtmon-producer`: every option, declared once (the CLI, README and chart derive from it)."""

from __future__ import annotations

from dtmon_common.options import Command, Group, Option
from dtmon_common.options.shared import LOGGING, READINESS, kafka, metrics
from dtmon_common.topics import DEFAULT_HITS_PARTITIONS

DEFAULT_RATE = 1000.0
"""The task's realistic emulated DAQ rate, records per second (when --rate is not given)."""

SOURCE = Option(
    "--source",
    "'sim' (detector simulator), a file, a directory, a glob, or s3://bucket/prefix; "
    "files are read in name order, .gz accepted",
    default="sim",
)
MAX_RECORDS = Option(
    "--max-records",
    "stop after this many records (0 = no limit)",
    type=int,
    default=0,
    minimum=0,
)
SEED = Option("--seed", "random seed (default: random)", type=int)
RATE = Option(
    "--rate",
    "records per second; 0 = as fast as possible "
    f"(default: {DEFAULT_RATE:g} into Kafka, unthrottled with --output)",
    type=float,
    minimum=0,
)
RECORDS_PER_MESSAGE = Option(
    "--records-per-message",
    "pack up to N records (newline-separated) into one Kafka message",
    type=int,
    default=1,
    minimum=1,
)

PRODUCER = Command(
    "dtmon-producer",
    (
        Group(
            "input",
            (
                SOURCE,
                Option(
                    "--format",
                    "input format: dataset CSV text, or 64-bit binary words converted to CSV "
                    "on the fly",
                    default="csv",
                    choices=("csv", "binary"),
                ),
                Option(
                    "--byte-order",
                    "byte order of --format binary words",
                    default="little",
                    choices=("little", "big"),
                ),
                Option("--loop", "restart at the first file when the last one ends", type=bool),
                MAX_RECORDS,
            ),
        ),
        Group(
            "S3 (for s3:// sources)",
            (
                Option(
                    "--s3-endpoint",
                    "host:port or URL (http:// or https://) of the S3 service",
                    default="",
                ),
                Option("--s3-access-key", "access key (default: $AWS_ACCESS_KEY_ID)"),
                Option("--s3-secret-key", "secret key (default: $AWS_SECRET_ACCESS_KEY)"),
                Option("--s3-region", "region, if the service needs one"),
                Option(
                    "--s3-insecure",
                    "plain HTTP for a host:port endpoint (a URL's scheme always wins)",
                    type=bool,
                ),
            ),
        ),
        Group(
            "simulator (--source sim)",
            (
                SEED,
                Option(
                    "--muon-rate",
                    "muons per second of detector time through the generation plane "
                    "(default: the simulator's calibrated value)",
                    type=float,
                    minimum=0,
                ),
            ),
        ),
        Group(
            "pacing",
            (
                RATE,
                Option(
                    "--speed",
                    "replay in detector time from the orbit clock, at this factor "
                    "(1 = real time); overrides --rate; 0 = off",
                    type=float,
                    default=0.0,
                    minimum=0,
                ),
                RECORDS_PER_MESSAGE,
            ),
        ),
        Group(
            "output",
            (
                Option(
                    "--output",
                    "write the records as a CSV file (with header) to PATH, or '-' for "
                    "stdout, instead of Kafka",
                    metavar="PATH",
                ),
            ),
        ),
        kafka("hits"),
        Group(
            "Kafka topic",
            (
                Option(
                    "--create-topic",
                    "create --hits-topic if missing (locally; in Kubernetes Strimzi owns topics)",
                    type=bool,
                ),
                Option(
                    "--partitions",
                    "partitions of a topic created by --create-topic",
                    type=int,
                    default=DEFAULT_HITS_PARTITIONS,
                    minimum=1,
                ),
                Option(
                    "--connect-timeout",
                    "seconds to wait for the broker/topic at start (0 = wait forever, "
                    "with backoff)",
                    type=float,
                    default=0.0,
                    minimum=0,
                ),
            ),
        ),
        metrics(9101),
        READINESS,
        Group(
            "progress",
            (
                Option(
                    "--progress",
                    "progress line on stderr (auto = only on a terminal)",
                    default="auto",
                    choices=("auto", "always", "never"),
                ),
            ),
        ),
        LOGGING,
    ),
    topics=frozenset({"hits"}),
)
