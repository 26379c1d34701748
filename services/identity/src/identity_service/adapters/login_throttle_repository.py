"""PostgreSQL storage of failed-login counters, one row per throttled scope key, on a unit of
work's connection.

``lock`` locks the rows of every scope an attempt touches (in key order, so two attempts never
deadlock) until the unit of work ends: attempts on the same keys are decided one after the
other, however many arrive at once.
"""

from datetime import datetime

from asyncpg.pool import PoolConnectionProxy

from identity_service.domain.login_throttle import ThrottleCounter


class LoginThrottleRepository:
    def __init__(self, connection: PoolConnectionProxy) -> None:
        self._conn = connection

    async def lock(self, keys: tuple[bytes, ...]) -> tuple[ThrottleCounter, ...]:
        await self._conn.execute(
            """INSERT INTO login_throttle (key) SELECT unnest($1::bytea[])
               ON CONFLICT (key) DO NOTHING""",
            list(keys),
        )
        rows = await self._conn.fetch(
            """SELECT key, failures, last_failure_at, blocked_until FROM login_throttle
               WHERE key = ANY($1::bytea[]) ORDER BY key FOR UPDATE""",
            list(keys),
        )
        by_key = {bytes(r["key"]): r for r in rows}
        return tuple(
            ThrottleCounter(
                by_key[k]["failures"], by_key[k]["last_failure_at"], by_key[k]["blocked_until"]
            )
            for k in keys
        )

    async def save(self, keys: tuple[bytes, ...], counters: tuple[ThrottleCounter, ...]) -> None:
        await self._conn.executemany(
            """UPDATE login_throttle SET failures = $2, last_failure_at = $3,
                                         blocked_until = $4 WHERE key = $1""",
            [
                (k, c.failures, c.last_failure_at, c.blocked_until)
                for k, c in zip(keys, counters, strict=True)
            ],
        )

    async def prune(self, now: datetime, forget_before: datetime) -> int:
        result = await self._conn.execute(
            """DELETE FROM login_throttle
               WHERE (last_failure_at IS NULL OR last_failure_at < $1)
                 AND (blocked_until IS NULL OR blocked_until < $2)""",
            forget_before,
            now,
        )
        return int(result.split()[-1])
