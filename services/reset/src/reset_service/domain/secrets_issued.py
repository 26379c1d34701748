"""The link token and verification code: generated from `secrets`, stored only keyed-hashed."""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

# No 0/O, 1/I/L: a person copies this code by eye.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
TOKEN_BYTES = 32  # 256 bits
LINK_PATH = "/reset-password"
# What a link token can look like (token_urlsafe, with room to change TOKEN_BYTES): anything
# else is no token of ours, refused before it is hashed, looked up or put in a cookie.
LINK_TOKEN_PATTERN = r"^[A-Za-z0-9_-]{16,128}$"  # noqa: S105 (a shape, no secret)
_LINK_TOKEN = re.compile(LINK_TOKEN_PATTERN)


@dataclass(frozen=True)
class IssuedCode:
    """What the person sees on screen; identical in shape for every email."""

    verification_code: str
    expires_in_seconds: int


def new_link_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def is_link_token(value: str) -> bool:
    return _LINK_TOKEN.fullmatch(value) is not None


def reset_link(origin: str, token: str) -> str:
    """The link the email carries (sealed in the event: only the notifier opens it)."""
    return f"{origin}{LINK_PATH}?{urlencode({'token': token})}"


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """Accept what people type: lower case, spaces and dashes."""
    return code.strip().upper().replace(" ", "").replace("-", "")


def keyed_hash(key: bytes, value: str) -> bytes:
    return hmac.new(key, value.encode(), hashlib.sha256).digest()


def same_secret(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
