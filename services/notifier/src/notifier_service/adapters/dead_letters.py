"""Copies records the notifier gives up on to `notifier.dead-letter.v1`, then moves on.

The copy keeps the original key, value and headers and adds the `deadletter_*` headers of the
contract (reason, origin topic/partition/offset, time). Kafka first, then the ledger's own row:
a crash in between copies the record again on redelivery (at least once); the row, keyed by the
origin, makes every later redelivery skip the copy.
"""

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord
from pwreset_contracts.dead_letters import DEAD_LETTER_TOPIC, dead_letter_headers
from servicekit.messaging.kafka import start_idempotent_producer

from notifier_service.adapters import delivery_metrics as metrics
from notifier_service.adapters.deliveries_ledger import DeliveriesLedger
from notifier_service.adapters.smtp_sender import scrub

log = logging.getLogger("notifier.dead_letters")


class DeadLetters:
    def __init__(
        self,
        ledger: DeliveriesLedger,
        bootstrap_servers: str,
        *,
        topic: str = DEAD_LETTER_TOPIC,
        kafka_options: dict[str, Any] | None = None,
    ) -> None:
        self._ledger = ledger
        self._bootstrap = bootstrap_servers
        self._kafka_options = kafka_options or {}
        self._topic = topic
        self._producer: AIOKafkaProducer | None = None
        self.total = 0

    async def send(
        self,
        record: ConsumerRecord[bytes, bytes],
        reason: str,
        *,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        """Raises on a Kafka or database failure: the caller retries the record later."""
        # Validation errors and SMTP replies may quote the address: never a full email here.
        reason = scrub(reason)[:500]
        origin = (record.topic, record.partition, record.offset)
        if not await self._ledger.dead_lettered(origin):
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
        await self._ledger.record_dead_letter(
            event_id=event_id, event_type=event_type, origin=origin, reason=reason
        )
        self.total += 1
        metrics.DEAD_LETTERS.inc()
        log.error(
            "record dead-lettered",
            extra={
                "fields": {
                    "reason": reason,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "event_id": event_id,
                }
            },
        )

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            self._producer = await start_idempotent_producer(self._bootstrap, **self._kafka_options)
        return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), 5)
