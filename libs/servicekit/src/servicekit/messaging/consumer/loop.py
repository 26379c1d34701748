"""Kafka consumption, at least once: a record's offset is committed only after its handler is
done with it (the work is durable, or the record was dead-lettered).

- The handler decides per record (`step.py`): commit, or pause and retry. Anything handled but
  not committed comes back after a crash; the handler must make that a no-op.
- Commits (`commit_tracking.py`): after each fetched batch, when partitions are revoked (the
  rebalance listener waits for the records in flight first) and on shutdown. The commit after
  a batch runs beside the next one (one commit at a time; what is done meanwhile goes with the
  next), so a record does not wait for the broker to answer the commit of the one before it;
  the revocation and the shutdown wait for it, then commit what is left.
- Retries (`pause_retry.py`): exponential backoff, every assigned partition paused meanwhile,
  polling all along so the group keeps the member; the first success resumes.
- Shutdown (`stop` set): no new record is started, those in flight finish, offsets are
  committed, the consumer leaves the group. A Kafka failure restarts the consumer with backoff.
- Concurrency: the partitions of a fetched batch are handled side by side (at most
  `concurrency` at a time), each partition's records one after the other, so per-key order
  holds (a key always lands on the same partition).
- Batches: with a `batch_handler`, a fetch goes to it whole (each partition's records in
  order; it keeps per-key order itself) and gets one step per record back. Each partition is
  done up to its first record to retry; from there on its records go through `handler` one
  by one, with the pause and retry above. A service whose work is cheaper in bulk (one
  database statement for the batch) saves its per-record round trips this way.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Gauge

from servicekit.messaging.consumer.commit_tracking import (
    CommitOnRevoke,
    CommitTracker,
    RevocationFence,
    commit_done,
)
from servicekit.messaging.consumer.pause_retry import PauseRetry
from servicekit.messaging.consumer.step import BatchHandler, Commit, Handler, Record
from servicekit.messaging.kafka import cluster_reachable
from servicekit.runtime.backoff import Backoff, sleep_unless_stopped

CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    # Pauses keep polling, so only a single record taking this long could reach it.
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


@dataclass(frozen=True)
class ConsumerGauges:
    """The service's own gauges: 1 while paused; records behind, by topic and partition."""

    paused: Gauge | None = None
    lag: Gauge | None = None


