"""Encrypts TOTP secrets at rest (AES-256-GCM, account id as associated data)."""

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pwreset_contracts.sealed import decode_key

_NONCE = 12


class SecretBox:
    def __init__(self, key_b64: str) -> None:
        self._aead = AESGCM(decode_key(key_b64))

    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())

    def decrypt(self, blob: bytes, *, context: str) -> str:
        return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], context.encode()).decode()
