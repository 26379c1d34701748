"""PostgreSQL storage of sessions (asyncpg), on a unit of work's connection."""

from datetime import datetime
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy

from identity_service.domain.sessions import NewSession


class SessionsRepository:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._conn = connection

    async def add(self, session: NewSession) -> bool:
        # Compare-and-set on the epoch. FOR SHARE orders it against a password change: either
        # the change waits for this insert and then revokes the session, or this insert waits
        # for the change and finds the epoch moved on.
        result: str = await self._conn.execute(
            """INSERT INTO sessions (id, account_id, token_hash, expires_at)
               SELECT $1, id, $3, $4 FROM accounts
               WHERE id = $2 AND credentials_epoch = $5 FOR SHARE""",
            session.id,
            session.account_id,
            session.token_hash,
            session.expires_at,
            session.credentials_epoch,
        )
        return result == "INSERT 0 1"

    async def account_of(self, token_hash: bytes, now: datetime) -> UUID | None:
        account_id: UUID | None = await self._conn.fetchval(
            """SELECT account_id FROM sessions
               WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2""",
            token_hash,
            now,
        )
        return account_id

    async def revoke(self, token_hash: bytes) -> bool:
        result: str = await self._conn.execute(
            "UPDATE sessions SET revoked_at = now() WHERE token_hash = $1 AND revoked_at IS NULL",
            token_hash,
        )
        return result == "UPDATE 1"

    async def revoke_all(self, account_id: UUID) -> None:
        await self._conn.execute(
            "UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL",
            account_id,
        )
