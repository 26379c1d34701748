"""Password policy (NIST SP 800-63B-4: length, no composition rules) and the one normal form a
password is checked and hashed in (the hashing itself: adapters.argon2id)."""

import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources


@cache
def common_passwords() -> frozenset[str]:
    """The shipped blocklist (data/common-passwords.txt: NFC, case-folded)."""
    text = resources.files("identity_service").joinpath("data", "common-passwords.txt").read_text()
    return frozenset(line for line in text.splitlines() if line)


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 15
    min_length_with_totp: int = 8
    max_length: int = 128
    blocklist: frozenset[str] = field(default_factory=common_passwords, repr=False)


class PasswordRejected(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def normalise(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def check_password(password: str, *, email: str, totp_enabled: bool, policy: PasswordPolicy) -> str:
    """The NFC-normalised password, or PasswordRejected with a machine-readable reason."""
    candidate = normalise(password)
    minimum = policy.min_length_with_totp if totp_enabled else policy.min_length
    length = len(candidate)
    if length < minimum:
        raise PasswordRejected("too_short", f"use at least {minimum} characters")
    if length > policy.max_length:
        raise PasswordRejected("too_long", f"use at most {policy.max_length} characters")
    if any(unicodedata.category(c) == "Cc" for c in candidate):
        raise PasswordRejected("control_characters", "control characters are not allowed")
    folded = candidate.casefold()
    if folded in (email.casefold(), email.partition("@")[0].casefold()):
        raise PasswordRejected("matches_email", "the password must not be your email address")
    if folded in policy.blocklist:
        raise PasswordRejected("common_password", "this password is too common; choose another")
    return candidate
