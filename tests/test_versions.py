"""Every copy of a pinned version agrees with versions.env, the single source of truth.

Copies exist where a tool cannot read versions.env itself: the chart's values (Kafka), the
chart's Strimzi annotation, the processor's Dockerfile ARG and Python pin (Spark), uv.lock.
The Maven poms and `go install` lines must take theirs from the Makefile, never a literal.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from tests import chart_support as cs

V = cs.versions()
ROOT = cs.ROOT


def test_versions_env_has_every_pin() -> None:
    for key in (
        "KAFKA_VERSION",
        "SPARK_VERSION",
        "STRIMZI_VERSION",
        "HELM_VERSION",
        "KUBECONFORM_VERSION",
        "MINIO_VERSION",
    ):
        assert V.get(key), f"versions.env lacks {key}"


def test_chart_kafka_version() -> None:
    values = yaml.safe_load((cs.CHART / "values.yaml").read_text())
    assert str(values["kafka"]["version"]) == V["KAFKA_VERSION"]


def test_strimzi_version() -> None:
    chart = yaml.safe_load((cs.CHART / "Chart.yaml").read_text())
    assert chart["annotations"]["dtmon/strimzi-version"] == V["STRIMZI_VERSION"]
    script = (ROOT / "k8s" / "install-prereqs.sh").read_text()
    assert re.search(r'^source "\$root/versions\.env"$', script, re.M)
    assert '--version "$STRIMZI_VERSION"' in script
    assert "strimzi/strimzi-kafka-operator" in script


def test_processor_spark_version() -> None:
    dockerfile = ROOT / "services" / "processor" / "Dockerfile"
    assert dockerfile.is_file(), f"{dockerfile} missing"
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", dockerfile.read_text(), re.M))
    assert args.get("SPARK_VERSION") == V["SPARK_VERSION"], args
    project = tomllib.loads((ROOT / "services" / "processor" / "pyproject.toml").read_text())
    pins = [d for d in project["project"]["dependencies"] if d.startswith("pyspark")]
    assert pins == [f"pyspark=={V['SPARK_VERSION']}"]
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"] if "version" in p}
    assert locked["pyspark"] == V["SPARK_VERSION"]


def test_poms_take_versions_from_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for pom, prop, var in (
        (ROOT / "libs" / "devstack" / "pom.xml", "kafka.version", "KAFKA_VERSION"),
        (ROOT / "services" / "processor" / "pom.xml", "spark.version", "SPARK_VERSION"),
    ):
        text = pom.read_text()
        assert "${" + prop + "}" in text, f"{pom} does not use ${{{prop}}}"
        literal = re.search(rf"<{re.escape(prop)}>([^<]*)</{re.escape(prop)}>", text)
        assert literal is None or not re.match(r"^\d", literal.group(1)), (
            f"{pom} hard-codes {prop}={literal.group(1) if literal else ''}"
        )
        assert f"-D{prop}=$({var})" in makefile


def test_go_tools_are_installed_at_the_pinned_versions() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)" in makefile
    assert "github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)" in makefile
    assert "github.com/minio/minio@$(MINIO_VERSION)" in makefile


def test_hadoop_aws_matches_the_hadoop_client_spark_ships() -> None:
    """hadoop-aws (s3a:// checkpoints) must be the version of Spark's own Hadoop client jars."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    shipped = sorted(p.name for p in jars.glob("hadoop-client-api-*.jar"))
    assert shipped == [f"hadoop-client-api-{V['HADOOP_VERSION']}.jar"], shipped
    dockerfile = (ROOT / "services" / "processor" / "Dockerfile").read_text()
    assert f"ARG HADOOP_VERSION={V['HADOOP_VERSION']}" in dockerfile


DOCKERFILES = [
    ROOT / "services" / "producer" / "Dockerfile",
    ROOT / "services" / "processor" / "Dockerfile",
    ROOT / "services" / "api" / "Dockerfile",
    ROOT / "k8s" / "images" / "kafka" / "Dockerfile",
    ROOT / "k8s" / "images" / "minio" / "Containerfile",
]


def test_every_dockerfile_arg_default_is_the_pinned_version() -> None:
    """Each Dockerfile's ARG defaults (what a user's `docker build` gets) equal versions.env,
    which k8s/cluster/images.sh passes as build args: the images CI builds are users' images."""
    for dockerfile in DOCKERFILES:
        args = dict(re.findall(r"^ARG\s+(\w+)=(\S*)", dockerfile.read_text(), re.M))
        assert args.get("BASE_IMAGE") == V["BASE_IMAGE"], dockerfile
        for key, value in args.items():
            if key in V:
                assert value == V[key], f"{dockerfile}: ARG {key}={value}, versions.env {V[key]}"


def test_the_image_builds_pass_every_pin_as_a_build_arg() -> None:
    images = (ROOT / "k8s" / "cluster" / "images.sh").read_text()
    for key in ("UV_VERSION", "SPARK_VERSION", "SCALA_BINARY_VERSION", "HADOOP_VERSION"):
        assert f'--build-arg "{key}=${key}"' in images, key
    assert '--build-arg "KAFKA_VERSION=$KAFKA_VERSION"' in images
    assert '--build-arg "BASE_IMAGE=$BASE"' in images


def test_the_makefile_takes_uv_from_versions_env() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "include versions.env" in makefile
    assert not re.search(r"^UV_VERSION\s*:?=", makefile, re.M)
    assert '"uv==$(UV_VERSION)"' in makefile


def test_the_cluster_is_built_at_the_pinned_versions() -> None:
    build = (ROOT / "k8s" / "cluster" / "build-binaries.sh").read_text()
    assert "V=$KUBERNETES_VERSION" in build
    assert '"$ETCD_VERSION"' in build
    assert "github.com/coredns/coredns@v$COREDNS_VERSION" in build
    assert "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" in build
    crds = (ROOT / "k8s" / "cluster" / "prometheus-operator-crds.sh").read_text()
    assert "V=$PROMETHEUS_OPERATOR_VERSION" in crds and '"$MODULE@$V"' in crds
    for key in (
        "KUBERNETES_VERSION",
        "ETCD_VERSION",
        "COREDNS_VERSION",
        "PROMETHEUS_VERSION",
        "PROMETHEUS_OPERATOR_VERSION",
        "DEBIAN_SUITE",
    ):
        assert V.get(key), f"versions.env lacks {key}"
    assert V["BASE_IMAGE"] == f"debian:{V['DEBIAN_SUITE']}-slim"
