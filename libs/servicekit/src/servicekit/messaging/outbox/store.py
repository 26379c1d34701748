"""SQL of the outbox relay: claim under a lease, mark published, release, prune, backlog.

A claim is a short transaction: rows are picked with FOR UPDATE SKIP LOCKED (concurrent relays
never pick the same row) and leased to one relay until `lease_until`. Publishing happens outside
any transaction, so a Kafka outage never holds a database transaction open; a relay that dies
mid-publish leaves a lease that simply runs out, and any relay then takes the rows over.
"""

import json
from dataclasses import dataclass
from uuid import UUID

import asyncpg

# Rows whose key has an earlier unpublished row held by someone else (another relay's lease or
# a concurrent claim) are left for later: a relay never publishes a key's record before the
# earlier record of that key has been published, so several relays keep per-key order.
_CLAIM = """
WITH claimable AS (
    SELECT id, key FROM outbox
    WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now())
    ORDER BY id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), in_order AS (
    SELECT c.id FROM claimable c
    WHERE NOT EXISTS (
        SELECT 1 FROM outbox earlier
        WHERE earlier.key = c.key AND earlier.published_at IS NULL AND earlier.id < c.id
          AND earlier.id NOT IN (SELECT id FROM claimable)
    )
)
UPDATE outbox o
SET lease_owner = $1, lease_until = now() + make_interval(secs => $3), attempts = o.attempts + 1
FROM in_order WHERE o.id = in_order.id
RETURNING o.id, o.topic, o.key, o.value, o.headers, o.attempts
"""


@dataclass(frozen=True)
class OutboxRow:
    id: int
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    attempts: int


def _row(record: asyncpg.Record) -> OutboxRow:
    return OutboxRow(
        id=record["id"],
        topic=record["topic"],
        key=record["key"],
        value=record["value"],
        headers=[(name, value.encode()) for name, value in json.loads(record["headers"])],
        attempts=record["attempts"],
    )


class OutboxStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim(self, owner: UUID, limit: int, lease_seconds: float) -> list[OutboxRow]:
        """Lease up to `limit` unpublished rows to `owner`, oldest first."""
        records = await self._pool.fetch(_CLAIM, owner, limit, float(lease_seconds))
        return sorted((_row(r) for r in records), key=lambda row: row.id)

    async def mark_published(self, owner: UUID, ids: list[int]) -> int:
        """Mark rows published, only while `owner` still holds them (a relay whose lease ran out
        and was taken over leaves the marking to the new holder)."""
        if not ids:
            return 0
        result = await self._pool.execute(
            """UPDATE outbox SET published_at = now(), lease_owner = NULL, lease_until = NULL
               WHERE id = ANY($2::bigint[]) AND lease_owner = $1 AND published_at IS NULL""",
            owner,
            ids,
        )
        return int(result.split()[-1])

    async def release(self, owner: UUID, ids: list[int]) -> None:
        """Give rows back at once after a failed publish, instead of waiting out the lease."""
        if ids:
            await self._pool.execute(
                """UPDATE outbox SET lease_owner = NULL, lease_until = NULL
                   WHERE id = ANY($2::bigint[]) AND lease_owner = $1 AND published_at IS NULL""",
                owner,
                ids,
            )

    async def prune(self, retention_seconds: float, limit: int = 1000) -> int:
        """Delete up to `limit` rows published longer than `retention_seconds` ago (small
        deletes: pruning must never hold a long transaction on a busy table)."""
        result = await self._pool.execute(
            """DELETE FROM outbox WHERE id IN (
                   SELECT id FROM outbox
                   WHERE published_at < now() - make_interval(secs => $1)
                   LIMIT $2)""",
            float(retention_seconds),
            limit,
        )
        return int(result.split()[-1])

    async def backlog(self) -> tuple[int, float]:
        """Unpublished rows and the age in seconds of the oldest (0 when none)."""
        record = await self._pool.fetchrow(
            """SELECT count(*) AS rows,
                      coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age
               FROM outbox WHERE published_at IS NULL"""
        )
        assert record is not None
        return int(record["rows"]), float(record["age"])
