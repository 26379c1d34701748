"""bootstrap's pool sends no session reset when a connection comes back (one round trip per
use saved): that is safe only while nothing leaves session state on a pooled connection. Every
use case, and the outbox relay that shares the pool, runs here on one connection, which is then
checked for what a reset would have cleared: advisory locks, LISTEN, settings, cursors, an open
transaction."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from pwreset_contracts import ResetRequestedV1
from pwreset_contracts.sealed import KeyRing
from reset_service.adapters.request_intake import PostgresRequestIntake
from reset_service.adapters.unit_of_work import ResetUnitOfWork
from reset_service.domain.rate_limits import RequestLimits
from reset_service.service_layer.errors import ConfirmRejected, RateLimited
from reset_service.service_layer.password_resets import PasswordResets, ResetPolicy
from servicekit.messaging.outbox.relay import OutboxRelay
from servicekit.runtime.database import create_pool

from .conftest import ORIGIN, Clock, FakeIdentity, emailed_token, unique_email, unique_ip

pytestmark = pytest.mark.integration


@pytest.fixture
async def one_connection(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(dsn, max_size=1, sessions_left_clean=True)
    yield pool
    await pool.close()


async def session_state(pool: asyncpg.Pool) -> dict[str, object]:
    async with pool.acquire() as conn:
        return {
            "advisory locks": await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                "pg_backend_pid()"
            ),
            "listening": await conn.fetch("SELECT pg_listening_channels()"),
            # Set for the session to something RESET ALL would change (asyncpg sets jit off for
            # its type introspection and back after, which leaves a session-sourced 'on').
            "settings": await conn.fetch(
                "SELECT name FROM pg_settings WHERE source = 'session' AND setting <> reset_val"
            ),
            "cursors": await conn.fetchval("SELECT count(*) FROM pg_cursors"),
            "in transaction": conn.is_in_transaction(),
        }


async def publish_the_outbox(pool: asyncpg.Pool, dsn: str, infra: Any) -> None:
    infra.create_topics([ResetRequestedV1.topic])
    relay = OutboxRelay(
        pool, dsn, infra.kafka_bootstrap, kafka_options=infra.kafka_security_options()
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        async with asyncio.timeout(30):
            while True:  # every row out, with the relay's claims, marks and backlog queries
                left = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                if not left:
                    break
                await asyncio.sleep(0.1)
    finally:
        stop.set()
        await task


async def test_nothing_leaves_session_state_on_a_pooled_connection(
    one_connection: asyncpg.Pool,
    identity: FakeIdentity,
    clock: Clock,
    dsn: str,
    infra: Any,
) -> None:
    clean = await session_state(one_connection)
    resets = PasswordResets.build(
        lambda: ResetUnitOfWork(one_connection),
        PostgresRequestIntake(one_connection),
        identity,
        ResetPolicy(
            hash_keys=KeyRing.parse(f"h1:{'A' * 43}"),
            seal_keys=KeyRing.parse(f"s1:{'B' * 43}"),
            public_origin=ORIGIN,
            ttl=timedelta(minutes=30),
            max_attempts=5,
            limits=RequestLimits(1, 2, timedelta(minutes=15), link_misses_max=1),
        ),
        clock,
    )
    email, ip = unique_email(), unique_ip()
    identity.add(email)
    issued = await resets.request(email, ip)  # known, its email now
    token = await emailed_token(one_connection, email)
    await resets.inspect_link(token, unique_ip())
    with pytest.raises(ConfirmRejected):
        await resets.confirm(token=token, new_password="a new long password", code="ZZZZZZZZ")
    await resets.request(email, unique_ip())  # over the account's limit: pending
    await resets.request(unique_email(), ip)  # unknown
    with pytest.raises(RateLimited):
        await resets.request(unique_email(), ip)  # over the IP's limit
    for _ in range(2):  # a link that matches nothing, then over that limit
        with pytest.raises((ConfirmRejected, RateLimited)):
            await resets.inspect_link("no-such-token", ip)
    clock.advance(minutes=16)
    assert await resets.send_due_emails() == 1
    await resets.confirm(
        token=await emailed_token(one_connection, email),
        new_password="a new long password",
        code=issued.verification_code,  # carried over to the newer request
    )
    await resets.prune_rate_limits()
    await publish_the_outbox(one_connection, dsn, infra)
    assert await session_state(one_connection) == clean
    assert clean["advisory locks"] == 0 and not clean["in transaction"]
