"""A request for an unknown email sends the very statement a request for a known one sends, on
real PostgreSQL: the same SQL text with parameters of the same types, one round trip, only
``keep``'s value differing (docs/security.md). The unit tests show the same of the use case's
calls; this shows the adapter keeps it on the wire, and that the database then keeps nothing
of the unknown email but its rate-limit hits."""

from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from pwreset_contracts.sealed import KeyRing
from reset_service.adapters.request_intake import PostgresRequestIntake
from reset_service.adapters.unit_of_work import ResetUnitOfWork
from reset_service.domain.rate_limits import RequestLimits
from reset_service.service_layer.password_resets import PasswordResets, ResetPolicy
from servicekit.runtime.database import create_pool

from .conftest import ORIGIN, FakeIdentity, unique_email, unique_ip

pytestmark = pytest.mark.integration

Sent = tuple[str, tuple[str, ...]]  # statement text, its parameters' types


@pytest.fixture
async def logged() -> list[asyncpg.connection.LoggedQuery]:
    return []


@pytest.fixture
async def logged_pool(
    dsn: str, logged: list[asyncpg.connection.LoggedQuery]
) -> AsyncIterator[asyncpg.Pool]:
    # One connection, as bootstrap's pool makes them: every request runs on it, warmed up
    # (type introspection) alike.
    pool = await create_pool(dsn, max_size=1, sessions_left_clean=True)
    async with pool.acquire() as conn:
        conn.add_query_logger(logged.append)
    yield pool
    await pool.close()


def sent(logged: list[asyncpg.connection.LoggedQuery]) -> list[Sent]:
    return [(" ".join(q.query.split()), tuple(type(a).__name__ for a in q.args)) for q in logged]


async def counts(pool: asyncpg.Pool) -> dict[str, int]:
    return {
        table: await pool.fetchval(f"SELECT count(*) FROM {table}")
        for table in ("reset_requests", "outbox", "deferred_emails", "rate_limit_hits")
    }


async def test_known_and_unknown_emails_send_the_same_one_statement(
    logged_pool: asyncpg.Pool,
    logged: list[asyncpg.connection.LoggedQuery],
    identity: FakeIdentity,
    pool: asyncpg.Pool,
) -> None:
    resets = PasswordResets.build(
        lambda: ResetUnitOfWork(logged_pool),
        PostgresRequestIntake(logged_pool),
        identity,
        ResetPolicy(
            hash_keys=KeyRing.parse(f"h1:{'A' * 43}"),
            seal_keys=KeyRing.parse(f"s1:{'B' * 43}"),
            public_origin=ORIGIN,
            ttl=timedelta(minutes=30),
            max_attempts=5,
            limits=RequestLimits(3, 20, timedelta(minutes=15)),
        ),
    )
    # A connection's first statement of a kind also looks up types (once per connection,
    # known or unknown email alike): warm it up first.
    warm_up = unique_email()
    identity.add(warm_up)
    for email in (warm_up, unique_email()):
        await resets.request(email, unique_ip())
    known_email, unknown_email = unique_email(), unique_email()
    identity.add(known_email)
    runs: dict[str, list[list[Sent]]] = {"known": [], "unknown": []}
    keeps: dict[str, list[object]] = {"known": [], "unknown": []}
    written: dict[str, list[dict[str, int]]] = {"known": [], "unknown": []}
    for _ in range(5):  # the fourth and fifth are over the account limit: their email waits
        for kind, email in (("known", known_email), ("unknown", unknown_email)):
            before = await counts(pool)
            logged.clear()
            await resets.request(email, unique_ip())
            after = await counts(pool)
            written[kind].append({t: after[t] - before[t] for t in after})
            runs[kind].append(sent(logged))
            keeps[kind].append(logged[0].args[-1])
    for known, unknown in zip(runs["known"], runs["unknown"], strict=True):
        assert unknown == known
        # One round trip: no BEGIN, no savepoint, no COMMIT, no session reset around it.
        [(statement, _)] = known
        assert statement.startswith("SELECT ip_allowed, retry_after_seconds FROM issue_reset")
    assert keeps == {"known": [True] * 5, "unknown": [False] * 5}
    # The known email kept its requests and emails (three now, then one pending); the unknown
    # only its rate-limit hits (IP and account; over the account's limit, the IP's alone).
    assert [w["reset_requests"] for w in written["known"]] == [1] * 5
    assert [w["outbox"] for w in written["known"]] == [1, 1, 1, 0, 0]
    assert [w["deferred_emails"] for w in written["known"]] == [0, 0, 0, 1, 0]
    assert [w["rate_limit_hits"] for w in written["known"]] == [2, 2, 2, 1, 1]
    assert written["unknown"] == [
        {"reset_requests": 0, "outbox": 0, "deferred_emails": 0, "rate_limit_hits": h}
        for h in (2, 2, 2, 1, 1)
    ]
