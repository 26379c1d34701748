"""The second factor's attempt limits as pure rules (the accounts repository applies them in
one UPDATE): counted before the check, capped per window, locked after failures in a row."""

from datetime import UTC, datetime, timedelta

from identity_service.domain.second_factor import (
    AttemptLimits,
    FailureCounts,
    SecondFactor,
    SecondFactorAttempt,
    reserve_attempt,
)

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
LIMITS = AttemptLimits(window=timedelta(minutes=15), max_per_window=5, lockout_after=100)


def test_attempts_are_counted_until_the_window_is_full() -> None:
    counts = FailureCounts()
    verdicts = []
    for _ in range(6):
        counts, reservation = reserve_attempt(counts, NOW, LIMITS, recovery_code=False)
        verdicts.append(reservation.verdict)
    assert verdicts == [SecondFactorAttempt.ALLOWED] * 5 + [SecondFactorAttempt.THROTTLED]
    assert (counts.in_window, counts.window_since, counts.consecutive) == (5, NOW, 5)


def test_a_new_window_starts_once_the_first_failure_is_a_window_old() -> None:
    full = FailureCounts(in_window=5, window_since=NOW, consecutive=5)
    _, early = reserve_attempt(full, NOW + timedelta(minutes=14), LIMITS, recovery_code=False)
    assert early.verdict is SecondFactorAttempt.THROTTLED
    later = NOW + timedelta(minutes=15)
    counts, reservation = reserve_attempt(full, later, LIMITS, recovery_code=False)
    assert reservation.verdict is SecondFactorAttempt.ALLOWED
    assert (counts.in_window, counts.window_since, counts.consecutive) == (1, later, 6)


def test_after_too_many_in_a_row_only_a_recovery_code_is_checked() -> None:
    locked = FailureCounts(in_window=0, window_since=None, consecutive=100)
    unchanged, code = reserve_attempt(locked, NOW, LIMITS, recovery_code=False)
    assert code.verdict is SecondFactorAttempt.LOCKED and unchanged == locked
    _, recovery = reserve_attempt(locked, NOW, LIMITS, recovery_code=True)
    assert recovery.verdict is SecondFactorAttempt.ALLOWED
    assert recovery.consecutive_failures == 101


def test_a_second_factor_is_given_when_either_code_is() -> None:
    assert not SecondFactor()
    assert not SecondFactor(totp_code="", recovery_code="")
    assert SecondFactor(totp_code="123456") and SecondFactor(recovery_code="k7m2p-x9qrt")
