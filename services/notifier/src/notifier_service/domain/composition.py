"""Which email an event asks for, composed from its fields and its sealed link.

Pure: no ledger, no SMTP, no clock of its own (`now` is given). Sealed links open only under the
record's own id, account id and recipient (and, for a two-factor notice, what it says happened),
so a record whose fields were changed after sealing (another address beside a copied seal,
"removed by support" in a copy of "turned on") never becomes an email.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from pwreset_contracts import (
    PasswordChangedV1,
    RegistrationRequestedV1,
    ResetRequestedV1,
    SealedValue,
    SecondFactorChangedV1,
)
from pwreset_contracts.cloudevents_kafka import ReceivedEvent
from pwreset_contracts.events import Event
from pwreset_contracts.sealed import SealError, open_sealed

from notifier_service.domain.emails import (
    SHIPPED,
    EmailTemplates,
    build_message,
    email_language,
    render_already_registered_email,
    render_password_changed_email,
    render_reset_email,
    render_second_factor_email,
    render_verify_email,
)
from notifier_service.domain.mime import OutgoingEmail, UnsendableAddress

# The events that become emails; the notifier reads their topics and no other (the audit
# records of identity's admin API are for other teams' monitoring).
MAILED_EVENTS: tuple[type[Event], ...] = (
    ResetRequestedV1,
    PasswordChangedV1,
    SecondFactorChangedV1,
    RegistrationRequestedV1,
)


class UndeliverableEvent(Exception):
    """The event can never become an email (e.g. a sealed link we cannot open)."""


class UnboundSeal(UndeliverableEvent):
    """The sealed link does not open under the record's own fields: a copy with another
    recipient, account or id (a forged record), or a key we do not hold."""

    def __init__(self, reason: str, *, kid: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kid = kid


@dataclass(frozen=True)
class EmailComposer:
    link_keys: dict[str, bytes]  # open the reset link (shared with reset only)
    notice_keys: dict[str, bytes]  # open identity's links (shared with identity only)
    mail_from: str
    # The emails' templates with the deployment's branding and overrides (email_templates).
    templates: EmailTemplates = SHIPPED
    mail_from_name: str | None = None  # MAIL_FROM_NAME, replacing MAIL_FROM's display name
    time_zone: tzinfo = UTC  # of the dates and times in the emails (EMAIL_TIME_ZONE)

    def compose(self, event: ReceivedEvent, now: datetime) -> OutgoingEmail | None:
        """The email an event asks for, or None when it is no longer worth sending."""
        data = event.data
        # The language the person used when they asked (reset), or the account's (identity).
        language = email_language(getattr(data, "locale", None))
        if isinstance(data, ResetRequestedV1):
            if data.expires_at <= now:
                return None
            link = _open(data.sealed_link, self.link_keys, data.link_binding())
            rendered = render_reset_email(
                link=link,
                expires_at=data.expires_at,
                minutes_valid=max(
                    1, round((data.expires_at - data.requested_at).total_seconds() / 60)
                ),
                language=language,
                zone=self.time_zone,
                templates=self.templates,
            )
        elif isinstance(data, PasswordChangedV1):
            undo = _open(data.sealed_undo_link, self.notice_keys, data.undo_link_binding())
            rendered = render_password_changed_email(
                changed_at=data.changed_at,
                client_ip=data.client_ip,
                undo_link=undo,
                language=language,
                zone=self.time_zone,
                templates=self.templates,
            )
        elif isinstance(data, SecondFactorChangedV1):
            undo = _open(data.sealed_undo_link, self.notice_keys, data.undo_link_binding())
            rendered = render_second_factor_email(
                enabled=data.change == "enabled",
                by_support=data.actor == "support",
                changed_at=data.changed_at,
                client_ip=data.client_ip,
                undo_link=undo,
                language=language,
                zone=self.time_zone,
                templates=self.templates,
            )
        elif isinstance(data, RegistrationRequestedV1):
            if data.sealed_link is None:
                # An unsealed notice could be sent by anybody who writes the topic, to any address.
                raise UndeliverableEvent(f"{data.kind} without a sealed link")
            if data.kind == "already_registered":
                # No link in it: the seal (of the empty text) only proves identity sent it here.
                _open(data.sealed_link, self.notice_keys, data.link_binding())
                rendered = render_already_registered_email(language, templates=self.templates)
            elif data.expires_at <= now:
                return None
            else:
                link = _open(data.sealed_link, self.notice_keys, data.link_binding())
                hours = max(1, round((data.expires_at - data.requested_at).total_seconds() / 3600))
                rendered = render_verify_email(
                    link=link, hours_valid=hours, language=language, templates=self.templates
                )
        else:
            raise UndeliverableEvent(f"no email for event type {event.type}")
        try:
            return build_message(
                rendered,
                to=data.email,
                sender=self.mail_from,
                sender_name=self.mail_from_name,
                event_id=event.id,
                sent_at=now,
            )
        except UnsendableAddress as exc:
            raise UndeliverableEvent(f"recipient: {exc}") from exc


def _open(value: SealedValue, keys: dict[str, bytes], binding: str) -> str:
    try:
        return open_sealed(value, keys=keys, associated_data=binding)
    except SealError as exc:
        reason = (
            f"no key with id {value.kid!r}"
            if value.kid not in keys
            else "sealed link does not open under the record's own fields "
            "(event id, account id, recipient, and what the email says)"
        )
        raise UnboundSeal(reason, kid=value.kid) from exc
