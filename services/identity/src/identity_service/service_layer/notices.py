"""What identity tells the account holder after a security change: an event for the notifier
with a sealed "This wasn't me" link, and the undo token behind that link (stored hashed).

The link is sealed under its purpose, the change id, the account and the recipient (and, for a
two-factor change, what the email says happened), so a copy of the record sent to another address
or saying something else does not open (pwreset_contracts.binding).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pwreset_contracts import (
    PasswordChangedV1,
    RegistrationRequestedV1,
    SecondFactorChangedV1,
    cloudevents_kafka,
)
from pwreset_contracts.binding import (
    already_registered_binding,
    registration_link_binding,
    second_factor_undo_binding,
    undo_link_binding,
)
from pwreset_contracts.events import Event, SealedValue
from pwreset_contracts.sealed import KeyRing, seal
from servicekit.runtime import tracing

from identity_service.domain import undo_links
from identity_service.domain.accounts import Account
from identity_service.domain.undo_links import UndoKind
from identity_service.service_layer.unit_of_work import UnitOfWork

EVENT_SOURCE = "/pwreset/identity"


@dataclass(frozen=True)
class ChangeNotice:
    """How changes are announced: where the undo link points, its keys and its lifetime."""

    public_origin: str
    seal_keys: KeyRing
    undo_ttl: timedelta


@dataclass(frozen=True)
class AccountNotice:
    """What a security change writes besides itself, in the same transaction: the token of its
    "This wasn't me" link (hashed) and the event announcing it (to the outbox)."""

    undo_token_hash: bytes
    undo_expires_at: datetime
    undo_kind: UndoKind
    event_id: uuid.UUID
    event: cloudevents_kafka.KafkaRecord


async def announce(uow: UnitOfWork, account_id: uuid.UUID, notice: AccountNotice) -> None:
    """Write the notice in the unit of work of the change it announces: both or neither."""
    await uow.undo_tokens.add(
        notice.undo_token_hash, account_id, notice.undo_expires_at, notice.undo_kind
    )
    await uow.outbox.add(notice.event_id, notice.event)


def encode_event(event: Event) -> tuple[uuid.UUID, cloudevents_kafka.KafkaRecord]:
    event_id = uuid.uuid4()
    record = cloudevents_kafka.encode(
        event, source=EVENT_SOURCE, event_id=str(event_id), extensions=tracing.event_extensions()
    )
    return event_id, record


class Notices:
    def __init__(self, notice: ChangeNotice, now: Callable[[], datetime]) -> None:
        self._notice = notice
        self._now = now

    def _seal(self, link: str, associated_data: str) -> SealedValue:
        keys = self._notice.seal_keys
        return seal(link, key=keys.current, kid=keys.current_id, associated_data=associated_data)

    def _notice_for(
        self,
        kind: UndoKind,
        build: Callable[[SealedValue, datetime], Event],
        bound_to: Callable[[datetime], str],
    ) -> AccountNotice:
        """``build`` and ``bound_to`` are given the same moment: the event's time is bound."""
        now = self._now()
        token = undo_links.new_undo_token()
        link = undo_links.undo_link(self._notice.public_origin, token)
        sealed = self._seal(link, bound_to(now))
        event_id, record = encode_event(build(sealed, now))
        return AccountNotice(
            undo_token_hash=undo_links.token_digest(token),
            undo_expires_at=now + self._notice.undo_ttl,
            undo_kind=kind,
            event_id=event_id,
            event=record,
        )

    def password_changed(self, account: Account, client_ip: str | None) -> AccountNotice:
        change_id = uuid.uuid4()
        return self._notice_for(
            "password_changed",
            lambda sealed, now: PasswordChangedV1(
                change_id=change_id,
                account_id=account.id,
                email=account.email,
                locale=account.locale,
                changed_at=now,
                method="reset",
                client_ip=client_ip,
                sealed_undo_link=sealed,
            ),
            lambda _: undo_link_binding(
                change_id=change_id, account_id=account.id, recipient=account.email
            ),
        )

    def second_factor_changed(
        self,
        account: Account,
        change: Literal["enabled", "disabled"],
        client_ip: str | None,
        actor: Literal["account_holder", "support"] = "account_holder",
    ) -> AccountNotice:
        change_id = uuid.uuid4()
        return self._notice_for(
            "second_factor_enabled" if change == "enabled" else "second_factor_disabled",
            lambda sealed, now: SecondFactorChangedV1(
                change_id=change_id,
                account_id=account.id,
                email=account.email,
                locale=account.locale,
                changed_at=now,
                change=change,
                actor=actor,
                client_ip=client_ip,
                sealed_undo_link=sealed,
            ),
            # What the email will say is sealed too: a copy saying "removed by support" (or
            # another time, or language) does not open.
            lambda now: second_factor_undo_binding(
                change_id=change_id,
                account_id=account.id,
                recipient=account.email,
                change=change,
                actor=actor,
                changed_at=now,
                locale=account.locale,
            ),
        )

    def registration(
        self,
        registration_id: uuid.UUID,
        email: str,
        verification_token: str | None,
        expires_at: datetime,
        locale: str = "en",
    ) -> tuple[uuid.UUID, cloudevents_kafka.KafkaRecord]:
        """The event for a registration request: a link that completes it, sealed under the
        request and the address; or, with no token, the notice that the address has an account,
        with a seal of the empty text under the request, the address and the language (without
        one, anybody writing the topic could have the notice sent to any address)."""
        if verification_token is not None:
            link = undo_links.link(self._notice.public_origin, "/verify-email", verification_token)
            kind: Literal["verify_address", "already_registered"] = "verify_address"
            sealed = self._seal(
                link, registration_link_binding(registration_id=registration_id, recipient=email)
            )
        else:
            kind = "already_registered"
            sealed = self._seal(
                "",
                already_registered_binding(
                    registration_id=registration_id, recipient=email, locale=locale
                ),
            )
        return encode_event(
            RegistrationRequestedV1(
                registration_id=registration_id,
                email=email,
                locale=locale,
                requested_at=self._now(),
                expires_at=expires_at,
                kind=kind,
                sealed_link=sealed,
            )
        )
