"""Sessions against in-memory fakes: a token finds its account while the session is live."""

from datetime import timedelta

from identity_service.domain.second_factor import SecondFactor

from .fakes import NEW_PASSWORD, PASSWORD, World


async def test_a_session_token_finds_its_account_until_it_expires() -> None:
    world = World()
    account_id, email = await world.new_account()
    token = await world.accounts.login(email, PASSWORD, SecondFactor())
    assert await world.accounts.account_of_session(token) == account_id
    assert await world.accounts.account_of_session(token + "x") is None
    world.clock.now += timedelta(hours=1).total_seconds()  # the session's lifetime
    assert await world.accounts.account_of_session(token) is None


async def test_only_a_hash_of_the_token_is_stored() -> None:
    world = World()
    _, email = await world.new_account()
    token = await world.accounts.login(email, PASSWORD, SecondFactor())
    [row] = world.tables.sessions.values()
    assert token.encode() not in row.token_hash and len(row.token_hash) == 32


async def test_a_password_change_ends_every_session() -> None:
    world = World()
    account_id, email = await world.new_account()
    tokens = [await world.accounts.login(email, PASSWORD, SecondFactor()) for _ in range(3)]
    await world.accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), None)
    assert [await world.accounts.account_of_session(t) for t in tokens] == [None] * 3
