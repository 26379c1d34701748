"""The shared outbox relay against real PostgreSQL and Kafka: once, in order, with leases."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from servicekit.messaging.outbox.enqueue import enqueue
from servicekit.messaging.outbox.relay import OutboxRelay
from servicekit.messaging.outbox.schema import OUTBOX_TABLE_V1
from servicekit.messaging.outbox.store import OutboxStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dsn(infra) -> str:
    return infra.dsn_for(f"outbox_it_{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=6)
    # A fresh table per test: counts and orders below are about this test's rows only.
    await pool.execute("DROP TABLE IF EXISTS outbox")
    await pool.execute(OUTBOX_TABLE_V1)
    yield pool
    await pool.close()


@pytest.fixture
def topic(infra) -> str:
    name = f"it-outbox-{uuid.uuid4().hex[:8]}"
    infra.create_topics([name], partitions=3)
    return name


async def until(condition: Callable[[], Awaitable[bool]], within: float, every: float = 0.05):
    """Poll `condition` until true; TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        while True:
            if await condition():
                return
            await asyncio.sleep(every)


async def unpublished(pool: asyncpg.Pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


async def write(pool: asyncpg.Pool, topic: str, key: str, seq: int) -> str:
    event_id = uuid.uuid4()
    record = KafkaRecord(
        topic=topic,
        key=key.encode(),
        value=f'{{"seq": {seq}}}'.encode(),
        headers=[("ce_id", str(event_id).encode()), ("ce_seq", str(seq).encode())],
    )
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, event_id, record)
    return str(event_id)


