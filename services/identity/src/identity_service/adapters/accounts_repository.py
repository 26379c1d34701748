"""PostgreSQL storage of accounts and sessions (asyncpg)."""

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from servicekit.messaging.outbox.enqueue import enqueue


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
    totp_consecutive_failures: int
    # Bumped by every change of credentials or sign-out-everywhere: a session is only written
    # for the epoch its login read, so a login in flight across a reset ends in no session.
    credentials_epoch: int


UndoKind = Literal["password_changed", "second_factor_enabled", "second_factor_disabled"]


@dataclass(frozen=True)
class AccountNotice:
    """What a security change writes besides itself, in the same transaction: the token of its
    "This wasn't me" link (hashed) and the event announcing it (to the outbox)."""

    undo_token_hash: bytes
    undo_expires_at: datetime
    undo_kind: UndoKind
    event_id: UUID
    event: KafkaRecord


_SELECT = """SELECT id, email, password_hash, totp_secret_enc, totp_enabled, totp_last_step,
                    totp_failures, totp_failures_since, totp_consecutive_failures,
                    credentials_epoch FROM accounts"""


@dataclass(frozen=True)
class SecondFactorReservation:
    verdict: "SecondFactorAttempt"
    failures_in_window: int  # this attempt included
    consecutive_failures: int  # this attempt included


