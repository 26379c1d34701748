"""Sliding-window rate limits kept in PostgreSQL, so every replica sees the same counts.

A hit is a row (scope, subject hash, time). Checking and counting happen under a transaction-
scoped advisory lock on the subject, so concurrent requests cannot both take the last slot: both
in one round trip, in ``rate_limit_take`` (migration 0005), which ``Limit.decide``'s rule is
written into and the request intake's one statement calls too.
"""

from datetime import datetime, timedelta

from asyncpg.pool import PoolConnectionProxy

from reset_service.domain.rate_limits import Decision, Limit


class PostgresRateLimits:
    def __init__(self, conn: PoolConnectionProxy) -> None:
        self._conn = conn

    async def lock(self, limit: Limit) -> None:
        """Hold the subject's lock until the transaction ends (taking it again in the same
        transaction is a no-op)."""
        await self._conn.execute("SELECT rate_limit_lock($1, $2)", limit.scope, limit.subject)

    async def take(self, limit: Limit, now: datetime) -> Decision:
        row = await self._conn.fetchrow(
            "SELECT allowed, retry_after_seconds FROM rate_limit_take($1, $2, $3, $4, $5)",
            limit.scope,
            limit.subject,
            limit.max_hits,
            limit.window,
            now,
        )
        assert row is not None  # the function always returns its one row
        return Decision(row["allowed"], row["retry_after_seconds"])

    async def prune(self, window: timedelta) -> None:
        await self._conn.execute(
            "DELETE FROM rate_limit_hits WHERE at < now() - make_interval(secs => $1)",
            window.total_seconds(),
        )
