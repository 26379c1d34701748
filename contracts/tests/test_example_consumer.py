"""contracts/examples/password_changed_consumer.py works: its main loop, against real Kafka,
skips a record that is not an event, hands over a PasswordChanged record and commits it."""

import asyncio
import importlib.util
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pwreset_contracts import PasswordChangedV1, SealedValue
from pwreset_contracts import cloudevents_kafka as ce
from pwreset_contracts.cloudevents_kafka import ReceivedEvent

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "password_changed_consumer.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("password_changed_consumer", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_consumer_handles_one_record_and_commits_it(
    infra, caplog: pytest.LogCaptureFixture
) -> None:
    example = _load_example()
    infra.create_topics([example.TOPIC])
    account = uuid.uuid4()
    change = PasswordChangedV1(
        change_id=uuid.uuid4(),
        account_id=account,
        email="example-consumer@example.com",
        changed_at=datetime.now(UTC),
        method="reset",
        sealed_undo_link=SealedValue(kid="k1", nonce="bm9uY2U", ciphertext="Y2lwaGVy"),
    )
    record = ce.encode(change, source="/example-test")

    producer = AIOKafkaProducer(**infra.kafka_options(), acks="all")
    await producer.start()
    try:
        # Same key, so the same partition: the bad record comes first and must be skipped.
        await producer.send_and_wait(example.TOPIC, b"not an event", key=record.key)
        sent = await producer.send_and_wait(
            example.TOPIC, record.value, key=record.key, headers=record.headers
        )
    finally:
        await producer.stop()

    handled: list[tuple[ReceivedEvent, PasswordChangedV1]] = []
    stop = asyncio.Event()

    async def handle(event: ReceivedEvent, data: PasswordChangedV1) -> None:
        # The topic is shared with other tests: keep ours, stop once it is handled.
        if data.account_id == account:
            handled.append((event, data))
            stop.set()

    group = f"example-{uuid.uuid4()}"
    with caplog.at_level(logging.WARNING, logger="password_changed_consumer"):
        async with asyncio.timeout(30):
            await example.consume(
                infra.kafka_bootstrap,
                group,
                handle,
                stop,
                **infra.kafka_security_options(),
            )

    [(event, data)] = handled
    assert data == change
    assert event.id == dict(record.headers)["ce_id"].decode()
    assert any("skipped an invalid record" in m for m in caplog.messages)

    # Committed: a restart of the same group would not see the record again.
    checker = AIOKafkaConsumer(**infra.kafka_options(), group_id=group)
    await checker.start()
    try:
        committed = await checker.committed(TopicPartition(example.TOPIC, sent.partition))
    finally:
        await checker.stop()
    assert committed is not None and committed > sent.offset
