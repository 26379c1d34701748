"""Fault tests: the platform as real processes on infrastructure of its own (these tests stop
brokers and kill services, so they never share the session's `infra`).

Every test prints a line of counts (see the summary at the end of the run): requested, accepted,
delivered, duplicates, dead-lettered, and whatever else it measured. Loopback only; every wait is
bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from devinfra.paths import default_run_dir
from devinfra.platform import SERVICES, TOPICS, Endpoints, Platform
from devinfra.providers import Infrastructure, start_infrastructure

PASSWORD = "fault tolerant horse battery staple"
RESULTS: list[str] = []
# The fault handles (stop/kill/start) exist only for local processes: force that provider.
PROVIDER_VARIABLES = (
    "PWRESET_TEST_POSTGRES_DSN",
    "PWRESET_TEST_KAFKA_BOOTSTRAP",
    "PWRESET_TEST_KAFKA_SECURITY_DIR",
    "PWRESET_TEST_SMTP_HOST",
    "PWRESET_TEST_SMTP_PORT",
    "PWRESET_TEST_MAILDIR",
    "PWRESET_TEST_MAILPIT_URL",
)
# SHUTDOWN_DRAIN_SECONDS: after SIGTERM, readiness 503 while still serving (as the deployment
# sets it; servicekit.runtime.shutdown): test_rolling_restart's proxy takes a replica out within
# about 2 s of it.
DRAIN = {"SHUTDOWN_DRAIN_SECONDS": "4"}
SERVICE_ENV = {
    "reset": {
        "RATE_LIMIT_IP_MAX": "1000000",
        "OUTBOX_POLL_INTERVAL_SECONDS": "0.5",
        "OUTBOX_LEASE_SECONDS": "10",
        **DRAIN,
    },
    "identity": DRAIN,
    "notifier": {"DELIVERY_RETRY_MAX_SECONDS": "1.0", "SMTP_TIMEOUT_SECONDS": "5"},
}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if RESULTS:
        terminalreporter.section("fault tests: counts")
        for line in RESULTS:
            terminalreporter.write_line(line)


def local_infrastructure(
    request: pytest.FixtureRequest, name: str, **options: Any
) -> Iterator[Infrastructure]:
    """Infrastructure of the fault tests' own, as local processes, in run dir `name`-<pid>
    (kept for its logs when a test failed). `options` go to start_infrastructure."""
    # Not pytest's tmp_path: another pytest session starting meanwhile may prune it.
    run_dir = default_run_dir() / f"{name}-{os.getpid()}"
    with pytest.MonkeyPatch.context() as patch:
        for variable in PROVIDER_VARIABLES:
            patch.delenv(variable, raising=False)
        patch.setenv("PWRESET_INFRA_PROVIDER", "local")
        with start_infrastructure(run_dir, **options) as infra:
            yield infra
    if request.session.testsfailed:
        # The services' and brokers' logs are what explains a failed fault test.
        print(f"\n{name}: run dir kept for its logs: {run_dir}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)


def running_platform(infra: Infrastructure) -> Iterator[Platform]:
    """The three services on `infra`, its topics created, migrated and ready; stopped after."""
    infra.create_topics(list(TOPICS))
    endpoints = Endpoints(
        database_url={name: infra.dsn_for(name) for name in SERVICES},
        kafka_bootstrap=infra.kafka_bootstrap,
        smtp_host=infra.smtp_host,
        smtp_port=infra.smtp_port,
        kafka_env={name: infra.kafka_env(name) for name in SERVICES},
    )
    running = Platform(endpoints, infra.run_dir / "platform", extra_env=SERVICE_ENV)
    running.migrate()
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def fault_infra(request: pytest.FixtureRequest) -> Iterator[Infrastructure]:
    yield from local_infrastructure(request, "faults")


@pytest.fixture(scope="session")
def platform(fault_infra: Infrastructure) -> Iterator[Platform]:
    yield from running_platform(fault_infra)


class MailTally:
    """Reads the capture's maildir incrementally: recipient and arrival time of every message."""

    def __init__(self, maildir: Path) -> None:
        self._dir = maildir
        self._seen: set[str] = set()
        self.arrivals: list[tuple[str, float, str]] = []  # (to, arrival time, Message-ID)

    def refresh(self) -> None:
        if not self._dir.is_dir():
            return
        for path in sorted(self._dir.glob("[0-9]*.eml")):
            if path.name in self._seen:
                continue
            self._seen.add(path.name)
            headers = BytesHeaderParser().parsebytes(path.read_bytes())
            arrived = int(path.name.split("-")[0]) / 1e9  # the capture names files by time_ns
            self.arrivals.append((str(headers["To"]), arrived, str(headers["Message-ID"])))

    def counts(self, addresses: set[str]) -> Counter[str]:
        self.refresh()
        return Counter(to for to, _, _ in self.arrivals if to in addresses)

    def last_arrival(self, addresses: set[str]) -> float:
        """When the last email to any of `addresses` arrived (nan when none did)."""
        return max((t for to, t, _ in self.arrivals if to in addresses), default=float("nan"))

    def first_arrivals(self, addresses: set[str]) -> dict[str, float]:
        """When the first email to each of `addresses` arrived (those that got one)."""
        self.refresh()
        first: dict[str, float] = {}
        for to, arrived, _ in self.arrivals:
            if to in addresses:
                first[to] = min(arrived, first.get(to, arrived))
        return first


