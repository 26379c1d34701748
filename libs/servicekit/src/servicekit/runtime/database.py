"""asyncpg pool creation that waits for the database instead of crashing the pod at start."""

import asyncio
import logging

import asyncpg

log = logging.getLogger("servicekit.runtime.database")


async def _no_session_reset(_: asyncpg.Connection) -> None:
    """asyncpg still rolls back a transaction left open; no reset query is sent."""


async def create_pool(
    dsn: str, *, max_size: int, attempts: int = 30, sessions_left_clean: bool = False
) -> asyncpg.Pool:
    """``sessions_left_clean``: the pool's users leave no session state behind (advisory locks
    and settings only transaction-scoped, no LISTEN, no cursor outside a transaction), so a
    released connection needs no ``RESET ALL; UNLISTEN *; ...`` round trip. Off by default;
    whoever turns it on keeps a test that checks it (reset: test_pool_sessions.py)."""
    for attempt in range(1, attempts + 1):
        try:
            return await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=max_size,
                command_timeout=10,
                reset=_no_session_reset if sessions_left_clean else None,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.TargetServerAttributeNotMatched) as exc:
            if attempt == attempts:
                raise
            log.warning(
                "database not reachable yet", extra={"fields": {"error": type(exc).__name__}}
            )
            await asyncio.sleep(min(0.2 * attempt, 2.0))
    raise RuntimeError("unreachable")
