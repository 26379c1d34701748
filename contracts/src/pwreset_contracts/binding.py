"""What a sealed value is bound to: the associated data of its AES-GCM seal.

A sealed link is only as safe as the fields that decide where it goes. The associated data holds
the event's own id, the account id and the recipient address, so a seal copied beside another
address (or another account, or into another event) does not open: a writer on the topic can
replay a record but cannot redirect the link inside it. The purpose comes first so a reset link
can never be opened as a "This wasn't me" link or the other way round.

Where the email states what happened, the binding holds that too: a two-factor notice binds its
change, actor, time and language, so a copy that turns "turned on" into "removed by support"
does not open. The "already registered" notice has no link; it carries a seal of the empty text
under its own purpose, the request id, the recipient and the language, so only identity can
have it sent (it would otherwise be an email from our domain to any address).

The encoding is a compact JSON array of strings (no spaces, non-ASCII kept as UTF-8): one string
per field, so no choice of field values can make two different bindings equal.
"""

import json
from datetime import UTC, datetime
from uuid import UUID

RESET_LINK_PURPOSE = "pwreset.password-reset.requested.v1/sealed_link"
UNDO_LINK_PURPOSE = "pwreset.identity.password-changed.v1/sealed_undo_link"
SECOND_FACTOR_UNDO_PURPOSE = "pwreset.identity.second-factor-changed.v1/sealed_undo_link"
REGISTRATION_LINK_PURPOSE = "pwreset.identity.registration-requested.v1/sealed_link"
ALREADY_REGISTERED_PURPOSE = "pwreset.identity.registration-requested.v1/already_registered"


def _bound(purpose: str, *fields: str) -> str:
    return json.dumps([purpose, *fields], separators=(",", ":"), ensure_ascii=False)


def _instant(moment: datetime) -> str:
    """One text per instant, whatever offset or form it was written in (the producer binds the
    datetime it holds, the reader the one it parsed from JSON): UTC, to the microsecond."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


def reset_link_binding(*, request_id: UUID | str, account_id: UUID | str, recipient: str) -> str:
    """Associated data of ``sealed_link`` in password-reset.requested.v1."""
    return _bound(RESET_LINK_PURPOSE, str(request_id), str(account_id), recipient)


def undo_link_binding(*, change_id: UUID | str, account_id: UUID | str, recipient: str) -> str:
    """Associated data of ``sealed_undo_link`` in identity.password-changed.v1."""
    return _bound(UNDO_LINK_PURPOSE, str(change_id), str(account_id), recipient)


def second_factor_undo_binding(
    *,
    change_id: UUID | str,
    account_id: UUID | str,
    recipient: str,
    change: str,
    actor: str,
    changed_at: datetime,
    locale: str,
) -> str:
    """Associated data of ``sealed_undo_link`` in identity.second-factor-changed.v1: besides
    where it goes, what the email says happened (turned on or off, by whom, when, in which
    language). Only ``client_ip`` is left out; the notifier shows it only if it is an IP address."""
    return _bound(
        SECOND_FACTOR_UNDO_PURPOSE,
        str(change_id),
        str(account_id),
        recipient,
        change,
        actor,
        _instant(changed_at),
        locale,
    )


def registration_link_binding(*, registration_id: UUID | str, recipient: str) -> str:
    """Associated data of ``sealed_link`` in identity.registration-requested.v1 (no account
    exists yet: the request's own id and the address it goes to)."""
    return _bound(REGISTRATION_LINK_PURPOSE, str(registration_id), recipient)


def already_registered_binding(*, registration_id: UUID | str, recipient: str, locale: str) -> str:
    """Associated data of ``sealed_link`` in an identity.registration-requested.v1 record of kind
    already_registered (a seal of the empty text: the notice has no link, the seal proves that
    identity sent it to this address). Its own purpose, so a verification link's seal does not
    open beside kind already_registered, nor this one beside verify_address."""
    return _bound(ALREADY_REGISTERED_PURPOSE, str(registration_id), recipient, locale)