async def consume(
    kafka: dict[str, Any], topic: str, count: int, within: float
) -> list[tuple[str, int]]:
    """(key, seq) of the first `count` records of `topic` in partition order; fails on timeout."""
    consumer = AIOKafkaConsumer(
        topic,
        **kafka,
        group_id=f"it-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[tuple[str, int]] = []
    try:
        async with asyncio.timeout(within):
            while len(seen) < count:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        seen.append((r.key.decode(), int(dict(r.headers)["ce_seq"].decode())))
        # A little longer: anything past `count` is a duplicate the test must see.
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            for r in records:
                seen.append((r.key.decode(), int(dict(r.headers)["ce_seq"].decode())))
    finally:
        await consumer.stop()
    return seen


async def _none_left(pool: asyncpg.Pool) -> bool:
    return await unpublished(pool) == 0


def relay_for(
    pool: asyncpg.Pool, dsn: str, infra: Any, bootstrap: str | None = None, **options: float
) -> OutboxRelay:
    settings = {"batch_size": 100, "poll_interval": 0.2, "retention_seconds": 3600} | options
    return OutboxRelay(
        pool,
        dsn,
        bootstrap or infra.kafka_bootstrap,
        kafka_options=infra.kafka_security_options(),
        **settings,  # type: ignore[arg-type]
    )


async def run_until_published(relays: list[OutboxRelay], pool: asyncpg.Pool, rows: int) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    try:
        await until(lambda: _none_left(pool), within=60)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert await pool.fetchval("SELECT count(*) FROM outbox") == rows


def assert_each_once_in_key_order(seen: list[tuple[str, int]], written: dict[str, list[int]]):
    assert sorted(seen) == sorted((k, s) for k, seqs in written.items() for s in seqs)
    for key, seqs in written.items():
        assert [s for k, s in seen if k == key] == seqs, f"key {key} out of order"


async def test_rows_are_published_once_in_key_order_and_marked(infra, dsn, pool, topic) -> None:
    written: dict[str, list[int]] = {f"account-{k}": [] for k in range(3)}
    for seq in range(30):
        key = f"account-{seq % 3}"
        await write(pool, topic, key, seq)
        written[key].append(seq)

    await run_until_published([relay_for(pool, dsn, infra)], pool, 30)

    seen = await consume(infra.kafka_options(), topic, 30, within=30)
    assert_each_once_in_key_order(seen, written)
    leased = await pool.fetchval("SELECT count(*) FROM outbox WHERE lease_owner IS NOT NULL")
    assert leased == 0


async def test_two_relays_at_once_publish_each_row_once_and_keep_key_order(
    infra, dsn, pool, topic
) -> None:
    written: dict[str, list[int]] = {f"account-{k}": [] for k in range(8)}
    for seq in range(240):
        key = f"account-{seq % 8}"
        await write(pool, topic, key, seq)
        written[key].append(seq)
    # Small batches, so the two relays interleave claims many times.
    relays = [relay_for(pool, dsn, infra, batch_size=7) for _ in range(2)]

    await run_until_published(relays, pool, 240)

    assert all(r.published_total > 0 for r in relays), "both relays should have taken part"
    assert sum(r.published_total for r in relays) == 240
    seen = await consume(infra.kafka_options(), topic, 240, within=30)
    assert_each_once_in_key_order(seen, written)


async def test_a_relay_that_died_mid_publish_blocks_its_rows_only_until_its_lease_ends(
    infra, dsn, pool, topic
) -> None:
    for seq in range(5):
        await write(pool, topic, "account-0", seq)
    # A relay claimed the rows with a 3 s lease and died before publishing them.
    dead_relay = uuid.uuid4()
    claimed = await OutboxStore(pool).claim(dead_relay, 100, lease_seconds=3)
    assert len(claimed) == 5
    lease_until = await pool.fetchval("SELECT max(lease_until) FROM outbox")

    started = time.monotonic()
    await run_until_published([relay_for(pool, dsn, infra)], pool, 5)
    waited = time.monotonic() - started

    published_first = await pool.fetchval("SELECT min(published_at) FROM outbox")
    assert published_first >= lease_until  # nobody published before the lease ran out
    assert waited < 3 + 5  # and the survivor took over soon after it did
    seen = await consume(infra.kafka_options(), topic, 5, within=30)
    assert_each_once_in_key_order(seen, {"account-0": [0, 1, 2, 3, 4]})


async def test_a_notify_wakes_the_relay_long_before_its_poll(infra, dsn, pool, topic) -> None:
    relay = relay_for(pool, dsn, infra, poll_interval=30)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:

        async def connected() -> bool:
            return relay._listener.listening and relay.kafka_connected

        await until(connected, within=10)
        await asyncio.sleep(0.5)  # the relay is now waiting out its 30 s poll
        started = time.monotonic()
        await write(pool, topic, "account-0", 0)
        await until(lambda: _none_left(pool), within=5, every=0.01)
        assert time.monotonic() - started < 2
    finally:
        stop.set()
        await task


async def test_unreachable_kafka_leaves_rows_unpublished_and_unleased(
    infra, dsn, pool, topic
) -> None:
    for seq in range(3):
        await write(pool, topic, "account-0", seq)
    relay = relay_for(pool, dsn, infra, "127.0.0.1:9")  # nothing listens on the discard port
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(2)
    with pytest.raises(ConnectionError):
        await relay.check_kafka()
    stop.set()
    await asyncio.wait_for(task, 10)
    assert relay.failures_total >= 2  # it kept retrying
    state = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE published_at IS NULL) AS pending,"
        " count(*) FILTER (WHERE lease_owner IS NOT NULL) AS leased FROM outbox"
    )
    assert (state["pending"], state["leased"]) == (3, 0)


async def test_published_rows_older_than_retention_are_pruned(pool, topic) -> None:
    for seq in range(4):
        await write(pool, topic, "account-0", seq)
    await pool.execute(
        "UPDATE outbox SET published_at = $1 WHERE id IN (SELECT id FROM outbox ORDER BY id"
        " LIMIT 2)",
        datetime(2000, 1, 1, tzinfo=UTC),
    )
    await pool.execute(
        "UPDATE outbox SET published_at = now() WHERE id = (SELECT max(id) FROM outbox)"
    )
    assert await OutboxStore(pool).prune(retention_seconds=3600) == 2
    # Left: one recent published row and one unpublished row, never pruned.
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2
    assert await OutboxStore(pool).backlog() >= (1, 0.0)
