"""Failed-login limits per account, per account and client IP, and per client IP.

The account scope is keyed by the email as typed (normalised), so an unknown email is throttled
exactly like a known one: the answers never tell whether an account exists. Keys are HMACs, so
the table holds no address or IP in clear. Storage applies the rules of domain.login_throttle to
the counters of an attempt's keys in one atomic step: reserve before the password is checked,
give back once it was right.
"""

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from pwreset_contracts.emails import UnsupportedEmail, normalise_email
from servicekit.client_network import client_network

from identity_service.domain.login_throttle import ThrottleRule, Verdict
from identity_service.service_layer.errors import LoginThrottled
from identity_service.service_layer.repositories import LoginThrottleRepository

Scopes = tuple[tuple[ThrottleRule, bytes], ...]


def throttle_key(email: str) -> str:
    """The email as the platform keys it, so every spelling of one address shares its limits;
    an address it would never accept is keyed as typed (it has no account either way)."""
    try:
        return normalise_email(email)
    except UnsupportedEmail:
        return email.strip().casefold()


@dataclass(frozen=True)
class LoginLimits:
    per_account: ThrottleRule
    per_account_ip: ThrottleRule
    per_ip: ThrottleRule
    forget_after: timedelta
    key: bytes

    @classmethod
    def build(
        cls,
        *,
        key: bytes,
        free_per_account: int = 10,
        max_delay_per_account: timedelta = timedelta(seconds=60),
        free_per_account_ip: int = 5,
        max_delay_per_account_ip: timedelta = timedelta(minutes=15),
        free_per_ip: int = 30,
        max_delay_per_ip: timedelta = timedelta(minutes=15),
        forget_after: timedelta = timedelta(hours=1),
    ) -> "LoginLimits":
        return cls(
            ThrottleRule("account", free_per_account, max_delay_per_account),
            ThrottleRule("account_ip", free_per_account_ip, max_delay_per_account_ip),
            ThrottleRule("ip", free_per_ip, max_delay_per_ip),
            forget_after,
            key,
        )


class LoginAttempt:
    """A reserved attempt: counted as a failure unless `password_verified` gives it back."""

    def __init__(self, throttle: "LoginThrottle", scopes: Scopes) -> None:
        self._throttle = throttle
        self._scopes = scopes

    async def password_verified(self) -> None:
        # The owner got in: clear the account's scopes; the address keeps its other failures.
        await self._throttle.give_back(self._scopes, clear=(True, True, False))


class LoginThrottle:
    def __init__(self, counters: LoginThrottleRepository, limits: LoginLimits) -> None:
        self._counters = counters
        self._limits = limits

    def _key(self, scope: str, *parts: str) -> bytes:
        message = "\x00".join((scope, *parts)).encode()
        return hmac.new(self._limits.key, message, hashlib.sha256).digest()

    def scopes(self, email: str, client_ip: str) -> Scopes:
        account = throttle_key(email)
        client = client_network(client_ip)
        limits = self._limits
        return (
            (limits.per_account, self._key("account", account)),
            (limits.per_account_ip, self._key("account_ip", account, client)),
            (limits.per_ip, self._key("ip", client)),
        )

    async def reserve(self, email: str, client_ip: str, now: datetime) -> LoginAttempt:
        """Count the attempt as a failure now, committed before the password is checked, so
        attempts sent side by side cannot all slip under the limit; or LoginThrottled."""
        scopes = self.scopes(email, client_ip)
        verdict = await self._reserve(scopes, now)
        if not verdict.allowed:
            raise LoginThrottled(verdict.retry_after)
        return LoginAttempt(self, scopes)

    async def count(self, rule: ThrottleRule, now: datetime, *parts: str) -> Verdict:
        """Count one event against a single rule (registrations use this); never given back."""
        return await self._reserve(((rule, self._key(rule.scope, *parts)),), now)

    async def _reserve(self, scopes: Scopes, now: datetime) -> Verdict:
        rules = tuple(rule for rule, _ in scopes)
        keys = tuple(key for _, key in scopes)
        return await self._counters.reserve(rules, keys, now, self._limits.forget_after)

    async def give_back(self, scopes: Scopes, *, clear: tuple[bool, ...]) -> None:
        rules = tuple(rule for rule, _ in scopes)
        keys = tuple(key for _, key in scopes)
        await self._counters.give_back(rules, keys, clear)

    async def prune(self, now: datetime) -> int:
        """Forget counters that count as zero anyway: keeps the table from growing with every
        address ever tried."""
        return await self._counters.prune(now, now - self._limits.forget_after)
