"""Kafka round trip with aiokafka: idempotent producer, group consumer, headers, crash."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from devinfra.providers import Infrastructure

pytestmark = pytest.mark.integration


async def _produce(kafka: dict[str, Any], topic: str, count: int) -> None:
    producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(
                topic,
                f"value-{i}".encode(),
                key=b"same-key",
                headers=[("trace-id", f"t-{i}".encode()), ("kind", b"test")],
            )
    finally:
        await producer.stop()


async def _consume(
    kafka: dict[str, Any], topic: str, group: str, count: int
) -> list[tuple[bytes, tuple]]:
    consumer = AIOKafkaConsumer(
        topic,
        **kafka,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    received: list[tuple[bytes, tuple]] = []
    try:
        async with asyncio.timeout(60):
            while len(received) < count:
                batch = await consumer.getmany(timeout_ms=1000)
                for records in batch.values():
                    received += [(r.value, tuple(r.headers)) for r in records]
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topic, 0))
        assert committed is not None
    finally:
        await consumer.stop()
    return received


async def test_round_trip_with_headers_survives_broker_crash(infra: Infrastructure) -> None:
    topic = f"devinfra-test-{uuid.uuid4().hex[:8]}"
    infra.create_topics([topic], partitions=1, retention_ms=3_600_000)
    infra.create_topics([topic], partitions=1)  # idempotent

    await _produce(infra.kafka_options(), topic, 3)
    received = await _consume(infra.kafka_options(), topic, "g-first", 3)
    assert [value for value, _ in received] == [b"value-0", b"value-1", b"value-2"]
    assert received[0][1] == (("trace-id", b"t-0"), ("kind", b"test"))

    if infra.kafka is None:
        pytest.skip(f"crash/restart needs the local provider (kafka={infra.providers['kafka']})")
    await asyncio.to_thread(infra.kafka.kill)
    await asyncio.to_thread(infra.kafka.start)

    # Data written with acks=all survived the SIGKILL; a new group reads it all again.
    await _produce(infra.kafka_options(), topic, 1)
    again = await _consume(infra.kafka_options(), topic, "g-second", 4)
    assert [value for value, _ in again][:3] == [b"value-0", b"value-1", b"value-2"]


def test_a_cluster_id_starting_with_a_dash_still_formats(tmp_path) -> None:
    """1 in 64 random ids starts with "-": passed as its own argument it read as an option."""
    from devinfra.kafka_local import LocalKafka
    from devinfra.processes import free_port

    kafka = LocalKafka(tmp_path, free_port(), free_port())
    kafka.home.mkdir(parents=True, exist_ok=True)
    raw = bytearray(uuid.uuid4().bytes)
    raw[0] = 0xF8 | (raw[0] & 0x03)  # the first 6 bits are 62: "-" in base64url
    cluster_id = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert cluster_id.startswith("-")
    (kafka.home / "cluster.id").write_text(cluster_id + "\n")
    kafka.start()
    try:
        assert kafka.running
    finally:
        kafka.stop()
