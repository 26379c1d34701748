"""Attacks on turning two-factor on and off with a stolen session: without the password nothing
changes, guesses of the password are throttled like logins, and every change is announced with
a "This wasn't me" link that undoes it."""

import asyncio
import uuid
from collections.abc import Callable

import asyncpg
import pyotp
import pytest
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.errors import (
    AuthFailed,
    LoginThrottled,
    ReauthenticationFailed,
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
