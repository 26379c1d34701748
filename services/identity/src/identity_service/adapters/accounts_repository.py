"""PostgreSQL storage of accounts and their recovery codes (asyncpg), on the connection of a
unit of work (unit_of_work.py): every statement runs in its transaction. ``AccountReads`` runs the
same lookups on the pool, each a transaction of its own."""

from datetime import datetime
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from identity_service.domain.accounts import Account, EmailTaken
from identity_service.domain.second_factor import (
    AttemptLimits,
    SecondFactorAttempt,
    SecondFactorReservation,
    refused,
)

_SELECT = """SELECT id, email, password_hash, totp_secret_enc, totp_enabled, totp_last_step,
                    totp_failures, totp_failures_since, totp_consecutive_failures,
                    credentials_epoch, locale FROM accounts"""
_INSERT = """INSERT INTO accounts (id, email, email_normalised, password_hash)
             VALUES ($1, $2, $3, $4)"""


class AccountsRepository:
    def __init__(self, connection: PoolConnectionProxy | asyncpg.Pool) -> None:
        self._conn = connection

    async def add(self, account_id: UUID, email: str, email_key: str, password_hash: str) -> None:
        try:
            await self._conn.execute(_INSERT, account_id, email, email_key, password_hash)
        except asyncpg.UniqueViolationError as exc:
            raise EmailTaken from exc

    async def add_if_absent(
        self, account_id: UUID, email: str, email_key: str, password_hash: str
    ) -> bool:
        created: str = await self._conn.execute(
            _INSERT + " ON CONFLICT DO NOTHING", account_id, email, email_key, password_hash
        )
        return created == "INSERT 0 1"

    async def by_email_key(self, email_key: str) -> Account | None:
        # Plain equality on the key computed in Python: no lower(), so the database's locale
        # (C or a libc UTF-8 one, where lower('İ') = 'i') plays no part in who matches.
        row = await self._conn.fetchrow(_SELECT + " WHERE email_normalised = $1", email_key)
        return Account(**row) if row else None

    async def by_id(self, account_id: UUID) -> Account | None:
        row = await self._conn.fetchrow(_SELECT + " WHERE id = $1", account_id)
        return Account(**row) if row else None

    async def store_pending_totp(self, account_id: UUID, secret_enc: bytes) -> None:
        await self._conn.execute(
            "UPDATE accounts SET totp_secret_enc = $2 WHERE id = $1 AND NOT totp_enabled",
            account_id,
            secret_enc,
        )

    async def claim_totp_step(self, account_id: UUID, step: int) -> bool:
        result: str = await self._conn.execute(
            """UPDATE accounts SET totp_last_step = $2,
                                  totp_failures = 0, totp_failures_since = NULL,
                                  totp_consecutive_failures = 0
               WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)""",
            account_id,
            step,
        )
        return result == "UPDATE 1"

    async def reserve_second_factor_attempt(
        self, account_id: UUID, now: datetime, limits: AttemptLimits, *, recovery_code: bool
    ) -> SecondFactorReservation:
        # domain.second_factor.reserve_attempt in one statement: the row lock orders attempts
        # side by side, so no two of them read the same counts.
        reserved = await self._conn.fetchrow(
            # "window over": no failure yet, or the first one is older than the window ($3 s).
            """UPDATE accounts SET
                  totp_failures = CASE WHEN totp_failures_since IS NULL
                      OR totp_failures_since <= $2::timestamptz - make_interval(secs => $3)
                      THEN 1 ELSE totp_failures + 1 END,
                  totp_failures_since = CASE WHEN totp_failures_since IS NULL
                      OR totp_failures_since <= $2::timestamptz - make_interval(secs => $3)
                      THEN $2::timestamptz ELSE totp_failures_since END,
                  totp_consecutive_failures = totp_consecutive_failures + 1
                WHERE id = $1
                  AND (totp_failures_since IS NULL
                      OR totp_failures_since <= $2::timestamptz - make_interval(secs => $3)
                      OR totp_failures < $4)
                  AND ($6 OR totp_consecutive_failures < $5)
                RETURNING totp_failures, totp_consecutive_failures""",
            account_id,
            now,
            float(int(limits.window.total_seconds())),
            limits.max_per_window,
            limits.lockout_after,
            recovery_code,
        )
        if reserved is not None:
            return SecondFactorReservation(SecondFactorAttempt.ALLOWED, *reserved)
        consecutive = await self._conn.fetchval(
            "SELECT totp_consecutive_failures FROM accounts WHERE id = $1", account_id
        )
        consecutive = consecutive or 0
        verdict = refused(consecutive, limits, recovery_code=recovery_code)
        return SecondFactorReservation(verdict, limits.max_per_window, consecutive)

    async def enable_second_factor(self, account_id: UUID, step: int, secret_enc: bytes) -> bool:
        enabled: str = await self._conn.execute(
            """UPDATE accounts SET totp_enabled = true, totp_last_step = $2,
                                   totp_failures = 0, totp_failures_since = NULL,
                                   totp_consecutive_failures = 0,
                                   credentials_epoch = credentials_epoch + 1
               WHERE id = $1 AND NOT totp_enabled AND totp_secret_enc = $3
                 AND (totp_last_step IS NULL OR totp_last_step < $2)""",
            account_id,
            step,
            secret_enc,
        )
        return enabled == "UPDATE 1"

    async def disable_second_factor(self, account_id: UUID) -> bool:
        disabled: str = await self._conn.execute(
            """UPDATE accounts SET totp_enabled = false, totp_secret_enc = NULL,
                                   totp_last_step = NULL, totp_failures = 0,
                                   totp_failures_since = NULL, totp_consecutive_failures = 0,
                                   credentials_epoch = credentials_epoch + 1
               WHERE id = $1 AND totp_enabled""",
            account_id,
        )
        return disabled == "UPDATE 1"

    async def change_password(
        self, account_id: UUID, password_hash: str, locale: str | None = None
    ) -> None:
        await self._conn.execute(
            """UPDATE accounts SET password_hash = $2, password_changed_at = now(),
                                   credentials_epoch = credentials_epoch + 1,
                                   locale = COALESCE($3, locale)
               WHERE id = $1""",
            account_id,
            password_hash,
            locale,
        )

    async def bump_credentials_epoch(self, account_id: UUID) -> None:
        await self._conn.execute(
            "UPDATE accounts SET credentials_epoch = credentials_epoch + 1 WHERE id = $1",
            account_id,
        )

    async def upgrade_hash(self, account_id: UUID, old_hash: str, new_hash: str) -> None:
        await self._conn.execute(
            "UPDATE accounts SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
            account_id,
            old_hash,
            new_hash,
        )


