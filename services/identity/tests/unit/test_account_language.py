"""The account's language: set with the new password a reset brings (the language of its Set
new password page), and carried by every event identity writes about the account afterwards,
so each email is in the language the person last used."""

import pyotp
from identity_service.domain.second_factor import SecondFactor
from pwreset_contracts import PasswordChangedV1, RegistrationRequestedV1, SecondFactorChangedV1

from .fakes import NEW_PASSWORD, PASSWORD, World, link_token

IP = "198.51.100.7"


async def test_an_account_from_before_is_english() -> None:
    world = World()
    account_id, _ = await world.new_account()
    assert world.account(account_id).locale == "en"
    await world.accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), IP)
    [event] = world.events()
    assert isinstance(event, PasswordChangedV1) and event.locale == "en"


async def test_the_reset_language_is_kept_and_written_into_password_changed() -> None:
    world = World()
    account_id, _ = await world.new_account()
    await world.accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), IP, "de")
    assert world.account(account_id).locale == "de"
    [event] = world.events()
    assert isinstance(event, PasswordChangedV1) and event.locale == "de"


async def test_a_reset_without_a_language_leaves_the_accounts_as_it_is() -> None:
    world = World()
    account_id, _ = await world.new_account()
    await world.accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), IP, "es")
    await world.accounts.set_password(account_id, PASSWORD + " again", SecondFactor(), IP)
    assert world.account(account_id).locale == "es"
    assert [e.locale for e in world.events() if isinstance(e, PasswordChangedV1)] == ["es", "es"]


async def test_later_emails_about_the_account_are_in_its_language() -> None:
    world = World()
    account_id, _ = await world.new_account()
    await world.accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), IP, "es")
    setup = await world.accounts.start_totp(account_id)
    await world.accounts.activate_totp(
        account_id, pyotp.TOTP(setup.secret).at(world.clock.now), NEW_PASSWORD, IP
    )
    event = world.events()[-1]
    assert isinstance(event, SecondFactorChangedV1) and event.locale == "es"
    # "This wasn't me" starts the fresh reset in the account's language too.
    token = link_token(event.sealed_undo_link, event.undo_link_binding())
    done = await world.accounts.this_wasnt_me(token)
    assert done is not None
    assert world.resets.locales == ["es"]


async def test_a_registration_is_verified_in_the_language_it_was_asked_in() -> None:
    world = World()
    await world.registrations.request("neu@example.com", PASSWORD, IP, "de")
    [event] = world.events()
    assert isinstance(event, RegistrationRequestedV1)
    assert (event.kind, event.locale) == ("verify_address", "de")


async def test_the_already_registered_notice_is_in_the_owners_language() -> None:
    world = World()
    account_id, email = await world.new_account()
    await world.accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), IP, "es")
    # Someone asks in German for the owner's address: the owner reads Spanish.
    await world.registrations.request(email, PASSWORD, IP, "de")
    event = world.events()[-1]
    assert isinstance(event, RegistrationRequestedV1)
    assert (event.kind, event.locale) == ("already_registered", "es")
