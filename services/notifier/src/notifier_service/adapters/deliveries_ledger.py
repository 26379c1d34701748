"""The delivery ledger: which events already produced an email (keyed by CloudEvent id).

Effectively once, across redeliveries and notifier instances:
- `claim` takes a PostgreSQL advisory lock on the event id, on a connection of its own held for
  the whole attempt, so two instances never send the same event at the same time (the second
  waits, then finds it sent). A crashed instance's connection closes and frees the lock at once.
- Before the SMTP call the row says 'sending'; after the server accepted, 'sent'. A redelivered
  event whose row still says 'sending' was interrupted between those two writes: the server may
  or may not have accepted it. It is sent again (a lost reset email is worse than a second copy
  carrying the same Message-ID) and counted as `interrupted`, so the remaining window is visible.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from notifier_service.service_layer.ports import DeliveryBusy, LedgerUnavailable, Origin

SETTLED = ("sent", "dead_lettered")
# Whatever only says "the database is away right now" (TimeoutError: the pool's command_timeout).
DATABASE_AWAY = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


@contextlib.contextmanager
def _database_away() -> Iterator[None]:
    """The delivery use case sees the port's LedgerUnavailable, never asyncpg's errors."""
    try:
        yield
    except DATABASE_AWAY as exc:
        raise LedgerUnavailable(exc) from exc


@dataclass
class Claim:
    event_id: str
    previous_status: str | None
    attempts: int
    _conn: PoolConnectionProxy

    @property
    def settled(self) -> bool:
        return self.previous_status in SETTLED

    @property
    def interrupted(self) -> bool:
        """An earlier attempt died after claiming and before settling (see module doc)."""
        return self.previous_status == "sending"

    async def refused(self) -> None:
        """The server said no (4xx) or could not be reached: nothing was accepted."""
        with _database_away():
            await self._conn.execute(
                """UPDATE deliveries SET status = 'failed', updated_at = now()
                   WHERE event_id = $1 AND status = 'sending'""",
                self.event_id,
            )


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

    async def record_sent(self, event_id: str, event_type: str) -> None:
        with _database_away():
            await self._pool.execute(
                """INSERT INTO deliveries (event_id, event_type, status, sent_at)
                   VALUES ($1, $2, 'sent', now())
                   ON CONFLICT (event_id) DO UPDATE
                   SET status = 'sent', sent_at = now(), updated_at = now()""",
                event_id,
                event_type,
            )

    @contextlib.asynccontextmanager
    async def claim(self, event_id: str, event_type: str) -> AsyncIterator[Claim]:
        """Hold the event exclusively and mark it 'sending' unless it is settled already.
        Errors of the body (the SMTP send) pass through untouched; only the ledger's own
        statements become LedgerUnavailable."""
        with _database_away():
            conn = await self._pool.acquire()
        try:
            with _database_away():
                await self._lock(conn, event_id)
            try:
                with _database_away():
                    previous = await conn.fetchrow(
                        "SELECT status, attempts FROM deliveries WHERE event_id = $1", event_id
                    )
                    status = previous["status"] if previous else None
                    attempts = previous["attempts"] if previous else 0
                    if status not in SETTLED:
                        attempts = await conn.fetchval(
                            """INSERT INTO deliveries (event_id, event_type, status, attempts)
                               VALUES ($1, $2, 'sending', 1)
                               ON CONFLICT (event_id) DO UPDATE
                               SET status = 'sending', attempts = deliveries.attempts + 1,
                                   updated_at = now()
                               RETURNING attempts""",
                            event_id,
                            event_type,
                        )
                yield Claim(event_id, status, attempts, conn)
            finally:
                # A broken connection has lost the lock already; the pool replaces it.
                with contextlib.suppress(*DATABASE_AWAY):
                    await conn.execute(
                        "SELECT pg_advisory_unlock(hashtextextended($1, 0))", event_id
                    )
        finally:
            await self._pool.release(conn)

    async def _lock(self, conn: PoolConnectionProxy, event_id: str) -> None:
        deadline = asyncio.get_running_loop().time() + self._lock_wait
        while not await conn.fetchval(
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", event_id
        ):
            if asyncio.get_running_loop().time() >= deadline:
                raise DeliveryBusy(f"event {event_id} is being delivered by another instance")
            await asyncio.sleep(0.05)

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
