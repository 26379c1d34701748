"""Shared by the notifier's integration tests: a fresh migrated database per test module, a
pool on it, and the SMTP capture's failure mode, put back after each test."""

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import notifier_service
import pytest
from servicekit.testing import migrated_database

MIGRATIONS = Path(notifier_service.__file__).parent / "migrations"


@pytest.fixture(scope="module")
def dsn(infra) -> str:
    return migrated_database(infra, "notifier", MIGRATIONS)


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=8)
    yield pool
    await pool.close()


@pytest.fixture
def smtp_mode(infra) -> Iterator[Callable[[str], None]]:
    yield infra.smtp.set_mode
    infra.smtp.set_mode("accept")
