"""Topic names and connection defaults: the single definition every service, test and chart uses.

The Helm chart's values and the Strimzi KafkaTopic resources are checked against these
constants by tests/test_chart.py, so renaming a topic here is the only edit needed.
"""

from typing import Final

HITS_TOPIC: Final = "dt-hits"
"""Raw DAQ words, one CSV line (or several, newline-separated) per Kafka value."""

RESULTS_TOPIC: Final = "dt-results"
"""One dtmon.batch.v1 JSON message per processor micro-batch, keyed by batch id."""

DEFAULT_BOOTSTRAP_SERVERS: Final = "127.0.0.1:9092"
"""Where `make run`'s embedded broker listens."""

DEFAULT_HITS_PARTITIONS: Final = 4
DEFAULT_RESULTS_PARTITIONS: Final = 1
"""One partition keeps batch results totally ordered for every results-service replica."""

ENV_PREFIX: Final = "DTMON_"
"""Every flag `--some-option` is also read from the environment as `DTMON_SOME_OPTION`."""
