"""Kafka -> the delivery use case: decode each record as a CloudEvent, deliver it, and tell the
shared at-least-once loop (servicekit.messaging.consumer) what to do with its offset.

Delivered, expired, already delivered, dead-lettered: commit. Retry: pause and try the record
again. Undecodable records (bad headers or JSON, invalid schema, unknown type) and records the
use case gives up on go to the dead-letter topic; so does a record whose handling hit a bug, so
that a bug can neither block its partition for good nor lose the record silently.
"""

import logging
from collections.abc import Awaitable, Callable

from pwreset_contracts.cloudevents_kafka import InvalidRecord, ReceivedEvent, decode
from servicekit.messaging.consumer import COMMIT, PauseAndRetry, Record, Step

from notifier_service.domain.outcomes import (
    DeadLetter,
    DeadLetterOutcome,
    DeliveryOutcome,
    Retry,
)

log = logging.getLogger("notifier.consumer")

Deliver = Callable[[ReceivedEvent], Awaitable[DeliveryOutcome]]
GiveUp = Callable[[Record, str, ReceivedEvent | None], Awaitable[DeadLetterOutcome]]


class EventRecords:
    """The consumer loop's handler: one record in, one step out."""

    def __init__(self, deliver: Deliver, dead_letter: GiveUp) -> None:
        self._deliver = deliver
        self._dead_letter = dead_letter
        self.dead_lettered_total = 0

    async def handle(self, record: Record) -> Step:
        try:
            try:
                event = decode(list(record.headers or []), record.value)
            except InvalidRecord as exc:
                return await self._give_up(record, f"invalid record: {exc}")
            outcome = await self._deliver(event)
            if isinstance(outcome, Retry):
                return PauseAndRetry(outcome.reason)
            if isinstance(outcome, DeadLetter):
                return await self._give_up(record, outcome.reason, event)
            return COMMIT
        except Exception as exc:
            where = (record.topic, record.partition, record.offset)
            log.exception("unexpected failure handling a record", extra={"fields": {"at": where}})
            return await self._give_up(record, f"unexpected {type(exc).__name__}: {exc}")

    async def _give_up(
        self, record: Record, reason: str, event: ReceivedEvent | None = None
    ) -> Step:
        outcome = await self._dead_letter(record, reason, event)
        if isinstance(outcome, Retry):
            return PauseAndRetry(outcome.reason)
        self.dead_lettered_total += 1
        return COMMIT
