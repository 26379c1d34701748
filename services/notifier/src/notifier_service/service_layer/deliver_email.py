"""The notifier's use case: one event, one email, once; or its record dead-lettered.

`deliver_all` owns claim -> compose -> send -> record for a fetched batch of events (`deliver`
is the batch of one the retry path uses), and `dead_letter` owns the dead-letter copy and its
ledger row. They are the only place that turns SMTP, ledger and dead-letter-topic errors into
an outcome: `Retry` (a dependency is away or busy), `DeadLetter` (it can never become an
email), or done. Exactly once, as far as SMTP allows (docs/delivery.md):
- the ledger claim holds each event exclusively for the whole attempt, so two instances never
  send it at the same time; a settled event is skipped;
- an attempt that died between the SMTP accept and the ledger write left the row 'sending': the
  email is sent again, counted and logged as interrupted (the one window left open);
- a ledger write that failed after the server accepted is only written on the retry: the sender
  remembers what it handed over;
- a refused send (nothing accepted) marks the claim 'failed', so a redelivery is a fresh try.

A batch is claimed in one go; how its emails go out (side by side, in order per key, each
recorded as soon as it was accepted, nothing new after a "try later") is batch_sends.py.
"""

import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from pwreset_contracts.cloudevents_kafka import ReceivedEvent
from servicekit.messaging.consumer import ConsumedRecord
from servicekit.runtime import tracing
from servicekit.runtime.logging import mask_email

from notifier_service import metrics
from notifier_service.domain.addresses import scrub
from notifier_service.domain.composition import EmailComposer, UnboundSeal, UndeliverableEvent
from notifier_service.domain.mime import OutgoingEmail
from notifier_service.domain.outcomes import (
    AlreadyDelivered,
    DeadLetter,
    DeadLettered,
    DeadLetterOutcome,
    Delivered,
    DeliveryOutcome,
    Expired,
    Retry,
)
from notifier_service.service_layer.batch_sends import Attempt, SentRecords, send_all
from notifier_service.service_layer.ports import (
    Claim,
    Clock,
    DeadLetterTopic,
    DeliveryLedger,
    DependencyUnavailable,
    EmailSender,
    LedgerUnavailable,
    PermanentSmtpError,
    TransientSmtpError,
)

# The logger names of before, so log queries keep finding these lines.
delivery_log = logging.getLogger("notifier.delivery")
mail_log = logging.getLogger("notifier.notifications")
dead_letter_log = logging.getLogger("notifier.dead_letters")

# Try again later: nothing was settled, the record comes back after the backoff.
RETRY = (TransientSmtpError, DependencyUnavailable)
# Never an email: the record goes to the dead-letter topic.
GIVE_UP = (PermanentSmtpError, UndeliverableEvent)
REASON_MAX_LENGTH = 500


def utc_now() -> datetime:
    return datetime.now(UTC)


def retry_reason(exc: Exception) -> str:
    """What the pause log line and the readiness check show: the driver's error when there is
    one (ConnectionRefusedError, ...), not the port's wrapper."""
    shown: BaseException = exc.cause if isinstance(exc, DependencyUnavailable) else exc
    return f"{type(shown).__name__}: {str(shown)[:200]}"


