"""The testcontainers provider: PostgreSQL, Kafka and Mailpit in Docker containers.

Only imported when Docker answers; testcontainers itself is imported lazily inside the
classes so machines without Docker never pay for (or trip over) it. Written against
testcontainers-python 4.x: newer releases keep modules under `testcontainers.community`,
older 4.x ones at the top level, so both are tried.
"""

from __future__ import annotations

import importlib
import os
import time
from typing import Any

from devinfra import kafka_admin, postgres_admin
from devinfra.errors import InfraError
from devinfra.mailbox import MailpitMailbox
from devinfra.processes import port_accepts

POSTGRES_IMAGE = os.environ.get("PWRESET_TC_POSTGRES_IMAGE", "postgres:16-alpine")
# testcontainers' KafkaContainer drives Confluent's image scripts (KRaft via with_kraft()).
KAFKA_IMAGE = os.environ.get("PWRESET_TC_KAFKA_IMAGE", "confluentinc/cp-kafka:7.9.0")
MAILPIT_IMAGE = os.environ.get("PWRESET_TC_MAILPIT_IMAGE", "axllent/mailpit:latest")
MAILPIT_SMTP_PORT = 1025
MAILPIT_API_PORT = 8025


def _module(name: str) -> Any:
    """`testcontainers.community.<name>` (4.10+) or `testcontainers.<name>` (earlier 4.x)."""
    try:
        return importlib.import_module(f"testcontainers.community.{name}")
    except ImportError:
        return importlib.import_module(f"testcontainers.{name}")


def _container_logs(container: Any) -> str:
    try:
        stdout, stderr = container.get_logs()
    except Exception as exc:  # the container may already be gone
        return f"(no container logs: {exc})"
    text = (stdout + stderr).decode("utf-8", errors="replace")
    return "--- last container log lines ---\n" + "\n".join(text.splitlines()[-40:])


def _wait(check: Any, timeout: float, what: str, container: Any) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise InfraError(
                f"{what}: not ready after {timeout:.0f}s\n{_container_logs(container)}"
            )
        time.sleep(0.5)


class ContainerPostgres:
    def __init__(self, image: str = POSTGRES_IMAGE) -> None:
        self.image = image
        self._container: Any = None
        self.admin_dsn = ""

    def start(self, timeout: float = 120.0) -> None:
        postgres = _module("postgres")
        # A throwaway container reachable only by this test run: a fixed password is fine.
        container = postgres.PostgresContainer(
            self.image,
            username="postgres",
            password="postgres",  # noqa: S106
            dbname="postgres",
            driver=None,
        ).with_command("postgres -c max_connections=200")
        self._container = container.start()
        # driver=None: a plain postgresql:// URL that asyncpg accepts.
        self.admin_dsn = container.get_connection_url()
        _wait(
            lambda: postgres_admin.can_connect(self.admin_dsn),
            timeout,
            f"PostgreSQL container {self.image}",
            container,
        )

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None


class ContainerKafka:
    def __init__(self, image: str = KAFKA_IMAGE) -> None:
        self.image = image
        self._container: Any = None
        self.bootstrap = ""

    def start(self, timeout: float = 180.0) -> None:
        kafka = _module("kafka")
        container = kafka.KafkaContainer(self.image).with_kraft()
        self._container = container.start(timeout=int(timeout))
        self.bootstrap = container.get_bootstrap_server()
        _wait(
            lambda: kafka_admin.metadata_works(self.bootstrap),
            timeout,
            f"Kafka container {self.image}",
            container,
        )

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None


class ContainerMailpit:
    """Mailpit as a generic container: SMTP on 1025, HTTP API on 8025."""

    def __init__(self, image: str = MAILPIT_IMAGE) -> None:
        self.image = image
        self._container: Any = None
        self.smtp_host = ""
        self.smtp_port = 0
        self.api_base_url = ""

    def start(self, timeout: float = 120.0) -> None:
        from testcontainers.core.container import DockerContainer

        container = (
            DockerContainer(self.image)
            .with_exposed_ports(MAILPIT_SMTP_PORT, MAILPIT_API_PORT)
            # Plain SMTP without auth, like the capture server of the local provider.
            .with_env("MP_SMTP_AUTH_ACCEPT_ANY", "true")
            .with_env("MP_SMTP_AUTH_ALLOW_INSECURE", "true")
            .with_env("MP_MAX_MESSAGES", "5000")
        )
        self._container = container.start()
        self.smtp_host = container.get_container_host_ip()
        self.smtp_port = int(container.get_exposed_port(MAILPIT_SMTP_PORT))
        api_port = int(container.get_exposed_port(MAILPIT_API_PORT))
        self.api_base_url = f"http://{self.smtp_host}:{api_port}"
        _wait(self._ready, timeout, f"Mailpit container {self.image}", container)

    def _ready(self) -> bool:
        import httpx

        if not port_accepts(self.smtp_host, self.smtp_port):
            return False
        try:
            return httpx.get(f"{self.api_base_url}/api/v1/messages", timeout=2).is_success
        except httpx.HTTPError:
            return False

    @property
    def mailbox(self) -> MailpitMailbox:
        return MailpitMailbox(self.api_base_url)

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None
