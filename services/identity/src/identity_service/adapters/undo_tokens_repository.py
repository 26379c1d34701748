"""PostgreSQL storage of "This wasn't me" tokens (hashed), on a unit of work's connection."""

from datetime import datetime
from typing import cast
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from identity_service.domain.undo_links import UndoKind


class UndoTokensRepository:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._conn = connection

    async def add(
        self, token_hash: bytes, account_id: UUID, expires_at: datetime, kind: UndoKind
    ) -> None:
        await self._conn.execute(
            """INSERT INTO undo_tokens (token_hash, account_id, expires_at, kind)
               VALUES ($1, $2, $3, $4)""",
            token_hash,
            account_id,
            expires_at,
            kind,
        )

    async def kind_of(self, token_hash: bytes, now: datetime) -> UndoKind | None:
        kind = await self._conn.fetchval(
            """SELECT kind FROM undo_tokens
               WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2""",
            token_hash,
            now,
        )
        return cast(UndoKind | None, kind)  # the column's CHECK allows only these

    async def use(self, token_hash: bytes, now: datetime) -> tuple[UUID, UndoKind] | None:
        row = await self._conn.fetchrow(
            """UPDATE undo_tokens SET used_at = $2
               WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
               RETURNING account_id, kind""",
            token_hash,
            now,
        )
        return (row["account_id"], cast(UndoKind, row["kind"])) if row else None
