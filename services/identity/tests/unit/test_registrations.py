"""Registration against in-memory fakes: the same steps and answer for every address, the
account created only through the emailed link (once), and the limits per client and address."""

import pytest
from identity_service.domain import undo_links
from identity_service.service_layer.errors import (
    LoginThrottled,
    PasswordRejected,
    RegistrationLinkInvalid,
)
from pwreset_contracts import RegistrationRequestedV1
from pwreset_contracts.sealed import SealError, open_sealed

from .fakes import NOTICE_KEYS, PASSWORD, World, link_token

IP = "203.0.113.9"


def _requested(world: World) -> RegistrationRequestedV1:
    event = world.events()[-1]
    assert isinstance(event, RegistrationRequestedV1)
    return event


async def test_a_new_address_gets_a_link_that_creates_the_account_once() -> None:
    world = World()
    await world.registrations.request("New.Person@Example.com", PASSWORD, IP)
    assert world.tables.accounts == {}  # nothing until the mailbox confirms
    event = _requested(world)
    assert (event.kind, event.email) == ("verify_address", "New.Person@Example.com")
    token = link_token(event.sealed_link, event.link_binding())
    [row] = world.tables.registrations.values()
    assert row.pending.token_hash == undo_links.token_digest(token)
    assert row.pending.password_hash == f"v2:{PASSWORD}"

    created = await world.registrations.complete(token)

    account = world.account(created.account_id)
    assert (account.email, account.password_hash) == ("New.Person@Example.com", f"v2:{PASSWORD}")
    with pytest.raises(RegistrationLinkInvalid):
        await world.registrations.complete(token)
    assert len(world.tables.accounts) == 1


async def test_an_address_with_an_account_gets_a_notice_and_no_link() -> None:
    world = World()
    account_id, email = await world.new_account()
    await world.registrations.request(email.upper(), "a different long password", IP)
    event = _requested(world)
    assert (event.kind, event.email) == ("already_registered", email)
    # Sealed to this address (and opened as the notifier would): a writer on the topic without
    # identity's key cannot have this notice sent to an address of its choosing. No link inside.
    assert event.sealed_link is not None
    assert (
        open_sealed(event.sealed_link, keys=NOTICE_KEYS.keys, associated_data=event.link_binding())
        == ""
    )
    forged = event.model_copy(update={"email": "victim@example.org"})
    with pytest.raises(SealError):
        open_sealed(event.sealed_link, keys=NOTICE_KEYS.keys, associated_data=forged.link_binding())
    [row] = world.tables.registrations.values()
    assert row.pending.password_hash is None and row.pending.token_hash is None
    assert world.hashing.lanes.count("shared") == 2  # hashed all the same: same time taken
    assert world.account(account_id).password_hash == f"v2:{PASSWORD}"


async def test_a_link_whose_address_got_an_account_meanwhile_is_used_up() -> None:
    world = World()
    await world.registrations.request("race@example.com", PASSWORD, IP)
    token = link_token(_requested(world).sealed_link, _requested(world).link_binding())
    await world.accounts.create_account("race@example.com", "someone else's long password")
    with pytest.raises(RegistrationLinkInvalid):
        await world.registrations.complete(token)
    [row] = world.tables.registrations.values()
    assert row.used  # committed although no account was created


async def test_an_expired_link_is_invalid_and_pruned() -> None:
    world = World()
    await world.registrations.request("late@example.com", PASSWORD, IP)
    token = link_token(_requested(world).sealed_link, _requested(world).link_binding())
    world.clock.now += 24 * 3600 + 1
    with pytest.raises(RegistrationLinkInvalid):
        await world.registrations.complete(token)
    assert await world.registrations.prune() == 1
    assert world.tables.registrations == {}


async def test_a_weak_password_is_refused_before_anything_is_counted_or_stored() -> None:
    world = World()
    with pytest.raises(PasswordRejected):
        await world.registrations.request("weak@example.com", "too short", IP)
    assert world.db.commits == 0 and world.hashing.lanes == []


async def test_emails_to_one_address_and_requests_from_one_client_are_limited() -> None:
    world = World()
    for _ in range(5):  # 3 free per address, the 4th starts a delay: the 5th waits
        await world.registrations.request("inbox@example.com", PASSWORD, IP)
    assert len(world.tables.registrations) == 5
    assert len(world.events()) == 4  # the 5th is stored, answered alike, but not mailed
    for i in range(6):  # 10 free per client, the 11th starts a delay: the 12th waits
        await world.registrations.request(f"other{i}@example.com", PASSWORD, IP)
    with pytest.raises(LoginThrottled):
        await world.registrations.request("twelfth@example.com", PASSWORD, IP)
    assert len(world.tables.registrations) == 11