class RecoveryCodesRepository:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._conn = connection

    async def replace(self, account_id: UUID, code_hashes: list[bytes]) -> None:
        await self.delete_all(account_id)
        await self._conn.executemany(
            "INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)",
            [(account_id, code_hash) for code_hash in code_hashes],
        )

    async def delete_all(self, account_id: UUID) -> None:
        await self._conn.execute("DELETE FROM recovery_codes WHERE account_id = $1", account_id)

    async def use(self, account_id: UUID, code_hash: bytes) -> bool:
        result: str = await self._conn.execute(
            """WITH used AS (
                   UPDATE recovery_codes SET used_at = now()
                   WHERE account_id = $1 AND code_hash = $2 AND used_at IS NULL
                   RETURNING account_id)
               UPDATE accounts SET totp_failures = 0, totp_failures_since = NULL,
                                   totp_consecutive_failures = 0
               WHERE id IN (SELECT account_id FROM used)""",
            account_id,
            code_hash,
        )
        return result == "UPDATE 1"


class AccountReads:
    """Account lookups straight on the pool, outside any unit of work: one round trip each
    (and the pool's reset of the connection), where a unit of work adds BEGIN and ROLLBACK."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._accounts = AccountsRepository(pool)

    async def by_email_key(self, email_key: str) -> Account | None:
        return await self._accounts.by_email_key(email_key)

    async def by_id(self, account_id: UUID) -> Account | None:
        return await self._accounts.by_id(account_id)
