"""Sliding-window rate limits: which bucket a request counts in, and whether its window has room.

The hits themselves live in storage shared by every replica (``adapters/rate_limits.py``); the
rule deciding from them is here, and PostgreSQL's ``rate_limit_take`` (migration 0005) decides
the same way in one round trip (``tests/integration/test_request_in_one_statement.py``).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from pwreset_contracts.emails import normalise_email
from servicekit.client_network import client_network

from reset_service.domain.secrets_issued import keyed_hash

ACCOUNT = "account"
IP = "ip"
LINK_MISS = "link_miss"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_seconds: int = 0


@dataclass(frozen=True)
class Limit:
    scope: str  # ACCOUNT, IP or LINK_MISS
    subject: bytes  # keyed hash of the IP address or the normalised email
    max_hits: int
    window: timedelta

    def decide(self, hits: int, oldest: datetime | None, now: datetime) -> Decision:
        """Room for one more, given the ``hits`` in the window ending ``now`` (the first of them
        at ``oldest``); if full, the whole seconds until the oldest leaves the window."""
        if hits < self.max_hits:
            return Decision(True)
        retry = (oldest + self.window - now).total_seconds() if oldest else 1
        return Decision(False, max(1, int(retry + 0.999)))


@dataclass(frozen=True)
class RequestLimits:
    account_max: int  # emails per account per window; further requests wait, coalesced
    ip_max: int
    window: timedelta
    link_misses_max: int = 10  # link tokens matching nothing, per client IP per window

    def for_email(self, key: bytes, email: str) -> Limit:
        # Counted for unknown emails too, the same way: the limit says nothing about existence.
        # Keyed by the platform's one normalisation, the key identity finds accounts by, so
        # every spelling that reaches an account shares that account's limit.
        return self.for_account(keyed_hash(key, "email:" + normalise_email(email)))

    def for_account(self, subject: bytes) -> Limit:
        """The per-account limit by its stored subject (a pending email keeps only that)."""
        return Limit(ACCOUNT, subject, self.account_max, self.window)

    def for_ip(self, key: bytes, client_ip: str) -> Limit:
        return Limit(
            IP, keyed_hash(key, "ip:" + client_network(client_ip)), self.ip_max, self.window
        )

    def for_link_misses(self, key: bytes, client_ip: str) -> Limit:
        subject = keyed_hash(key, "ip:" + client_network(client_ip))
        return Limit(LINK_MISS, subject, self.link_misses_max, self.window)
