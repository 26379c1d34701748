"""Registration requests: an address and a password hash, waiting for the emailed link (its
token is made and hashed by domain.undo_links, like every link identity emails)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class PendingRegistration:
    """What one registration request stores, whatever the address. For an address that has an
    account there is no password hash and no token: its email only says so."""

    registration_id: UUID
    email: str
    password_hash: str | None
    token_hash: bytes | None
    expires_at: datetime


@dataclass(frozen=True)
class VerifiedRegistration:
    """A request whose link was followed (now used): what the account is made of."""

    email: str
    password_hash: str


@dataclass(frozen=True)
class CompletedRegistration:
    account_id: UUID
    email: str
