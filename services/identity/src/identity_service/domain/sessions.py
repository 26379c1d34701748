"""Session tokens: random, shown once to the client, stored only as a SHA-256 hash."""

import hashlib
import secrets


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    # 256 random bits need no slow hash or key: a plain digest keeps a stolen table useless.
    return hashlib.sha256(token.encode()).digest()
