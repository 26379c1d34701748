"""Every record now on some topics, read from the beginning without a consumer group: what the
e2e tests search (for secrets, for a victim's record to copy)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord

READ_WITHIN_SECONDS = 30.0


async def read_topics(
    kafka: dict[str, Any], topics: Iterable[str]
) -> list[ConsumerRecord[bytes, bytes]]:
    """`kafka`: aiokafka client options (bootstrap and security) of a user that may read."""
    consumer = AIOKafkaConsumer(**kafka, enable_auto_commit=False)
    await consumer.start()
    found: list[ConsumerRecord[bytes, bytes]] = []
    try:
        admin = AIOKafkaAdminClient(**kafka)
        await admin.start()
        try:
            described = await admin.describe_topics(list(topics))
        finally:
            await admin.close()
        partitions = [
            TopicPartition(topic["topic"], p["partition"])
            for topic in described
            for p in topic["partitions"]
        ]
        assert partitions, "no partitions: do the topics exist?"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        async with asyncio.timeout(READ_WITHIN_SECONDS):
            while remaining:
                for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                    for record in records:
                        if record.offset < ends[tp]:
                            found.append(record)
                        if record.offset + 1 >= ends[tp]:
                            remaining.discard(tp)
    finally:
        await consumer.stop()
    return found
