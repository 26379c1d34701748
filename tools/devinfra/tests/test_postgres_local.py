"""LocalPostgres (or whatever provider runs): databases, queries, restart."""

from __future__ import annotations

import asyncpg
import pytest
from devinfra.providers import Infrastructure

pytestmark = pytest.mark.integration


async def test_create_database_query_restart_query(infra: Infrastructure) -> None:
    dsn = infra.dsn_for("devinfra_pg_test")
    assert infra.dsn_for("devinfra_pg_test") == dsn  # idempotent

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, note text)")
        await conn.execute("INSERT INTO t VALUES (1, 'before restart') ON CONFLICT DO NOTHING")
        assert await conn.fetchval("SHOW max_connections") in ("200", "100")
    finally:
        await conn.close()

    if infra.postgres is None:
        pytest.skip(f"restart needs the local provider (postgres={infra.providers['postgres']})")
    assert infra.postgres.dsn("devinfra_pg_test") == dsn
    infra.postgres.restart()

    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT note FROM t WHERE id = 1") == "before restart"
        assert await conn.fetchval("SHOW listen_addresses") == "127.0.0.1"
    finally:
        await conn.close()
