"""`dtmon-processor run` and `dtmon-processor batch`: every option, declared once."""

from __future__ import annotations

from dtmon_common.options import Command, Group, Option
from dtmon_common.options.shared import LOGGING, PORT, READINESS, SIGNING, kafka, metrics
from dtmon_common.paths import cache_dir

TRIGGER_SECONDS = Option(
    "--trigger-seconds",
    "micro-batch interval in seconds",
    type=float,
    default=1.0,
    minimum=0.5,
    maximum=5.0,
)


def _default_checkpoint() -> str:
    return str(cache_dir() / "checkpoints" / "processor")


_positive = {"type": int, "minimum": 1}

SPARK = Group(
    "Spark",
    (
        Option("--master", "Spark master URL", default="local[*]"),
        Option(
            "--shuffle-partitions",
            "spark.sql.shuffle.partitions: small, batches are small",
            default=2,
            **_positive,
        ),
        Option(
            "--adaptive",
            "enable adaptive query execution (off: it splits each batch into 3 Spark jobs)",
            type=bool,
        ),
        Option("--ui-port", "Spark UI port", default=4040, **PORT),
        Option("--no-ui", "do not start the Spark UI", type=bool),
        Option(
            "--spark-prometheus",
            "expose Spark's PrometheusServlet at <ui>/metrics/prometheus (Kubernetes)",
            type=bool,
        ),
        Option("--driver-memory", "spark.driver.memory, e.g. 2g"),
    ),
)

RUN = Command(
    "dtmon-processor run",
    (
        kafka("hits", "results"),
        Group(
            "stream",
            (
                Option(
                    "--starting-offsets",
                    "where a NEW checkpoint starts reading (an existing checkpoint resumes)",
                    default="latest",
                    choices=("earliest", "latest"),
                ),
                Option(
                    "--max-offsets-per-trigger",
                    "upper bound of Kafka records per micro-batch",
                    default=1_000_000,
                    **_positive,
                ),
                Option(
                    "--max-batch-bytes",
                    "upper bound of a micro-batch's bytes: the records per batch are also "
                    "bounded by max-batch-bytes / max-message-bytes",
                    default=128 * 1024 * 1024,
                    minimum=1024,
                    type=int,
                ),
                Option(
                    "--max-message-bytes",
                    "largest Kafka message expected on the hits topic: the default fits one "
                    "CSV record per message, raise it for packed messages (the byte bound "
                    "assumes it; a larger one is logged)",
                    default=128,
                    **_positive,
                ),
                Option(
                    "--driver-max-offsets",
                    "a micro-batch of at most this many Kafka records is computed on the driver "
                    "(its offset range read by the driver's Kafka consumer: no Spark job); a "
                    "larger one on the executors",
                    default=1_000_000,
                    minimum=0,
                    type=int,
                ),
                TRIGGER_SECONDS,
                Option(
                    "--available-now",
                    "process what the topic holds now, in batches, then exit",
                    type=bool,
                ),
                Option(
                    "--checkpoint-location",
                    "checkpoint folder (local path, or s3a://bucket/path on Kubernetes)",
                    default=_default_checkpoint,
                ),
                Option(
                    "--event-timeout-seconds",
                    "close an orbit whose hits waited this long (batch time) for the other FPGA",
                    type=float,
                    default=10.0,
                    above=0,
                ),
                Option(
                    "--no-create-results-topic",
                    "fail if the results topic is missing instead of creating it",
                    type=bool,
                ),
            ),
        ),
        metrics(9102),
        SIGNING,
        READINESS,
        SPARK,
        LOGGING,
    ),
    topics=frozenset({"hits", "results"}),
)

BATCH = Command(
    "dtmon-processor batch",
    (
        Group(
            "batch",
            (
                Option(
                    "--rows-per-batch",
                    "records per batch (default: all input is one batch)",
                    **_positive,
                ),
                Option("--output", "output file for JSON lines, - for stdout", default="-"),
            ),
        ),
        SPARK,
        LOGGING,
    ),
)
