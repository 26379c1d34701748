"""Fault 5: a poison record on the topic lands in the dead-letter topic; the emails behind it
(same key, so same partition) still go out."""

import asyncio
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pwreset_contracts import ResetRequestedV1
from pwreset_contracts.dead_letters import DEAD_LETTER_TOPIC, read_dead_letter

TOPIC = ResetRequestedV1.topic


async def test_a_poison_record_is_dead_lettered_and_the_queue_behind_it_moves(kit) -> None:
    emails = await kit.accounts(5, "poison")
    key = kit.account_ids[emails[0]].encode()
    marker = uuid.uuid4().hex
    producer = AIOKafkaProducer(**kit.infra.kafka_options(), acks="all")
    await producer.start()
    try:
        poison = await producer.send_and_wait(
            TOPIC,
            key=key,
            value=b"\x00\xff this is not JSON " + marker.encode(),
            headers=[("ce_specversion", b"1.0"), ("ce_id", marker.encode())],
        )
    finally:
        await producer.stop()
    tally = kit.tally()
    await kit.stream(emails, per_second=10, tally=tally)  # emails[0] shares the poison's key
    counts = await kit.wait_for_mail(tally.accepted, within=30)
    letters = await dead_letters_with(kit.infra.kafka_options(), marker)
    async with kit.notifier_db() as db:
        recorded = await db.fetchval(
            "SELECT count(*) FROM dead_letters WHERE origin_partition = $1 AND origin_offset = $2",
            poison.partition,
            poison.offset,
        )
    numbers = kit.outcome(tally, counts)
    counted = await kit.metric("notifier", "notifier_dead_letters_total")
    kit.report("5 poison record", **numbers, dead_lettered=len(letters))

    assert numbers["accepted"] == 5 and numbers["lost"] == 0 and numbers["duplicates"] == 0
    assert len(letters) == 1 and recorded == 1 and counted >= 1
    headers, letter_key, value = letters[0]
    letter = read_dead_letter(headers)
    assert (letter.origin_topic, letter.origin_partition, letter.origin_offset) == (
        TOPIC,
        str(poison.partition),
        str(poison.offset),
    )
    assert letter.reason.startswith("invalid record")
    assert letter_key == key and value.endswith(marker.encode())  # the record as it was
    assert ("ce_id", marker.encode()) in headers


async def dead_letters_with(kafka: dict[str, Any], marker: str) -> list[tuple[list, bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        DEAD_LETTER_TOPIC,
        **kafka,
        group_id=f"fault-{uuid.uuid4()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found = []
    try:
        async with asyncio.timeout(20):
            while not found:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    found += [
                        (list(r.headers), r.key, r.value)
                        for r in records
                        if r.value and r.value.endswith(marker.encode())
                    ]
        await asyncio.sleep(1)  # a second copy would be a duplicate dead letter
        for records in (await consumer.getmany(timeout_ms=500)).values():
            found += [
                (list(r.headers), r.key, r.value) for r in records if marker.encode() in r.value
            ]
    finally:
        await consumer.stop()
    return found
