"""For the services' integration tests: a fresh, migrated database on the test PostgreSQL."""

import uuid
from pathlib import Path

from servicekit.runtime.migrations import upgrade


def migrated_database(infra: object, service: str, migrations_dir: Path) -> str:
    """Create ``<service>_it_<random>`` on the test server, migrate it, return its DSN."""
    dsn = infra.dsn_for(f"{service}_it_{uuid.uuid4().hex[:8]}")  # type: ignore[attr-defined]
    upgrade(migrations_dir, dsn)
    return dsn
