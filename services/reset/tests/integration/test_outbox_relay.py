"""The relay against real PostgreSQL and Kafka: a committed request reaches the topic as a
CloudEvent, exactly the rows written, and they are marked published."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import reset_service
from aiokafka import AIOKafkaConsumer
from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.sealed import seal
from reset_service.adapters.outbox_relay import OutboxRelay
from reset_service.adapters.requests_repository import NewRequest, RequestsRepository
from servicekit.testing import migrated_database

pytestmark = pytest.mark.integration
MIGRATIONS = Path(reset_service.__file__).parent / "migrations"


@pytest.fixture(scope="module")
def dsn(infra) -> str:
    infra.create_topics(["password-reset.requested.v1"])
    return migrated_database(infra, "reset", MIGRATIONS)


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    yield pool
    await pool.close()


def _request(account_id: uuid.UUID) -> tuple[NewRequest, ResetRequestedV1]:
    now = datetime.now(UTC)
    request_id = uuid.uuid4()
    event = ResetRequestedV1(
        request_id=request_id,
        account_id=account_id,
        email="it@example.com",
        requested_at=now,
        expires_at=now + timedelta(minutes=30),
        sealed_link=seal(
            "https://x/reset", key=b"k" * 32, kid="k", associated_data=str(request_id)
        ),
    )
    request = NewRequest(
        id=request_id,
        account_id=account_id,
        token_hash=uuid.uuid4().bytes * 2,
        code_hash=b"c" * 32,
        hash_key_id="k",
        requires_totp=False,
        expires_at=event.expires_at,
    )
    return request, event


async def test_committed_requests_are_published_once_and_marked(infra, dsn, pool) -> None:
    repo = RequestsRepository(pool)
    account_id = uuid.uuid4()
    event_ids = []
    for _ in range(3):
        request, event = _request(account_id)
        event_id = uuid.uuid4()
        event_ids.append(str(event_id))
        await repo.add(
            request, cloudevents_kafka.encode(event, source="/it", event_id=str(event_id)), event_id
        )

    relay = OutboxRelay(
        pool, dsn, infra.kafka_bootstrap, batch_size=100, poll_interval=0.2, retention_seconds=3600
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))

    consumer = AIOKafkaConsumer(
        "password-reset.requested.v1",
        bootstrap_servers=infra.kafka_bootstrap,
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

    assert sorted(seen) == sorted(event_ids)  # each once, none extra
    unpublished = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert unpublished == 0
    # A new request revoked the older ones of the account: one open request is left.
    open_requests = await pool.fetchval(
        "SELECT count(*) FROM reset_requests WHERE account_id = $1 AND revoked_at IS NULL",
        account_id,
    )
    assert open_requests == 1
