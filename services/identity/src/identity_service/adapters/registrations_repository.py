"""PostgreSQL storage of registration requests (asyncpg)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from pwreset_contracts.emails import normalise_email
from servicekit.messaging.outbox.enqueue import enqueue


@dataclass(frozen=True)
class PendingRegistration:
    """What one registration request writes, in one transaction whatever the address."""

    registration_id: UUID
    email: str
    password_hash: str | None
    token_hash: bytes | None
    expires_at: datetime
    event_id: UUID
    event: KafkaRecord | None  # None when the address had too many emails lately


@dataclass(frozen=True)
class CompletedRegistration:
    account_id: UUID
    email: str


class RegistrationsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, pending: PendingRegistration) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO registrations (id, email, password_hash, token_hash, expires_at)
                   VALUES ($1, $2, $3, $4, $5)""",
                pending.registration_id,
                pending.email,
                pending.password_hash,
                pending.token_hash,
                pending.expires_at,
            )
            if pending.event is not None:
                await enqueue(conn, pending.event_id, pending.event)

    async def complete(
        self, token_hash: bytes, account_id: UUID, now: datetime
    ) -> CompletedRegistration | None:
        """Create the account of an unused, unexpired registration (once); None if the token
        matches nothing usable or the address got an account in the meantime."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE registrations SET used_at = $2
                   WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                     AND password_hash IS NOT NULL
                   RETURNING email, password_hash""",
                token_hash,
                now,
            )
            if row is None:
                return None
            created = await conn.execute(
                """INSERT INTO accounts (id, email, email_normalised, password_hash)
                   VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                account_id,
                row["email"],
                normalise_email(row["email"]),
                row["password_hash"],
            )
            if created != "INSERT 0 1":
                return None  # the token stays used: the address is taken now
            return CompletedRegistration(account_id, row["email"])

    async def prune(self, now: datetime) -> int:
        """Requests past their lifetime: their password hashes are kept no longer."""
        result = await self._pool.execute("DELETE FROM registrations WHERE expires_at < $1", now)
        return int(result.split()[-1])
