"""PostgreSQL storage of the pending, coalesced reset emails (``domain/pending_email.py``):
one row per account, replaced by each newer request while it waits."""

import json
from datetime import datetime
from uuid import UUID

from asyncpg.pool import PoolConnectionProxy
from pwreset_contracts.cloudevents_kafka import KafkaRecord

from reset_service.domain.pending_email import PendingEmail
from reset_service.service_layer.repositories import DueAccount


class PostgresDeferredEmails:
    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def cancel(self, account_id: UUID) -> None:
        await self._conn.execute("DELETE FROM deferred_emails WHERE account_id = $1", account_id)

    async def due_accounts(self, now: datetime, batch: int) -> list[DueAccount]:
        rows = await self._conn.fetch(
            """SELECT account_id, limit_subject FROM deferred_emails WHERE due_at <= $1
               ORDER BY due_at LIMIT $2""",
            now,
            batch,
        )
        return [DueAccount(row["account_id"], row["limit_subject"]) for row in rows]

    async def due(self, account_id: UUID, now: datetime) -> PendingEmail | None:
        row = await self._conn.fetchrow(
            """SELECT request_id, limit_subject, event_id, topic, key, value, headers
               FROM deferred_emails WHERE account_id = $1 AND due_at <= $2""",
            account_id,
            now,
        )
        if row is None:
            return None
        record = KafkaRecord(
            row["topic"],
            row["key"],
            row["value"],
            [(name, value.encode()) for name, value in json.loads(row["headers"])],
        )
        return PendingEmail(
            account_id, row["request_id"], row["event_id"], row["limit_subject"], record
        )

    async def postpone(self, account_id: UUID, due_at: datetime) -> None:
        await self._conn.execute(
            "UPDATE deferred_emails SET due_at = $2 WHERE account_id = $1", account_id, due_at
        )
