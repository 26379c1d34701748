"""The rules of a reset request as ``issue_reset_request`` applies them in PostgreSQL, against
the domain's (``Limit.decide``, ``ResetRequest.taking_over``): exact retry-after, the takeover
chain under concurrency, the cap and the hash key of carried codes, the pending email's time."""

import asyncio
from collections.abc import Callable
from datetime import timedelta

import asyncpg
import pytest
from pwreset_contracts.sealed import KeyRing
from reset_service.adapters.request_intake import PostgresRequestIntake
from reset_service.adapters.unit_of_work import ResetUnitOfWork
from reset_service.domain.rate_limits import RequestLimits
from reset_service.domain.reset_request import MAX_CARRIED_CODES
from reset_service.domain.secrets_issued import keyed_hash
from reset_service.service_layer.errors import RateLimited
from reset_service.service_layer.password_resets import PasswordResets, ResetPolicy

from .conftest import ORIGIN, Clock, FakeIdentity, unique_email, unique_ip

pytestmark = pytest.mark.integration
Make = Callable[..., PasswordResets]
H1 = KeyRing.parse(f"h1:{'A' * 43}")
WINDOW = timedelta(minutes=15)


async def newest_request(pool: asyncpg.Pool, email: str, identity: FakeIdentity) -> asyncpg.Record:
    account = identity.accounts[email]
    row = await pool.fetchrow(
        """SELECT code_hash, carried_code_hashes, failed_attempts FROM reset_requests
           WHERE account_id = $1 AND revoked_at IS NULL""",
        account.account_id,
    )
    assert row is not None
    return row


@pytest.mark.parametrize("late_by", [0.0, 0.25, 0.999, 0.9991, 1.5])
async def test_the_ip_limit_answers_the_seconds_the_domain_rule_gives(
    make_resets: Make, clock: Clock, late_by: float
) -> None:
    resets, ip = make_resets(ip_max=3), unique_ip()
    start = clock.now
    for _ in range(3):
        await resets.request(unique_email(), ip)
        clock.advance(minutes=1)
    clock.advance(seconds=late_by)
    with pytest.raises(RateLimited) as limited:
        await resets.request(unique_email(), ip)
    limit = RequestLimits(3, 3, WINDOW).for_ip(H1.current, ip)
    expected = limit.decide(3, start, clock.now)
    assert not expected.allowed
    assert limited.value.retry_after_seconds == expected.retry_after_seconds


async def test_twenty_concurrent_requests_from_one_address_take_exactly_its_limit(
    make_resets: Make, pool: asyncpg.Pool
) -> None:
    resets, ip = make_resets(ip_max=5), unique_ip()

    async def ask() -> bool:
        try:
            await resets.request(unique_email(), ip)
        except RateLimited:
            return False
        return True

    assert sum(await asyncio.gather(*(ask() for _ in range(20)))) == 5


async def test_twenty_concurrent_requests_of_one_account_chain_every_code_into_the_newest(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool
) -> None:
    resets, email = make_resets(account_max=3), unique_email()
    identity.add(email)
    issued = await asyncio.gather(*(resets.request(email, unique_ip()) for _ in range(20)))
    # Under the account's lock one after the other: exactly one open request, which accepts
    # every code handed out; three emails now and one pending.
    newest = await newest_request(pool, email, identity)
    accepted = {newest["code_hash"], *newest["carried_code_hashes"]}
    assert accepted == {keyed_hash(H1.current, i.verification_code) for i in issued}
    account_id = identity.accounts[email].account_id
    outbox = await pool.fetchval(
        "SELECT count(*) FROM outbox WHERE convert_from(value, 'UTF8')::jsonb->>'email' = $1",
        email,
    )
    pending = await pool.fetchval(
        "SELECT count(*) FROM deferred_emails WHERE account_id = $1", account_id
    )
    assert (outbox, pending) == (3, 1)


async def test_carried_codes_are_capped_and_kept_only_under_the_same_hash_key(
    pool: asyncpg.Pool, identity: FakeIdentity, clock: Clock
) -> None:
    def resets(hash_keys: KeyRing) -> PasswordResets:
        return PasswordResets.build(
            lambda: ResetUnitOfWork(pool),
            PostgresRequestIntake(pool),
            identity,
            ResetPolicy(
                hash_keys=hash_keys,
                seal_keys=KeyRing.parse(f"s1:{'B' * 43}"),
                public_origin=ORIGIN,
                ttl=timedelta(minutes=30),
                max_attempts=5,
                limits=RequestLimits(1000, 1000, WINDOW),
            ),
            clock,
        )

    email = unique_email()
    identity.add(email)
    codes = []
    for _ in range(MAX_CARRIED_CODES + 5):
        codes.append((await resets(H1).request(email, unique_ip())).verification_code)
        clock.advance(seconds=1)
    newest = await newest_request(pool, email, identity)
    # Newest first, as ResetRequest.taking_over orders them, and no more than the cap.
    expected = [keyed_hash(H1.current, c) for c in reversed(codes[:-1])][:MAX_CARRIED_CODES]
    assert newest["carried_code_hashes"] == expected
    await pool.execute(
        "UPDATE reset_requests SET failed_attempts = 2 WHERE account_id = $1",
        identity.accounts[email].account_id,
    )
    # A new hash key: the old codes could never match under it, the wrong-code count stays.
    rotated = KeyRing.parse(f"h2:{'C' * 43},h1:{'A' * 43}")
    await resets(rotated).request(email, unique_ip())
    newest = await newest_request(pool, email, identity)
    assert newest["carried_code_hashes"] == [] and newest["failed_attempts"] == 2


async def test_the_pending_email_is_due_when_the_oldest_email_leaves_the_window(
    make_resets: Make, identity: FakeIdentity, pool: asyncpg.Pool, clock: Clock
) -> None:
    resets, email = make_resets(account_max=3), unique_email()
    account = identity.add(email)
    start = clock.now
    for _ in range(6):
        await resets.request(email, unique_ip())
        clock.advance(seconds=10)
    due_at = await pool.fetchval(
        "SELECT due_at FROM deferred_emails WHERE account_id = $1", account.account_id
    )
    assert due_at == start + WINDOW  # kept at the earliest, not moved by later requests
