"""Brings up the three services as real processes on the test infrastructure (devinfra's `infra`
fixture: local processes or testcontainers), once per test session."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from devinfra.platform import SERVICES, TOPICS, Endpoints, Platform


@pytest.fixture(scope="session")
def platform(infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    infra.create_topics(list(TOPICS))
    endpoints = Endpoints(
        database_url={name: infra.dsn_for(name) for name in SERVICES},
        kafka_bootstrap=infra.kafka_bootstrap,
        smtp_host=infra.smtp_host,
        smtp_port=infra.smtp_port,
    )
    run_dir = Path(tmp_path_factory.mktemp("platform"))
    running = Platform(endpoints, run_dir)
    running.migrate()
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
async def identity(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("identity"), timeout=10) as client:
        yield client


@pytest.fixture
async def reset(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("reset"), timeout=10) as client:
        yield client
