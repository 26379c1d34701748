"""Links with a one-time token that identity emails ("This wasn't me", "Confirm your email
address"): a random token, stored hashed."""

import hashlib
import secrets
from typing import Literal
from urllib.parse import urlencode

# What a "This wasn't me" link undoes: every one signs the account out everywhere; two-factor
# that somebody else turned on is turned off again.
UndoKind = Literal["password_changed", "second_factor_enabled", "second_factor_disabled"]


def new_undo_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def link(public_origin: str, path: str, token: str) -> str:
    return f"{public_origin}{path}?{urlencode({'token': token})}"


def undo_link(public_origin: str, token: str) -> str:
    return link(public_origin, "/this-wasnt-me", token)
