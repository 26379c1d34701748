"""Turning two-factor on and off against in-memory fakes: the password again for both (under the
login limits), a current code to turn it off, and each change announced in the same commit."""

import uuid

import pyotp
import pytest
from identity_service.domain import recovery_codes, undo_links
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.errors import (
    AccountNotFound,
    ReauthenticationFailed,
    TotpRejected,
)
from pwreset_contracts import SecondFactorChangedV1

from .fakes import PASSWORD, RECOVERY_KEY, World, link_token

IP = "192.0.2.7"


async def test_setup_keeps_the_new_secret_encrypted_until_it_is_activated() -> None:
    world = World()
    account_id, _ = await world.new_account()
    setup = await world.accounts.start_totp(account_id)
    account = world.account(account_id)
    assert account.totp_setup_pending and not account.totp_enabled
    assert account.totp_secret_enc is not None
    assert setup.secret.encode() not in account.totp_secret_enc
    assert world.box.decrypt(account.totp_secret_enc, context=str(account_id)) == setup.secret
    assert "issuer=test" in setup.provisioning_uri
    with pytest.raises(AccountNotFound):
        await world.accounts.start_totp(uuid.uuid4())


async def test_turning_it_on_needs_the_password_and_a_code() -> None:
    world = World()
    account_id, _ = await world.new_account()
    setup = await world.accounts.start_totp(account_id)
    code = pyotp.TOTP(setup.secret).at(world.clock.now)
    with pytest.raises(ReauthenticationFailed):
        await world.accounts.activate_totp(account_id, code, "a stolen session's guess", IP)
    with pytest.raises(TotpRejected):
        await world.accounts.activate_totp(account_id, f"{(int(code) + 1) % 10**6:06d}", PASSWORD)
    assert not world.account(account_id).totp_enabled
    assert world.events() == []
    # The wrong password was counted like a failed login (the right one gave its attempt back).
    assert sorted(c.failures for c in world.tables.login_throttle.values()) == [0, 0, 0, 1, 1]


async def test_turning_it_on_stores_hashed_recovery_codes_and_announces_it() -> None:
    world = World()
    account_id, email = await world.new_account()
    epoch = world.account(account_id).credentials_epoch
    setup = await world.accounts.start_totp(account_id)
    commits = world.db.commits

    codes = await world.accounts.activate_totp(
        account_id, pyotp.TOTP(setup.secret).at(world.clock.now), PASSWORD, IP
    )

    account = world.account(account_id)
    assert account.totp_enabled and account.credentials_epoch == epoch + 1
    assert len(set(codes)) == 10
    assert set(world.tables.recovery_codes[account_id]) == {
        recovery_codes.digest(RECOVERY_KEY, c) for c in codes
    }
    [event] = world.events()
    assert isinstance(event, SecondFactorChangedV1)
    assert (event.change, event.email, event.client_ip) == ("enabled", email, IP)
    token = link_token(event.sealed_undo_link, event.undo_link_binding())
    kind = world.tables.undo_tokens[undo_links.token_digest(token)].kind
    assert kind == "second_factor_enabled"
    # The change itself in one commit (reauthentication's reserve and give-back are steps of
    # the failed-login counters of their own, outside any unit of work).
    assert world.db.commits == commits + 1
    with pytest.raises(TotpRejected):
        await world.accounts.start_totp(account_id)


async def test_turning_it_off_needs_the_password_and_a_current_code() -> None:
    world = World()
    account_id, _, totp, _ = await world.totp_account()
    code = totp.at(world.clock.now)
    with pytest.raises(ReauthenticationFailed):
        await world.accounts.disable_totp(account_id, "not it", SecondFactor(totp_code=code), IP)
    with pytest.raises(TotpRejected, match="authenticator"):
        await world.accounts.disable_totp(account_id, PASSWORD, SecondFactor(), IP)
    assert world.account(account_id).totp_enabled
    assert len(world.events()) == 1  # only "enabled"

    await world.accounts.disable_totp(account_id, PASSWORD, SecondFactor(totp_code=code), IP)

    account = world.account(account_id)
    assert not account.totp_enabled and account.totp_secret_enc is None
    assert account_id not in world.tables.recovery_codes
    event = world.events()[-1]
    assert isinstance(event, SecondFactorChangedV1)
    assert (event.change, event.client_ip) == ("disabled", IP)
    with pytest.raises(TotpRejected, match="not on"):
        await world.accounts.disable_totp(account_id, PASSWORD, SecondFactor(totp_code=code), IP)


async def test_a_wrong_code_leaves_it_on_and_is_counted() -> None:
    world = World()
    account_id, _, totp, _ = await world.totp_account()
    wrong = f"{(int(totp.at(world.clock.now)) + 1) % 10**6:06d}"
    with pytest.raises(TotpRejected):
        await world.accounts.disable_totp(account_id, PASSWORD, SecondFactor(totp_code=wrong), IP)
    assert world.account(account_id).totp_enabled
    assert world.account(account_id).totp_failures == 1
    assert len(world.events()) == 1
