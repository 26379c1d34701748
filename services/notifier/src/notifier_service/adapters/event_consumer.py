"""Kafka consumption, at least once, with manual commits after the work is durable.

- A record's offset is committed only after its email is sent and recorded in the ledger (or
  after it went to the dead-letter topic). Commits happen after each fetched batch, when
  partitions are revoked (the rebalance listener waits for the record in flight first) and on
  shutdown. Anything processed but not committed comes back after a crash, and the ledger makes
  that a no-op.
- Transient failures (SMTP 4xx/refused/timeout, database or Kafka away): the record is retried
  with exponential backoff and every assigned partition is paused meanwhile. `getmany` keeps being
  called while paused, so the group sees a live member: no rebalance, however long the outage.
- Permanent failures (SMTP 5xx, an event that can never become an email) and poison records
  (undecodable, invalid schema, unknown type) go to the dead-letter topic; the partition moves on.
- Shutdown (`stop` set, e.g. SIGTERM through uvicorn's lifespan): no new record is started, those
  in flight finish, offsets are committed, the consumer leaves the group.
- Concurrency: the partitions of a fetched batch are handled side by side (at most `concurrency`
  at a time), each partition's records one after the other, so per-key order holds (a key always
  lands on the same partition). One email at a time waits on round trips most of its time (ledger,
  SMTP), so a second one in flight nearly doubles throughput (docs/benchmarks.md).
"""

import asyncio
import contextlib
import enum
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord
from pwreset_contracts.cloudevents_kafka import InvalidRecord, ReceivedEvent, decode
from servicekit.messaging.kafka import cluster_reachable
from servicekit.runtime.backoff import Backoff, sleep_unless_stopped

from notifier_service.adapters import delivery_metrics as metrics
from notifier_service.adapters.dead_letters import DeadLetters

log = logging.getLogger("notifier.consumer")

Handler = Callable[[ReceivedEvent], Awaitable[object]]
Record = ConsumerRecord[bytes, bytes]
# Whatever only says "a dependency is away right now".
DEPENDENCY_DOWN = (OSError, TimeoutError, KafkaError, asyncpg.PostgresError, asyncpg.InterfaceError)
CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    # One record takes at most 3 SMTP timeouts; pauses keep polling, so this is never reached.
    "max_poll_interval_ms": 300_000,
    "session_timeout_ms": 10_000,
    "heartbeat_interval_ms": 2_000,
    "max_poll_records": 100,
    # How long the broker may hold a fetch that found nothing new. aiokafka keeps one fetch in
    # flight per broker and leaves out partitions whose records are still buffered, so a record
    # arriving on such a partition waits for that fetch to return: up to this long (the default,
    # 500 ms, was the whole of a 500 ms request-to-email latency at 100 requests/s; bench).
    # The price: an idle consumer's empty fetches cost the broker about 8% of a core more.
    "fetch_max_wait_ms": 20,
}


class _Step(enum.Enum):
    DONE = "done"
    RETRY = "retry"


class EventConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        topics: list[str],
        handler: Handler,
        dead_letters: DeadLetters,
        *,
        transient: tuple[type[Exception], ...],
        permanent: tuple[type[Exception], ...],
        max_retry_backoff_seconds: float = 5.0,
        kafka_options: dict[str, Any] | None = None,
        concurrency: int = 1,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._group_id = group_id
        self._topics = topics
        self._handler = handler
        self._dead_letters = dead_letters
        self._transient = (*transient, *DEPENDENCY_DOWN)
        self._permanent = permanent
        self._max_backoff = max_retry_backoff_seconds
        self._kafka_options = kafka_options or {}
        self._concurrency = max(1, concurrency)
        self._consumer: AIOKafkaConsumer | None = None
        # Next offset to commit per partition: records up to it are durable.
        self._done: dict[TopicPartition, int] = {}
        self._position: dict[TopicPartition, int] = {}  # next offset, kept after commits (lag)
        # Bumped on every revocation: records fetched before it are no longer ours to handle.
        self._generation = 0
        # Held while a record of the partition is handled; the rebalance listener takes them all
        # to wait for the records in flight.
        self._in_flight: defaultdict[TopicPartition, asyncio.Lock] = defaultdict(asyncio.Lock)
        # While paused, one task polls Kafka for all (getmany is not to be awaited twice at once).
        self._polling = asyncio.Lock()
        self.paused_since: float | None = None
        self.pause_reason: str | None = None
        self.processed_total = 0
        self.retries_total = 0
        self.revocations_total = 0

    # -- health --------------------------------------------------------------------------
    async def check_kafka(self) -> None:
        if self._consumer is None:
            raise ConnectionError("consumer not started")
        await cluster_reachable(self._consumer._client)

    async def check_delivering(self) -> None:
        """Raise while deliveries are paused (reported as degraded, not as unready)."""
        if self.paused_since is not None:
            paused_for = time.monotonic() - self.paused_since
            raise ConnectionError(f"paused for {paused_for:.0f}s: {self.pause_reason}")

    # -- main loop -----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(initial=0.2, maximum=5.0)
        while not stop.is_set():
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=self._group_id,
                **{**CONSUMER_DEFAULTS, **self._kafka_options},
            )
            consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
            self.paused_since = self.pause_reason = None  # a new consumer starts unpaused
            try:
                await consumer.start()
                self._consumer = consumer
                backoff.reset()
                await self._consume(consumer, stop)
            except KafkaError as exc:
                delay = backoff.next_delay()
                log.warning(
                    "kafka consumer failed; restarting",
                    extra={"fields": {"error": repr(exc)[:300], "retry_in_s": round(delay, 2)}},
                )
                await sleep_unless_stopped(stop, delay)
            finally:
                await self._commit(consumer)
                self._consumer = None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), 10)
        log.info("consumer stopped: offsets committed, group left")

    async def _consume(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            generation = self._generation
            slots = asyncio.Semaphore(self._concurrency)
            halt = asyncio.Event()  # a partition's task failed: the others stop after their record
            outcomes = await asyncio.gather(
                *(
                    self._handle_partition(consumer, tp, records, stop, generation, slots, halt)
                    for tp, records in batches.items()
                ),
                return_exceptions=True,
            )
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            if failures:
                raise failures[0]
            if self.paused_since is not None or consumer.paused():
                # The record we paused for was given up (revoked, or shutting down): resume, so
                # the next fetch starts from what is still ours; a failure pauses again.
                self._resume(consumer)
            await self._commit(consumer)
            self._measure_lag(consumer)

    async def _handle_partition(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        records: list[Record],
        stop: asyncio.Event,
        generation: int,
        slots: asyncio.Semaphore,
        halt: asyncio.Event,
    ) -> None:
        async with slots:
            try:
                for record in records:
                    if stop.is_set() or halt.is_set() or generation != self._generation:
                        return
                    await self._handle_with_retry(consumer, tp, record, stop, generation)
            except BaseException:
                halt.set()
                raise

    async def _handle_with_retry(
        self,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        record: Record,
        stop: asyncio.Event,
        generation: int,
    ) -> None:
        backoff = Backoff(initial=0.2, maximum=self._max_backoff)
        while not stop.is_set():
            async with self._in_flight[tp]:
                if generation != self._generation:
                    return  # revoked meanwhile: the partition's next owner handles it
                step, reason = await self._handle(record)
                if step is _Step.DONE:
                    self._done[tp] = self._position[tp] = record.offset + 1
                    self.processed_total += 1
                    if self.paused_since is not None:
                        self._resume(consumer)
                    return
            self.retries_total += 1
            if self.paused_since is None:
                self._pause(consumer, reason, tp, record.offset)
            await self._poll_while_paused(consumer, backoff.next_delay(), stop)

    async def _handle(self, record: Record) -> tuple[_Step, str]:
        where = (record.topic, record.partition, record.offset)
        try:
            try:
                event = decode(list(record.headers or []), record.value)
            except InvalidRecord as exc:
                await self._dead_letters.send(record, f"invalid record: {exc}")
                return _Step.DONE, ""
            try:
                await self._handler(event)
            except self._permanent as exc:
                await self._dead_letters.send(
                    record,
                    f"{type(exc).__name__}: {exc}",
                    event_id=event.id,
                    event_type=event.type,
                )
            return _Step.DONE, ""
        except self._transient as exc:
            return _Step.RETRY, f"{type(exc).__name__}: {str(exc)[:200]}"
        except Exception as exc:
            # A bug must not stop the partition for good, nor lose the record silently.
            log.exception("unexpected failure handling a record", extra={"fields": {"at": where}})
            try:
                await self._dead_letters.send(record, f"unexpected {type(exc).__name__}: {exc}")
            except self._transient as dlq_exc:
                return _Step.RETRY, f"{type(dlq_exc).__name__}: {str(dlq_exc)[:200]}"
            return _Step.DONE, ""

    # -- pausing -------------------------------------------------------------------------
    def _pause(self, consumer: AIOKafkaConsumer, reason: str, tp: TopicPartition, offset: int):
        self.paused_since = time.monotonic()
        self.pause_reason = reason
        metrics.PAUSED.set(1)
        consumer.pause(*consumer.assignment())
        log.warning(
            "deliveries paused; retrying with backoff",
            extra={"fields": {"reason": reason, "partition": tp.partition, "offset": offset}},
        )

    def _resume(self, consumer: AIOKafkaConsumer) -> None:
        paused_for = time.monotonic() - (self.paused_since or time.monotonic())
        self.paused_since = None
        self.pause_reason = None
        metrics.PAUSED.set(0)
        consumer.resume(*consumer.assignment())
        log.info("deliveries resumed", extra={"fields": {"paused_s": round(paused_for, 1)}})

    async def _poll_while_paused(
        self, consumer: AIOKafkaConsumer, seconds: float, stop: asyncio.Event
    ) -> None:
        """Wait, calling getmany all along so the group keeps us (max_poll_interval)."""
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._polling.locked() or self.paused_since is None:
                # Another partition's task polls for us all, or one of them succeeded and
                # resumed: pausing again now would leave the partitions paused for good.
                await sleep_unless_stopped(stop, min(remaining, 0.2))
                continue
            async with self._polling:
                consumer.pause(*consumer.assignment())  # partitions assigned since are paused too
                started = time.monotonic()
                fetched = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
                for tp, records in fetched.items():
                    # Fetched by a race with a new assignment: read them again after the resume.
                    if records:
                        consumer.seek(tp, records[0].offset)
            if time.monotonic() - started < 0.05:
                await sleep_unless_stopped(stop, min(remaining, 0.2))

    def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            end, position = consumer.highwater(tp), self._position.get(tp)
            if end is not None and position is not None:
                metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(end - position, 0))

    # -- commits -------------------------------------------------------------------------
    async def _commit(
        self, consumer: AIOKafkaConsumer, only: set[TopicPartition] | None = None
    ) -> None:
        assigned = consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in self._done.items()
            if tp in assigned and (only is None or tp in only)
        }
        if not offsets:
            return
        try:
            # Bounded: with the broker away a commit would wait for a coordinator forever.
            await asyncio.wait_for(consumer.commit(offsets), 10)
        except (KafkaError, OSError, TimeoutError) as exc:
            # Not fatal: those records come back and the ledger skips them.
            log.warning("offset commit failed", extra={"fields": {"error": repr(exc)[:300]}})
            return
        for tp, offset in offsets.items():
            if self._done.get(tp) == offset:
                del self._done[tp]

    async def on_revoked(self, revoked: set[TopicPartition]) -> None:
        if not revoked:
            return  # the first join of a consumer revokes nothing
        consumer = self._consumer
        self.revocations_total += 1
        async with contextlib.AsyncExitStack() as held:
            # Let every record in flight finish, then commit them too.
            for tp in sorted(self._in_flight):
                await held.enter_async_context(self._in_flight[tp])
            self._generation += 1
            if consumer is not None:
                await self._commit(consumer, only=set(revoked))
            for tp in revoked:
                self._done.pop(tp, None)


class _CommitOnRevoke(ConsumerRebalanceListener):
    def __init__(self, owner: EventConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._owner.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Nothing to do: positions start from the committed offsets."""
