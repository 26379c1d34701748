"""PostgreSQL storage of reset requests and the outbox (asyncpg).

A new request and its ResetRequested record are written in one transaction, so an event goes out
if and only if the request exists; the relay publishes it later (docs/delivery.md).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from servicekit.messaging.outbox.enqueue import enqueue

from reset_service.adapters import deferred_emails
from reset_service.adapters.rate_limits import Decision, Limit, take

# Codes of replaced requests a newer one still accepts; with the account limit this covers a
# window of requests from others while the owner waits for the coalesced email.
MAX_CARRIED_CODES = 32


@dataclass(frozen=True)
class NewRequest:
    id: UUID
    account_id: UUID
    token_hash: bytes
    code_hash: bytes
    hash_key_id: str
    requires_totp: bool
    expires_at: datetime


@dataclass(frozen=True)
class StoredRequest:
    id: UUID
    account_id: UUID
    code_hash: bytes
    carried_code_hashes: list[bytes]
    hash_key_id: str
    requires_totp: bool
    expires_at: datetime
    failed_attempts: int
    used_at: datetime | None
    revoked_at: datetime | None


class LockedRequest:
    """A request row held with FOR UPDATE for the length of a confirm."""

    def __init__(self, conn: asyncpg.Connection, request: StoredRequest | None) -> None:
        self._conn = conn
        self.request = request

    async def record_failure(self) -> int:
        assert self.request is not None
        return await self._conn.fetchval(
            """UPDATE reset_requests SET failed_attempts = failed_attempts + 1
               WHERE id = $1 RETURNING failed_attempts""",
            self.request.id,
        )

    async def mark_used(self, now: datetime) -> None:
        assert self.request is not None
        await self._conn.execute(
            "UPDATE reset_requests SET used_at = $2 WHERE id = $1", self.request.id, now
        )
        await self._conn.execute(
            """UPDATE reset_requests SET revoked_at = $2
               WHERE account_id = $1 AND used_at IS NULL AND revoked_at IS NULL""",
            self.request.account_id,
            now,
        )


class RequestsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_request(
        self,
        request: NewRequest,
        record: KafkaRecord,
        event_id: UUID,
        *,
        ip_limit: Limit | None,
        account_limit: Limit,
        keep: bool,
        now: datetime,
    ) -> Decision:
        """Count the request against both limits and write the request and its email.

        Every request, for a known email or not, runs the same statements in one transaction, so
        their timing does not tell them apart; only a request for a known account (``keep``)
        keeps its rows, the others roll back to a savepoint. Over the IP limit nothing is
        written (``ip_limit`` None: an internal caller, outside every client's bucket).

        The newest request is never dropped: it revokes the older ones but takes over their
        codes and their wrong-code count (within the window), and its email goes out now if
        the account limit has room, else it waits as the account's one pending email
        (``deferred_emails``). Returns the IP decision (the account limit is silent by design).
        """
        async with self._pool.acquire() as conn, conn.transaction():
            by_ip = await take(conn, ip_limit, now) if ip_limit else Decision(True)
            if not by_ip.allowed:
                return by_ip
            # Under the account's advisory lock from here on: one request of it at a time.
            by_account = await take(conn, account_limit, now)
            decoy = conn.transaction()
            await decoy.start()
            newest = await conn.fetchrow(
                """SELECT code_hash, hash_key_id, carried_code_hashes, failed_attempts
                   FROM reset_requests
                   WHERE account_id = $1 AND used_at IS NULL AND revoked_at IS NULL
                     AND created_at > $2 AND expires_at > $3
                   ORDER BY created_at DESC LIMIT 1""",
                request.account_id,
                now - account_limit.window,
                now,
            )
            carried: list[bytes] = []
            failed = 0
            if newest is not None:
                failed = newest["failed_attempts"]
                if newest["hash_key_id"] == request.hash_key_id:
                    carried = [newest["code_hash"], *newest["carried_code_hashes"]]
            # A new request revokes the older ones of the same account.
            await conn.execute(
                """UPDATE reset_requests SET revoked_at = $2
                   WHERE account_id = $1 AND used_at IS NULL AND revoked_at IS NULL""",
                request.account_id,
                now,
            )
            await conn.execute(
                """INSERT INTO reset_requests
                   (id, account_id, token_hash, code_hash, hash_key_id, requires_totp,
                    created_at, expires_at, carried_code_hashes, failed_attempts)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
                request.id,
                request.account_id,
                request.token_hash,
                request.code_hash,
                request.hash_key_id,
                request.requires_totp,
                now,
                request.expires_at,
                carried[:MAX_CARRIED_CODES],
                failed,
            )
            if by_account.allowed:
                await enqueue(conn, event_id, record)
                await deferred_emails.cancel(conn, request.account_id)
            else:
                await deferred_emails.defer(
                    conn,
                    deferred_emails.Pending(
                        request.account_id, request.id, event_id, account_limit.subject, record
                    ),
                    now + timedelta(seconds=by_account.retry_after_seconds),
                )
            if keep:
                await decoy.commit()
            else:
                await decoy.rollback()
            return by_ip

    @asynccontextmanager
    async def lock_by_token(self, token_hashes: list[bytes]) -> AsyncIterator[LockedRequest]:
        """The request a link token belongs to, locked until the block ends (then committed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """SELECT id, account_id, code_hash, carried_code_hashes, hash_key_id,
                          requires_totp, expires_at, failed_attempts, used_at, revoked_at
                   FROM reset_requests WHERE token_hash = ANY($1::bytea[]) FOR UPDATE""",
                token_hashes,
            )
            yield LockedRequest(conn, StoredRequest(**row) if row else None)

    async def find_by_token(self, token_hashes: list[bytes]) -> StoredRequest | None:
        row = await self._pool.fetchrow(
            """SELECT id, account_id, code_hash, carried_code_hashes, hash_key_id, requires_totp,
                      expires_at, failed_attempts, used_at, revoked_at
               FROM reset_requests WHERE token_hash = ANY($1::bytea[])""",
            token_hashes,
        )
        return StoredRequest(**row) if row else None

    async def send_due_emails(self, *, max_hits: int, window: timedelta, now: datetime) -> int:
        return await deferred_emails.send_due(self._pool, max_hits=max_hits, window=window, now=now)

    async def count_unknown_token(self, limit: Limit, now: datetime) -> Decision:
        """One hit for a link token that matched nothing, from this client."""
        async with self._pool.acquire() as conn, conn.transaction():
            return await take(conn, limit, now)
