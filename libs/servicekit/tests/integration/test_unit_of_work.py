"""PostgresUnitOfWork: commit keeps, leaving without commit (or by an exception) writes nothing."""

import uuid

import asyncpg
import pytest
from servicekit.runtime.unit_of_work import PostgresUnitOfWork

pytestmark = pytest.mark.integration


class Boom(Exception):
    pass


async def test_only_a_committed_unit_of_work_leaves_rows(infra) -> None:
    dsn = infra.dsn_for(f"uow_it_{uuid.uuid4().hex[:8]}")
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        await pool.execute("CREATE TABLE IF NOT EXISTS t (v text)")
        async with PostgresUnitOfWork(pool) as uow:
            await uow.connection.execute("INSERT INTO t VALUES ('committed')")
            await uow.commit()
        async with PostgresUnitOfWork(pool) as uow:
            await uow.connection.execute("INSERT INTO t VALUES ('forgotten')")
        with pytest.raises(Boom):
            async with PostgresUnitOfWork(pool) as uow:
                await uow.connection.execute("INSERT INTO t VALUES ('raised')")
                raise Boom
        assert [r["v"] for r in await pool.fetch("SELECT v FROM t")] == ["committed"]
        assert pool.get_idle_size() == pool.get_size()  # every connection went back
    finally:
        await pool.close()
