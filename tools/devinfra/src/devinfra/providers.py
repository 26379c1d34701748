"""Choose, start and stop the infrastructure: environment > testcontainers > local processes.

Per component (postgres, kafka, smtp):
  * env:            endpoints given in PWRESET_TEST_* variables are used as they are;
  * testcontainers: when a Docker engine answers and PWRESET_INFRA_PROVIDER != "local";
  * local:          processes on this machine (Debian PostgreSQL, Kafka jars, aiosmtpd).
PWRESET_INFRA_PROVIDER = auto (default) | local | testcontainers forces the choice among
the last two (environment endpoints still win).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devinfra import kafka_admin, kafka_security, postgres_admin
from devinfra.docker_probe import detect_docker
from devinfra.errors import InfraError
from devinfra.kafka_cluster import LocalKafkaCluster
from devinfra.kafka_local import LocalKafka
from devinfra.kafka_security import ADMIN, KafkaSecurity
from devinfra.mailbox import Mailbox, MaildirMailbox, MailpitMailbox
from devinfra.postgres_local import LocalPostgres
from devinfra.processes import free_port
from devinfra.smtp_local import LocalSmtp

__all__ = ["Infrastructure", "detect_docker", "plan_providers", "start_infrastructure"]

COMPONENTS = ("postgres", "kafka", "smtp")
ENV_POSTGRES_DSN = "PWRESET_TEST_POSTGRES_DSN"
ENV_KAFKA_BOOTSTRAP = "PWRESET_TEST_KAFKA_BOOTSTRAP"
# With a broker from the environment that asks for SASL_SSL (one `devinfra up` started): the
# directory holding its ca.pem and users.json.
ENV_KAFKA_SECURITY_DIR = "PWRESET_TEST_KAFKA_SECURITY_DIR"
ENV_SMTP_HOST = "PWRESET_TEST_SMTP_HOST"
ENV_SMTP_PORT = "PWRESET_TEST_SMTP_PORT"
ENV_MAILDIR = "PWRESET_TEST_MAILDIR"
ENV_MAILPIT_URL = "PWRESET_TEST_MAILPIT_URL"
ENV_PROVIDER = "PWRESET_INFRA_PROVIDER"


@dataclass
class Infrastructure:
    """Endpoints of running infrastructure plus, for local processes, their handles."""

    providers: dict[str, str]
    postgres_admin_dsn: str
    kafka_bootstrap: str
    smtp_host: str
    smtp_port: int
    mailbox: Mailbox
    run_dir: Path
    # Fault-injection handles: set only for components run as local processes.
    postgres: LocalPostgres | None = None
    kafka: LocalKafka | None = None
    # Instead of `kafka`: the replicated local cluster (start_infrastructure(kafka_brokers=3)).
    kafka_cluster: LocalKafkaCluster | None = None
    smtp: LocalSmtp | None = None
    # TLS and SCRAM users of the local broker; None for a broker from the environment or a
    # container (reached in PLAINTEXT, as they are given).
    kafka_security: KafkaSecurity | None = None

    @property
    def provider(self) -> str:
        """The provider when all components share one, else "mixed" (see `providers`)."""
        kinds = set(self.providers.values())
        return kinds.pop() if len(kinds) == 1 else "mixed"

    def describe(self) -> str:
        return "devinfra: " + " ".join(f"{c}={self.providers[c]}" for c in COMPONENTS)

    def dsn_for(self, dbname: str) -> str:
        """DSN of database `dbname`, created first if missing."""
        postgres_admin.create_database(self.postgres_admin_dsn, dbname)
        return postgres_admin.dsn_with_database(self.postgres_admin_dsn, dbname)

    def create_topics(
        self, names: Iterable[str], partitions: int = 3, retention_ms: int | None = None
    ) -> None:
        kafka_admin.create_topics(
            self.kafka_bootstrap,
            names,
            partitions,
            retention_ms,
            self.kafka_security_options(),
            replication_factor=(
                self.kafka_cluster.replication_factor if self.kafka_cluster is not None else 1
            ),
        )

    def kafka_security_options(self, user: str = ADMIN) -> dict[str, Any]:
        """aiokafka TLS/SASL keyword arguments of `user` (default: the super user the test
        harness uses), without bootstrap_servers; empty for an unsecured broker."""
        if self.kafka_security is None:
            return {}
        return self.kafka_security.client_options(user)

    def kafka_options(self, user: str = ADMIN) -> dict[str, Any]:
        """Everything an aiokafka client needs to connect as `user`, bootstrap included."""
        return {"bootstrap_servers": self.kafka_bootstrap, **self.kafka_security_options(user)}

    def kafka_env(self, user: str) -> dict[str, str]:
        """The KAFKA_* variables (bootstrap, TLS, SASL) a service connecting as `user` reads."""
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap}
        if self.kafka_security is not None:
            env.update(self.kafka_security.service_env(user))
        return env

    def env(self) -> dict[str, str]:
        """PWRESET_TEST_* variables naming these endpoints (for child processes)."""
        variables = {
            ENV_POSTGRES_DSN: self.postgres_admin_dsn,
            ENV_KAFKA_BOOTSTRAP: self.kafka_bootstrap,
            **(
                {ENV_KAFKA_SECURITY_DIR: str(self.kafka_security.ca_file.parent)}
                if self.kafka_security is not None
                else {}
            ),
            ENV_SMTP_HOST: self.smtp_host,
            ENV_SMTP_PORT: str(self.smtp_port),
        }
        if isinstance(self.mailbox, MaildirMailbox):
            variables[ENV_MAILDIR] = str(self.mailbox.directory)
        elif isinstance(self.mailbox, MailpitMailbox):
            variables[ENV_MAILPIT_URL] = self.mailbox.api_base_url
        return variables


def _env_smtp_configured() -> bool:
    if not os.environ.get(ENV_SMTP_HOST):
        return False
    if not os.environ.get(ENV_SMTP_PORT):
        raise InfraError(f"{ENV_SMTP_HOST} is set but {ENV_SMTP_PORT} is not")
    if not (os.environ.get(ENV_MAILDIR) or os.environ.get(ENV_MAILPIT_URL)):
        raise InfraError(
            f"{ENV_SMTP_HOST} is set but neither {ENV_MAILDIR} nor "
            f"{ENV_MAILPIT_URL} says where to read delivered mail"
        )
    return True


def plan_providers(docker_timeout: float = 2.0) -> dict[str, str]:
    """Which provider each component would get right now (starts nothing)."""
    from_env = {
        "postgres": bool(os.environ.get(ENV_POSTGRES_DSN)),
        "kafka": bool(os.environ.get(ENV_KAFKA_BOOTSTRAP)),
        "smtp": _env_smtp_configured(),
    }
    choice = os.environ.get(ENV_PROVIDER, "auto").strip().lower() or "auto"
    if choice not in ("auto", "local", "testcontainers"):
        raise InfraError(f"{ENV_PROVIDER} must be auto, local or testcontainers, not {choice!r}")
    fallback = "local"
    if not all(from_env.values()) and choice != "local":
        if detect_docker(docker_timeout):
            fallback = "testcontainers"
        elif choice == "testcontainers":
            raise InfraError(f"{ENV_PROVIDER}=testcontainers but no Docker engine answers")
    return {c: "env" if from_env[c] else fallback for c in COMPONENTS}


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def start_infrastructure(
    run_dir: Path,
    *,
    ports: dict[str, int] | None = None,
    echo_mail: bool = False,
    maildir: Path | None = None,
    kafka_brokers: int = 1,
) -> Iterator[Infrastructure]:
    """Start what the environment does not provide; stop it all on exit.

    `ports` (local provider only) may name "postgres", "kafka", "kafka_controller",
    "smtp"; missing ones are free loopback ports. `echo_mail` makes the local SMTP
    capture print one line per message (the `make run` demo). `kafka_brokers` > 1: a
    replicated local cluster of that many brokers (devinfra.kafka_cluster) on free ports.
    """
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    ports = dict(ports or {})
    plan = plan_providers()

    with contextlib.ExitStack() as stack:
        handles: dict[str, Any] = {}

        # -- PostgreSQL ------------------------------------------------------------------
        if plan["postgres"] == "env":
            admin_dsn = os.environ[ENV_POSTGRES_DSN]
        elif plan["postgres"] == "testcontainers":
            from devinfra.containers import ContainerPostgres

            pg_container = ContainerPostgres()
            stack.callback(pg_container.stop)
            pg_container.start()
            admin_dsn = pg_container.admin_dsn
        else:
            postgres = LocalPostgres(run_dir, ports.get("postgres") or free_port())
            stack.callback(postgres.stop)
            postgres.start()
            handles["postgres"] = postgres
            admin_dsn = postgres.admin_dsn

        # -- SMTP (before Kafka: cheap, and fails fast on a taken port) -----------------
        mailbox: Mailbox
        if plan["smtp"] == "env":
            smtp_host = os.environ[ENV_SMTP_HOST]
            smtp_port = int(os.environ[ENV_SMTP_PORT])
            if os.environ.get(ENV_MAILDIR):
                mailbox = MaildirMailbox(Path(os.environ[ENV_MAILDIR]))
            else:
                mailbox = MailpitMailbox(os.environ[ENV_MAILPIT_URL])
        elif plan["smtp"] == "testcontainers":
            from devinfra.containers import ContainerMailpit

            mailpit = ContainerMailpit()
            stack.callback(mailpit.stop)
            mailpit.start()
            smtp_host, smtp_port, mailbox = mailpit.smtp_host, mailpit.smtp_port, mailpit.mailbox
        else:
            smtp = LocalSmtp(
                run_dir, ports.get("smtp") or free_port(), maildir=maildir, echo=echo_mail
            )
            stack.callback(smtp.stop)
            smtp.start()
            handles["smtp"] = smtp
            smtp_host, smtp_port, mailbox = smtp.host, smtp.port, smtp.mailbox

        # -- Kafka -----------------------------------------------------------------------
        security: KafkaSecurity | None = None
        if kafka_brokers > 1 and plan["kafka"] != "local":
            raise InfraError(
                f"{kafka_brokers} brokers: only as local processes, not {plan['kafka']}"
            )
        if plan["kafka"] == "env":
            bootstrap = os.environ[ENV_KAFKA_BOOTSTRAP]
            if os.environ.get(ENV_KAFKA_SECURITY_DIR):
                security = kafka_security.load(Path(os.environ[ENV_KAFKA_SECURITY_DIR]))
        elif plan["kafka"] == "testcontainers":
            from devinfra.containers import ContainerKafka

            kafka_container = ContainerKafka()
            stack.callback(kafka_container.stop)
            kafka_container.start()
            bootstrap = kafka_container.bootstrap
        elif kafka_brokers > 1:
            cluster = LocalKafkaCluster(run_dir, kafka_brokers)
            stack.callback(cluster.stop)
            cluster.start()
            handles["kafka_cluster"] = cluster
            bootstrap = cluster.bootstrap
        else:
            kafka = LocalKafka(
                run_dir,
                ports.get("kafka") or free_port(),
                ports.get("kafka_controller") or free_port(),
            )
            stack.callback(kafka.stop)
            kafka.start()
            handles["kafka"] = kafka
            bootstrap = kafka.bootstrap

        infra = Infrastructure(
            providers=plan,
            postgres_admin_dsn=admin_dsn,
            kafka_bootstrap=bootstrap,
            smtp_host=smtp_host,
            smtp_port=smtp_port,
            mailbox=mailbox,
            run_dir=run_dir,
            postgres=handles.get("postgres"),
            kafka=handles.get("kafka"),
            kafka_cluster=handles.get("kafka_cluster"),
            smtp=handles.get("smtp"),
            kafka_security=next(
                (handles[k].security for k in ("kafka", "kafka_cluster") if k in handles), security
            ),
        )
        _say(infra.describe())
        yield infra
