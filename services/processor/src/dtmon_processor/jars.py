"""Where the Kafka connector jars live: resolved once by Maven (pom.xml), never at start-up.

`make spark-jars` copies them into <repo>/.cache/spark-jars; the container image bakes them
into /opt/dtmon/jars. DTMON_SPARK_JARS_DIR overrides both. Spark gets them through
`spark.jars` (local files), so start-up never contacts a package registry.
"""

from __future__ import annotations

import os
from pathlib import Path

from dtmon_common.paths import repo_root

ENV_VAR = "DTMON_SPARK_JARS_DIR"
IMAGE_DIR = Path("/opt/dtmon/jars")
CONNECTOR_PREFIX = "spark-sql-kafka-0-10_"


class JarsMissingError(RuntimeError):
    """The connector jars have not been resolved; the message says how to fix it."""


def default_jars_dir() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    root = repo_root()
    if root is not None:
        return root / ".cache" / "spark-jars"
    return IMAGE_DIR


def connector_jars(directory: Path | None = None) -> list[Path]:
    """The jar files to put on spark.jars, sorted; JarsMissingError if the connector is absent."""
    d = directory if directory is not None else default_jars_dir()
    jars = sorted(d.glob("*.jar")) if d.is_dir() else []
    if not any(j.name.startswith(CONNECTOR_PREFIX) for j in jars):
        raise JarsMissingError(
            f"no Spark Kafka connector jar ({CONNECTOR_PREFIX}*.jar) in {d}: "
            f"run `make spark-jars` or set {ENV_VAR}"
        )
    return jars
