"""Session tokens: random, shown once to the client, stored only as a SHA-256 hash."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    # 256 random bits need no slow hash or key: a plain digest keeps a stolen table useless.
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class NewSession:
    """A session a login wants written: only while the account is still at
    ``credentials_epoch``, the epoch of the credentials that login verified."""

    id: UUID
    account_id: UUID
    token_hash: bytes
    expires_at: datetime
    credentials_epoch: int
