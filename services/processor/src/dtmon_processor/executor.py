"""`dtmon-spark-executor`: start a Spark executor in a dtmon-processor pod.

Spark starts executor pods from the driver's image with the argument `executor` and expects
the image's entrypoint to turn the SPARK_* environment it sets into a JVM command line (Spark's
own images ship entrypoint.sh for that). The dtmon-processor image is Debian's Python and JRE
with PySpark from uv.lock; the chart's executor pod template runs this launcher, which does
what entrypoint.sh does for `executor` with PySpark's jars as the class path, so one image
serves as driver and executor.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def java_options(env: dict[str, str]) -> list[str]:
    """SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ... in index order (Spark's executor JVM options)."""
    opts = [(k, v) for k, v in env.items() if k.startswith("SPARK_JAVA_OPT_")]
    return [v for _, v in sorted(opts, key=lambda kv: int(kv[0].rsplit("_", 1)[1]))]


def command(env: dict[str, str], spark_home: Path, java: str) -> list[str]:
    """The executor JVM command line, as Spark's entrypoint.sh builds it."""
    classpath = ":".join(
        part
        for part in (
            env.get("SPARK_CLASSPATH", ""),
            str(spark_home / "jars" / "*"),
            env.get("SPARK_DIST_CLASSPATH", ""),
        )
        if part
    )
    memory = env["SPARK_EXECUTOR_MEMORY"]
    return [
        java,
        *java_options(env),
        f"-Xms{memory}",
        f"-Xmx{memory}",
        "-cp",
        classpath,
        "org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend",
        "--driver-url",
        env["SPARK_DRIVER_URL"],
        "--executor-id",
        env["SPARK_EXECUTOR_ID"],
        "--cores",
        env["SPARK_EXECUTOR_CORES"],
        "--app-id",
        env["SPARK_APPLICATION_ID"],
        "--hostname",
        env["SPARK_EXECUTOR_POD_IP"],
        "--resourceProfileId",
        env.get("SPARK_RESOURCE_PROFILE_ID", "0"),
        "--podName",
        env["SPARK_EXECUTOR_POD_NAME"],
    ]


def main() -> None:
    env = dict(os.environ)
    if len(sys.argv) > 1 and sys.argv[1] != "executor":
        sys.exit(f"spark-executor: unexpected role {sys.argv[1]!r} (Spark passes 'executor')")
    if "SPARK_HOME" in env:
        spark_home = Path(env["SPARK_HOME"])
    else:
        import pyspark

        spark_home = Path(pyspark.__file__).parent
    java_home = env.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java:
        sys.exit("spark-executor: no java (set JAVA_HOME or put java on PATH)")
    missing = [
        name
        for name in (
            "SPARK_EXECUTOR_MEMORY",
            "SPARK_DRIVER_URL",
            "SPARK_EXECUTOR_ID",
            "SPARK_EXECUTOR_CORES",
            "SPARK_APPLICATION_ID",
            "SPARK_EXECUTOR_POD_IP",
            "SPARK_EXECUTOR_POD_NAME",
        )
        if name not in env
    ]
    if missing:
        sys.exit(f"spark-executor: Spark did not set {', '.join(missing)}")
    # PySpark workers on this executor use this image's Python (with minidt, numpy, pyarrow).
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    argv = command(env, spark_home, java)
    os.execve(java, argv, env)


if __name__ == "__main__":
    main()
