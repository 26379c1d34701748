"""Attacks on turning two-factor on and off with a stolen session: without the password nothing
changes, guesses of the password are throttled like logins, and every change is announced with
a "This wasn't me" link that undoes it."""

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Callable

import asyncpg
import pyotp
import pytest
from identity_service.adapters.argon2id import Argon2Hasher
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.errors import (
    AuthFailed,
    LoginThrottled,
    ReauthenticationFailed,
    TotpRejected,
)
from pwreset_contracts import SecondFactorChangedV1
from pwreset_contracts.sealed import open_sealed

from .conftest import (
    NOTICE_KEYS,
    PASSWORD,
    Clock,
    MakeTotpAccount,
    latest_outbox_record,
    new_email,
)

pytestmark = pytest.mark.integration


async def _latest_event(pool: asyncpg.Pool, account_id: uuid.UUID) -> SecondFactorChangedV1:
    data, _ = await latest_outbox_record(pool, account_id)
    assert isinstance(data, SecondFactorChangedV1)
    return data


async def test_a_session_without_the_password_cannot_turn_two_factor_on(
    make_service: Callable[..., AccountService], clock: Clock
) -> None:
    accounts = make_service()
    email = new_email("stolen")
    account_id = await accounts.create_account(email, PASSWORD)
    setup = await accounts.start_totp(account_id)  # the thief's own authenticator
    code = pyotp.TOTP(setup.secret).at(clock.now)

    async def thief(guess: int) -> str:
        try:
            await accounts.activate_totp(account_id, code, f"guess number {guess}", "192.0.2.7")
        except ReauthenticationFailed:
            return "password_wrong"
        except LoginThrottled:
            return "throttled"
        return "enabled"

    outcomes = await asyncio.gather(*(thief(i) for i in range(25)))
    assert "enabled" not in outcomes
    assert outcomes.count("password_wrong") <= 6  # the login limits hold here too
    # Two-factor is still off: the owner logs in with the password alone.
    assert await accounts.login(email, PASSWORD, SecondFactor(), "198.51.100.3")


async def test_turning_two_factor_on_is_announced_and_this_wasnt_me_undoes_it(
    make_service: Callable[..., AccountService],
    clock: Clock,
    make_totp_account: MakeTotpAccount,
    pool: asyncpg.Pool,
) -> None:
    accounts = make_service()
    account_id, email, _, _ = await make_totp_account(accounts)
    event = await _latest_event(pool, account_id)
    assert (event.change, event.email, event.account_id) == ("enabled", email, account_id)
    link = open_sealed(
        event.sealed_undo_link,
        keys=NOTICE_KEYS.keys,
        associated_data=event.undo_link_binding(),
    )
    assert link.startswith("https://id.example.com/this-wasnt-me?token=")
    with pytest.raises(Exception, match="open"):  # bound to the recipient
        open_sealed(
            event.sealed_undo_link,
            keys=NOTICE_KEYS.keys,
            associated_data=event.model_copy(
                update={"email": "attacker@evil.example"}
            ).undo_link_binding(),
        )

    with pytest.raises(AuthFailed) as needs_code:
        await accounts.login(email, PASSWORD, SecondFactor(), "198.51.100.4")
    assert needs_code.value.reason == "totp_required"

    undone = await accounts.this_wasnt_me(link.split("token=")[1])
    assert undone is not None and not undone.account.totp_enabled
    # Two-factor is off again: the owner logs in with the password alone.
    token = await accounts.login(email, PASSWORD, SecondFactor(), "198.51.100.4")
    assert await accounts.account_of_session(token) == account_id
    assert await accounts.this_wasnt_me(link.split("token=")[1]) is None  # once


async def test_turning_two_factor_off_needs_password_and_code_and_is_announced(
    make_service: Callable[..., AccountService],
    clock: Clock,
    make_totp_account: MakeTotpAccount,
    pool: asyncpg.Pool,
) -> None:
    accounts = make_service()
    account_id, email, totp, _ = await make_totp_account(accounts)
    clock.now += 30
    with pytest.raises(ReauthenticationFailed):
        await accounts.disable_totp(
            account_id, "not the password", SecondFactor(totp.at(clock.now)), "192.0.2.8"
        )
    with pytest.raises(Exception, match="authenticator"):
        await accounts.disable_totp(account_id, PASSWORD, SecondFactor(), "192.0.2.8")
    assert (await _latest_event(pool, account_id)).change == "enabled"

    await accounts.disable_totp(account_id, PASSWORD, SecondFactor(totp.at(clock.now)), "192.0.2.8")
    event = await _latest_event(pool, account_id)
    assert (event.change, event.client_ip) == ("disabled", "192.0.2.8")
    assert await accounts.login(email, PASSWORD, SecondFactor(), "192.0.2.8")


class _SignallingHasher(Argon2Hasher):
    """argon2id that says when a password check has started (from its worker thread)."""

    def __init__(self) -> None:
        super().__init__(19 * 1024, 2, 1)
        self.verifying = threading.Event()

    def verify(self, stored_hash: str, password: str) -> tuple[bool, bool]:
        self.verifying.set()
        return super().verify(stored_hash, password)


async def test_a_setup_restarted_during_activation_never_turns_on_a_secret_nobody_confirmed(
    make_service: Callable[..., AccountService], clock: Clock, pool: asyncpg.Pool
) -> None:
    """The owner scans secret A and activates it with A's code; while the password is being
    checked (argon2id, tens of milliseconds) a thief holding the session starts setups of its
    own, each storing a new pending secret. Two-factor must end on A (the secret the code
    proved) or stay off: never on a secret of the thief's that nobody confirmed."""
    hasher = _SignallingHasher()
    accounts = make_service(hasher=hasher)
    email = new_email("swap")
    account_id = await accounts.create_account(email, PASSWORD)
    owners = pyotp.TOTP((await accounts.start_totp(account_id)).secret)
    hasher.verifying.clear()
    activation = asyncio.create_task(
        accounts.activate_totp(account_id, owners.at(clock.now), PASSWORD, "198.51.100.9")
    )
    # The activation has read the account (and its pending secret) and checks the password.
    assert await asyncio.to_thread(hasher.verifying.wait, 30)
    thiefs = 0
    while not activation.done() and thiefs < 200:
        with contextlib.suppress(TotpRejected):  # on already: the thief's setups stop
            await accounts.start_totp(account_id)
            thiefs += 1
        await asyncio.sleep(0)
    assert thiefs, "no setup ran while the activation was checked"
    try:
        await activation
    except TotpRejected:
        enabled = False  # refused is a right outcome too
    else:
        enabled = True
    assert (
        await pool.fetchval("SELECT totp_enabled FROM accounts WHERE id = $1", account_id)
        is enabled
    )
    if enabled:
        # The owner's authenticator, the one the code came from, opens the account.
        clock.now += 30
        token = await accounts.login(
            email, PASSWORD, SecondFactor(totp_code=owners.at(clock.now)), "198.51.100.9"
        )
        assert await accounts.account_of_session(token) == account_id
