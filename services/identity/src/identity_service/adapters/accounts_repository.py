"""PostgreSQL storage of accounts and sessions (asyncpg)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from servicekit.outbox.enqueue import enqueue


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
    totp_failures: int
    totp_failures_since: datetime | None


@dataclass(frozen=True)
class PasswordChange:
    """What a password change writes besides the hash, in the same transaction."""

    undo_token_hash: bytes
    undo_expires_at: datetime
    event_id: UUID
    event: KafkaRecord


_SELECT = """SELECT id, email, password_hash, totp_secret_enc, totp_enabled, totp_last_step,
                    totp_failures, totp_failures_since FROM accounts"""


class AccountsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, account_id: UUID, email: str, email_key: str, password_hash: str) -> None:
        """``email`` as the person registered it (mail goes there), ``email_key`` its
        ``normalise_email`` form (unique: one account per mailbox)."""
        try:
            await self._pool.execute(
                """INSERT INTO accounts (id, email, email_normalised, password_hash)
                   VALUES ($1, $2, $3, $4)""",
                account_id,
                email,
                email_key,
                password_hash,
            )
        except asyncpg.UniqueViolationError as exc:
            raise EmailTaken from exc

    async def by_email_key(self, email_key: str) -> Account | None:
        # Plain equality on the key computed in Python: no lower(), so the database's locale
        # (C or a libc UTF-8 one, where lower('İ') = 'i') plays no part in who matches.
        row = await self._pool.fetchrow(_SELECT + " WHERE email_normalised = $1", email_key)
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
            """UPDATE accounts SET totp_last_step = $2, totp_enabled = totp_enabled OR $3,
                                  totp_failures = 0, totp_failures_since = NULL
               WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)""",
            account_id,
            step,
            enable,
        )
        return result == "UPDATE 1"

    async def record_second_factor_failure(
        self, account_id: UUID, now: datetime, window_seconds: int
    ) -> int:
        """Count a failed TOTP/recovery code; the count restarts after the window."""
        return await self._pool.fetchval(
            """UPDATE accounts SET
                 totp_failures = CASE WHEN totp_failures_since IS NULL
                     OR totp_failures_since < $2::timestamptz - make_interval(secs => $3)
                     THEN 1 ELSE totp_failures + 1 END,
                 totp_failures_since = CASE WHEN totp_failures_since IS NULL
                     OR totp_failures_since < $2::timestamptz - make_interval(secs => $3)
                     THEN $2::timestamptz ELSE totp_failures_since END
               WHERE id = $1 RETURNING totp_failures""",
            account_id,
            now,
            float(window_seconds),
        )

    async def replace_recovery_codes(self, account_id: UUID, code_hashes: list[bytes]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM recovery_codes WHERE account_id = $1", account_id)
            await conn.executemany(
                "INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)",
                [(account_id, code_hash) for code_hash in code_hashes],
            )

    async def use_recovery_code(self, account_id: UUID, code_hash: bytes) -> bool:
        result = await self._pool.execute(
            """UPDATE recovery_codes SET used_at = now()
               WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL""",
            account_id,
            code_hash,
        )
        return result == "UPDATE 1"

    async def unused_recovery_codes(self, account_id: UUID) -> int:
        return await self._pool.fetchval(
            "SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
            account_id,
        )

    async def replace_password(
        self, account_id: UUID, password_hash: str, change: PasswordChange | None = None
    ) -> None:
        """New hash, every session revoked, and (for a reset) the undo token and the
        PasswordChanged event in the outbox: one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE accounts SET password_hash = $2, password_changed_at = now()
                   WHERE id = $1""",
                account_id,
                password_hash,
            )
            await _revoke_sessions(conn, account_id)
            if change is not None:
                await conn.execute(
                    """INSERT INTO undo_tokens (token_hash, account_id, expires_at)
                       VALUES ($1, $2, $3)""",
                    change.undo_token_hash,
                    account_id,
                    change.undo_expires_at,
                )
                await enqueue(conn, change.event_id, change.event)

    async def revoke_sessions(self, account_id: UUID) -> None:
        async with self._pool.acquire() as conn:
            await _revoke_sessions(conn, account_id)

    async def use_undo_token(self, token_hash: bytes, now: datetime) -> UUID | None:
        """The account the token belongs to, if it is unused and unexpired; marks it used."""
        return await self._pool.fetchval(
            """UPDATE undo_tokens SET used_at = $2
               WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
               RETURNING account_id""",
            token_hash,
            now,
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


async def _revoke_sessions(conn: asyncpg.Connection, account_id: UUID) -> None:
    await conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL",
        account_id,
    )
