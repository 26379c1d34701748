"""Attacks on the second factor: guessing authenticator codes side by side, and across windows.

TOTP_MAX_FAILURES caps the codes *checked* per window, however many requests arrive at once; and
after 100 consecutive failures (NIST SP 800-63B) authenticator codes stop working altogether until
a recovery code (or support) unlocks the account.
"""

import asyncio
from collections.abc import Callable

import pytest
from identity_service.domain import totp as totp_module
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.errors import AuthFailed, TotpRejected

from .conftest import NEW_PASSWORD, NO_LOGIN_LIMITS, PASSWORD, Clock, MakeTotpAccount

pytestmark = pytest.mark.integration


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def _login(accounts: AccountService, email: str, factor: SecondFactor) -> str:
    try:
        await accounts.login(email, PASSWORD, factor)
    except AuthFailed as exc:
        return exc.reason
    return "success"


async def test_thirty_concurrent_guesses_check_at_most_the_allowed_codes(
    make_service: Callable[..., AccountService],
    clock: Clock,
    make_totp_account: MakeTotpAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts = make_service(**NO_LOGIN_LIMITS)  # only the second factor's limit is under test
    _, email, totp, _ = await make_totp_account(accounts)
    clock.now += 30
    right = totp.at(clock.now)
    checked = 0
    real_match = totp_module.match_code

    def counting_match(*args: object, **kwargs: object) -> totp_module.TotpMatch | None:
        nonlocal checked
        checked += 1
        return real_match(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(totp_module, "match_code", counting_match)
    guesses = [SecondFactor(totp_code=_wrong(right)) for _ in range(29)]
    guesses.append(SecondFactor(totp_code=right))  # the lucky guess arrives last
    outcomes = await asyncio.gather(*(_login(accounts, email, g) for g in guesses))

    assert checked <= 5, f"{checked} codes were checked for a limit of 5"
    assert outcomes.count("success") == 0
    assert set(outcomes) <= {"totp_invalid", "totp_throttled"}
    # The window is used up: the right code is refused unchecked until it passes.
    assert await _login(accounts, email, SecondFactor(totp_code=right)) == "totp_throttled"


async def test_a_hundred_consecutive_failures_lock_codes_until_a_recovery_code(
    make_service: Callable[..., AccountService],
    clock: Clock,
    make_totp_account: MakeTotpAccount,
) -> None:
    accounts = make_service()
    account_id, email, totp, recovery = await make_totp_account(accounts)
    for _ in range(20):  # 20 windows of 5 wrong codes: never throttled for long, but...
        clock.now += 15 * 60 + 31
        bad = SecondFactor(totp_code=_wrong(totp.at(clock.now)))
        for _ in range(5):
            assert await _login(accounts, email, bad) in {"totp_invalid", "totp_throttled"}
    clock.now += 15 * 60 + 31
    # ...the 101st code is refused even when right: the account is locked for codes.
    assert await _login(accounts, email, SecondFactor(totp_code=totp.at(clock.now))) == (
        "account_locked"
    )
    # A recovery code still works, and unlocks the authenticator again.
    assert await _login(accounts, email, SecondFactor(recovery_code=recovery[0])) == "success"
    clock.now += 30
    assert await _login(accounts, email, SecondFactor(totp_code=totp.at(clock.now))) == "success"
    # A reset is no way around the lock either (identity checks the factor in set_password).
    for _ in range(20):
        clock.now += 15 * 60 + 31
        bad = SecondFactor(totp_code=_wrong(totp.at(clock.now)))
        for _ in range(5):
            await _login(accounts, email, bad)
    clock.now += 15 * 60 + 31
    with pytest.raises(TotpRejected) as refused:
        await accounts.set_password(
            account_id, NEW_PASSWORD, SecondFactor(totp_code=totp.at(clock.now)), None
        )
    assert refused.value.locked