class AtLeastOnceConsumer:
    def __init__(
        self,
        *,
        bootstrap_servers: str,
        group_id: str,
        topics: list[str],
        handler: Handler,
        batch_handler: BatchHandler | None = None,
        max_retry_backoff_seconds: float = 5.0,
        concurrency: int = 1,
        kafka_options: dict[str, Any] | None = None,
        gauges: ConsumerGauges | None = None,
        log: logging.Logger | None = None,
        name: str = "consumption",
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._group_id = group_id
        self._topics = topics
        self._handler = handler
        self._batch_handler = batch_handler
        self._max_backoff = max_retry_backoff_seconds
        self._concurrency = max(1, concurrency)
        self._kafka_options = kafka_options or {}
        self._gauges = gauges or ConsumerGauges()
        self._log = log or logging.getLogger("servicekit.messaging.consumer")
        self._consumer: AIOKafkaConsumer | None = None
        self._offsets = CommitTracker()
        self._fence = RevocationFence()
        self._pauses = PauseRetry(self._log, name, self._gauges.paused)
        self._committing: asyncio.Task[None] | None = None
        self.processed_total = 0
        self.retries_total = 0
        self.revocations_total = 0

    @property
    def paused_since(self) -> float | None:
        return self._pauses.state.since

    # -- health --------------------------------------------------------------------------
    async def check_kafka(self) -> None:
        if self._consumer is None:
            raise ConnectionError("consumer not started")
        await cluster_reachable(self._consumer._client)

    async def check_not_paused(self) -> None:
        """Raise while paused for a retry (a service reports it as degraded, not unready)."""
        problem = self._pauses.state.problem(time.monotonic())
        if problem is not None:
            raise ConnectionError(problem)

    # -- main loop -----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(initial=0.2, maximum=5.0)
        while not stop.is_set():
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                group_id=self._group_id,
                **{**CONSUMER_DEFAULTS, **self._kafka_options},
            )
            consumer.subscribe(self._topics, listener=CommitOnRevoke(self._on_revoked))
            self._pauses.forget()
            try:
                await consumer.start()
                self._consumer = consumer
                backoff.reset()
                await self._consume(consumer, stop)
            except KafkaError as exc:
                delay = backoff.next_delay()
                self._log.warning(
                    "kafka consumer failed; restarting",
                    extra={"fields": {"error": repr(exc)[:300], "retry_in_s": round(delay, 2)}},
                )
                await sleep_unless_stopped(stop, delay)
            finally:
                await self._commit_finished()
                await commit_done(consumer, self._offsets, self._log)
                self._consumer = None
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(consumer.stop(), 10)
        self._log.info("consumer stopped: offsets committed, group left")

    async def _consume(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            generation = self._fence.generation
            if self._batch_handler is not None and batches:
                batches = await self._handle_batch(batches, stop, generation)
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
            if self._pauses.state.paused or consumer.paused():
                # The record we paused for was given up (revoked, or shutting down): resume, so
                # the next fetch starts from what is still ours; a failure pauses again.
                self._pauses.resume(consumer)
            self._commit_in_background(consumer)
            self._measure_lag(consumer)

    async def _handle_batch(
        self,
        batches: dict[TopicPartition, list[Record]],
        stop: asyncio.Event,
        generation: int,
    ) -> dict[TopicPartition, list[Record]]:
        """The whole fetch through the batch handler; what is left for `handler`: each
        partition's records from the first one the batch handler did not finish."""
        assert self._batch_handler is not None
        partitions = sorted(batches)  # the order in which a revocation takes the fences too
        left: dict[TopicPartition, list[Record]] = {}
        async with contextlib.AsyncExitStack() as held:
            for tp in partitions:
                await held.enter_async_context(self._fence.handling(tp))
            if stop.is_set() or not self._fence.still_ours(generation):
                return {}  # not handled: they come back to whoever owns them next
            records = [record for tp in partitions for record in batches[tp]]
            steps = await self._batch_handler(records)
            if len(steps) != len(records):
                raise RuntimeError("the batch handler must return one step per record")
            position = 0
            for tp in partitions:
                mine = batches[tp]
                for n, step in enumerate(steps[position : position + len(mine)]):
                    if not isinstance(step, Commit):
                        left[tp] = mine[n:]
                        break
                    self._offsets.done(tp, mine[n].offset)
                    self.processed_total += 1
                position += len(mine)
        return left

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
                    if stop.is_set() or halt.is_set() or not self._fence.still_ours(generation):
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
            async with self._fence.handling(tp):
                if not self._fence.still_ours(generation):
                    return  # revoked meanwhile: the partition's next owner handles it
                step = await self._handler(record)
                if isinstance(step, Commit):
                    self._offsets.done(tp, record.offset)
                    self.processed_total += 1
                    if self._pauses.state.paused:
                        self._pauses.resume(consumer)
                    return
            self.retries_total += 1
            self._pauses.pause(consumer, step.reason, tp, record.offset)
            await self._pauses.wait(consumer, backoff.next_delay(), stop)

    def _commit_in_background(self, consumer: AIOKafkaConsumer) -> None:
        if not self._offsets.pending(consumer.assignment()):
            return
        if self._committing is None or self._committing.done():
            self._committing = asyncio.create_task(
                commit_done(consumer, self._offsets, self._log), name="offset-commit"
            )

    async def _commit_finished(self) -> None:
        """Wait for the commit running beside the batches (its failures are logged in it)."""
        if self._committing is not None:
            await asyncio.shield(self._committing)

    def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        if self._gauges.lag is None:
            return
        for tp in consumer.assignment():
            lag = self._offsets.lag(tp, consumer.highwater(tp))
            if lag is not None:
                self._gauges.lag.labels(tp.topic, str(tp.partition)).set(lag)

    # -- rebalance -----------------------------------------------------------------------
    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        if not revoked:
            return  # the first join of a consumer revokes nothing
        consumer = self._consumer
        self.revocations_total += 1
        async with self._fence.revoking():
            # Every record in flight finished: commit them too, before the next owner starts.
            if consumer is not None:
                await self._commit_finished()
                await commit_done(consumer, self._offsets, self._log, only=revoked)
            self._offsets.forget(revoked)
