"""The delivery ledger: which events already produced an email (keyed by CloudEvent id)."""

import asyncpg


class DeliveriesLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def already_sent(self, event_id: str) -> bool:
        return bool(
            await self._pool.fetchval("SELECT 1 FROM deliveries WHERE event_id = $1", event_id)
        )

    async def record_sent(self, event_id: str, event_type: str) -> None:
        await self._pool.execute(
            """INSERT INTO deliveries (event_id, event_type) VALUES ($1, $2)
               ON CONFLICT (event_id) DO NOTHING""",
            event_id,
            event_type,
        )
