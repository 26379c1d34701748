"""Wraps the service layer's handler in a ledger claim: one sender per event, at any time.

What is left after this (documented in docs/delivery.md): a notifier killed after the SMTP server
accepted a message and before the ledger recorded it sends that message again on redelivery (same
Message-ID). Every such resend is counted and logged as `interrupted`. A database outage in that
same window does not duplicate: the sender remembers what it handed over, and the retry only
records it.
"""

import contextlib
import logging
from collections.abc import Awaitable, Callable

from pwreset_contracts.cloudevents_kafka import ReceivedEvent

from notifier_service.adapters import delivery_metrics as metrics
from notifier_service.adapters.deliveries_ledger import DATABASE_AWAY, DeliveriesLedger
from notifier_service.adapters.smtp_sender import SmtpSender, TransientSmtpError

log = logging.getLogger("notifier.delivery")

Handler = Callable[[ReceivedEvent], Awaitable[object]]


class ExclusiveDelivery:
    def __init__(self, ledger: DeliveriesLedger, sender: SmtpSender, handler: Handler) -> None:
        self._ledger = ledger
        self._sender = sender
        self._handler = handler
        self.skipped_total = 0
        self.interrupted_total = 0

    async def __call__(self, event: ReceivedEvent) -> object:
        async with self._ledger.claim(event.id, event.type) as claim:
            if claim.settled:
                self.skipped_total += 1
                log.info("already delivered; skipped", extra={"fields": {"event_id": event.id}})
                return None
            if self._sender.accepted(event.id):
                # Sent by this process, but the ledger write failed (database away): record only.
                await self._ledger.record_sent(event.id, event.type)
                return None
            if claim.interrupted:
                self.interrupted_total += 1
                metrics.INTERRUPTED_RESENDS.inc()
                log.warning(
                    "resending after an interrupted attempt; the server may have it already",
                    extra={"fields": {"event_id": event.id, "attempts": claim.attempts}},
                )
            try:
                return await self._handler(event)
            except Exception as exc:
                if not self._maybe_accepted(event.id, exc):
                    with contextlib.suppress(*DATABASE_AWAY):
                        await claim.refused()
                raise

    def _maybe_accepted(self, event_id: str, exc: Exception) -> bool:
        if self._sender.accepted(event_id):
            return True
        return isinstance(exc, TransientSmtpError) and exc.maybe_accepted
