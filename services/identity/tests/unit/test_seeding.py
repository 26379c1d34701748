"""Seeding accounts (operators' tool) against in-memory fakes: one account per mailbox."""

import pytest
from identity_service.domain.accounts import EmailTaken
from identity_service.service_layer.errors import PasswordRejected

from .fakes import PASSWORD, World


async def test_an_address_is_seeded_once_and_then_found() -> None:
    world = World()
    first = await world.accounts.seeding.seed("Seed@Example.com", PASSWORD)
    again = await world.accounts.seeding.seed("seed@example.com", PASSWORD + " other")
    assert first.created and not again.created and again.id == first.id
    assert world.account(first.id).email == "Seed@Example.com"  # as given
    with pytest.raises(EmailTaken):
        await world.accounts.create_account("SEED@example.com", PASSWORD)
    assert len(world.tables.accounts) == 1


async def test_the_password_policy_holds_for_seeded_accounts_too() -> None:
    world = World()
    with pytest.raises(PasswordRejected):
        await world.accounts.create_account("short@example.com", "short")
    with pytest.raises(ValueError, match="ASCII"):
        await world.accounts.create_account("adm\u0130n@example.com", PASSWORD)
    assert world.tables.accounts == {}
