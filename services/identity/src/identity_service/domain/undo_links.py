"""Links with a one-time token that identity emails ("This wasn't me", "Confirm your email
address"): a random token, stored hashed."""

import hashlib
import secrets
from urllib.parse import urlencode


def new_undo_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def link(public_origin: str, path: str, token: str) -> str:
    return f"{public_origin}{path}?{urlencode({'token': token})}"


def undo_link(public_origin: str, token: str) -> str:
    return link(public_origin, "/this-wasnt-me", token)