class EmailDelivery:
    def __init__(
        self,
        ledger: DeliveryLedger,
        sender: EmailSender,
        dead_letters: DeadLetterTopic,
        composer: EmailComposer,
        *,
        sends_at_once: int = 4,
        clock: Clock = utc_now,
    ) -> None:
        self._ledger = ledger
        self._sends_at_once = max(1, sends_at_once)
        self._sender = sender
        self._dead_letters = dead_letters
        self._composer = composer
        self._clock = clock

    # -- deliver ---------------------------------------------------------------------------
    async def deliver(self, event: ReceivedEvent) -> DeliveryOutcome:
        """One event; if another instance holds it, wait for it a while (the retry path)."""
        (outcome,) = await self.deliver_all([event], wait=True)
        return outcome

    async def deliver_all(
        self, events: Sequence[ReceivedEvent], *, wait: bool = False
    ) -> list[DeliveryOutcome]:
        """Each event's outcome, in order. An event another instance holds is a Retry at once
        (unless `wait`), so it does not hold up the batch. Unexpected errors (bugs) propagate
        once the rest of the batch is settled: the caller then handles its records one by
        one, and dead-letters the one that fails."""
        first: dict[str, ReceivedEvent] = {}
        for event in events:
            first.setdefault(event.id, event)
        try:
            outcomes = await self._deliver(list(first.values()), wait)
        except RETRY as exc:
            retry = Retry(retry_reason(exc))
            outcomes = {event_id: retry for event_id in first}
        result: list[DeliveryOutcome] = []
        seen: set[str] = set()
        for event in events:
            outcome = outcomes[event.id]
            if event.id in seen and not isinstance(outcome, Retry):
                outcome = AlreadyDelivered()  # a second copy of an event in the same batch
            seen.add(event.id)
            result.append(outcome)
        return result

    async def _deliver(self, events: list[ReceivedEvent], wait: bool) -> dict[str, DeliveryOutcome]:
        outcomes: dict[str, DeliveryOutcome] = {}
        refused: list[str] = []  # nothing accepted: the claim is given back
        bugs: list[Exception] = []
        records = SentRecords(self._ledger)
        async with self._ledger.claim([(e.id, e.type) for e in events], wait=wait) as claims:
            attempts: list[Attempt] = []
            now = self._clock()
            for event in events:
                claim = claims.get(event.id)
                if claim is None:
                    busy = f"event {event.id} is being delivered by another instance"
                    outcomes[event.id] = Retry(f"DeliveryBusy: {busy}")
                elif claim.settled:
                    delivery_log.info(
                        "already delivered; skipped", extra={"fields": {"event_id": event.id}}
                    )
                    outcomes[event.id] = AlreadyDelivered()
                elif self._sender.accepted(event.id):
                    # Sent by this process, but the ledger write failed (database away): record.
                    records.add(event)
                    outcomes[event.id] = AlreadyDelivered(recorded_now=True)
                else:
                    try:
                        attempt = self._attempt(event, claim, now)
                    except GIVE_UP as exc:
                        refused.append(event.id)
                        outcomes[event.id] = DeadLetter(f"{type(exc).__name__}: {exc}")
                        continue
                    except Exception as exc:
                        refused.append(event.id)
                        bugs.append(exc)
                        continue
                    if attempt is None:
                        records.add(event)
                        outcomes[event.id] = Expired()  # a link that no longer works helps nobody
                    else:
                        attempts.append(attempt)
            try:
                await send_all(attempts, self._send, records, self._sends_at_once)
            finally:
                await records.written()  # before the claim ends, whatever happened
            for attempt in attempts:
                event_id, failure = attempt.event.id, attempt.failure
                if failure is None:
                    outcomes[event_id] = Delivered(
                        resent_after_interruption=attempt.claim.interrupted
                    )
                    continue
                if not self._maybe_accepted(event_id, failure):
                    refused.append(event_id)
                if isinstance(failure, RETRY):
                    outcomes[event_id] = Retry(retry_reason(failure))
                elif isinstance(failure, GIVE_UP):
                    outcomes[event_id] = DeadLetter(f"{type(failure).__name__}: {failure}")
                else:
                    bugs.append(failure)
            with contextlib.suppress(LedgerUnavailable):
                await self._ledger.refused(refused)
        for event_id, lost in records.failed.items():
            # The sender remembers what it handed over: the retry only records.
            outcomes[event_id] = Retry(retry_reason(lost))
        for attempt in attempts:
            if attempt.event.id in records.recorded:
                self._log_sent(attempt)
        if bugs:
            raise bugs[0]
        return outcomes

    def _attempt(self, event: ReceivedEvent, claim: Claim, now: datetime) -> Attempt | None:
        """The email of an event (None: no longer worth sending), composed in its trace."""
        if claim.interrupted:
            metrics.INTERRUPTED_RESENDS.inc()
            delivery_log.warning(
                "resending after an interrupted attempt; the server may have it already",
                extra={"fields": {"event_id": event.id, "attempts": claim.attempts}},
            )
        trace = tracing.continue_from(event.extensions.get("traceparent"))
        token = tracing.set_current(trace)
        try:
            email = self._compose(event, now)
        finally:
            tracing.reset_current(token)
        return None if email is None else Attempt(event, email, claim, trace)

    async def _send(self, attempt: Attempt) -> Exception | None:
        event = attempt.event
        token = tracing.set_current(attempt.traceparent)
        try:
            await self._sender.send(attempt.email)
        except Exception as exc:
            return exc
        finally:
            tracing.reset_current(token)
        metrics.EVENT_TO_EMAIL.labels(event.type).observe(
            max(0.0, (self._clock() - event.time).total_seconds())
        )
        return None

    def _log_sent(self, attempt: Attempt) -> None:
        event = attempt.event
        token = tracing.set_current(attempt.traceparent)
        try:
            mail_log.info(
                "email sent",
                extra={
                    "fields": {
                        "event_id": event.id,
                        "type": event.type,
                        "to": mask_email(attempt.email.recipient),
                    }
                },
            )
        finally:
            tracing.reset_current(token)

    def _compose(self, event: ReceivedEvent, now: datetime) -> OutgoingEmail | None:
        try:
            return self._composer.compose(event, now)
        except UnboundSeal as exc:
            metrics.UNBOUND_SEALS.labels(event.type).inc()
            mail_log.warning(
                "sealed value refused: not mailed, dead-lettered",
                extra={
                    "fields": {
                        "event_id": event.id,
                        "type": event.type,
                        "kid": exc.kid,
                        "to": mask_email(getattr(event.data, "email", "")),
                        "reason": exc.reason,
                    }
                },
            )
            raise

    def _maybe_accepted(self, event_id: str, exc: Exception) -> bool:
        if self._sender.accepted(event_id):
            return True
        return isinstance(exc, TransientSmtpError) and exc.maybe_accepted

    # -- dead letter -----------------------------------------------------------------------
    async def dead_letter(
        self, record: ConsumedRecord, reason: str, event: ReceivedEvent | None = None
    ) -> DeadLetterOutcome:
        """Copy the record to the dead-letter topic, then keep its row in the ledger (which also
        settles the event). Kafka first: a crash in between copies it again on redelivery (at
        least once); the row, keyed by the origin, makes every later redelivery skip the copy."""
        try:
            await self._dead_letter(record, reason, event)
        except RETRY as exc:
            return Retry(retry_reason(exc))
        return DeadLettered()

    async def _dead_letter(
        self, record: ConsumedRecord, reason: str, event: ReceivedEvent | None
    ) -> None:
        # Validation errors and SMTP replies may quote the address: never a full email here.
        reason = scrub(reason)[:REASON_MAX_LENGTH]
        origin = (record.topic, record.partition, record.offset)
        event_id = event.id if event is not None else None
        if not await self._ledger.dead_lettered(origin):
            await self._dead_letters.copy(record, reason)
        await self._ledger.record_dead_letter(
            event_id=event_id,
            event_type=event.type if event is not None else None,
            origin=origin,
            reason=reason,
        )
        metrics.DEAD_LETTERS.inc()
        dead_letter_log.error(
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
