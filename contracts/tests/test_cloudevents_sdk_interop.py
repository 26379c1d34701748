"""Our records, through real Kafka, read by an independent implementation: the CloudEvents
Python SDK (its current `cloudevents.core.bindings.kafka` and the 1.x-era `cloudevents.v1.kafka`).

If a team on any CloudEvents SDK can read what we publish, these must agree with what we sent.
"""

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cloudevents.core.bindings import kafka as ce_core
from cloudevents.v1 import kafka as ce_v1
from pwreset_contracts import (
    DEAD_LETTER_TOPIC,
    TOPICS,
    PasswordChangedV1,
    ResetRequestedV1,
    SealedValue,
)
from pwreset_contracts import cloudevents_kafka as ours
from pwreset_contracts.dead_letters import dead_letter_headers
from pwreset_contracts.events import Event

pytestmark = pytest.mark.integration


def _sealed() -> SealedValue:
    return SealedValue(kid="k1", nonce="bm9uY2UxMjM0NTY", ciphertext="Y2lwaGVydGV4dA")


def _events() -> list[Event]:
    now = datetime.now(UTC)
    account = uuid.uuid4()
    return [
        ResetRequestedV1(
            request_id=uuid.uuid4(),
            account_id=account,
            email="interop@example.com",
            requested_at=now,
            expires_at=now + timedelta(minutes=30),
            sealed_link=_sealed(),
        ),
        PasswordChangedV1(
            change_id=uuid.uuid4(),
            account_id=account,
            email="interop@example.com",
            changed_at=now,
            method="reset",
            client_ip="198.51.100.4",
            sealed_undo_link=_sealed(),
        ),
    ]


async def _round_trip(kafka: dict[str, Any], records: list[ours.KafkaRecord]) -> list[Any]:
    """Produce the records, then read each one back (matched on topic and ce_id)."""
    producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for record in records:
            await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=record.headers
            )
    finally:
        await producer.stop()

    wanted = {(r.topic, dict(r.headers)["ce_id"]) for r in records}
    found: dict[tuple[str, bytes], Any] = {}
    consumer = AIOKafkaConsumer(
        *{r.topic for r in records},
        **kafka,
        group_id=f"interop-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while wanted - found.keys():
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    for record in batch:
                        event_id = dict(record.headers).get("ce_id")
                        if (record.topic, event_id) in wanted:
                            found[(record.topic, event_id)] = record
    finally:
        await consumer.stop()
    return [found[(r.topic, dict(r.headers)["ce_id"])] for r in records]


def _read_core(record: Any) -> dict[str, Any]:
    message = ce_core.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    event = ce_core.from_binary_event(message)
    return {
        "specversion": event.get_specversion(),
        "id": event.get_id(),
        "type": event.get_type(),
        "source": event.get_source(),
        "time": event.get_time(),
        "datacontenttype": event.get_datacontenttype(),
        "data": event.get_data(),
        "partitionkey": event.get_extension("partitionkey"),
    }


def _read_v1(record: Any) -> dict[str, Any]:
    message = ce_v1.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    event = ce_v1.from_binary(message)
    return {
        "specversion": event["specversion"],
        "id": event["id"],
        "type": event["type"],
        "source": event["source"],
        "time": datetime.fromisoformat(event["time"]),
        "datacontenttype": event["datacontenttype"],
        "data": event.get_data(),
        "partitionkey": event["partitionkey"].decode(),
    }


READERS: dict[str, Callable[[Any], dict[str, Any]]] = {"core": _read_core, "v1": _read_v1}


@pytest.fixture(scope="module")
def topics(infra) -> None:
    infra.create_topics([*TOPICS, DEAD_LETTER_TOPIC])


@pytest.mark.parametrize("reader", sorted(READERS))
async def test_the_sdk_reads_our_events_and_dead_letters_as_we_sent_them(
    infra, topics, reader: str
) -> None:
    sent_at = datetime.now(UTC).replace(microsecond=123456)
    events = _events()
    records = [
        ours.encode(e, source=f"/interop/{reader}", event_id=str(uuid.uuid4()), time=sent_at)
        for e in events
    ]
    # The dead-letter copy of the first record: same key, value and ce_* headers, plus ours.
    original = records[0]
    dead_letter = ours.KafkaRecord(
        topic=DEAD_LETTER_TOPIC,
        key=original.key,
        value=original.value,
        headers=dead_letter_headers(
            original.headers,
            reason="smtp 550 mailbox unavailable",
            origin_topic=original.topic,
            origin_partition=0,
            origin_offset=0,
        ),
    )

    received = await _round_trip(infra.kafka_options(), [*records, dead_letter])

    expected_for = [*zip(events, records, strict=True), (events[0], dead_letter)]
    for (event, record), kafka_record in zip(expected_for, received, strict=True):
        read = READERS[reader](kafka_record)
        assert read == {
            "specversion": "1.0",
            "id": dict(record.headers)["ce_id"].decode(),
            "type": event.ce_type,
            "source": f"/interop/{reader}",
            "time": sent_at,
            "datacontenttype": "application/json",
            "data": json.loads(event.model_dump_json()),
            "partitionkey": str(event.account_id),
        }
        # ... and our own reader, on the same record, sees the same event.
        ours_read = ours.decode(list(kafka_record.headers), kafka_record.value)
        assert ours_read.data == event
        assert TOPICS[event.topic] == ours_read.type == read["type"]
