"""The second factor: what a person typed, and the limits on guessing it.

Each attempt is counted as a failure *before* its code is checked: however many requests arrive
at once, at most ``max_per_window`` codes are checked per window, and none but recovery codes
after ``lockout_after`` consecutive failures (NIST SP 800-63B allows at most 100). A right code
clears both counts. ``reserve_attempt`` states the rule; the accounts repository applies it in
one guarded UPDATE so that attempts side by side cannot slip in between a read and a write.
"""

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class SecondFactor:
    """What a person typed as their second factor: an authenticator code or a recovery code."""

    totp_code: str | None = None
    recovery_code: str | None = None

    def __bool__(self) -> bool:
        return bool(self.totp_code or self.recovery_code)


@dataclass(frozen=True)
class AttemptLimits:
    window: timedelta
    max_per_window: int
    lockout_after: int


class SecondFactorAttempt(enum.Enum):
    ALLOWED = "allowed"
    THROTTLED = "throttled"  # too many failures in the window
    LOCKED = "locked"  # too many consecutive failures: only a recovery code (or support) now


@dataclass(frozen=True)
class SecondFactorReservation:
    verdict: SecondFactorAttempt
    failures_in_window: int  # this attempt included
    consecutive_failures: int  # this attempt included


@dataclass(frozen=True)
class FailureCounts:
    """An account's second-factor failures (the ``totp_failures*`` columns)."""

    in_window: int = 0
    window_since: datetime | None = None
    consecutive: int = 0


def refused(consecutive: int, limits: AttemptLimits, *, recovery_code: bool) -> SecondFactorAttempt:
    """Why an attempt was not reserved: locked (codes only; a recovery code is never locked out)
    or throttled."""
    if not recovery_code and consecutive >= limits.lockout_after:
        return SecondFactorAttempt.LOCKED
    return SecondFactorAttempt.THROTTLED


def reserve_attempt(
    counts: FailureCounts, now: datetime, limits: AttemptLimits, *, recovery_code: bool
) -> tuple[FailureCounts, SecondFactorReservation]:
    """The counts with this attempt counted as a failure, if it may be checked at all."""
    window_over = counts.window_since is None or counts.window_since <= now - limits.window
    allowed = (window_over or counts.in_window < limits.max_per_window) and (
        recovery_code or counts.consecutive < limits.lockout_after
    )
    if not allowed:
        verdict = refused(counts.consecutive, limits, recovery_code=recovery_code)
        return counts, SecondFactorReservation(verdict, limits.max_per_window, counts.consecutive)
    counted = FailureCounts(
        in_window=1 if window_over else counts.in_window + 1,
        window_since=now if window_over else counts.window_since,
        consecutive=counts.consecutive + 1,
    )
    return counted, SecondFactorReservation(
        SecondFactorAttempt.ALLOWED, counted.in_window, counted.consecutive
    )
