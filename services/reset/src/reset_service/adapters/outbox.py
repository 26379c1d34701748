"""The reset service's outbox (servicekit's table and relay): an event is written in the same
transaction as the request it announces, so it goes out if and only if the request exists; the
relay publishes it later (docs/delivery.md)."""

from uuid import UUID

from asyncpg.pool import PoolConnectionProxy
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from servicekit.messaging.outbox.enqueue import enqueue


class PostgresOutbox:
    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def add(self, event_id: UUID, record: KafkaRecord) -> None:
        await enqueue(self._conn, event_id, record)
