"""Kafka consumption with manual commits after the work is durable (at-least-once).

A record's offset is committed only once its email is sent and recorded in the ledger; a
transient failure leaves the offset where it is and seeks back, so the record is tried again.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from pwreset_contracts.cloudevents_kafka import InvalidRecord, ReceivedEvent, decode

log = logging.getLogger("notifier.consumer")

Handler = Callable[[ReceivedEvent], Awaitable[object]]


class EventConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        group_id: str,
        topics: list[str],
        handler: Handler,
        *,
        transient: tuple[type[Exception], ...],
        permanent: tuple[type[Exception], ...],
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._group_id = group_id
        self._topics = topics
        self._handler = handler
        self._transient = transient
        self._permanent = permanent
        self.connected = False

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=300_000,
            session_timeout_ms=15_000,
            heartbeat_interval_ms=3_000,
        )

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            consumer = self._new_consumer()
            try:
                await consumer.start()
                self.connected = True
                backoff = 0.2
                await self._consume(consumer, stop)
            except KafkaError as exc:
                log.warning(
                    "kafka consumer failed; restarting",
                    extra={"fields": {"error": type(exc).__name__}},
                )
                await _sleep(stop, backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        retry_delay = 0.2
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=100)
            for tp, records in batches.items():
                done = None
                for record in records:
                    try:
                        await self._process(record.headers, record.value, tp, record.offset)
                    except self._transient as exc:
                        log.warning(
                            "transient failure; will retry",
                            extra={
                                "fields": {
                                    "error": str(exc),
                                    "partition": tp.partition,
                                    "offset": record.offset,
                                }
                            },
                        )
                        consumer.seek(tp, record.offset)
                        await _sleep(stop, retry_delay)
                        retry_delay = min(retry_delay * 2, 10.0)
                        break
                    done = record.offset
                    retry_delay = 0.2
                if done is not None:
                    await consumer.commit({tp: done + 1})

    async def _process(
        self, headers: object, value: bytes | None, tp: TopicPartition, offset: int
    ) -> None:
        where = {"topic": tp.topic, "partition": tp.partition, "offset": offset}
        try:
            event = decode(list(headers or []), value)  # type: ignore[call-overload]
        except InvalidRecord as exc:
            log.error("invalid record skipped", extra={"fields": {**where, "reason": str(exc)}})
            return
        try:
            await self._handler(event)
        except self._permanent as exc:
            log.error(
                "undeliverable event skipped",
                extra={"fields": {**where, "event_id": event.id, "reason": str(exc)}},
            )


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
