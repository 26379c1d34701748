"""Run a service's Alembic migrations: the `migrate` command and the Kubernetes Job call this.

Each service keeps its own ``migrations/`` folder (env.py + versions); this module points Alembic at
it and at the service's DATABASE_URL, so no alembic.ini is needed.
"""

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def sqlalchemy_url(database_url: str) -> str:
    """DATABASE_URL as SQLAlchemy's asyncpg dialect reads it. A URL naming several hosts
    (``user@db-1:5432,db-2:5432/db?target_session_attrs=read-write``, what asyncpg and libpq
    take, docs/delivery.md "PostgreSQL failover") becomes SQLAlchemy's spelling of the same,
    one ``host`` parameter per host, so the migrate Job runs on the services' own Secret."""
    scheme, _, rest = database_url.partition("://")
    if scheme not in ("postgres", "postgresql", "postgresql+asyncpg"):
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    netloc, _, tail = rest.partition("/")
    user, at, hosts = netloc.rpartition("@")
    if "," not in hosts:
        return f"postgresql+asyncpg://{rest}"
    path, _, query = tail.partition("?")
    params = "&".join([*(f"host={host}" for host in hosts.split(",")), *([query] if query else [])])
    return f"postgresql+asyncpg://{user}{at}/{path}?{params}"


def upgrade(migrations_dir: Path, database_url: str, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    command.upgrade(config, revision)


def run_env(target_metadata: MetaData | None = None) -> None:
    """Body of every service's ``migrations/env.py`` (online mode, asyncpg)."""
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: sqlalchemy.url is not set (run through servicekit's upgrade)")

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()

    async def run() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run())


def execute_statements(script: str) -> None:
    """Run a migration's SQL one statement at a time (asyncpg prepares one statement per call).

    Statements are separated by a semicolon at the end of a line.
    """
    from alembic import op

    for statement in script.split(";\n"):
        if statement.strip():
            op.execute(statement)
