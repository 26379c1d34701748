"""Seal values (the reset link) so that a reader of a Kafka topic cannot use them.

AES-256-GCM with a 96-bit random nonce. The associated data binds a sealed value to the fields
that decide where it goes (``pwreset_contracts.binding``: event id, account id, recipient), so a
ciphertext opens neither in another event nor beside another address. Keys are named by a key id
(``kid``) so they can be rotated: senders seal with the current key, readers keep old keys until
every record sealed with them has expired.
"""

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pwreset_contracts.binding import reset_link_binding, undo_link_binding
from pwreset_contracts.events import SealedValue

__all__ = [
    "KeyRing",
    "SealError",
    "decode_key",
    "open_sealed",
    "reset_link_binding",
    "seal",
    "undo_link_binding",
]

NONCE_BYTES = 12


class SealError(ValueError):
    """The value could not be opened: unknown key id, wrong key, or tampered data."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_key(text: str) -> bytes:
    """A key as configured: 32 bytes, base64url (padding optional)."""
    key = _b64d(text.strip())
    if len(key) != 32:
        raise ValueError("a sealing key must be 32 bytes (base64url-encoded)")
    return key


def seal(plaintext: str, *, key: bytes, kid: str, associated_data: str) -> SealedValue:
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode(), associated_data.encode())
    return SealedValue(kid=kid, nonce=_b64e(nonce), ciphertext=_b64e(ciphertext))


def open_sealed(value: SealedValue, *, keys: Mapping[str, bytes], associated_data: str) -> str:
    key = keys.get(value.kid)
    if key is None:
        raise SealError(f"no key with id {value.kid!r}")
    try:
        plaintext = AESGCM(key).decrypt(
            _b64d(value.nonce), _b64d(value.ciphertext), associated_data.encode()
        )
    except (InvalidTag, ValueError) as exc:
        raise SealError("sealed value does not open with its key") from exc
    return plaintext.decode()


@dataclass(frozen=True)
class KeyRing:
    """Named keys from configuration, for rotation: ``"k2:<base64url>,k1:<base64url>"``.

    The first key is current (used for new values); the others are still accepted when reading.
    """

    current_id: str
    keys: dict[str, bytes]

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]

    @classmethod
    def parse(cls, text: str) -> "KeyRing":
        keys: dict[str, bytes] = {}
        for item in (part.strip() for part in text.split(",") if part.strip()):
            kid, sep, encoded = item.partition(":")
            if not sep or not kid:
                raise ValueError("keys are written as id:base64url, separated by commas")
            keys[kid] = decode_key(encoded)
        if not keys:
            raise ValueError("at least one key is required")
        return cls(current_id=next(iter(keys)), keys=keys)
