"""Publishes outbox rows to Kafka.

Rows are claimed with FOR UPDATE SKIP LOCKED, so several replicas never publish the same row at
the same time; the relay wakes on NOTIFY and polls as a fallback (a lost notification or a dropped
listener only delays, never loses). Rows are marked published only after Kafka acknowledged them
(acks=all, idempotent producer); a crash in between re-publishes, and the notifier's ledger turns
that into a no-op.
"""

import asyncio
import contextlib
import json
import logging
import time

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from reset_service.adapters.requests_repository import OUTBOX_CHANNEL

log = logging.getLogger("reset.outbox_relay")


def new_producer(bootstrap_servers: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=0,
        request_timeout_ms=15_000,
    )


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        bootstrap_servers: str,
        *,
        batch_size: int,
        poll_interval: float,
        retention_seconds: int,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._bootstrap = bootstrap_servers
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retention_seconds = retention_seconds
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.kafka_connected = False

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listen(stop))
        backoff = 0.1
        last_prune = 0.0
        try:
            while not stop.is_set():
                try:
                    await self._ensure_producer()
                    published = await self._publish_batch()
                    backoff = 0.1
                except (KafkaError, OSError, asyncpg.PostgresError) as exc:
                    log.warning(
                        "outbox publish failed; retrying",
                        extra={"fields": {"error": type(exc).__name__, "retry_in_s": backoff}},
                    )
                    await self._drop_producer()
                    await self._sleep(stop, backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if time.monotonic() - last_prune > 60:
                    last_prune = time.monotonic()
                    await self._prune()
                if published < self._batch_size:
                    await self._wait_for_work(stop)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            await self._drop_producer()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(self._bootstrap)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
            self.kafka_connected = True
        return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        self.kafka_connected = False
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _publish_batch(self) -> int:
        producer = await self._ensure_producer()
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT id, topic, key, value, headers FROM outbox
                   WHERE published_at IS NULL ORDER BY id
                   LIMIT $1 FOR UPDATE SKIP LOCKED""",
                self._batch_size,
            )
            if not rows:
                return 0
            acks = [
                await producer.send(
                    row["topic"],
                    value=row["value"],
                    key=row["key"],
                    headers=[(name, value.encode()) for name, value in json.loads(row["headers"])],
                )
                for row in rows
            ]
            await asyncio.gather(*acks)
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                [row["id"] for row in rows],
            )
        log.info("outbox published", extra={"fields": {"records": len(rows)}})
        return len(rows)

    async def _prune(self) -> None:
        with contextlib.suppress(asyncpg.PostgresError, OSError):
            await self._pool.execute(
                """DELETE FROM outbox WHERE published_at IS NOT NULL
                   AND published_at < now() - make_interval(secs => $1)""",
                float(self._retention_seconds),
            )

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(
            waiters, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    async def _listen(self, stop: asyncio.Event) -> None:
        """LISTEN on a dedicated connection; reconnect when it drops."""
        while not stop.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn)
                await conn.add_listener(OUTBOX_CHANNEL, lambda *_: self._wake.set())
                self._wake.set()  # catch up on anything written while we were not listening
                while not stop.is_set() and not conn.is_closed():
                    await self._sleep(stop, 5.0)
            except (OSError, asyncpg.PostgresError):
                await self._sleep(stop, 1.0)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close()
