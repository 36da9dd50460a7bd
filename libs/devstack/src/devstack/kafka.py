"""A real Apache Kafka broker on loopback: KRaft, one combined broker+controller node.

Its jars are resolved by Maven (libs/devstack/pom.xml -> .cache/kafka-libs, `make kafka-jars`),
so the broker that tests, `make run` and benchmarks talk to is the same Kafka version the
Kubernetes chart runs under Strimzi. The JVM is tied to this process's lifetime
(devstack.processes), so an interrupted test run leaves no java behind.
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from devstack import processes
from devstack.paths import cache_dir, env_path
from devstack.ports import free_port, port_in_use

log = logging.getLogger(__name__)

NODE_ID = 1


class BrokerError(RuntimeError):
    """The local broker could not be started or used; the message says why and where."""


def kafka_libs_dir() -> Path:
    return env_path("DTMON_KAFKA_LIBS", cache_dir() / "kafka-libs")


_LOG4J2 = """\
Configuration:
  name: dtmon-local-kafka
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.server.KafkaRaftServer
        level: INFO
      - name: kafka.server.BrokerServer
        level: INFO
"""


class KafkaBroker:
    """One KRaft node (broker+controller) on 127.0.0.1.

    `port`/`controller_port` default to free ports; `data_dir` defaults to a fresh temporary
    folder removed on stop. A given `data_dir` is kept, and a restart on it keeps every
    topic and offset, which is what broker-restart fault tests need.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        controller_port: int | None = None,
        data_dir: Path | None = None,
        heap: str = "512m",
        extra_config: Mapping[str, str] | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.controller_port = controller_port or free_port()
        self._owns_data_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="dtmon-kafka-"))
        self.heap = heap
        self.extra_config = dict(extra_config or {})
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        """Format storage on first use, launch the JVM, return once metadata requests work."""
        if self.running:
            return self
        for p in (self.port, self.controller_port):
            if port_in_use(p, self.host):
                raise BrokerError(f"cannot start Kafka: port {self.host}:{p} is already in use")
        libs = kafka_libs_dir()
        if not any(libs.glob("kafka_*.jar")):
            raise BrokerError(f"Kafka jars not found in {libs}: run `make kafka-jars`")
        java = shutil.which("java")
        if java is None:
            raise BrokerError("cannot start Kafka: `java` (17+) is not on PATH")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        props = self._write_config()
        classpath = f"{libs}/*"
        jvm = [
            java,
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.yaml'}",
            "-cp",
            classpath,
        ]
        if not (self.data_dir / "logs" / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            # `--cluster-id=` form: a random id may start with "-", which the tool's argument
            # parser would take for an option ("expected one argument").
            storage_format = ["kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}"]
            fmt = subprocess.run(
                [*jvm, *storage_format, "-c", str(props)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            if fmt.returncode != 0:
                raise BrokerError(
                    f"formatting Kafka storage in {self.data_dir} failed:\n{fmt.stdout}{fmt.stderr}"
                )
        log.info("starting Kafka on %s (data in %s)", self.bootstrap_servers, self.data_dir)
        self._proc = processes.spawn([*jvm, "kafka.Kafka", str(props)], log=self.log_file)
        self._wait_ready(timeout)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Controlled shutdown; SIGKILL only if the JVM ignores SIGTERM for `timeout` s."""
        if self._proc is not None:
            processes.stop(self._proc, timeout=timeout)
            self._proc = None
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self) -> None:
        """`kill -9` the broker (fault tests); data_dir is kept for a restart."""
        if self._proc is not None:
            processes.kill(self._proc)
            self._proc = None

    @contextmanager
    def frozen(self) -> Iterator[KafkaBroker]:
        """SIGSTOP the broker for the `with` block, SIGCONT after (fault tests): a hung
        broker keeps its sockets open and answers nothing, unlike a stopped one."""
        if self._proc is None:
            raise BrokerError("cannot freeze a broker that is not running")
        os.kill(self._proc.pid, signal.SIGSTOP)
        try:
            yield self
        finally:
            os.kill(self._proc.pid, signal.SIGCONT)

    def restart(self, timeout: float = 90.0) -> KafkaBroker:
        """Stop and start on the same ports and data: topics and offsets survive."""
        if self._proc is not None:
            processes.stop(self._proc)
            self._proc = None
        return self.start(timeout)

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- topics ------------------------------------------------------------------------

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap_servers})

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        config: Mapping[str, str] | None = None,
        timeout: float = 30.0,
    ) -> str:
        """Create `name` with `partitions`; an existing topic is left as it is."""
        return create_topic(self.bootstrap_servers, name, partitions, config, timeout)

    # -- internals ---------------------------------------------------------------------

    def _write_config(self) -> Path:
        config = {
            "process.roles": "broker,controller",
            "node.id": str(NODE_ID),
            "controller.quorum.voters": f"{NODE_ID}@{self.host}:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir / "logs"),
            "num.partitions": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.segment.bytes": str(256 * 1024 * 1024),
            "log.retention.hours": "24",
            "message.max.bytes": str(16 * 1024 * 1024),
            **self.extra_config,
        }
        props = self.data_dir / "server.properties"
        props.write_text("".join(f"{k}={v}\n" for k, v in config.items()))
        (self.data_dir / "log4j2.yaml").write_text(_LOG4J2)
        return props

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        admin: AdminClient | None = None
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise BrokerError(
                    f"Kafka exited with code {self._proc.returncode} during start-up; "
                    f"last lines of {self.log_file}:\n{_tail(self.log_file)}"
                )
            # librdkafka logs every refused connection; only talk Kafka once TCP answers.
            if admin is None:
                if not port_in_use(self.port, self.host):
                    time.sleep(0.1)
                    continue
                admin = self.admin()
            try:
                meta = admin.list_topics(timeout=2)
                if NODE_ID in meta.brokers:
                    return
            except KafkaException as exc:
                last = exc
            time.sleep(0.2)
        self.stop()
        raise BrokerError(
            f"Kafka on {self.bootstrap_servers} not ready after {timeout:.0f} s ({last}); "
            f"see {self.log_file}"
        )


@contextmanager
def running_broker(data_dir: Path | None = None) -> Iterator[KafkaBroker]:
    """A started broker for the duration of a `with` block (fixtures, benchmarks)."""
    broker = KafkaBroker(data_dir=data_dir)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def create_topic(
    bootstrap_servers: str,
    name: str,
    partitions: int = 1,
    config: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> str:
    """Create a topic on any reachable cluster; an existing topic is left as it is."""
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    new = NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))
    futures = admin.create_topics(
        [new],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    try:
        futures[name].result(timeout=timeout)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
    _wait_topic_visible(admin, name, partitions, timeout)
    return name


def _wait_topic_visible(admin: AdminClient, name: str, partitions: int, timeout: float) -> None:
    """Block until every partition has a leader, so the first produce cannot race creation."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        topic = admin.list_topics(topic=name, timeout=5).topics.get(name)
        if (
            topic is not None
            and topic.error is None
            and len(topic.partitions) >= partitions
            and all(p.leader >= 0 for p in topic.partitions.values())
        ):
            return
        time.sleep(0.1)
    raise BrokerError(f"topic {name!r} did not become available within {timeout:.0f} s")


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
