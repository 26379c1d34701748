"""Issue 13 (4, 6): nobody but the owner decides whether the owner can reset, and guessing is
bounded per client and per account. As an attacker would try it, on real PostgreSQL, with an
injected clock."""

import asyncio
import secrets
from collections.abc import Callable
from datetime import timedelta

import asyncpg
import pytest
from reset_service.service_layer.errors import ConfirmFailure, ConfirmRejected, RateLimited
from reset_service.service_layer.password_resets import PasswordResets

from .conftest import (
    Clock,
    FakeIdentity,
    emailed_tokens,
    request_for_new_account,
    unique_email,
    unique_ip,
)

pytestmark = pytest.mark.integration
Make = Callable[..., PasswordResets]
NEW_PASSWORD = "a brand new long password"
WINDOW = timedelta(minutes=15)


async def test_a_third_party_asking_every_minute_never_blocks_the_owners_reset(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool, clock: Clock
) -> None:
    resets, email = make_resets(account_max=3), unique_email()
    account = identity.add(email)
    start = clock.now
    owner_minutes = (7, 23, 41)
    waiting: tuple[int, str] | None = None  # (minute asked, code on the owner's screen)
    delays: list[int] = []
    sent_at: list[timedelta] = []  # when each email left, for the bound
    seen = 0
    for minute in range(60):
        clock.now = start + timedelta(minutes=minute)
        await resets.request(email, unique_ip())  # the third party, from ever new addresses
        if minute in owner_minutes:
            clock.now += timedelta(seconds=20)
            assert waiting is None
            waiting = (minute, (await resets.request(email, unique_ip())).verification_code)
        clock.now = start + timedelta(minutes=minute, seconds=40)
        await resets.send_due_emails()
        tokens = await emailed_tokens(pool, email)
        sent_at += [clock.now - start] * (len(tokens) - seen)
        if waiting and len(tokens) > seen:
            # The first email after the owner asked carries the newest link, which takes the
            # code on the owner's screen: the owner resets with it.
            asked, code = waiting
            await resets.confirm(token=tokens[-1], new_password=NEW_PASSWORD, code=code)
            delays.append(minute - asked)
            waiting = None
        seen = len(tokens)
    assert len(delays) == len(owner_minutes), delays  # every owner request led to a reset
    assert all(d <= 15 for d in delays), delays  # within one window
    assert identity.passwords[account.account_id] == NEW_PASSWORD
    # As bounded as before: never more than 3 emails in any 15-minute window.
    for first in sent_at:
        assert sum(1 for t in sent_at if first <= t < first + WINDOW) <= 3, sent_at
    assert len(sent_at) <= 12


async def test_an_email_over_the_limit_waits_coalesced_and_carries_the_newest_link(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool, clock: Clock
) -> None:
    resets, email = make_resets(account_max=3), unique_email()
    identity.add(email)
    codes = [(await resets.request(email, unique_ip())).verification_code for _ in range(6)]
    assert len(await emailed_tokens(pool, email)) == 3  # the limit: three now
    assert await resets.send_due_emails() == 0  # the rest waits for room in the window
    clock.advance(minutes=15, seconds=1)
    await resets.send_due_emails()
    tokens = await emailed_tokens(pool, email)
    assert len(tokens) == 4  # the three waiting requests went out as one email
    with pytest.raises(ConfirmRejected):  # older links are revoked
        await resets.confirm(token=tokens[2], new_password=NEW_PASSWORD, code=codes[2])
    # The newest link takes the code of the request whose email was coalesced into it.
    await resets.confirm(token=tokens[3], new_password=NEW_PASSWORD, code=codes[3])


async def test_link_tokens_that_match_nothing_are_limited_per_client(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets, ip = make_resets(link_misses_max=10), unique_ip()
    real = await request_for_new_account(resets, identity, pool)

    async def guess() -> str:
        try:
            await resets.confirm(
                token=secrets.token_urlsafe(32),
                new_password=NEW_PASSWORD,
                code="AAAAAAAA",
                client_ip=ip,
            )
        except ConfirmRejected as exc:
            return exc.failure.value
        except RateLimited:
            return "rate_limited"
        return "accepted"

    results = await asyncio.gather(*(guess() for _ in range(30)))
    assert results.count(ConfirmFailure.LINK_INVALID.value) == 10, results
    assert results.count("rate_limited") == 20, results
    with pytest.raises(RateLimited):  # the page behind the link is limited the same way
        await resets.inspect_link(secrets.token_urlsafe(32), ip)
    with pytest.raises(ConfirmRejected):  # another client is not affected
        await resets.inspect_link(secrets.token_urlsafe(32), unique_ip())
    # A real link still works from the limited client.
    await resets.confirm(token=real.token, new_password=NEW_PASSWORD, code=real.code, client_ip=ip)


async def test_the_wrong_code_count_carries_over_to_new_requests_within_the_window(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool, clock: Clock
) -> None:
    resets = make_resets()
    first = await request_for_new_account(resets, identity, pool)
    for _ in range(3):
        with pytest.raises(ConfirmRejected):
            await resets.confirm(token=first.token, new_password=NEW_PASSWORD, code="BBBBBBBB")
    issued = await resets.request(first.email, unique_ip())
    token = (await emailed_tokens(pool, first.email))[-1]

    async def wrong() -> ConfirmRejected:
        with pytest.raises(ConfirmRejected) as rejected:
            await resets.confirm(token=token, new_password=NEW_PASSWORD, code="CCCCCCCC")
        return rejected.value

    results = await asyncio.gather(*(wrong() for _ in range(20)))
    counted = [r for r in results if r.attempts_left is not None]
    assert len(counted) == 2, [(r.failure, r.attempts_left) for r in results]  # 5 - 3 left
    with pytest.raises(ConfirmRejected) as burnt:
        await resets.confirm(token=token, new_password=NEW_PASSWORD, code=issued.verification_code)
    assert burnt.value.failure is ConfirmFailure.TOO_MANY_ATTEMPTS
    # After the window a new request starts afresh.
    clock.advance(minutes=15, seconds=1)
    fresh = await resets.request(first.email, unique_ip())
    await resets.send_due_emails()
    token = (await emailed_tokens(pool, first.email))[-1]
    await resets.confirm(token=token, new_password=NEW_PASSWORD, code=fresh.verification_code)


async def test_requests_and_the_deferred_sender_racing_on_one_account_stay_within_the_bound(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool, clock: Clock
) -> None:
    resets, email = make_resets(account_max=3), unique_email()
    identity.add(email)
    for _ in range(5):  # three emails now, one pending
        await resets.request(email, unique_ip())
    clock.advance(minutes=15, seconds=1)  # the window has room again: the pending one is due
    results = await asyncio.gather(
        *(resets.request(email, unique_ip()) for _ in range(25)),
        *(resets.send_due_emails() for _ in range(5)),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    await resets.send_due_emails()
    assert len(await emailed_tokens(pool, email)) == 3 + 3  # a new window, three more at most
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM deferred_emails WHERE account_id = $1",
            identity.accounts[email].account_id,
        )
        == 1
    )  # the rest coalesced into one pending email
