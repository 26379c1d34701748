"""Shared by tests/e2e and tests/browser: the three services as real processes on the test
infrastructure (devinfra's `infra` fixture: local processes or testcontainers), once per test
session, so both folders run against one platform."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from devinfra.platform import SERVICES, TOPICS, Endpoints, Platform


@pytest.fixture(scope="session")
def platform(infra) -> Iterator[Platform]:
    infra.create_topics(list(TOPICS))
    endpoints = Endpoints(
        database_url={name: infra.dsn_for(name) for name in SERVICES},
        kafka_bootstrap=infra.kafka_bootstrap,
        smtp_host=infra.smtp_host,
        smtp_port=infra.smtp_port,
        kafka_env={name: infra.kafka_env(name) for name in SERVICES},  # each its own user
    )
    # Under the infrastructure's run dir, not pytest's tmp_path: pytest deletes old basetemp
    # folders when another session starts, and the tests read these service logs.
    run_dir = Path(infra.run_dir) / "platform"
    running = Platform(endpoints, run_dir)
    running.migrate()
    try:
        running.start()
        yield running
    finally:
        running.stop()
