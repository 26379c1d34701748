"""PostgreSQL storage of registration requests (asyncpg), on a unit of work's connection."""

from datetime import datetime

from asyncpg.pool import PoolConnectionProxy

from identity_service.domain.registrations import PendingRegistration, VerifiedRegistration


class RegistrationsRepository:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._conn = connection

    async def add(self, pending: PendingRegistration) -> None:
        await self._conn.execute(
            """INSERT INTO registrations (id, email, password_hash, token_hash, expires_at)
               VALUES ($1, $2, $3, $4, $5)""",
            pending.registration_id,
            pending.email,
            pending.password_hash,
            pending.token_hash,
            pending.expires_at,
        )

    async def use(self, token_hash: bytes, now: datetime) -> VerifiedRegistration | None:
        row = await self._conn.fetchrow(
            """UPDATE registrations SET used_at = $2
               WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                 AND password_hash IS NOT NULL
               RETURNING email, password_hash""",
            token_hash,
            now,
        )
        return VerifiedRegistration(row["email"], row["password_hash"]) if row else None

    async def prune(self, now: datetime) -> int:
        result = await self._conn.execute("DELETE FROM registrations WHERE expires_at < $1", now)
        return int(result.split()[-1])
