""" "This wasn't me" against in-memory fakes: once per link, it signs the account out everywhere
(logins in flight too), turns off two-factor somebody else turned on, and starts a fresh reset
through the reset port itself."""

from datetime import timedelta

from identity_service.domain import undo_links
from identity_service.domain.second_factor import SecondFactor
from pwreset_contracts import PasswordChangedV1, SecondFactorChangedV1

from .fakes import NEW_PASSWORD, PASSWORD, FakeResets, World, link_token


async def _reset_undo_token(world: World) -> tuple[str, str]:
    """(email, token) of a "Your password was changed" email."""
    account_id, email = await world.new_account()
    await world.accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), None)
    event = world.events()[-1]
    assert isinstance(event, PasswordChangedV1)
    return email, link_token(event.sealed_undo_link, event.undo_link_binding())


async def test_the_link_says_what_it_undoes_without_using_it() -> None:
    world = World()
    _, token = await _reset_undo_token(world)
    assert await world.accounts.undo_kind(token) == "password_changed"
    assert await world.accounts.undo_kind(token) == "password_changed"
    assert await world.accounts.undo_kind("unknown-token-0123456789") is None


async def test_it_signs_out_everywhere_and_starts_a_fresh_reset_once() -> None:
    world = World()
    email, token = await _reset_undo_token(world)
    session = await world.accounts.login(email, NEW_PASSWORD, SecondFactor())
    account_id = await world.accounts.account_of_session(session)
    assert account_id is not None
    epoch = world.account(account_id).credentials_epoch

    done = await world.accounts.this_wasnt_me(token)

    assert done is not None
    assert (done.account.id, done.kind) == (account_id, "password_changed")
    assert done.verification_code == FakeResets.CODE
    assert world.resets.emails == [email]  # the stored address, by the use case itself
    assert await world.accounts.account_of_session(session) is None
    assert world.account(account_id).credentials_epoch == epoch + 1  # logins in flight void
    assert await world.accounts.this_wasnt_me(token) is None
    assert world.resets.emails == [email]


async def test_two_factor_somebody_else_turned_on_is_turned_off() -> None:
    world = World()
    account_id, email, _, _ = await world.totp_account()
    event = world.events()[-1]
    assert isinstance(event, SecondFactorChangedV1) and event.change == "enabled"
    token = link_token(event.sealed_undo_link, event.undo_link_binding())
    assert await world.accounts.undo_kind(token) == "second_factor_enabled"

    done = await world.accounts.this_wasnt_me(token)

    assert done is not None and not done.account.totp_enabled
    assert account_id not in world.tables.recovery_codes
    assert await world.accounts.login(email, PASSWORD, SecondFactor())  # password alone again


async def test_signed_out_even_when_the_reset_service_cannot_start_a_reset() -> None:
    world = World()
    email, token = await _reset_undo_token(world)
    session = await world.accounts.login(email, NEW_PASSWORD, SecondFactor())
    world.resets.unavailable = True
    done = await world.accounts.this_wasnt_me(token)
    assert done is not None and done.verification_code is None
    assert await world.accounts.account_of_session(session) is None
    assert undo_links.token_digest(token) in world.tables.undo_tokens
    assert world.tables.undo_tokens[undo_links.token_digest(token)].used


async def test_an_expired_link_does_nothing() -> None:
    world = World()
    email, token = await _reset_undo_token(world)
    world.clock.now += timedelta(days=7).total_seconds()
    await world.accounts.login(email, NEW_PASSWORD, SecondFactor())
    epoch = world.tables.accounts[next(iter(world.tables.accounts))].credentials_epoch
    assert await world.accounts.undo_kind(token) is None
    assert await world.accounts.this_wasnt_me(token) is None
    assert world.resets.emails == []
    assert not any(r.revoked for r in world.tables.sessions.values())
    assert world.tables.accounts[next(iter(world.tables.accounts))].credentials_epoch == epoch
