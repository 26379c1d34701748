"""Turns events into emails, once per event id."""

import enum
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pwreset_contracts import ResetRequestedV1
from pwreset_contracts.cloudevents_kafka import ReceivedEvent
from pwreset_contracts.sealed import SealError, open_sealed
from servicekit.logging import mask_email

from notifier_service.adapters.deliveries_ledger import DeliveriesLedger
from notifier_service.adapters.smtp_sender import SmtpSender
from notifier_service.domain.emails import build_message, render_reset_email

log = logging.getLogger("notifier.notifications")


class Outcome(enum.Enum):
    SENT = "sent"
    DUPLICATE = "duplicate"
    EXPIRED = "expired"


class UndeliverableEvent(Exception):
    """The event can never become an email (e.g. a sealed link we cannot open)."""


class Notifications:
    def __init__(
        self,
        ledger: DeliveriesLedger,
        sender: SmtpSender,
        *,
        link_keys: dict[str, bytes],
        mail_from: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._sender = sender
        self._link_keys = link_keys
        self._mail_from = mail_from
        self._clock = clock

    async def handle(self, event: ReceivedEvent) -> Outcome:
        if await self._ledger.already_sent(event.id):
            return Outcome.DUPLICATE
        data = event.data
        if not isinstance(data, ResetRequestedV1):
            raise UndeliverableEvent(f"no email for event type {event.type}")
        now = self._clock()
        if data.expires_at <= now:
            await self._ledger.record_sent(event.id, event.type)
            return Outcome.EXPIRED  # a link that no longer works helps nobody
        try:
            link = open_sealed(
                data.sealed_link, keys=self._link_keys, associated_data=str(data.request_id)
            )
        except SealError as exc:
            raise UndeliverableEvent(str(exc)) from exc
        rendered = render_reset_email(
            link=link,
            expires_at=data.expires_at,
            minutes_valid=max(1, round((data.expires_at - data.requested_at).total_seconds() / 60)),
        )
        message = build_message(
            rendered, to=data.email, sender=self._mail_from, event_id=event.id, sent_at=now
        )
        await self._sender.send(message)
        await self._ledger.record_sent(event.id, event.type)
        log.info(
            "email sent",
            extra={
                "fields": {"event_id": event.id, "type": event.type, "to": mask_email(data.email)}
            },
        )
        return Outcome.SENT
