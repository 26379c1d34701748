"""docker-compose's PostgreSQL init script against a real server: one database per service,
owned by its own role, closed to every other role."""

import asyncio
import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy/compose/init-databases.sh"


def run_script(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def with_user(admin_dsn: str, user: str, password: str, database: str) -> str:
    parts = urlsplit(admin_dsn)
    return f"postgresql://{user}:{password}@{parts.hostname}:{parts.port}/{database}"


async def test_each_service_gets_its_own_database_and_role(infra) -> None:
    names = [f"deploy_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    parts = urlsplit(infra.postgres_admin_dsn)
    env = {
        "PATH": os.environ["PATH"],
        "PGHOST": parts.hostname or "127.0.0.1",
        "PGPORT": str(parts.port or 5432),
        "PGPASSWORD": parts.password or "",
        "POSTGRES_USER": parts.username or "postgres",
        "DATABASES": " ".join(names),
    } | {f"{n.upper()}_DB_PASSWORD": f"pw-{n}" for n in names}
    admin = await asyncpg.connect(infra.postgres_admin_dsn, timeout=10)
    try:
        result = await asyncio.to_thread(run_script, env)
        assert result.returncode == 0, result.stderr
        first, second = names

        own = await asyncpg.connect(
            with_user(infra.postgres_admin_dsn, first, f"pw-{first}", first)
        )
        try:
            await own.execute("CREATE TABLE t (id int)")  # the owner migrates its own schema
        finally:
            await own.close()

        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(
                with_user(infra.postgres_admin_dsn, second, f"pw-{second}", first)
            )

        rerun = await asyncio.to_thread(run_script, env)
        assert rerun.returncode != 0, "a second run fails loudly rather than half-applying"
    finally:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'DROP ROLE IF EXISTS "{name}"')
        await admin.close()


def test_refuses_to_run_without_a_password(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT)],
        env={"PATH": os.environ["PATH"], "POSTGRES_USER": "postgres", "DATABASES": "x_svc"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "X_SVC_DB_PASSWORD" in result.stderr
