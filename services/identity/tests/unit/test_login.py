"""Login against in-memory fakes: the password under the failed-login limits (counted before it
is checked, given back on success, unknown emails the same), the hashing lane, the second factor
and its limits, and the session written only for the credentials that were checked."""

import dataclasses

import pytest
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.errors import AuthFailed, HashingBusy, LoginThrottled

from .fakes import NEW_PASSWORD, PASSWORD, World

IP = "192.0.2.1"
WRONG = "not the password at all, sorry"


async def _outcome(world: World, email: str, password: str, factor: SecondFactor) -> str:
    try:
        await world.accounts.login(email, password, factor, IP)
    except AuthFailed as exc:
        return exc.reason
    except LoginThrottled as exc:
        return f"throttled:{exc.retry_after_seconds}"
    return "success"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_the_right_password_opens_a_session_of_the_account() -> None:
    world = World()
    account_id, email = await world.new_account()
    token = await world.accounts.login(email.upper(), PASSWORD, SecondFactor(), IP)
    assert await world.accounts.account_of_session(token) == account_id
    assert world.live_sessions(account_id) == 1
    # The owner got in: the account's scopes are cleared (the address's is only given back).
    assert sorted(c.failures for c in world.tables.login_throttle.values()) == [0, 0, 0]


async def test_a_wrong_password_is_refused_and_counted() -> None:
    world = World()
    account_id, email = await world.new_account()
    assert await _outcome(world, email, WRONG, SecondFactor()) == "invalid_credentials"
    assert world.live_sessions(account_id) == 0
    assert sorted(c.failures for c in world.tables.login_throttle.values()) == [1, 1, 1]


async def test_an_unknown_email_takes_the_same_steps_as_a_known_one() -> None:
    known, unknown = World(), World()
    _, email = await known.new_account()
    sequences = [
        [await _outcome(w, e, WRONG, SecondFactor()) for _ in range(7)]
        for w, e in ((known, email), (unknown, "nobody@example.com"))
    ]
    assert sequences[0] == sequences[1]
    assert sequences[0][:6] == ["invalid_credentials"] * 6
    assert sequences[0][6].startswith("throttled:")
    # A password was checked each time it was allowed: against the decoy when nobody has it.
    assert len(known.hashing.verified) == len(unknown.hashing.verified) == 6
    assert set(unknown.hashing.verified) == {"v2:decoy password that no account has"}


async def test_past_the_limit_the_attempt_is_refused_before_its_password_is_checked() -> None:
    world = World()
    _, email = await world.new_account()
    for _ in range(6):  # 5 free failures per account and address; the 6th sets a 1 s delay
        await _outcome(world, email, WRONG, SecondFactor())
    checked = len(world.hashing.verified)
    with pytest.raises(LoginThrottled) as throttled:
        await world.accounts.login(email, PASSWORD, SecondFactor(), IP)  # even the right one
    assert throttled.value.retry_after_seconds == 1
    assert len(world.hashing.verified) == checked
    world.clock.now += 1
    assert await _outcome(world, email, PASSWORD, SecondFactor()) == "success"


async def test_a_full_hashing_lane_refuses_at_once_and_counts_nothing() -> None:
    world = World(queue_limit=0)
    with pytest.raises(HashingBusy):
        await world.accounts.login("someone@example.com", PASSWORD, SecondFactor(), IP)
    assert world.hashing.verified == []
    assert world.tables.login_throttle == {}


async def test_with_two_factor_on_the_password_alone_is_not_enough() -> None:
    world = World()
    account_id, email, totp, _ = await world.totp_account()
    assert await _outcome(world, email, PASSWORD, SecondFactor()) == "totp_required"
    assert world.live_sessions(account_id) == 0
    factor = SecondFactor(totp_code=totp.at(world.clock.now))
    assert await _outcome(world, email, PASSWORD, factor) == "success"
    assert await _outcome(world, email, PASSWORD, factor) == "totp_invalid"  # a replay


async def test_wrong_codes_are_counted_before_they_are_checked_and_then_throttled() -> None:
    world = World()
    account_id, email, totp, _ = await world.totp_account()
    right = totp.at(world.clock.now)
    step_before = world.account(account_id).totp_last_step
    outcomes = [
        await _outcome(world, email, PASSWORD, SecondFactor(totp_code=_wrong(right)))
        for _ in range(5)
    ]
    assert outcomes == ["totp_invalid"] * 4 + ["totp_throttled"]
    assert world.account(account_id).totp_failures == 5
    # The window is used up: even the right code is refused unchecked until it passes.
    assert await _outcome(world, email, PASSWORD, SecondFactor(totp_code=right)) == (
        "totp_throttled"
    )
    assert world.account(account_id).totp_last_step == step_before
    world.clock.now += 15 * 60 + 30
    fresh = SecondFactor(totp_code=totp.at(world.clock.now))
    assert await _outcome(world, email, PASSWORD, fresh) == "success"
    assert world.account(account_id).totp_consecutive_failures == 0


async def test_consecutive_failures_lock_codes_until_a_recovery_code() -> None:
    world = World()  # lockout after 10 in a row
    account_id, email, totp, recovery = await world.totp_account()
    for _ in range(2):
        world.clock.now += 15 * 60 + 30
        bad = SecondFactor(totp_code=_wrong(totp.at(world.clock.now)))
        for _ in range(5):
            await _outcome(world, email, PASSWORD, bad)
    world.clock.now += 15 * 60 + 30
    right = SecondFactor(totp_code=totp.at(world.clock.now))
    assert await _outcome(world, email, PASSWORD, right) == "account_locked"
    assert await _outcome(world, email, PASSWORD, SecondFactor(recovery_code=recovery[0])) == (
        "success"
    )
    assert await _outcome(world, email, PASSWORD, right) == "success"  # unlocked
    # A recovery code is used once.
    assert await _outcome(world, email, PASSWORD, SecondFactor(recovery_code=recovery[0])) == (
        "totp_invalid"
    )
    assert world.account(account_id).totp_consecutive_failures == 1


async def test_a_login_checked_before_a_password_change_ends_in_no_session() -> None:
    world = World()
    account_id, email = await world.new_account()

    def reset_meanwhile() -> None:  # the owner's reset commits while the thief's hash runs
        world.hashing.on_verify = lambda: None
        account = world.account(account_id)
        world.tables.accounts[account_id] = dataclasses.replace(
            account, credentials_epoch=account.credentials_epoch + 1
        )

    world.hashing.on_verify = reset_meanwhile
    assert await _outcome(world, email, PASSWORD, SecondFactor()) == "invalid_credentials"
    assert world.live_sessions(account_id) == 0


async def test_a_hash_made_with_older_parameters_is_upgraded_at_login() -> None:
    world = World()
    account_id, email = await world.new_account()
    world.tables.accounts[account_id] = dataclasses.replace(
        world.account(account_id), password_hash=f"v1:{PASSWORD}"
    )
    await world.accounts.login(email, PASSWORD, SecondFactor(), IP)
    assert world.account(account_id).password_hash == f"v2:{PASSWORD}"
    assert await _outcome(world, email, NEW_PASSWORD, SecondFactor()) == "invalid_credentials"
