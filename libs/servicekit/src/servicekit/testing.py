"""For the services' integration tests: a fresh, migrated database on the test PostgreSQL."""

import uuid
from pathlib import Path
from typing import Protocol

from servicekit.runtime.migrations import upgrade


class TestDatabases(Protocol):
    """What of devinfra's ``infra`` fixture this needs (servicekit does not import devinfra)."""

    def dsn_for(self, dbname: str) -> str: ...


def migrated_database(infra: TestDatabases, service: str, migrations_dir: Path) -> str:
    """Create ``<service>_it_<random>`` on the test server, migrate it, return its DSN."""
    dsn = infra.dsn_for(f"{service}_it_{uuid.uuid4().hex[:8]}")
    upgrade(migrations_dir, dsn)
    return dsn
