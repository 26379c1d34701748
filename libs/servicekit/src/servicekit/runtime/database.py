"""asyncpg pool creation that waits for the database instead of crashing the pod at start."""

import asyncio
import logging

import asyncpg

log = logging.getLogger("servicekit.runtime.database")


async def create_pool(dsn: str, *, max_size: int, attempts: int = 30) -> asyncpg.Pool:
    for attempt in range(1, attempts + 1):
        try:
            return await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, command_timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            if attempt == attempts:
                raise
            log.warning(
                "database not reachable yet", extra={"fields": {"error": type(exc).__name__}}
            )
            await asyncio.sleep(min(0.2 * attempt, 2.0))
    raise RuntimeError("unreachable")
