"""A request for an unknown email runs the very statements a request for a known one runs, on
real PostgreSQL; only the savepoint's end differs (docs/security.md). The unit tests show the
same of the use case's calls; this shows the adapters keep it in SQL."""

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from pwreset_contracts.sealed import KeyRing
from reset_service.adapters.unit_of_work import ResetUnitOfWork
from reset_service.domain.rate_limits import RequestLimits
from reset_service.service_layer.password_resets import PasswordResets, ResetPolicy

from .conftest import ORIGIN, FakeIdentity, unique_email, unique_ip

pytestmark = pytest.mark.integration


@pytest.fixture
async def logged() -> list[str]:
    return []


@pytest.fixture
async def logged_pool(dsn: str, logged: list[str]) -> AsyncIterator[asyncpg.Pool]:
    async def log_queries(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(lambda q: logged.append(q.query))

    # One connection: every request runs on it, warmed up (type introspection) alike.
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1, init=log_queries)
    yield pool
    await pool.close()


def statements(logged: list[str]) -> list[str]:
    # asyncpg numbers its savepoints; the name says nothing about the email.
    return [re.sub(r"__asyncpg_savepoint_[0-9a-f]+__", "SP", " ".join(q.split())) for q in logged]


async def test_known_and_unknown_emails_run_the_same_statements(
    logged_pool: asyncpg.Pool, logged: list[str], identity: FakeIdentity
) -> None:
    resets = PasswordResets.build(
        lambda: ResetUnitOfWork(logged_pool),
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
    # A connection's first statements of a kind also look up types (once per connection,
    # known or unknown email alike): warm it up first.
    warm_up = unique_email()
    identity.add(warm_up)
    for email in (warm_up, unique_email()):
        await resets.request(email, unique_ip())
    known_email, unknown_email = unique_email(), unique_email()
    identity.add(known_email)
    runs: dict[str, list[list[str]]] = {"known": [], "unknown": []}
    for _ in range(5):  # the fourth and fifth are over the account limit: their email waits
        for kind, email in (("known", known_email), ("unknown", unknown_email)):
            logged.clear()
            await resets.request(email, unique_ip())
            runs[kind].append(statements(logged))
    keep, roll_back = "RELEASE SAVEPOINT SP;", "ROLLBACK TO SP;"
    for known, unknown in zip(runs["known"], runs["unknown"], strict=True):
        assert known.count(keep) == 1 and roll_back not in known
        assert unknown.count(roll_back) == 1 and keep not in unknown
        assert [keep if q == roll_back else q for q in unknown] == known
    # Both wrote a request and its email (now, then deferred) before the savepoint's end.
    assert any("INSERT INTO outbox" in q for q in runs["unknown"][0])
    assert any("INSERT INTO deferred_emails" in q for q in runs["unknown"][4])
    assert all(any("INSERT INTO reset_requests" in q for q in run) for run in runs["unknown"])
