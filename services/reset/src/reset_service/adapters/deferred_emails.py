"""The one pending, coalesced reset email of an account that is over its per-account limit.

Over the limit a request is still kept (the owner's request must never become a decoy), but its
email waits until the sliding window has room again, so an account receives no more emails than
the limit allows. While it waits, each newer request replaces it (one row per account): the
email that goes out carries the newest link, which also takes the codes of the requests it
replaced (``reset_requests.carried_code_hashes``).
"""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import asyncpg
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from servicekit.messaging.outbox.enqueue import enqueue

from reset_service.adapters.rate_limits import Limit, lock_subject, take


@dataclass(frozen=True)
class Pending:
    account_id: UUID
    request_id: UUID
    event_id: UUID
    limit_subject: bytes
    record: KafkaRecord


async def defer(conn: asyncpg.Connection, pending: Pending, due_at: datetime) -> None:
    """Keep (or replace with) this email until ``due_at``; inside the request's transaction."""
    record = pending.record
    await conn.execute(
        """INSERT INTO deferred_emails
           (account_id, request_id, limit_subject, due_at, event_id, topic, key, value, headers)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)
           ON CONFLICT (account_id) DO UPDATE SET
             request_id = EXCLUDED.request_id, limit_subject = EXCLUDED.limit_subject,
             due_at = LEAST(deferred_emails.due_at, EXCLUDED.due_at),
             event_id = EXCLUDED.event_id, topic = EXCLUDED.topic, key = EXCLUDED.key,
             value = EXCLUDED.value, headers = EXCLUDED.headers""",
        pending.account_id,
        pending.request_id,
        pending.limit_subject,
        due_at,
        pending.event_id,
        record.topic,
        record.key,
        record.value,
        json.dumps([[name, value.decode()] for name, value in record.headers]),
    )


async def cancel(conn: asyncpg.Connection, account_id: UUID) -> None:
    """An email that goes out now carries a newer link than the pending one: drop that."""
    await conn.execute("DELETE FROM deferred_emails WHERE account_id = $1", account_id)


async def send_due(
    pool: asyncpg.Pool, *, max_hits: int, window: timedelta, now: datetime, batch: int = 100
) -> int:
    """Move the pending emails whose time has come into the outbox, each taking a slot of its
    account's limit (or waiting again if the slot went to another email). Returns how many."""
    sent = 0
    accounts = await pool.fetch(
        """SELECT account_id, limit_subject FROM deferred_emails WHERE due_at <= $1
           ORDER BY due_at LIMIT $2""",
        now,
        batch,
    )
    for account_id, subject in accounts:
        async with pool.acquire() as conn, conn.transaction():
            # The account's limit lock first, as a new request takes it before it writes this
            # row: the other order could deadlock with a request of the same account.
            await lock_subject(conn, "account", subject)
            row = await conn.fetchrow(
                """SELECT d.*, (r.used_at IS NULL AND r.revoked_at IS NULL
                                AND r.expires_at > $2) AS still_open
                   FROM deferred_emails d LEFT JOIN reset_requests r ON r.id = d.request_id
                   WHERE d.account_id = $1 AND d.due_at <= $2""",
                account_id,
                now,
            )
            if row is None:
                continue
            if not row["still_open"]:  # used or replaced meanwhile: nothing left to send
                await cancel(conn, account_id)
                continue
            slot = await take(conn, Limit("account", row["limit_subject"], max_hits, window), now)
            if not slot.allowed:
                await conn.execute(
                    "UPDATE deferred_emails SET due_at = $2 WHERE account_id = $1",
                    account_id,
                    now + timedelta(seconds=slot.retry_after_seconds),
                )
                continue
            record = KafkaRecord(
                row["topic"],
                row["key"],
                row["value"],
                [(name, value.encode()) for name, value in json.loads(row["headers"])],
            )
            await enqueue(conn, row["event_id"], record)
            await cancel(conn, account_id)
            sent += 1
    return sent
