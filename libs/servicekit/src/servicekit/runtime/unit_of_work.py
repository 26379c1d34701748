"""The asyncpg side of a unit of work: one pooled connection, one transaction, explicit commit.

Each service's ``service_layer/unit_of_work.py`` declares the port (which repositories a use
case sees, ``commit``, ``rollback``); its ``adapters`` subclass this base and bind their
asyncpg repositories to ``connection`` in ``bind``. Leaving the block without ``commit`` rolls
back, so a use case that raises half-way writes nothing (cosmicpython's ``unit_of_work.py``).
"""

from types import TracebackType
from typing import Protocol, Self

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from asyncpg.transaction import Transaction as PgTransaction


class UnitOfWorkBase(Protocol):
    """The part of every service's unit-of-work port that is not its repositories."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class PostgresUnitOfWork:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._connection: PoolConnectionProxy | None = None
        self._transaction: PgTransaction | None = None

    @property
    def connection(self) -> PoolConnectionProxy:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    def bind(self, connection: PoolConnectionProxy) -> None:
        """Build the repositories on ``connection`` (subclasses)."""

    async def __aenter__(self) -> Self:
        self._connection = await self._pool.acquire()
        try:
            self._transaction = self._connection.transaction()
            await self._transaction.start()
            self.bind(self._connection)
        except BaseException:
            await self._release()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()
        finally:
            await self._release()

    async def commit(self) -> None:
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            await transaction.commit()

    async def rollback(self) -> None:
        if self._transaction is not None:
            transaction, self._transaction = self._transaction, None
            await transaction.rollback()

    async def _release(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await self._pool.release(connection)
