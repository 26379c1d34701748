"""A reset request: the keyed hashes of its link token and code, and what it still allows.

Usable means open (not used, not revoked, not expired) and under the wrong-code limit. A new
request of an account replaces the newest open one: it takes over that one's codes (while the
hash key is the same) and its wrong-code count, so a third party asking again and again can
neither lock the owner out nor reset the owner's guess count.
"""

import dataclasses
import enum
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from reset_service.domain.secrets_issued import keyed_hash, normalise_code, same_secret

# Codes of replaced requests a newer one still accepts; with the account limit this covers a
# window of requests from others while the owner waits for the coalesced email.
MAX_CARRIED_CODES = 32


class ConfirmFailure(enum.Enum):
    LINK_INVALID = "link_invalid"  # unknown, used, revoked or expired: one answer for all
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    CODE_REQUIRED = "verification_code_required"
    TOTP_REQUIRED = "totp_required"
    WRONG_CODE = "wrong_code"
    TOTP_THROTTLED = "totp_throttled"
    # Asked for with two-factor on (so with no on-screen code), which is off now: only a new
    # reset, which asks for the on-screen code, can go on. No wrong code, nothing counted.
    RESET_OUTDATED = "reset_outdated"


@dataclass
class ResetRequest:
    id: UUID
    account_id: UUID
    token_hash: bytes
    code_hash: bytes
    hash_key_id: str
    requires_totp: bool
    created_at: datetime
    expires_at: datetime
    carried_code_hashes: list[bytes] = field(default_factory=list)
    failed_attempts: int = 0
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def issue(
        cls,
        *,
        id: UUID,
        account_id: UUID,
        token_hash: bytes,
        code_hash: bytes,
        hash_key_id: str,
        requires_totp: bool,
        created_at: datetime,
        expires_at: datetime,
        replacing: "ResetRequest | None" = None,
    ) -> "ResetRequest":
        """A new request, taking over from ``replacing`` (the account's newest open request
        within the window, if any)."""
        new = cls(
            id=id,
            account_id=account_id,
            token_hash=token_hash,
            code_hash=code_hash,
            hash_key_id=hash_key_id,
            requires_totp=requires_totp,
            created_at=created_at,
            expires_at=expires_at,
        )
        return new.taking_over(replacing)

    def taking_over(self, replaced: "ResetRequest | None") -> "ResetRequest":
        """This new request with the wrong-code count and the codes of ``replaced``, which it
        revokes (the codes only while the hash key is the same). The request store applies this
        rule when it writes a new request (``RequestIntake``)."""
        if replaced is None:
            return self
        carried: list[bytes] = []
        # A code hashed with another key could never match under this request's key.
        if replaced.hash_key_id == self.hash_key_id:
            carried = [replaced.code_hash, *replaced.carried_code_hashes]
        return dataclasses.replace(
            self,
            carried_code_hashes=carried[:MAX_CARRIED_CODES],
            failed_attempts=replaced.failed_attempts,
        )

    def is_open(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and self.expires_at > now

    def refusal(self, now: datetime, max_attempts: int) -> ConfirmFailure | None:
        """Why this request can no longer be used, if it cannot."""
        if not self.is_open(now):
            return ConfirmFailure.LINK_INVALID
        if self.failed_attempts >= max_attempts:
            return ConfirmFailure.TOO_MANY_ATTEMPTS
        return None

    def missing_proof(self, code: str | None, second_factor_given: bool) -> ConfirmFailure | None:
        """With two-factor on, the verification code alone never suffices; without it, the code
        is required."""
        if self.requires_totp:
            return None if second_factor_given else ConfirmFailure.TOTP_REQUIRED
        return None if code else ConfirmFailure.CODE_REQUIRED

    def accepts_code(self, code: str | None, key: bytes) -> bool:
        """This request's code, or one of the requests it replaced (carried over). Every stored
        hash is compared, in constant time each, so the time says nothing about which matched.
        ``key``: the hash key this request was stored with (``hash_key_id``)."""
        if not code:
            return False
        presented = keyed_hash(key, normalise_code(code))
        matches = [same_secret(presented, h) for h in (self.code_hash, *self.carried_code_hashes)]
        return any(matches)

    def attempts_left(self, max_attempts: int) -> int:
        return max(max_attempts - self.failed_attempts, 0)

    def wrong_proof(self, max_attempts: int) -> ConfirmFailure:
        """The answer to a wrong code once it is counted: the last one burns the request."""
        if self.attempts_left(max_attempts) == 0:
            return ConfirmFailure.TOO_MANY_ATTEMPTS
        return ConfirmFailure.WRONG_CODE
