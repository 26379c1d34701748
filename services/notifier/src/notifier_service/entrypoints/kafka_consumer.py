"""Kafka -> the delivery use case: decode each record as a CloudEvent, deliver it, and tell the
shared at-least-once loop (servicekit.messaging.consumer) what to do with its offset.

Delivered, expired, already delivered, dead-lettered: commit. Retry: pause and try the record
again. Undecodable records (bad headers or JSON, invalid schema, unknown type) and records the
use case gives up on go to the dead-letter topic; so does a record whose handling hit a bug, so
that a bug can neither block its partition for good nor lose the record silently.

A fetched batch goes to the use case in one call (`handle_batch`); the loop retries record by
record (`handle`) from each partition's first record that must be tried again. A bug while
handling a batch sends its records through `handle` one by one, so only the record that hits
it is dead-lettered.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence

from pwreset_contracts.cloudevents_kafka import InvalidRecord, ReceivedEvent
from servicekit.messaging.consumer import COMMIT, PauseAndRetry, Record, Step

from notifier_service.domain.outcomes import (
    DeadLetter,
    DeadLetterOutcome,
    DeliveryOutcome,
    Retry,
)
from notifier_service.domain.records import received_event

log = logging.getLogger("notifier.consumer")

Deliver = Callable[[ReceivedEvent], Awaitable[DeliveryOutcome]]
DeliverAll = Callable[[Sequence[ReceivedEvent]], Awaitable[list[DeliveryOutcome]]]
GiveUp = Callable[[Record, str, ReceivedEvent | None], Awaitable[DeadLetterOutcome]]


class EventRecords:
    """The consumer loop's handlers: a batch of records in, one step per record out (`handle`:
    one record, for the retries)."""

    def __init__(
        self, deliver: Deliver, dead_letter: GiveUp, deliver_all: DeliverAll | None = None
    ) -> None:
        self._deliver = deliver
        self._deliver_all = deliver_all
        self._dead_letter = dead_letter
        self.dead_lettered_total = 0

    async def handle_batch(self, records: list[Record]) -> list[Step]:
        if self._deliver_all is None:
            return await self._one_by_one(records)
        try:
            decoded: list[ReceivedEvent | InvalidRecord] = []
            for record in records:
                try:
                    decoded.append(
                        received_event(list(record.headers or []), record.value, record.topic)
                    )
                except InvalidRecord as exc:
                    decoded.append(exc)
            events = [event for event in decoded if isinstance(event, ReceivedEvent)]
            outcomes = iter(await self._deliver_all(events))
            steps = []
            for record, event in zip(records, decoded, strict=True):
                if isinstance(event, InvalidRecord):
                    steps.append(await self._give_up(record, f"invalid record: {event}"))
                else:
                    steps.append(await self._step(record, event, next(outcomes)))
            return steps
        except Exception:
            log.exception("unexpected failure handling a batch; handling its records one by one")
            return await self._one_by_one(records)

    async def _one_by_one(self, records: list[Record]) -> list[Step]:
        """`handle` for each, but nothing after a record of the same partition that must be
        retried (the loop retries from there, in order)."""
        steps: list[Step] = []
        waiting: set[tuple[str, int]] = set()
        for record in records:
            partition = (record.topic, record.partition)
            if partition in waiting:
                steps.append(PauseAndRetry("after an earlier record of its partition"))
                continue
            step = await self.handle(record)
            if isinstance(step, PauseAndRetry):
                waiting.add(partition)
            steps.append(step)
        return steps

    async def handle(self, record: Record) -> Step:
        try:
            try:
                event = received_event(list(record.headers or []), record.value, record.topic)
            except InvalidRecord as exc:
                return await self._give_up(record, f"invalid record: {exc}")
            return await self._step(record, event, await self._deliver(event))
        except Exception as exc:
            where = (record.topic, record.partition, record.offset)
            log.exception("unexpected failure handling a record", extra={"fields": {"at": where}})
            return await self._give_up(record, f"unexpected {type(exc).__name__}: {exc}")

    async def _step(self, record: Record, event: ReceivedEvent, outcome: DeliveryOutcome) -> Step:
        if isinstance(outcome, Retry):
            return PauseAndRetry(outcome.reason)
        if isinstance(outcome, DeadLetter):
            return await self._give_up(record, outcome.reason, event)
        return COMMIT

    async def _give_up(
        self, record: Record, reason: str, event: ReceivedEvent | None = None
    ) -> Step:
        outcome = await self._dead_letter(record, reason, event)
        if isinstance(outcome, Retry):
            return PauseAndRetry(outcome.reason)
        self.dead_lettered_total += 1
        return COMMIT
