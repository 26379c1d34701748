"""The notifier's use case: one event, one email, once; or its record dead-lettered.

`deliver` owns claim -> compose -> send -> record, and `dead_letter` owns the dead-letter copy
and its ledger row. They are the only place that turns SMTP, ledger and dead-letter-topic errors
into an outcome: `Retry` (a dependency is away or busy), `DeadLetter` (it can never become an
email), or done. Exactly once, as far as SMTP allows (docs/delivery.md):
- the ledger claim holds the event exclusively for the whole attempt, so two instances never
  send it at the same time; a settled event is skipped;
- an attempt that died between the SMTP accept and the ledger write left the row 'sending': the
  email is sent again, counted and logged as interrupted (the one window left open);
- a ledger write that failed after the server accepted is only written on the retry: the sender
  remembers what it handed over;
- a refused send (nothing accepted) marks the claim 'failed', so a redelivery is a fresh try.
"""

import contextlib
import logging
from datetime import UTC, datetime
from email.message import EmailMessage

from pwreset_contracts.cloudevents_kafka import ReceivedEvent
from servicekit.messaging.consumer import ConsumedRecord
from servicekit.runtime import tracing
from servicekit.runtime.logging import mask_email

from notifier_service import metrics
from notifier_service.domain.addresses import scrub
from notifier_service.domain.composition import EmailComposer, UnboundSeal, UndeliverableEvent
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
from notifier_service.service_layer.ports import (
    Claim,
    Clock,
    DeadLetterTopic,
    DeliveryBusy,
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
RETRY = (TransientSmtpError, DeliveryBusy, DependencyUnavailable)
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
        clock: Clock = utc_now,
    ) -> None:
        self._ledger = ledger
        self._sender = sender
        self._dead_letters = dead_letters
        self._composer = composer
        self._clock = clock

    # -- deliver ---------------------------------------------------------------------------
    async def deliver(self, event: ReceivedEvent) -> DeliveryOutcome:
        """Unexpected errors (bugs) propagate: the caller knows the record and dead-letters it."""
        try:
            return await self._deliver(event)
        except RETRY as exc:
            return Retry(retry_reason(exc))
        except GIVE_UP as exc:
            return DeadLetter(f"{type(exc).__name__}: {exc}")

    async def _deliver(self, event: ReceivedEvent) -> DeliveryOutcome:
        async with self._ledger.claim(event.id, event.type) as claim:
            if claim.settled:
                delivery_log.info(
                    "already delivered; skipped", extra={"fields": {"event_id": event.id}}
                )
                return AlreadyDelivered()
            if self._sender.accepted(event.id):
                # Sent by this process, but the ledger write failed (database away): record only.
                await self._ledger.record_sent(event.id, event.type)
                return AlreadyDelivered(recorded_now=True)
            if claim.interrupted:
                metrics.INTERRUPTED_RESENDS.inc()
                delivery_log.warning(
                    "resending after an interrupted attempt; the server may have it already",
                    extra={"fields": {"event_id": event.id, "attempts": claim.attempts}},
                )
            try:
                return await self._send_and_record(event, claim)
            except Exception as exc:
                if not self._maybe_accepted(event.id, exc):
                    with contextlib.suppress(LedgerUnavailable):
                        await claim.refused()
                raise

    async def _send_and_record(self, event: ReceivedEvent, claim: Claim) -> DeliveryOutcome:
        # Continue the trace of the request that produced the event, for the log lines below.
        token = tracing.set_current(tracing.continue_from(event.extensions.get("traceparent")))
        try:
            now = self._clock()
            message = self._compose(event, now)
            if message is None:
                await self._ledger.record_sent(event.id, event.type)
                return Expired()  # a link that no longer works helps nobody
            await self._sender.send(message)
            metrics.EVENT_TO_EMAIL.labels(event.type).observe(
                max(0.0, (self._clock() - event.time).total_seconds())
            )
            await self._ledger.record_sent(event.id, event.type)
            mail_log.info(
                "email sent",
                extra={
                    "fields": {
                        "event_id": event.id,
                        "type": event.type,
                        "to": mask_email(str(message["To"])),
                    }
                },
            )
            return Delivered(resent_after_interruption=claim.interrupted)
        finally:
            tracing.reset_current(token)

    def _compose(self, event: ReceivedEvent, now: datetime) -> EmailMessage | None:
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
