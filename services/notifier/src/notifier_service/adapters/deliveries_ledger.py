"""The delivery ledger: which events already produced an email (keyed by delivery id: the
CloudEvent id and a digest of the record, domain/records.py).

Effectively once, across redeliveries and notifier instances:
- `claim` takes a PostgreSQL advisory lock on each event id, on a connection of its own held for
  the whole attempt, so two instances never send the same event at the same time (the second
  waits, then finds it sent). A crashed instance's connection closes and frees the locks at once.
- Before the SMTP call the row says 'sending'; after the server accepted, 'sent'. A redelivered
  event whose row still says 'sending' was interrupted between those two writes: the server may
  or may not have accepted it. It is sent again (a lost reset email is worse than a second copy
  carrying the same Message-ID) and counted as `interrupted`, so the remaining window is visible.

A claim covers a whole fetched batch in one round trip (`claim_deliveries`, migration 0003: lock
them all, then read and mark them 'sending') and ends with its connection's release; 'sent' and
'failed' are written for many events per statement. The same rows and locks as one event at a
time, without round trips per event (docs/benchmarks.md).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from notifier_service.service_layer.ports import EventKey, LedgerUnavailable, Origin

SETTLED = ("sent", "dead_lettered")
# Whatever only says "the database is away right now" (TimeoutError: the pool's command_timeout;
# TargetServerAttributeNotMatched: a failover DSN found only standbys, docs/delivery.md).
DATABASE_AWAY = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.TargetServerAttributeNotMatched,
    OSError,
    TimeoutError,
)
LOCK_RETRY_SECONDS = 0.05

# Migration 0003: tries the lock of every event, then, holding them, reads and marks 'sending'
# the rows (two statements in one round trip; the second sees what the last holder left).
CLAIM = "SELECT event_id, locked, previous_status, attempts FROM claim_deliveries($1, $2)"


@contextlib.contextmanager
def _database_away() -> Iterator[None]:
    """The delivery use case sees the port's LedgerUnavailable, never asyncpg's errors."""
    try:
        yield
    except DATABASE_AWAY as exc:
        raise LedgerUnavailable(exc) from exc


@dataclass(frozen=True)
class Claim:
    event_id: str
    previous_status: str | None
    attempts: int

    @property
    def settled(self) -> bool:
        return self.previous_status in SETTLED

    @property
    def interrupted(self) -> bool:
        """An earlier attempt died after claiming and before settling (see module doc)."""
        return self.previous_status == "sending"


def _unique(events: Sequence[EventKey]) -> tuple[list[str], list[str]]:
    """Ids and types, each event once (one statement must not upsert a row twice)."""
    first = dict(reversed(events))
    ids = list(dict.fromkeys(event_id for event_id, _ in events))
    return ids, [first[event_id] for event_id in ids]


class DeliveriesLedger:
    def __init__(self, pool: asyncpg.Pool, *, lock_wait_seconds: float = 15.0) -> None:
        self._pool = pool
        # Longer than one SMTP attempt of the other instance, so a wait usually ends in a
        # 'sent' row rather than in a retry.
        self._lock_wait = lock_wait_seconds

    async def already_sent(self, event_id: str) -> bool:
        """For the dead-letter replay tool (delivery itself reads the row under its claim)."""
        return bool(
            await self._pool.fetchval(
                "SELECT 1 FROM deliveries WHERE event_id = $1 AND status = 'sent'", event_id
            )
        )

    async def record_sent(self, events: Sequence[EventKey]) -> None:
        if not events:
            return
        ids, types = _unique(events)
        with _database_away():
            await self._pool.execute(
                """INSERT INTO deliveries (event_id, event_type, status, sent_at)
                   SELECT event_id, event_type, 'sent', now()
                   FROM unnest($1::text[], $2::text[]) AS s (event_id, event_type)
                   ON CONFLICT (event_id) DO UPDATE
                   SET status = 'sent', sent_at = now(), updated_at = now()""",
                ids,
                types,
            )

    async def refused(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        with _database_away():
            await self._pool.execute(
                """UPDATE deliveries SET status = 'failed', updated_at = now()
                   WHERE event_id = ANY($1::text[]) AND status = 'sending'""",
                list(event_ids),
            )

    @contextlib.asynccontextmanager
    async def claim(
        self, events: Sequence[EventKey], *, wait: bool
    ) -> AsyncIterator[Mapping[str, Claim]]:
        """Hold the events exclusively and mark each 'sending' unless it is settled already.
        Errors of the body (the SMTP sends) pass through untouched; only the ledger's own
        statements become LedgerUnavailable."""
        ids, types = _unique(events)
        with _database_away():
            conn = await self._pool.acquire()
        try:
            with _database_away():
                claims = await self._claim(conn, ids, types, wait)
            yield claims
        finally:
            # Releasing the connection unlocks: the pool resets it first, and asyncpg's reset
            # runs pg_advisory_unlock_all() (a broken connection is closed instead, which frees
            # its locks as well). One round trip, not two.
            await self._pool.release(conn)

    async def _claim(
        self, conn: PoolConnectionProxy, ids: list[str], types: list[str], wait: bool
    ) -> dict[str, Claim]:
        """The claims of the events whose lock this connection now holds (with `wait`, after
        trying again for a while those another instance holds)."""
        claims: dict[str, Claim] = {}
        pending = dict(zip(ids, types, strict=True))
        deadline = asyncio.get_running_loop().time() + (self._lock_wait if wait else 0.0)
        while pending:
            for row in await conn.fetch(CLAIM, list(pending), list(pending.values())):
                if row["locked"]:
                    event_id = row["event_id"]
                    del pending[event_id]
                    claims[event_id] = Claim(event_id, row["previous_status"], row["attempts"])
            if not pending or asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(LOCK_RETRY_SECONDS)
        return claims

    async def record_dead_letter(
        self,
        *,
        event_id: str | None,
        event_type: str | None,
        origin: Origin,
        reason: str,
    ) -> None:
        """Keep the dead letter for operators and settle the event, so a redelivery skips it."""
        with _database_away():
            await self._record_dead_letter(event_id, event_type, origin, reason)

    async def _record_dead_letter(
        self, event_id: str | None, event_type: str | None, origin: Origin, reason: str
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO dead_letters
                   (event_id, event_type, origin_topic, origin_partition, origin_offset, reason)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (origin_topic, origin_partition, origin_offset) DO NOTHING""",
                event_id,
                event_type,
                *origin,
                reason,
            )
            if event_id is not None:
                await conn.execute(
                    """INSERT INTO deliveries (event_id, event_type, status)
                       VALUES ($1, $2, 'dead_lettered')
                       ON CONFLICT (event_id) DO UPDATE
                       SET status = 'dead_lettered', updated_at = now()
                       WHERE deliveries.status <> 'sent'""",
                    event_id,
                    event_type or "unknown",
                )

    async def reopen(self, event_id: str) -> None:
        """An operator replays a dead-lettered event: unsettle it so it can be delivered. An
        event already 'sent' stays sent: a replay never mails it twice."""
        await self._pool.execute(
            """UPDATE deliveries SET status = 'failed', updated_at = now()
               WHERE event_id = $1 AND status = 'dead_lettered'""",
            event_id,
        )

    async def dead_lettered(self, origin: Origin) -> bool:
        """Whether this very record (topic, partition, offset) went to the dead-letter topic."""
        with _database_away():
            return bool(
                await self._pool.fetchval(
                    """SELECT 1 FROM dead_letters
                       WHERE origin_topic = $1 AND origin_partition = $2 AND origin_offset = $3""",
                    *origin,
                )
            )

    async def prune(self, older_than_seconds: float) -> int:
        """Forget settled deliveries older than the topics' retention (they cannot come back)."""
        result = await self._pool.execute(
            """DELETE FROM deliveries WHERE event_id IN (
                   SELECT event_id FROM deliveries
                   WHERE updated_at < now() - make_interval(secs => $1) LIMIT 5000)""",
            float(older_than_seconds),
        )
        return int(result.split()[-1])
