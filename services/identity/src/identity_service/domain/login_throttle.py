"""Failed-login throttling: pure rules, so they can be read and tested without a database.

Each attempt is counted as a failure *before* the password is checked (so requests sent side by
side cannot all slip under a limit) and given back when the password turns out right. A scope
(the account, the account from one client IP, one client IP) allows some failures for free;
after that each failure blocks the scope for a delay that doubles, up to the scope's cap. The
per-account cap is short on purpose: an attacker failing from other addresses can delay the
owner by at most that long, never lock them out.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class ThrottleRule:
    scope: str
    free_failures: int
    max_delay: timedelta
    base_delay: timedelta = timedelta(seconds=1)

    def delay_after(self, failures: int) -> timedelta:
        """How long the scope is blocked after its `failures`-th failure in a row."""
        over = failures - self.free_failures
        if over <= 0:
            return timedelta(0)
        # 2**over overflows nothing: the cap is reached long before the exponent grows large.
        delay: timedelta = self.base_delay * (2 ** min(over - 1, 30))
        return min(delay, self.max_delay)


@dataclass(frozen=True)
class ThrottleCounter:
    failures: int = 0
    last_failure_at: datetime | None = None
    blocked_until: datetime | None = None

    def current(self, now: datetime, forget_after: timedelta) -> "ThrottleCounter":
        """The counter as it stands now: failures are forgotten after a quiet period."""
        if self.last_failure_at is None or now - self.last_failure_at >= forget_after:
            return ThrottleCounter()
        return self


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: timedelta
    # The counters as they now stand (what storage writes back), when the caller needs them.
    counters: tuple[ThrottleCounter, ...] = ()


def reserve(
    rules: tuple[ThrottleRule, ...],
    counters: tuple[ThrottleCounter, ...],
    now: datetime,
    forget_after: timedelta,
) -> Verdict:
    """Allow the attempt only if no scope is blocked; if allowed, count it as a failure."""
    current = tuple(c.current(now, forget_after) for c in counters)
    blocked = [c.blocked_until - now for c in current if c.blocked_until and c.blocked_until > now]
    if blocked:
        return Verdict(False, max(blocked), current)
    counted = tuple(
        ThrottleCounter(c.failures + 1, now, _blocked_until(now, rule.delay_after(c.failures + 1)))
        for rule, c in zip(rules, current, strict=True)
    )
    return Verdict(True, timedelta(0), counted)


def _blocked_until(now: datetime, delay: timedelta) -> datetime | None:
    # A free failure blocks nothing. "Until now" would block a concurrent attempt whose clock
    # read came a moment earlier but whose turn at the counter's lock came later.
    return now + delay if delay else None


def give_back(
    rules: tuple[ThrottleRule, ...],
    counters: tuple[ThrottleCounter, ...],
    *,
    clear: tuple[bool, ...],
) -> tuple[ThrottleCounter, ...]:
    """A reserved attempt succeeded: clear the scopes that belong to the account (its owner
    got in), and take just this attempt off the others (a shared address keeps its count)."""
    out = []
    for rule, counter, wipe in zip(rules, counters, clear, strict=True):
        if wipe or counter.failures <= 1:
            out.append(ThrottleCounter())
            continue
        failures = counter.failures - 1
        delay = rule.delay_after(failures)
        blocked = counter.last_failure_at + delay if counter.last_failure_at and delay else None
        out.append(ThrottleCounter(failures, counter.last_failure_at, blocked))
    return tuple(out)