class SecondFactorAttempt(enum.Enum):
    ALLOWED = "allowed"
    THROTTLED = "throttled"  # too many failures in the window
    LOCKED = "locked"  # too many consecutive failures: only a recovery code (or support) now


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
                                  totp_failures = 0, totp_failures_since = NULL,
                                  totp_consecutive_failures = 0
               WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)""",
            account_id,
            step,
            enable,
        )
        return result == "UPDATE 1"

    async def reserve_second_factor_attempt(
        self,
        account_id: UUID,
        now: datetime,
        *,
        window_seconds: int,
        max_per_window: int,
        lockout_after: int,
        recovery_code: bool,
    ) -> SecondFactorReservation:
        """Count an attempt as a failure *before* its code is checked, in one statement: however
        many requests arrive at once, at most `max_per_window` codes are checked per window, and
        none (but recovery codes) after `lockout_after` consecutive failures. A code that turns
        out right clears the counts (claim_totp_step, use_recovery_code)."""
        reserved = await self._pool.fetchrow(
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
            float(window_seconds),
            max_per_window,
            lockout_after,
            recovery_code,
        )
        if reserved is not None:
            return SecondFactorReservation(SecondFactorAttempt.ALLOWED, *reserved)
        consecutive = await self._pool.fetchval(
            "SELECT totp_consecutive_failures FROM accounts WHERE id = $1", account_id
        )
        consecutive = consecutive or 0
        if not recovery_code and consecutive >= lockout_after:
            return SecondFactorReservation(SecondFactorAttempt.LOCKED, max_per_window, consecutive)
        return SecondFactorReservation(SecondFactorAttempt.THROTTLED, max_per_window, consecutive)

    async def replace_recovery_codes(self, account_id: UUID, code_hashes: list[bytes]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM recovery_codes WHERE account_id = $1", account_id)
            await conn.executemany(
                "INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)",
                [(account_id, code_hash) for code_hash in code_hashes],
            )

    async def use_recovery_code(self, account_id: UUID, code_hash: bytes) -> bool:
        result = await self._pool.execute(
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

    async def unused_recovery_codes(self, account_id: UUID) -> int:
        return await self._pool.fetchval(
            "SELECT count(*) FROM recovery_codes WHERE account_id = $1 AND used_at IS NULL",
            account_id,
        )

    async def replace_password(
        self, account_id: UUID, password_hash: str, change: AccountNotice | None = None
    ) -> None:
        """New hash, every session revoked, and (for a reset) the undo token and the
        PasswordChanged event in the outbox: one transaction."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """UPDATE accounts SET password_hash = $2, password_changed_at = now(),
                                       credentials_epoch = credentials_epoch + 1
                   WHERE id = $1""",
                account_id,
                password_hash,
            )
            await _revoke_sessions(conn, account_id)
            if change is not None:
                await _announce(conn, account_id, change)

    async def enable_second_factor(
        self, account_id: UUID, step: int, code_hashes: list[bytes], notice: AccountNotice
    ) -> bool:
        """Turn two-factor on with the pending secret, claiming the code's step, with fresh
        recovery codes and the notice: one transaction. False if it was on already or the step
        was used (a request side by side got there first)."""
        async with self._pool.acquire() as conn, conn.transaction():
            enabled = await conn.execute(
                """UPDATE accounts SET totp_enabled = true, totp_last_step = $2,
                                       totp_failures = 0, totp_failures_since = NULL,
                                       totp_consecutive_failures = 0,
                                       credentials_epoch = credentials_epoch + 1
                   WHERE id = $1 AND NOT totp_enabled AND totp_secret_enc IS NOT NULL
                     AND (totp_last_step IS NULL OR totp_last_step < $2)""",
                account_id,
                step,
            )
            if enabled != "UPDATE 1":
                return False
            await conn.execute("DELETE FROM recovery_codes WHERE account_id = $1", account_id)
            await conn.executemany(
                "INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)",
                [(account_id, code_hash) for code_hash in code_hashes],
            )
            await _announce(conn, account_id, notice)
            return True

    async def disable_second_factor(self, account_id: UUID, notice: AccountNotice | None) -> bool:
        """Turn two-factor off: secret and recovery codes gone, logins in flight void (the epoch
        moves on), and the notice if there is one. False if it was off already."""
        async with self._pool.acquire() as conn, conn.transaction():
            disabled = await conn.execute(
                """UPDATE accounts SET totp_enabled = false, totp_secret_enc = NULL,
                                       totp_last_step = NULL, totp_failures = 0,
                                       totp_failures_since = NULL, totp_consecutive_failures = 0,
                                       credentials_epoch = credentials_epoch + 1
                   WHERE id = $1 AND totp_enabled""",
                account_id,
            )
            if disabled != "UPDATE 1":
                return False
            await conn.execute("DELETE FROM recovery_codes WHERE account_id = $1", account_id)
            if notice is not None:
                await _announce(conn, account_id, notice)
            return True

    async def revoke_sessions(self, account_id: UUID) -> None:
        """Sign out everywhere, including logins still in flight (the epoch moves on)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE accounts SET credentials_epoch = credentials_epoch + 1 WHERE id = $1",
                account_id,
            )
            await _revoke_sessions(conn, account_id)

    async def undo_token_kind(self, token_hash: bytes, now: datetime) -> UndoKind | None:
        """What an unused, unexpired token undoes, without using it."""
        return await self._pool.fetchval(
            """SELECT kind FROM undo_tokens
               WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2""",
            token_hash,
            now,
        )

    async def use_undo_token(
        self, token_hash: bytes, now: datetime
    ) -> tuple[UUID, UndoKind] | None:
        """The account the token belongs to and what it undoes, if it is unused and unexpired;
        marks it used."""
        row = await self._pool.fetchrow(
            """UPDATE undo_tokens SET used_at = $2
               WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
               RETURNING account_id, kind""",
            token_hash,
            now,
        )
        return (row["account_id"], row["kind"]) if row else None

    async def upgrade_hash(self, account_id: UUID, old_hash: str, new_hash: str) -> None:
        # Only if unchanged since it was read: a concurrent reset must win over a rehash.
        await self._pool.execute(
            "UPDATE accounts SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
            account_id,
            old_hash,
            new_hash,
        )

    async def add_session(
        self,
        session_id: UUID,
        account_id: UUID,
        token_hash: bytes,
        expires_at: datetime,
        *,
        credentials_epoch: int,
    ) -> bool:
        """Write the session only if the account's credentials are still those the login
        verified (compare-and-set on the epoch). FOR SHARE orders it against a password change:
        either the change waits for this insert and then revokes the session, or this insert
        waits for the change and finds the epoch moved on."""
        result = await self._pool.execute(
            """INSERT INTO sessions (id, account_id, token_hash, expires_at)
               SELECT $1, id, $3, $4 FROM accounts
               WHERE id = $2 AND credentials_epoch = $5 FOR SHARE""",
            session_id,
            account_id,
            token_hash,
            expires_at,
            credentials_epoch,
        )
        return result == "INSERT 0 1"

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


async def _announce(conn: asyncpg.Connection, account_id: UUID, notice: AccountNotice) -> None:
    await conn.execute(
        """INSERT INTO undo_tokens (token_hash, account_id, expires_at, kind)
           VALUES ($1, $2, $3, $4)""",
        notice.undo_token_hash,
        account_id,
        notice.undo_expires_at,
        notice.undo_kind,
    )
    await enqueue(conn, notice.event_id, notice.event)


async def _revoke_sessions(conn: asyncpg.Connection, account_id: UUID) -> None:
    await conn.execute(
        "UPDATE sessions SET revoked_at = now() WHERE account_id = $1 AND revoked_at IS NULL",
        account_id,
    )
