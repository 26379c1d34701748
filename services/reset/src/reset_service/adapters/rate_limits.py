"""Sliding-window rate limits kept in PostgreSQL, so every replica sees the same counts.

A hit is a row (scope, subject hash, time). Checking and counting happen under a transaction-
scoped advisory lock on the subject, so concurrent requests cannot both take the last slot.
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
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended($1 || encode($2, 'hex'), 0))",
            limit.scope,
            limit.subject,
        )

    async def take(self, limit: Limit, now: datetime) -> Decision:
        await self.lock(limit)
        row = await self._conn.fetchrow(
            """SELECT count(*), min(at) FROM rate_limit_hits
               WHERE scope = $1 AND subject = $2 AND at > $3""",
            limit.scope,
            limit.subject,
            now - limit.window,
        )
        assert row is not None  # an aggregate without GROUP BY always returns one row
        decision = limit.decide(row[0], row[1], now)
        if decision.allowed:
            await self._conn.execute(
                "INSERT INTO rate_limit_hits (scope, subject, at) VALUES ($1, $2, $3)",
                limit.scope,
                limit.subject,
                now,
            )
        return decision

    async def prune(self, window: timedelta) -> None:
        await self._conn.execute(
            "DELETE FROM rate_limit_hits WHERE at < now() - make_interval(secs => $1)",
            window.total_seconds(),
        )
