"""Password policy (NIST SP 800-63B-4: length, no composition rules) and the one normal form a
password is checked and hashed in (the hashing itself: adapters.argon2id)."""

import hashlib
import unicodedata
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources


class Blocklist:
    """A set of passwords kept as sorted 64-bit BLAKE2b digests. A frozenset of the 30,000
    shipped ones kept 3.9 MiB resident for the life of the process; this keeps 240 KiB, and a
    lookup is one digest and a binary search. Two passwords share a digest with probability
    about 2^-64 per pair: the worst a collision could do is call one more password common."""

    def __init__(self, passwords: Iterable[str]) -> None:
        self._digests = array("Q", sorted({_digest(p) for p in passwords if p}))

    def __contains__(self, candidate: str) -> bool:
        digest = _digest(candidate)
        at = bisect_left(self._digests, digest)
        return at < len(self._digests) and self._digests[at] == digest

    def __len__(self) -> int:
        return len(self._digests)


def _digest(password: str) -> int:
    return int.from_bytes(hashlib.blake2b(password.encode(), digest_size=8).digest(), "big")


@cache
def common_passwords() -> Blocklist:
    """The shipped blocklist (data/common-passwords.txt: NFC, case-folded), read a line at a
    time so that no copy of the whole list is ever held."""
    shipped = resources.files("identity_service").joinpath("data", "common-passwords.txt")
    with shipped.open(encoding="utf-8") as lines:
        return Blocklist(line.rstrip("\n") for line in lines)


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 15
    min_length_with_totp: int = 8
    max_length: int = 128
    blocklist: Blocklist = field(default_factory=common_passwords, repr=False)


class PasswordRejected(ValueError):
    def __init__(self, reason: str, message: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        # The bound a too_short or too_long password missed: pages say it in their language.
        self.limit = limit


def normalise(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def check_password(password: str, *, email: str, totp_enabled: bool, policy: PasswordPolicy) -> str:
    """The NFC-normalised password, or PasswordRejected with a machine-readable reason."""
    candidate = normalise(password)
    minimum = policy.min_length_with_totp if totp_enabled else policy.min_length
    length = len(candidate)
    if length < minimum:
        raise PasswordRejected("too_short", f"use at least {minimum} characters", minimum)
    if length > policy.max_length:
        raise PasswordRejected(
            "too_long", f"use at most {policy.max_length} characters", policy.max_length
        )
    if any(unicodedata.category(c) == "Cc" for c in candidate):
        raise PasswordRejected("control_characters", "control characters are not allowed")
    folded = candidate.casefold()
    if folded in (email.casefold(), email.partition("@")[0].casefold()):
        raise PasswordRejected("matches_email", "the password must not be your email address")
    if folded in policy.blocklist:
        raise PasswordRejected("common_password", "this password is too common; choose another")
    return candidate