@dataclass
class Tally:
    requested: int = 0
    accepted: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    statuses: Counter[str] = field(default_factory=Counter)  # answers to the refused ones
    sent_at: dict[str, float] = field(default_factory=dict)  # email -> when its request left
    answers: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, answer), all


class FaultKit:
    """What the fault tests do over and over: accounts, reset requests, counting emails."""

    def __init__(self, infra: Infrastructure, platform: Platform, http: httpx.AsyncClient):
        self.infra = infra
        self.platform = platform
        self.http = http
        assert infra.smtp is not None and infra.postgres is not None
        assert infra.kafka is not None or infra.kafka_cluster is not None
        self.mail = MailTally(infra.smtp.maildir)
        self.account_ids: dict[str, str] = {}

    async def accounts(self, count: int, tag: str) -> list[str]:
        """New accounts (their ids land in `account_ids`)."""
        emails = [f"{tag}-{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(count)]
        # Seeded, not registered: registration emails would mix with the ones these tests count.
        seeded = await asyncio.to_thread(
            self.platform.seed_accounts, [(email, PASSWORD) for email in emails]
        )
        self.account_ids.update(seeded)
        return emails

    async def request_reset(self, email: str, tally: Tally, via: str = "reset") -> None:
        tally.requested += 1
        tally.sent_at[email] = time.time()  # wall clock, as the capture's file names
        try:
            response = await self.http.post(
                f"{self.platform.url(via)}/v1/password-resets", json={"email": email}
            )
            accepted = response.status_code == 202
            answer = str(response.status_code)
        except httpx.HTTPError as exc:
            accepted, answer = False, type(exc).__name__
        tally.answers.append((time.monotonic(), answer))
        if not accepted:
            tally.statuses[answer] += 1
        (tally.accepted if accepted else tally.refused).add(email)

    async def stream(
        self,
        emails: list[str],
        per_second: float,
        tally: Tally,
        via: tuple[str, ...] = ("reset",),
        until: asyncio.Event | None = None,
    ) -> None:
        """Requests at a steady rate, each on its own task (a slow answer does not slow the
        rate); returns when every request has been answered. With `until`: no new request
        once it is set (the load lasts as long as the fault; `emails` bounds the count)."""
        tasks = []
        for n, email in enumerate(emails):
            if until is not None and until.is_set():
                break
            tasks.append(asyncio.create_task(self.request_reset(email, tally, via[n % len(via)])))
            await asyncio.sleep(1 / per_second)
        await asyncio.gather(*tasks)

    async def wait_for_mail(self, addresses: set[str], within: float) -> Counter[str]:
        """Wait until each address has at least one email (or `within` passes); then a little
        longer, so that late duplicates are counted too."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            counts = await asyncio.to_thread(self.mail.counts, addresses)
            if len(counts) == len(addresses):
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(2)
        return await asyncio.to_thread(self.mail.counts, addresses)

    async def readiness(self, key: str) -> tuple[int, dict]:
        try:
            response = await self.http.get(f"{self.platform.url(key)}/healthz/ready", timeout=5)
        except httpx.HTTPError as exc:
            return 0, {"error": type(exc).__name__}
        return response.status_code, response.json()

    async def metric(self, key: str, sample: str) -> float:
        """The value of one Prometheus sample (name with its labels) on a service's /metrics."""
        text = (await self.http.get(self.platform.metrics_url(key))).text
        for line in text.splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[-1])
        return 0.0

    def log_offset(self, key: str) -> int:
        return (self.platform.log_dir / f"{key}.log").stat().st_size

    def log_lines(self, key: str, since: int, containing: str) -> int:
        with (self.platform.log_dir / f"{key}.log").open("rb") as log:
            log.seek(since)
            return sum(1 for line in log if containing.encode() in line)

    @contextlib.asynccontextmanager
    async def notifier_db(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(self.platform.endpoints.database_url["notifier"])
        try:
            yield conn
        finally:
            await conn.close()

    async def outbox_backlog(self) -> int:
        """Rows reset's outbox has not published yet (read from its database, not the metric,
        which is sampled every 5 s)."""
        conn = await asyncpg.connect(self.platform.endpoints.database_url["reset"])
        try:
            unpublished = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            return int(await conn.fetchval(unpublished))
        finally:
            await conn.close()

    def latencies(self, tally: Tally, emails: set[str] | None = None) -> list[float]:
        """Request -> first email seconds of the accepted requests (of `emails`) mailed so far."""
        wanted = tally.accepted if emails is None else tally.accepted & emails
        first = self.mail.first_arrivals(wanted)
        return sorted(first[e] - tally.sent_at[e] for e in wanted if e in first)

    @staticmethod
    def tally() -> Tally:
        return Tally()

    @staticmethod
    def outcome(tally: Tally, counts: Counter[str]) -> dict[str, int]:
        return outcome(tally, counts)

    def report(self, test: str, **numbers: object) -> None:
        line = f"{test}: " + ", ".join(f"{k}={v}" for k, v in numbers.items())
        RESULTS.append(line)
        print(line)

    def report_table(
        self, title: str, header: tuple[str, ...], rows: list[tuple[object, ...]]
    ) -> None:
        """A table in the run's summary (right-aligned columns), after the count lines."""
        widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=False)]
        lines = [title] + [
            "  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True))
            for row in (header, *rows)
        ]
        RESULTS.extend(lines)
        print("\n".join(lines))


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (`share` 0.99 = p99) of `values`; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def outcome(tally: Tally, counts: Counter[str]) -> dict[str, int]:
    """requested/accepted/delivered/lost/duplicates for the accepted requests of a test
    (duplicates counts every extra copy to any address of the test)."""
    return {
        "requested": tally.requested,
        "accepted": len(tally.accepted),
        "delivered": sum(1 for e in tally.accepted if counts[e] >= 1),
        "lost": sum(1 for e in tally.accepted if counts[e] == 0),
        "duplicates": sum(max(counts[e] - 1, 0) for e in counts),
    }


@pytest.fixture
async def kit(fault_infra: Infrastructure, platform: Platform) -> AsyncIterator[FaultKit]:
    async with httpx.AsyncClient(timeout=20) as http:
        yield FaultKit(fault_infra, platform, http)


# -- the `cluster` tests (make test-cluster): the same services on three Kafka brokers --------
@pytest.fixture(scope="session")
def cluster_infra(request: pytest.FixtureRequest) -> Iterator[Infrastructure]:
    """PostgreSQL, SMTP capture and a three-broker Kafka cluster (devinfra.kafka_cluster:
    replication factor 3, min.insync.replicas 2), never shared with the one-broker tests."""
    yield from local_infrastructure(request, "kafka-cluster", kafka_brokers=3)


@pytest.fixture(scope="session")
def cluster_platform(cluster_infra: Infrastructure) -> Iterator[Platform]:
    yield from running_platform(cluster_infra)


@pytest.fixture
async def cluster_kit(
    cluster_infra: Infrastructure, cluster_platform: Platform
) -> AsyncIterator[FaultKit]:
    async with httpx.AsyncClient(timeout=20) as http:
        yield FaultKit(cluster_infra, cluster_platform, http)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: stops and kills real infrastructure and services")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.faults)
