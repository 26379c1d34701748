"""Attacks on sessions: a login in flight while the password is reset must not end in a session.

The thief holds the old password and logs in; argon2id takes tens of milliseconds, and the owner's
reset commits in between. Whatever the interleaving, no session that was created with the old
password may be alive once the reset has returned.
"""

import asyncio
import threading
from collections.abc import Callable

import pytest
from identity_service.adapters.argon2id import Argon2Hasher
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.errors import AuthFailed

from .conftest import NEW_PASSWORD, NO_LOGIN_LIMITS, PASSWORD, new_email

pytestmark = pytest.mark.integration


class GatedHasher(Argon2Hasher):
    """argon2id whose verify waits for a gate: holds logins between "account read" and
    "session written" for as long as a test needs."""

    def __init__(self) -> None:
        super().__init__(19 * 1024, 2, 1)
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Semaphore(0)

    def verify(self, stored_hash: str, password: str) -> tuple[bool, bool]:
        result = super().verify(stored_hash, password)
        if not self.gate.is_set():
            self.waiting.release()
            self.gate.wait(timeout=30)
        return result


async def _live_sessions(accounts: AccountService, tokens: list[str]) -> int:
    return sum([await accounts.account_of_session(t) is not None for t in tokens])


async def test_a_login_verified_before_a_reset_creates_no_session_after_it(
    make_service: Callable[..., AccountService],
) -> None:
    hasher = GatedHasher()
    accounts = make_service(hasher=hasher)
    email = new_email("race")
    account_id = await accounts.create_account(email, PASSWORD)

    hasher.gate.clear()
    login = asyncio.create_task(accounts.login(email, PASSWORD, SecondFactor()))
    # The thief's password has been checked against the old hash; now the owner resets.
    await asyncio.to_thread(hasher.waiting.acquire, timeout=30)
    await accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), None)
    hasher.gate.set()

    with pytest.raises(AuthFailed) as refused:
        await login
    assert refused.value.reason == "invalid_credentials"


async def test_twenty_logins_racing_a_reset_leave_no_session_alive(
    make_service: Callable[..., AccountService],
) -> None:
    accounts = make_service(**NO_LOGIN_LIMITS)  # the thief knows the password: no failures
    email = new_email("race")
    account_id = await accounts.create_account(email, PASSWORD)

    async def thief() -> str | None:
        try:
            return await accounts.login(email, PASSWORD, SecondFactor())
        except AuthFailed:
            return None

    logins = [asyncio.create_task(thief()) for _ in range(24)]
    await asyncio.sleep(0.05)  # some logins are hashing, most are queued behind them
    await accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), None)
    tokens = [t for t in await asyncio.gather(*logins) if t is not None]
    assert await _live_sessions(accounts, tokens) == 0
    # The owner still logs in with the new password.
    assert await accounts.login(email, NEW_PASSWORD, SecondFactor())


async def test_a_session_signed_out_is_dead_for_whoever_copied_its_token(
    make_service: Callable[..., AccountService],
) -> None:
    """The cookie or bearer token copied before the person signed out (a shared computer, a
    leaked log) must not work after it: signing out ends the session on the server, not only in
    the browser. The person's other sessions (another device) stay."""
    accounts = make_service()
    email = new_email("logout")
    await accounts.create_account(email, PASSWORD)
    here = await accounts.login(email, PASSWORD, SecondFactor())
    elsewhere = await accounts.login(email, PASSWORD, SecondFactor())
    assert await accounts.end_session(here) is True
    # 25 uses of the copied token side by side, and signing out again: nothing is alive.
    results = await asyncio.gather(*(accounts.account_of_session(here) for _ in range(25)))
    assert results == [None] * 25
    assert await accounts.end_session(here) is False
    assert await accounts.account_of_session(elsewhere) is not None
