"""The security rules of the request step and its tokens: each rule with the test that proves
it (docs/security.md has the table)."""

import asyncio
from collections.abc import Callable

import asyncpg
import pytest
from reset_service.service_layer.errors import ConfirmFailure, ConfirmRejected, RateLimited
from reset_service.service_layer.password_resets import PasswordResets

from .conftest import (
    Clock,
    FakeIdentity,
    emailed_token,
    request_for_new_account,
    unique_email,
    unique_ip,
)

pytestmark = pytest.mark.integration
NEW_PASSWORD = "a brand new long password"
Make = Callable[..., PasswordResets]


async def outbox_count(pool: asyncpg.Pool, email: str) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE convert_from(value, 'UTF8')::jsonb->>'email' = $1",
        email,
    )


async def test_rate_limit_per_account_over_limit_looks_like_success_and_sends_no_more_now(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets, email = make_resets(account_max=3), unique_email()
    identity.add(email)
    issued = [await resets.request(email, unique_ip()) for _ in range(5)]
    assert all(len(i.verification_code) == 8 for i in issued)  # every answer looks the same
    assert await outbox_count(pool, email) == 3  # only 3 emails now; the rest wait, coalesced
    assert await resets.send_due_emails() == 0  # (test_no_denial_of_reset.py)


async def test_rate_limit_per_ip_gives_retry_after_and_says_nothing_about_accounts(
    make_resets: Make, identity: FakeIdentity, clock: Clock
) -> None:
    resets, ip = make_resets(ip_max=20), unique_ip()
    for _ in range(20):
        await resets.request(unique_email(), ip)
    with pytest.raises(RateLimited) as limited:
        await resets.request(unique_email(), ip)
    assert 0 < limited.value.retry_after_seconds <= 15 * 60
    await resets.request(unique_email(), unique_ip())  # other clients are not affected
    clock.advance(minutes=15, seconds=1)
    await resets.request(unique_email(), ip)  # the window slides


async def test_rate_limit_counts_unknown_emails_the_same_way(
    make_resets: Make, pool: asyncpg.Pool
) -> None:
    resets, unknown = make_resets(account_max=3), unique_email()
    before = await pool.fetchval("SELECT count(*) FROM rate_limit_hits WHERE scope = 'account'")
    for _ in range(5):
        await resets.request(unknown, unique_ip())
    after = await pool.fetchval("SELECT count(*) FROM rate_limit_hits WHERE scope = 'account'")
    assert after - before == 3  # counted like a known email: three, then the limit holds
    assert await outbox_count(pool, unknown) == 0  # and never an email


async def test_unknown_email_writes_no_request_and_no_event(
    make_resets: Make, pool: asyncpg.Pool
) -> None:
    before = await pool.fetchval("SELECT count(*) FROM reset_requests")
    issued = await make_resets().request(unique_email(), unique_ip())
    assert len(issued.verification_code) == 8
    assert await pool.fetchval("SELECT count(*) FROM reset_requests") == before


async def test_expiry_accepted_just_before_rejected_just_after(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool, clock: Clock
) -> None:
    resets = make_resets(ttl_minutes=30)
    early, late = unique_email(), unique_email()
    for email in (early, late):
        identity.add(email)
    code_early = (await resets.request(early, unique_ip())).verification_code
    code_late = (await resets.request(late, unique_ip())).verification_code
    clock.advance(minutes=29, seconds=59)
    await resets.confirm(
        token=await emailed_token(pool, early), new_password=NEW_PASSWORD, code=code_early
    )
    clock.advance(seconds=2)
    with pytest.raises(ConfirmRejected) as rejected:
        await resets.confirm(
            token=await emailed_token(pool, late), new_password=NEW_PASSWORD, code=code_late
        )
    assert rejected.value.failure is ConfirmFailure.LINK_INVALID


async def test_twenty_concurrent_confirms_exactly_one_succeeds(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets = make_resets()
    r = await request_for_new_account(resets, identity, pool)
    code, token = r.code, r.token
    identity.delay = 0.02  # the identity call takes time, as a real argon2id hash does

    async def attempt(i: int) -> str:
        try:
            await resets.confirm(token=token, new_password=f"{NEW_PASSWORD} {i}", code=code)
        except ConfirmRejected as exc:
            return exc.failure.value
        return "ok"

    results = await asyncio.gather(*(attempt(i) for i in range(20)))
    assert results.count("ok") == 1
    assert set(results) - {"ok"} == {ConfirmFailure.LINK_INVALID.value}
    winner = results.index("ok")
    assert identity.passwords[r.account.account_id] == f"{NEW_PASSWORD} {winner}"


async def test_five_wrong_codes_burn_the_request(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets = make_resets()
    r = await request_for_new_account(resets, identity, pool)
    code, token = r.code, r.token
    wrong = "ZZZZZZZZ" if code != "ZZZZZZZZ" else "YYYYYYYY"
    left = []
    for _ in range(5):
        with pytest.raises(ConfirmRejected) as rejected:
            await resets.confirm(token=token, new_password=NEW_PASSWORD, code=wrong)
        left.append(rejected.value.attempts_left)
    assert left == [4, 3, 2, 1, 0]
    assert rejected.value.failure is ConfirmFailure.TOO_MANY_ATTEMPTS
    with pytest.raises(ConfirmRejected) as burned:
        await resets.confirm(token=token, new_password=NEW_PASSWORD, code=code)
    assert burned.value.failure is ConfirmFailure.TOO_MANY_ATTEMPTS


async def test_confirm_needs_token_and_code_of_the_same_request(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets, mine, theirs = make_resets(), unique_email(), unique_email()
    identity.add(mine)
    identity.add(theirs)
    await resets.request(mine, unique_ip())
    their_code = (await resets.request(theirs, unique_ip())).verification_code
    with pytest.raises(ConfirmRejected) as rejected:
        await resets.confirm(
            token=await emailed_token(pool, mine), new_password=NEW_PASSWORD, code=their_code
        )
    assert rejected.value.failure is ConfirmFailure.WRONG_CODE


async def test_a_new_request_revokes_older_ones(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets, email = make_resets(), unique_email()
    identity.add(email)
    first_code = (await resets.request(email, unique_ip())).verification_code
    first_token = await emailed_token(pool, email)
    second_code = (await resets.request(email, unique_ip())).verification_code
    second_token = await emailed_token(pool, email)
    assert first_token != second_token
    with pytest.raises(ConfirmRejected) as rejected:
        await resets.confirm(token=first_token, new_password=NEW_PASSWORD, code=first_code)
    assert rejected.value.failure is ConfirmFailure.LINK_INVALID
    await resets.confirm(token=second_token, new_password=NEW_PASSWORD, code=second_code)


async def test_single_use_and_success_revokes_every_outstanding_request(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets = make_resets()
    r = await request_for_new_account(resets, identity, pool)
    code, token = r.code, r.token
    await resets.confirm(token=token, new_password=NEW_PASSWORD, code=code)
    with pytest.raises(ConfirmRejected):
        await resets.confirm(token=token, new_password=NEW_PASSWORD, code=code)
    open_requests = await pool.fetchval(
        """SELECT count(*) FROM reset_requests
           WHERE account_id = $1 AND used_at IS NULL AND revoked_at IS NULL""",
        r.account.account_id,
    )
    assert open_requests == 0


async def test_inspecting_the_link_never_consumes_it(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets = make_resets()
    r = await request_for_new_account(resets, identity, pool)
    code, token = r.code, r.token
    for _ in range(3):  # a mail scanner, then the person, then a reload
        info = await resets.inspect_link(token)
        assert not info.requires_totp
    await resets.confirm(token=token, new_password=NEW_PASSWORD, code=code)


async def test_with_totp_on_the_verification_code_alone_is_refused(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets = make_resets()
    r = await request_for_new_account(resets, identity, pool, totp=True)
    code, token = r.code, r.token
    with pytest.raises(ConfirmRejected) as rejected:
        await resets.confirm(token=token, new_password=NEW_PASSWORD, code=code)
    assert rejected.value.failure is ConfirmFailure.TOTP_REQUIRED
    await resets.confirm(token=token, new_password=NEW_PASSWORD, code=None, totp_code="123456")


async def test_tokens_and_codes_are_stored_only_as_keyed_hashes(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets = make_resets()
    r = await request_for_new_account(resets, identity, pool)
    code, token = r.code, r.token
    dump = await pool.fetchval(
        """SELECT string_agg(encode(token_hash, 'escape') || encode(code_hash, 'escape'), '')
           FROM reset_requests"""
    )
    outbox = await pool.fetchval(
        "SELECT string_agg(convert_from(value, 'UTF8') || headers::text, '') FROM outbox"
    )
    for secret in (token, code):
        assert secret not in dump
        assert secret not in outbox  # the link travels sealed
