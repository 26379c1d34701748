"""PostgreSQL storage of accounts and sessions (asyncpg)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg


class EmailTaken(Exception):
    pass


@dataclass(frozen=True)
class Account:
    id: UUID
    email: str
    password_hash: str
    totp_secret_enc: bytes | None
    totp_enabled: bool
    totp_last_step: int | None


_SELECT = (
    "SELECT id, email, password_hash, totp_secret_enc, totp_enabled, totp_last_step FROM accounts"
)


class AccountsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, account_id: UUID, email: str, password_hash: str) -> None:
        try:
            await self._pool.execute(
                "INSERT INTO accounts (id, email, password_hash) VALUES ($1, $2, $3)",
                account_id,
                email,
                password_hash,
            )
        except asyncpg.UniqueViolationError as exc:
            raise EmailTaken from exc

    async def by_email(self, email: str) -> Account | None:
        row = await self._pool.fetchrow(_SELECT + " WHERE lower(email) = lower($1)", email)
        return Account(**row) if row else None

    async def by_id(self, account_id: UUID) -> Account | None:
        row = await self._pool.fetchrow(_SELECT + " WHERE id = $1", account_id)
        return Account(**row) if row else None

    async def store_pending_totp(self, account_id: UUID, secret_enc: bytes) -> None:
        await self._pool.execute(
            "UPDATE accounts SET totp_secret_enc = $2 WHERE id = $1 AND NOT totp_enabled",
            account_id,
            secret_enc,
        )

    async def claim_totp_step(self, account_id: UUID, step: int, *, enable: bool = False) -> bool:
        """Record a TOTP step as used; False if it (or a later one) was used already."""
        result = await self._pool.execute(
            """UPDATE accounts SET totp_last_step = $2, totp_enabled = totp_enabled OR $3
               WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)""",
            account_id,
            step,
            enable,
        )
        return result == "UPDATE 1"

    async def replace_password(self, account_id: UUID, password_hash: str) -> None:
        """New hash and every session revoked, in one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE accounts SET password_hash = $2, password_changed_at = now()
                   WHERE id = $1""",
                account_id,
                password_hash,
            )
            await conn.execute(
                """UPDATE sessions SET revoked_at = now()
                   WHERE account_id = $1 AND revoked_at IS NULL""",
                account_id,
            )

    async def upgrade_hash(self, account_id: UUID, old_hash: str, new_hash: str) -> None:
        # Only if unchanged since it was read: a concurrent reset must win over a rehash.
        await self._pool.execute(
            "UPDATE accounts SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
            account_id,
            old_hash,
            new_hash,
        )

    async def add_session(
        self, session_id: UUID, account_id: UUID, token_hash: bytes, expires_at: datetime
    ) -> None:
        await self._pool.execute(
            """INSERT INTO sessions (id, account_id, token_hash, expires_at)
               VALUES ($1, $2, $3, $4)""",
            session_id,
            account_id,
            token_hash,
            expires_at,
        )

    async def account_of_session(self, token_hash: bytes, now: datetime) -> UUID | None:
        return await self._pool.fetchval(
            """SELECT account_id FROM sessions
               WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2""",
            token_hash,
            now,
        )

    async def count_active_sessions(self, account_id: UUID) -> int:
        return await self._pool.fetchval(
            "SELECT count(*) FROM sessions WHERE account_id = $1 AND revoked_at IS NULL",
            account_id,
        )
