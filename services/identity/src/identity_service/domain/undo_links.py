"""The "This wasn't me" link in the password-changed email: a random token, stored hashed."""

import hashlib
import secrets
from urllib.parse import urlencode


def new_undo_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def undo_link(public_origin: str, token: str) -> str:
    return f"{public_origin}/this-wasnt-me?{urlencode({'token': token})}"
