"""What the reset use cases are configured with: keys, origin, lifetimes and limits (from
``Settings`` in ``bootstrap.py``)."""

from dataclasses import dataclass
from datetime import timedelta

from pwreset_contracts.sealed import KeyRing

from reset_service.domain.rate_limits import RequestLimits
from reset_service.domain.secrets_issued import keyed_hash


@dataclass(frozen=True)
class ResetPolicy:
    hash_keys: KeyRing  # HMAC keys of stored token and code hashes; the current one hashes
    seal_keys: KeyRing  # AES-GCM keys sealing the emailed link for the notifier
    public_origin: str  # origin of the emailed links
    ttl: timedelta
    max_attempts: int  # wrong codes per request (carried over to the requests replacing it)
    limits: RequestLimits

    def token_hashes(self, token: str) -> list[bytes]:
        """The token under every hash key still accepted, so a key rotation breaks no link."""
        return [keyed_hash(key, token) for key in self.hash_keys.keys.values()]
