"""What a sealed value is bound to: the associated data of its AES-GCM seal.

A sealed link is only as safe as the fields that decide where it goes. The associated data holds
the event's own id, the account id and the recipient address, so a seal copied beside another
address (or another account, or into another event) does not open: a writer on the topic can
replay a record but cannot redirect the link inside it. The purpose comes first so a reset link
can never be opened as a "This wasn't me" link or the other way round.

The encoding is a compact JSON array of strings (no spaces, non-ASCII kept as UTF-8): one string
per field, so no choice of field values can make two different bindings equal.
"""

import json
from uuid import UUID

RESET_LINK_PURPOSE = "pwreset.password-reset.requested.v1/sealed_link"
UNDO_LINK_PURPOSE = "pwreset.identity.password-changed.v1/sealed_undo_link"
SECOND_FACTOR_UNDO_PURPOSE = "pwreset.identity.second-factor-changed.v1/sealed_undo_link"
REGISTRATION_LINK_PURPOSE = "pwreset.identity.registration-requested.v1/sealed_link"


def _bound(purpose: str, *fields: str) -> str:
    return json.dumps([purpose, *fields], separators=(",", ":"), ensure_ascii=False)


def reset_link_binding(*, request_id: UUID | str, account_id: UUID | str, recipient: str) -> str:
    """Associated data of ``sealed_link`` in password-reset.requested.v1."""
    return _bound(RESET_LINK_PURPOSE, str(request_id), str(account_id), recipient)


def undo_link_binding(*, change_id: UUID | str, account_id: UUID | str, recipient: str) -> str:
    """Associated data of ``sealed_undo_link`` in identity.password-changed.v1."""
    return _bound(UNDO_LINK_PURPOSE, str(change_id), str(account_id), recipient)


def second_factor_undo_binding(
    *, change_id: UUID | str, account_id: UUID | str, recipient: str
) -> str:
    """Associated data of ``sealed_undo_link`` in identity.second-factor-changed.v1."""
    return _bound(SECOND_FACTOR_UNDO_PURPOSE, str(change_id), str(account_id), recipient)


def registration_link_binding(*, registration_id: UUID | str, recipient: str) -> str:
    """Associated data of ``sealed_link`` in identity.registration-requested.v1 (no account
    exists yet: the request's own id and the address it goes to)."""
    return _bound(REGISTRATION_LINK_PURPOSE, str(registration_id), recipient)
