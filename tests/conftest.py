"""Shared by tests/e2e and tests/browser: the three services as real processes on the test
infrastructure (devinfra's `infra` fixture: local processes or testcontainers), once per test
session, so both folders run against one platform."""

from collections.abc import Iterator
from pathlib import Path

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
