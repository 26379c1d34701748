"""The link token and verification code: generated from `secrets`, stored only keyed-hashed."""

import hashlib
import hmac
import secrets

# No 0/O, 1/I/L: a person copies this code by eye.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
TOKEN_BYTES = 32  # 256 bits


def new_link_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_verification_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """Accept what people type: lower case, spaces and dashes."""
    return code.strip().upper().replace(" ", "").replace("-", "")


def keyed_hash(key: bytes, value: str) -> bytes:
    return hmac.new(key, value.encode(), hashlib.sha256).digest()


def same_secret(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)
