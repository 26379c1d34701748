"""Publishes outbox rows to Kafka: effectively once with the consumer's ledger, per-key in order.

Guarantees (docs/delivery.md):
- Nothing is lost: a row is marked published only after Kafka acknowledged it (acks=all).
- Several relays at once are safe: rows are claimed with FOR UPDATE SKIP LOCKED under a lease
  (see store.py). A relay that dies mid-publish blocks nobody for longer than its lease.
- Duplicates in Kafka are possible, and harmless downstream: a relay that dies (or whose lease
  runs out) after Kafka acknowledged but before it marked the rows makes the next relay publish
  them again. Consumers deduplicate on the CloudEvent id (the notifier's delivery ledger).
- Per-key order: one relay sends a batch in id order over one idempotent producer, which keeps
  order per partition; a claim skips rows whose key has an earlier row still held by another
  relay, so relays do not overtake each other. Not kept: when a send fails while later records of
  the same key in that batch succeed, the failed record goes out again after them.

The relay wakes on NOTIFY (a dedicated LISTEN connection) and polls every `poll_interval` as a
fallback, so a lost notification or a dropped listener only delays a record.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from servicekit.messaging.kafka import cluster_reachable, start_idempotent_producer
from servicekit.messaging.outbox import metrics
from servicekit.messaging.outbox.enqueue import OUTBOX_CHANNEL
from servicekit.messaging.outbox.listener import NotifyListener
from servicekit.messaging.outbox.store import OutboxRow, OutboxStore
from servicekit.runtime.backoff import Backoff, sleep_unless_stopped

log = logging.getLogger("servicekit.messaging.outbox.relay")

# Failures that only mean "try again soon": the broker or the database is away (or, with a
# failover DSN, only a standby answers for a moment: TargetServerAttributeNotMatched).
DATABASE_ERRORS = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.TargetServerAttributeNotMatched,
)
TRANSIENT = (KafkaError, OSError, TimeoutError, *DATABASE_ERRORS)
PRUNE_EVERY_SECONDS = 60.0
BACKLOG_EVERY_SECONDS = 5.0


class PublishFailed(Exception):
    """Kafka did not acknowledge some records of a batch; they were released for a retry."""


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        bootstrap_servers: str,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        retention_seconds: float = 86_400,
        lease_seconds: float = 30.0,
        max_backoff_seconds: float = 2.0,
        channel: str = OUTBOX_CHANNEL,
        kafka_options: dict[str, Any] | None = None,
    ) -> None:
        self._store = OutboxStore(pool)
        self._bootstrap = bootstrap_servers
        self._kafka_options = kafka_options or {}
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retention_seconds = retention_seconds
        self._lease_seconds = lease_seconds
        # A publish must end well inside the lease, or another relay could take the rows over
        # while this one still waits for acks.
        self._publish_timeout = lease_seconds / 2
        self._max_backoff = max_backoff_seconds
        self._wake = asyncio.Event()
        self._listener = NotifyListener(dsn, channel, self._wake)
        self._producer: AIOKafkaProducer | None = None
        self.owner = uuid.uuid4()  # this relay's lease identity
        self.published_total = 0
        self.failures_total = 0

    @property
    def kafka_connected(self) -> bool:
        return self._producer is not None

    async def check_kafka(self) -> None:
        """For readiness: raise unless the relay's producer reaches a broker right now."""
        if self._producer is None:
            raise ConnectionError("outbox relay has no Kafka connection")
        await cluster_reachable(self._producer.client)

    async def backlog(self) -> tuple[int, float]:
        return await self._store.backlog()

    async def run(self, stop: asyncio.Event) -> None:
        listener = asyncio.create_task(self._listener.run(stop), name="outbox-listener")
        # Its own task: the backlog matters most while publishing is stuck (Kafka away).
        watcher = asyncio.create_task(self._watch_backlog(stop), name="outbox-backlog")
        backoff = Backoff(initial=0.1, maximum=self._max_backoff)
        next_prune = time.monotonic()
        try:
            while not stop.is_set():
                # Cleared before the claim: a NOTIFY arriving while we publish wakes the next wait.
                self._wake.clear()
                try:
                    producer = await self._ensure_producer()
                    claimed = await self._publish_batch(producer)
                except (*TRANSIENT, PublishFailed) as exc:
                    self.failures_total += 1
                    metrics.PUBLISH_FAILURES.inc()
                    delay = backoff.next_delay()
                    log.warning(
                        "outbox publish failed; retrying",
                        extra={"fields": {"error": repr(exc)[:300], "retry_in_s": round(delay, 2)}},
                    )
                    if not isinstance(exc, DATABASE_ERRORS):
                        await self._drop_producer()  # a fresh one re-reads cluster metadata
                    await sleep_unless_stopped(stop, delay)
                    continue
                backoff.reset()
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                    await self._prune()
                if claimed < self._batch_size:
                    await self._wait_for_work(stop)
        finally:
            for task in (listener, watcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._drop_producer()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = await start_idempotent_producer(self._bootstrap, **self._kafka_options)
            log.info("outbox relay connected to Kafka")
        return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            # Bounded: with the broker away, stop() would wait to flush what cannot be sent.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 2)

    async def _publish_batch(self, producer: AIOKafkaProducer) -> int:
        started = time.perf_counter()
        rows = await self._store.claim(self.owner, self._batch_size, self._lease_seconds)
        if not rows:
            return 0
        acked, failed, error = await self._send(producer, rows)
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        acked_ids = set(acked)
        for row in rows:
            if row.id in acked_ids:
                metrics.EVENTS_PUBLISHED.labels(row.topic).inc()
        # If marking fails (database gone), the lease runs out and the rows go out again: a
        # duplicate in Kafka, which consumers drop by event id; never a loss.
        await self._store.mark_published(self.owner, acked)
        await self._store.release(self.owner, failed)
        self.published_total += len(acked)
        if failed:
            raise PublishFailed(f"{len(failed)} of {len(rows)} records not acknowledged: {error!r}")
        log.info("outbox published", extra={"fields": {"records": len(acked)}})
        return len(rows)

    async def _send(
        self, producer: AIOKafkaProducer, rows: list[OutboxRow]
    ) -> tuple[list[int], list[int], BaseException | None]:
        """Send every row (in id order), wait for the acks; split rows into acked and failed."""
        deadline = asyncio.get_running_loop().time() + self._publish_timeout
        futures: list[asyncio.Future[Any]] = []
        error: BaseException | None = None
        try:
            async with asyncio.timeout_at(deadline):
                for row in rows:
                    future = await producer.send(
                        row.topic, value=row.value, key=row.key, headers=row.headers
                    )
                    # Retrieve late failures, so they are not reported as never retrieved.
                    future.add_done_callback(lambda f: f.cancelled() or f.exception())
                    futures.append(future)
        except (KafkaError, TimeoutError) as exc:
            error = exc
        if futures:
            remaining = max(deadline - asyncio.get_running_loop().time(), 0.0)
            await asyncio.wait(futures, timeout=remaining)
        acked: list[int] = []
        failed: list[int] = []
        for index, row in enumerate(rows):
            future = futures[index] if index < len(futures) else None
            if future is not None and future.done() and not future.cancelled():
                if future.exception() is None:
                    acked.append(row.id)
                    continue
                error = error or future.exception()
            failed.append(row.id)
        if failed and error is None:
            error = TimeoutError(f"no ack within {self._publish_timeout:.0f}s")
        return acked, failed, error

    async def _watch_backlog(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError, *DATABASE_ERRORS):
                rows, age = await self._store.backlog()
                metrics.OUTBOX_BACKLOG.set(rows)
                metrics.OUTBOX_OLDEST_AGE.set(age)
            await sleep_unless_stopped(stop, BACKLOG_EVERY_SECONDS)

    async def _prune(self) -> None:
        try:
            for _ in range(20):  # bounded: at most 20k rows a minute, in small transactions
                if await self._store.prune(self._retention_seconds) < 1000:
                    break
        except (OSError, *DATABASE_ERRORS) as exc:
            log.warning("outbox prune failed", extra={"fields": {"error": type(exc).__name__}})

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.create_task(self._wake.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(
            waiters, timeout=self._poll_interval, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()
