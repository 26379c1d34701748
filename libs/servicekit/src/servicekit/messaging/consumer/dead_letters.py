"""Copies a consumed record a service gives up on to a dead-letter topic.

The copy keeps the original key, value and headers and adds the `deadletter_*` headers of the
contract (reason, origin topic/partition/offset, time), so whoever reads the dead-letter topic
sees the record exactly as it came, and where from.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from pwreset_contracts.dead_letters import dead_letter_headers

from servicekit.messaging.kafka import start_idempotent_producer


class ConsumedRecord(Protocol):
    """What a dead-letter copy needs of a record (aiokafka's `ConsumerRecord` has it)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


class DeadLetterProducer:
    """One idempotent producer, started on the first copy (most processes never need one)."""

    def __init__(
        self, bootstrap_servers: str, topic: str, *, kafka_options: dict[str, Any] | None = None
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._kafka_options = kafka_options or {}
        self._producer: AIOKafkaProducer | None = None

    async def copy(self, record: ConsumedRecord, reason: str) -> None:
        """Raises on a Kafka failure (the caller retries the record later). `reason` is for
        people: it must hold no secret and no full email address."""
        producer = await self._ensure_producer()
        headers = dead_letter_headers(
            list(record.headers or []),
            reason=reason,
            origin_topic=record.topic,
            origin_partition=record.partition,
            origin_offset=record.offset,
        )
        try:
            await producer.send_and_wait(
                self._topic, value=record.value, key=record.key, headers=headers
            )
        except BaseException:
            await self.close()  # a fresh producer next time re-reads cluster metadata
            raise

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = await start_idempotent_producer(self._bootstrap, **self._kafka_options)
        return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5)
