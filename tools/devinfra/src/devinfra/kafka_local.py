"""Apache Kafka 4.x as a local process: one KRaft node acting as broker and controller, alone
(the default) or as one of the voters of a replicated cluster (devinfra.kafka_cluster)."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devinfra import kafka_admin, kafka_security
from devinfra.errors import InfraError
from devinfra.kafka_jars import ensure_kafka_jars
from devinfra.processes import kill_stale, log_tail, port_accepts, stop_process, wait_until

# The machine has 2 cores and runs PostgreSQL and three services beside the broker.
HEAP_SINGLE = ["-Xms256m", "-Xmx512m"]
# Three brokers of a cluster share the same machine: a smaller heap each.
HEAP_CLUSTER_NODE = ["-Xms128m", "-Xmx320m"]
JVM_OPTIONS = [
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-Djava.awt.headless=true",
]


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise InfraError("java not found: run scripts/install-system-deps.sh (installs JDK 17)")
    return java


@dataclass(frozen=True)
class ClusterNode:
    """One node of a replicated local cluster: its id, every voter, what the nodes share."""

    node_id: int
    voters: str  # controller.quorum.voters: "1@127.0.0.1:port,2@127.0.0.1:port,..."
    cluster_id: str
    security: kafka_security.KafkaSecurity | None
    replication_factor: int
    min_insync_replicas: int


def replication_settings(node: ClusterNode | None) -> dict[str, str]:
    """How many copies the broker keeps of what it creates itself (the group offsets, the
    transaction log, topics made on first use), and how many must have a write."""
    if node is None:
        # Single node: every internal topic must be satisfiable by one replica.
        factor, min_isr = 1, 1
    else:
        factor, min_isr = node.replication_factor, node.min_insync_replicas
    return {
        "offsets.topic.replication.factor": str(factor),
        "transaction.state.log.replication.factor": str(factor),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(factor),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        "default.replication.factor": str(factor),
        "min.insync.replicas": str(min_isr),
        # A replica that missed writes never becomes leader: it would drop acknowledged records
        # (Kafka's default; said here so that no broker default can turn it on).
        "unclean.leader.election.enable": "false",
    }


def read_or_make_cluster_id(path: Path) -> str:
    """The cluster id kept in `path`, made on first use (a restart must find the same one)."""
    if path.is_file():
        return path.read_text().strip()
    # Kafka wants a base64url-encoded 16-byte UUID without padding (22 chars).
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    path.write_text(cluster_id + "\n")
    return cluster_id


class LocalKafka:
    """Kafka on 127.0.0.1:`port` (clients) and `controller_port` (KRaft), data in run_dir.

    Clients connect with SASL_SSL (SCRAM-SHA-512/256): `security` holds the CA file and the
    users (`admin`, a super user, and one per service, each limited by ACLs to what it needs:
    devinfra.kafka_security). Nothing answers without credentials.
    """

    def __init__(
        self,
        run_dir: Path,
        port: int,
        controller_port: int,
        *,
        node: ClusterNode | None = None,
    ) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.port = port
        self.controller_port = controller_port
        # None: a single node, its own quorum; else one voter of `node.voters`.
        self.node = node
        self.node_id = node.node_id if node is not None else 1
        self.home = self.run_dir / ("kafka" if node is None else f"kafka-{self.node_id}")
        # PWRESET_BENCH_KAFKA_PLAINTEXT=1: no TLS, SASL or ACLs, only so that docs/benchmarks.md
        # can put a number on what they cost. Tests and `make run` never set it.
        self.security: kafka_security.KafkaSecurity | None
        if node is not None:
            self.security = node.security  # one CA and one set of users for every broker
        elif os.environ.get("PWRESET_BENCH_KAFKA_PLAINTEXT") == "1":
            self.security = None
        else:
            self.security = kafka_security.prepare(self.home / "security")
        self.data_dir = self.home / "data"
        self.config_file = self.home / "server.properties"
        self.log4j_file = self.home / "log4j2.properties"
        self.log_file = self.home / "server.log"  # written by log4j2
        self.stdout_file = self.home / "stdout.log"  # JVM output, crashes, GC warnings
        self.pid_file = self.home / "kafka.pid"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, timeout: float = 90.0) -> None:
        """Start (formatting storage on first use) and wait until metadata requests work."""
        if self.running:
            return
        self.launch()
        self.wait_ready(timeout)
        if self.security is not None and self.node is None:
            kafka_admin.create_acls(self.bootstrap, self.security)

    def launch(self) -> None:
        """Start the JVM and return at once: the nodes of a cluster are launched together,
        since none answers before a majority of the controllers is up."""
        if self.running:
            return
        libs = ensure_kafka_jars()
        self.home.mkdir(parents=True, exist_ok=True)
        # A broker left by an earlier, killed run would hold the log dir lock.
        kill_stale(self.pid_file, str(self.config_file))
        self._write_configs()
        classpath = f"{libs}/*"
        if not (self.data_dir / "meta.properties").is_file():
            self._format_storage(classpath)
        command = [
            find_java(),
            *(HEAP_SINGLE if self.node is None else HEAP_CLUSTER_NODE),
            *JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(self.config_file),
        ]
        with self.stdout_file.open("ab") as out:
            self._process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.home,
            )
        self.pid_file.write_text(f"{self._process.pid}\n")

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until this broker accepts connections and serves cluster metadata."""
        assert self._process is not None, "launch() first"
        try:
            wait_until(
                lambda: port_accepts("127.0.0.1", self.port),
                timeout=timeout,
                what=f"Kafka port {self.port}",
                process=self._process,
                log=self.log_file,
            )
            wait_until(
                lambda: kafka_admin.metadata_works(self.bootstrap, self.admin_options()),
                timeout=timeout,
                what=f"Kafka metadata on {self.bootstrap}",
                process=self._process,
                log=self.log_file,
                interval=0.5,
            )
        except InfraError as exc:
            self.kill()
            raise InfraError(f"{exc}\n{log_tail(self.stdout_file, 15)}") from None

    def admin_options(self) -> dict[str, object]:
        """aiokafka options of the super user (topic creation, test harness)."""
        if self.security is None:
            return {}
        return self.security.client_options(kafka_security.ADMIN)

    def stop(self, timeout: float = 30.0) -> int | None:
        """Controlled shutdown (SIGTERM), SIGKILL if it takes longer than `timeout`; the exit
        code (-9 when it had to be killed), None when it was not running."""
        if self._process is None:
            return None
        code = stop_process(self._process, sig=signal.SIGTERM, timeout=timeout)
        self._process = None
        return code

    def kill(self) -> None:
        """Crash the broker (SIGKILL); `start()` afterwards recovers the same data."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            self._process.wait(10)
        self._process = None

    def restart(self, timeout: float = 90.0) -> None:
        self.stop()
        self.start(timeout)

    def create_topics(
        self, names: Iterable[str], partitions: int = 3, retention_ms: int | None = None
    ) -> None:
        kafka_admin.create_topics(
            self.bootstrap, names, partitions, retention_ms, self.admin_options()
        )

    # -- internals ---------------------------------------------------------------------
    def _cluster_id(self) -> str:
        if self.node is not None:
            return self.node.cluster_id
        return read_or_make_cluster_id(self.home / "cluster.id")

    def _format_storage(self, classpath: str) -> None:
        # Kafka 4 formats a dynamic KRaft quorum with --standalone (this node is the
        # only voter), matching controller.quorum.bootstrap.servers in server.properties.
        # A cluster's nodes list every voter in controller.quorum.voters (a static quorum):
        # formatted without it.
        quorum = ["--standalone"] if self.node is None else []
        command = [
            find_java(),
            "-Xmx256m",
            f"-Dlog4j2.configurationFile={self.log4j_file}",
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            # One argument with "=": an id that starts with "-" (1 in 64 of them) would
            # otherwise be read as an option, and formatting fails.
            f"--cluster-id={self._cluster_id()}",
            "--config",
            str(self.config_file),
            *quorum,
            "--ignore-formatted",
            *(kafka_security.scram_format_arguments(self.security) if self.security else []),
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=120, check=False, cwd=self.home
            )
        except subprocess.TimeoutExpired as exc:
            raise InfraError("kafka-storage format did not finish within 120s") from exc
        if result.returncode != 0:
            raise InfraError(
                f"kafka-storage format failed (exit {result.returncode}):\n"
                f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )

    def _write_configs(self) -> None:
        client = "SASL_SSL" if self.security is not None else "PLAINTEXT"
        listeners = (
            f"{client}://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
        )
        secured = (
            kafka_security.broker_settings(self.security, self.security.ca_file.parent)
            if self.security is not None
            else {
                "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name": "PLAINTEXT",
            }
        )
        quorum = (
            {"controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}"}
            if self.node is None
            else {"controller.quorum.voters": self.node.voters}
        )
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "listeners": listeners,
            "advertised.listeners": f"{client}://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            **secured,
            **quorum,
            "log.dirs": str(self.data_dir),
            **replication_settings(self.node),
            # Fewer internal partitions: creating 50 on 2 cores slows the first group join.
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.num.partitions": "5",
            # Tests should not wait 3 s for the first rebalance.
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            "num.partitions": "3",
            "delete.topic.enable": "true",
            "log.retention.hours": "24",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "controlled.shutdown.enable": "true",
            # After a SIGKILL the restarted controller waits for the dead incarnation's
            # session to expire before the broker may rejoin (default 9 s); keep that short
            # but well above the heartbeat so GC pauses on 2 cores do not fence the broker.
            "broker.heartbeat.interval.ms": "1000",
            "broker.session.timeout.ms": "4500",
        }
        self.config_file.write_text(
            "# generated by devinfra.kafka_local; rewritten on every start\n"
            + "".join(f"{key}={value}\n" for key, value in settings.items())
        )
        self.log4j_file.write_text(
            "# generated by devinfra.kafka_local\n"
            "status = warn\n"
            "appender.file.type = File\n"
            "appender.file.name = FILE\n"
            f"appender.file.fileName = {self.log_file}\n"
            "appender.file.layout.type = PatternLayout\n"
            "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = INFO\n"
            "rootLogger.appenderRef.file.ref = FILE\n"
            # Per-request and state-change chatter would dwarf the useful lines.
            "logger.request.name = kafka.request.logger\n"
            "logger.request.level = WARN\n"
            "logger.state.name = state.change.logger\n"
            "logger.state.level = WARN\n"
            "logger.cleaner.name = kafka.log.LogCleaner\n"
            "logger.cleaner.level = WARN\n"
        )
