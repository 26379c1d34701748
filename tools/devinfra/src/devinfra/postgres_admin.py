"""Database administration over an admin DSN (works for every provider)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from devinfra.blocking import run_blocking


def dsn_with_database(admin_dsn: str, dbname: str) -> str:
    """The admin DSN with its database (the URL path) replaced by `dbname`."""
    parts = urlsplit(admin_dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, parts.fragment))


async def create_database_async(admin_dsn: str, dbname: str) -> None:
    """CREATE DATABASE if missing; tolerant of a concurrent creator."""
    import asyncpg

    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", dbname)
        if exists:
            return
        quoted = '"' + dbname.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:
            pass
    finally:
        await conn.close()


def create_database(admin_dsn: str, dbname: str, timeout: float = 30.0) -> None:
    run_blocking(lambda: create_database_async(admin_dsn, dbname), timeout)


async def can_connect_async(dsn: str) -> bool:
    import asyncpg

    try:
        conn = await asyncpg.connect(dsn, timeout=2)
    except Exception:  # any failure means "not yet"; the caller bounds the wait
        return False
    await conn.close()
    return True


def can_connect(dsn: str) -> bool:
    try:
        return run_blocking(lambda: can_connect_async(dsn), 5.0)
    except TimeoutError:
        return False
