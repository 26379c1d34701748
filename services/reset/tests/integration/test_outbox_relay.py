"""Reset's outbox (its own migrations, 0003 adds the lease) with the shared relay, against real
PostgreSQL and Kafka: a committed ResetRequested reaches the topic as a CloudEvent, once, keyed by
account id, and is marked published. The relay itself is tested in libs/servicekit."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import reset_service
from aiokafka import AIOKafkaConsumer
from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.sealed import reset_link_binding, seal
from servicekit.messaging.outbox.enqueue import enqueue
from servicekit.messaging.outbox.relay import OutboxRelay
from servicekit.testing import migrated_database

pytestmark = pytest.mark.integration
MIGRATIONS = Path(reset_service.__file__).parent / "migrations"
TOPIC = ResetRequestedV1.topic


def reset_requested(account_id: uuid.UUID) -> ResetRequestedV1:
    now = datetime.now(UTC)
    request_id = uuid.uuid4()
    return ResetRequestedV1(
        request_id=request_id,
        account_id=account_id,
        email="it@example.com",
        requested_at=now,
        expires_at=now + timedelta(minutes=30),
        sealed_link=seal(
            "https://x/reset",
            key=b"k" * 32,
            kid="k",
            associated_data=reset_link_binding(
                request_id=request_id, account_id=account_id, recipient="it@example.com"
            ),
        ),
    )


@pytest.fixture(scope="module")
def outbox_dsn(infra) -> str:
    infra.create_topics([TOPIC])
    return migrated_database(infra, "reset", MIGRATIONS)  # 0001..head, the lease included


async def test_committed_events_are_published_once_keyed_and_marked(infra, outbox_dsn) -> None:
    dsn = outbox_dsn
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    account_id = uuid.uuid4()
    event_ids = [str(uuid.uuid4()) for _ in range(3)]
    async with pool.acquire() as conn, conn.transaction():
        for event_id in event_ids:
            record = cloudevents_kafka.encode(
                reset_requested(account_id), source="/it", event_id=event_id
            )
            await enqueue(conn, uuid.UUID(event_id), record)

    relay = OutboxRelay(
        pool,
        dsn,
        infra.kafka_bootstrap,
        poll_interval=0.2,
        lease_seconds=10,
        kafka_options=infra.kafka_security_options(),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    consumer = AIOKafkaConsumer(
        TOPIC,
        **infra.kafka_options(),
        group_id=f"it-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not set(event_ids) <= set(seen):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        received = cloudevents_kafka.decode(record.headers, record.value)
                        if received.data.account_id == account_id:
                            assert record.key == str(account_id).encode()
                            seen.append(received.id)
    finally:
        stop.set()
        await task
        await consumer.stop()
        unpublished = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        await pool.close()

    assert seen == event_ids  # each once, in the order written (one key)
    assert unpublished == 0
