"""The system under test, brought up as `make run` does, plus the references' own servers.

Infrastructure of its own (local PostgreSQL, Kafka, loopback only, like the fault tests: the
Kafka outage needs the stop/start handles), the three services as uvicorn processes through
devinfra's Platform, the notifier sending to the bench's timestamping SMTP sink, and the
hello-world reference server started the same way as the services.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from devinfra.platform import SERVICES, TOPICS, Endpoints, Platform
from devinfra.processes import free_port, port_accepts, stop_process, wait_until
from devinfra.providers import Infrastructure, start_infrastructure

from bench.procstat import cpu_seconds, tree_cpu_seconds
from bench.smtp_sink import SmtpSink

PASSWORD = "benchmark horse battery staple"  # noqa: S105 - the bench accounts' password
PROVIDER_VARIABLES = (
    "PWRESET_TEST_POSTGRES_DSN",
    "PWRESET_TEST_KAFKA_BOOTSTRAP",
    "PWRESET_TEST_KAFKA_SECURITY_DIR",
    "PWRESET_TEST_SMTP_HOST",
    "PWRESET_TEST_SMTP_PORT",
    "PWRESET_TEST_MAILDIR",
    "PWRESET_TEST_MAILPIT_URL",
)
# Platform(test_defaults=True) lifts the per-IP limit and trusts loopback as a proxy (the load
# generators spread requests over many client addresses with X-Forwarded-For). The per-account
# limit (3 per 15 min) is lifted too, so that repeated requests for the same accounts really
# write their request and outbox rows instead of being silently dropped.
SERVICE_ENV = {"reset": {"RATE_LIMIT_ACCOUNT_MAX": "1000000000"}}


@dataclass
class System:
    infra: Infrastructure
    platform: Platform
    sink: SmtpSink
    hello_url: str
    hello_pid: int
    # Accounts made up front (argon2id on creation is slow), by what they are for.
    bench_accounts: dict[str, list[str]] = field(default_factory=dict)

    def pid(self, service: str) -> int:
        return self.platform.running[service].process.pid

    @property
    def postgres_pid(self) -> int:
        assert self.infra.postgres is not None and self.infra.postgres._process is not None
        return self.infra.postgres._process.pid

    @property
    def kafka_pid(self) -> int:
        assert self.infra.kafka is not None and self.infra.kafka._process is not None
        return self.infra.kafka._process.pid

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of every process of the system, and of the bench itself."""
        return {
            **{name: cpu_seconds(self.pid(name)) for name in SERVICES},
            "postgres": tree_cpu_seconds(self.postgres_pid),
            "kafka": cpu_seconds(self.kafka_pid),
            "smtp sink": cpu_seconds(self.sink.pid),
            "load generator": cpu_seconds(os.getpid()),
        }

    def dsn(self, service: str) -> str:
        return self.platform.endpoints.database_url[service]

    async def outbox_backlog(self) -> int:
        conn = await asyncpg.connect(self.dsn("reset"))
        try:
            return await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        finally:
            await conn.close()

    async def create_accounts(self, tag: str, count: int) -> list[str]:
        """New accounts, seeded straight into identity's database (argon2id each; registration
        itself goes through an emailed link, which is not what these rows measure)."""
        emails = [f"{tag}-{n}-{uuid.uuid4().hex[:8]}@example.com" for n in range(count)]
        await asyncio.to_thread(self.platform.seed_accounts, [(e, PASSWORD) for e in emails])
        return emails

    async def skip_notifier_backlog(self) -> None:
        """Move the (stopped) notifier's committed offsets to the end of its topics, so the
        emails of the throughput runs are not sent afterwards: the notifier's own throughput
        is measured on its own."""
        consumer = AIOKafkaConsumer(
            **self.infra.kafka_options(),
            group_id="notifier",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            cluster = await consumer._client.fetch_all_metadata()
            partitions = [
                TopicPartition(topic, p)
                for topic in TOPICS[:2]
                for p in cluster.partitions_for_topic(topic) or ()
            ]
            consumer.assign(partitions)
            await consumer.seek_to_end(*partitions)
            await consumer.commit({tp: await consumer.position(tp) for tp in partitions})
        finally:
            await consumer.stop()


def _start_hello(run_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = run_dir / "logs" / "hello.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.hello_app", "serve", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "LOG_LEVEL": "INFO"},
        )
    url = f"http://127.0.0.1:{port}"
    wait_until(
        lambda: port_accepts("127.0.0.1", port),
        timeout=30,
        what="hello-world server",
        process=process,
        log=log,
    )
    return process, url


@contextlib.contextmanager
def running_system(run_dir: Path) -> Iterator[System]:
    saved = {name: os.environ.pop(name) for name in PROVIDER_VARIABLES if name in os.environ}
    os.environ["PWRESET_INFRA_PROVIDER"] = "local"
    try:
        with start_infrastructure(run_dir) as infra, contextlib.ExitStack() as stack:
            infra.create_topics(list(TOPICS))
            sink = SmtpSink(run_dir)
            sink.start()
            stack.callback(sink.stop)
            platform = Platform(
                Endpoints(
                    database_url={name: infra.dsn_for(name) for name in SERVICES},
                    kafka_bootstrap=infra.kafka_bootstrap,
                    smtp_host=sink.host,
                    smtp_port=sink.port,
                    kafka_env={name: infra.kafka_env(name) for name in SERVICES},
                ),
                run_dir,
                extra_env=SERVICE_ENV,
                test_defaults=True,
            )
            platform.migrate()
            stack.callback(platform.stop)
            platform.start()
            hello, hello_url = _start_hello(run_dir)
            stack.callback(stop_process, hello, timeout=10)
            yield System(infra, platform, sink, hello_url, hello.pid)
    finally:
        os.environ.pop("PWRESET_INFRA_PROVIDER", None)
        os.environ.update(saved)
