"""Writing an event to the outbox, inside the caller's transaction."""

import json
from uuid import UUID

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pwreset_contracts.cloudevents_kafka import KafkaRecord

OUTBOX_CHANNEL = "outbox"


def headers_json(record: KafkaRecord) -> str:
    """The record's headers as the outbox's ``headers`` column stores them (jsonb)."""
    return json.dumps([[name, value.decode()] for name, value in record.headers])


async def enqueue(
    conn: asyncpg.Connection | PoolConnectionProxy, event_id: UUID, record: KafkaRecord
) -> None:
    """Add the record to the outbox and wake the relay once the transaction commits."""
    await conn.execute(
        """INSERT INTO outbox (event_id, topic, key, value, headers)
           VALUES ($1, $2, $3, $4, $5::jsonb)""",
        event_id,
        record.topic,
        record.key,
        record.value,
        headers_json(record),
    )
    # NOTIFY is delivered at commit, so the relay never wakes for a row it cannot see yet.
    await conn.execute(f"NOTIFY {OUTBOX_CHANNEL}")
