"""Turns events into emails, once per event id."""

import enum
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage

from pwreset_contracts import (
    PasswordChangedV1,
    RegistrationRequestedV1,
    ResetRequestedV1,
    SealedValue,
    SecondFactorChangedV1,
)
from pwreset_contracts.cloudevents_kafka import ReceivedEvent
from pwreset_contracts.sealed import SealError, open_sealed
from servicekit.runtime import tracing
from servicekit.runtime.logging import mask_email

from notifier_service.adapters import delivery_metrics as metrics
from notifier_service.adapters.deliveries_ledger import DeliveriesLedger
from notifier_service.adapters.delivery_metrics import UNBOUND_SEALS
from notifier_service.adapters.smtp_sender import SmtpSender
from notifier_service.domain.emails import (
    build_message,
    render_already_registered_email,
    render_password_changed_email,
    render_reset_email,
    render_second_factor_email,
    render_verify_email,
)

log = logging.getLogger("notifier.notifications")


class Outcome(enum.Enum):
    SENT = "sent"
    DUPLICATE = "duplicate"
    EXPIRED = "expired"


class UndeliverableEvent(Exception):
    """The event can never become an email (e.g. a sealed link we cannot open)."""


class UnboundSeal(UndeliverableEvent):
    """The sealed link does not open under the record's own fields: a copy with another
    recipient, account or id (a forged record), or a key we do not hold."""


class Notifications:
    def __init__(
        self,
        ledger: DeliveriesLedger,
        sender: SmtpSender,
        *,
        link_keys: dict[str, bytes],
        notice_keys: dict[str, bytes],
        mail_from: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ledger = ledger
        self._sender = sender
        self._link_keys = link_keys
        self._notice_keys = notice_keys
        self._mail_from = mail_from
        self._clock = clock

    async def handle(self, event: ReceivedEvent) -> Outcome:
        # Continue the trace of the request that produced the event, for the log lines below.
        token = tracing.set_current(tracing.continue_from(event.extensions.get("traceparent")))
        try:
            return await self._handle(event)
        finally:
            tracing.reset_current(token)

    async def _handle(self, event: ReceivedEvent) -> Outcome:
        if await self._ledger.already_sent(event.id):
            return Outcome.DUPLICATE
        now = self._clock()
        composed = self.compose(event, now)
        if composed is None:
            await self._ledger.record_sent(event.id, event.type)
            return Outcome.EXPIRED  # a link that no longer works helps nobody
        await self._sender.send(composed)
        metrics.EVENT_TO_EMAIL.labels(event.type).observe(
            max(0.0, (self._clock() - event.time).total_seconds())
        )
        await self._ledger.record_sent(event.id, event.type)
        log.info(
            "email sent",
            extra={
                "fields": {
                    "event_id": event.id,
                    "type": event.type,
                    "to": mask_email(str(composed["To"])),
                }
            },
        )
        return Outcome.SENT

    def compose(self, event: ReceivedEvent, now: datetime) -> EmailMessage | None:
        """The email an event asks for, or None when it is no longer worth sending."""
        data = event.data
        if isinstance(data, ResetRequestedV1):
            if data.expires_at <= now:
                return None
            link = self._open(event, data.sealed_link, self._link_keys, data.link_binding())
            rendered = render_reset_email(
                link=link,
                expires_at=data.expires_at,
                minutes_valid=max(
                    1, round((data.expires_at - data.requested_at).total_seconds() / 60)
                ),
            )
        elif isinstance(data, PasswordChangedV1):
            undo = self._open(
                event, data.sealed_undo_link, self._notice_keys, data.undo_link_binding()
            )
            rendered = render_password_changed_email(
                changed_at=data.changed_at, client_ip=data.client_ip, undo_link=undo
            )
        elif isinstance(data, SecondFactorChangedV1):
            undo = self._open(
                event, data.sealed_undo_link, self._notice_keys, data.undo_link_binding()
            )
            rendered = render_second_factor_email(
                enabled=data.change == "enabled",
                by_support=data.actor == "support",
                changed_at=data.changed_at,
                client_ip=data.client_ip,
                undo_link=undo,
            )
        elif isinstance(data, RegistrationRequestedV1):
            if data.kind == "already_registered":
                rendered = render_already_registered_email()
            elif data.sealed_link is None:
                raise UndeliverableEvent("verify_address without a sealed link")
            elif data.expires_at <= now:
                return None
            else:
                link = self._open(event, data.sealed_link, self._notice_keys, data.link_binding())
                hours = max(1, round((data.expires_at - data.requested_at).total_seconds() / 3600))
                rendered = render_verify_email(link=link, hours_valid=hours)
        else:
            raise UndeliverableEvent(f"no email for event type {event.type}")
        return build_message(
            rendered, to=data.email, sender=self._mail_from, event_id=event.id, sent_at=now
        )

    @staticmethod
    def _open(
        event: ReceivedEvent, value: SealedValue, keys: dict[str, bytes], binding: str
    ) -> str:
        """Open a sealed link under the record's own id, account id and recipient; a record
        whose fields were changed after sealing (another address beside a copied seal) never
        becomes an email."""
        try:
            return open_sealed(value, keys=keys, associated_data=binding)
        except SealError as exc:
            reason = (
                f"no key with id {value.kid!r}"
                if value.kid not in keys
                else "sealed link does not open under the record's own fields "
                "(event id, account id, recipient)"
            )
            UNBOUND_SEALS.labels(event.type).inc()
            log.warning(
                "sealed value refused: not mailed, dead-lettered",
                extra={
                    "fields": {
                        "event_id": event.id,
                        "type": event.type,
                        "kid": value.kid,
                        "to": mask_email(getattr(event.data, "email", "")),
                        "reason": reason,
                    }
                },
            )
            raise UnboundSeal(reason) from exc
