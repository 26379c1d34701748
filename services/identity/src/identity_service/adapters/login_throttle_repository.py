"""PostgreSQL storage of failed-login counters, one row per throttled scope key.

A reservation locks the rows of every scope an attempt touches (in key order, so two attempts
never deadlock) for the length of one short transaction: attempts on the same keys are decided
one after the other, however many arrive at once.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

import asyncpg

from identity_service.domain.login_throttle import (
    ThrottleCounter,
    ThrottleRule,
    Verdict,
    give_back,
    reserve,
)

Keyed = tuple[tuple[ThrottleRule, bytes], ...]


class LoginThrottleRepository:
    def __init__(self, pool: asyncpg.Pool, *, forget_after: timedelta) -> None:
        self._pool = pool
        self._forget_after = forget_after

    async def reserve(self, scopes: Keyed, now: datetime) -> Verdict:
        rules = tuple(rule for rule, _ in scopes)
        decided: list[Verdict] = []

        def decide(counters: tuple[ThrottleCounter, ...]) -> tuple[ThrottleCounter, ...] | None:
            verdict = reserve(rules, counters, now, self._forget_after)
            decided.append(verdict)
            return verdict.counters if verdict.allowed else None

        await self._update(scopes, decide)
        return decided[0]

    async def give_back(self, scopes: Keyed, *, clear: tuple[bool, ...]) -> None:
        rules = tuple(rule for rule, _ in scopes)
        await self._update(scopes, lambda counters: give_back(rules, counters, clear=clear))

    async def _update(
        self,
        scopes: Keyed,
        change: Callable[[tuple[ThrottleCounter, ...]], tuple[ThrottleCounter, ...] | None],
    ) -> None:
        keys = [key for _, key in scopes]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO login_throttle (key) SELECT unnest($1::bytea[])
                   ON CONFLICT (key) DO NOTHING""",
                keys,
            )
            rows = await conn.fetch(
                """SELECT key, failures, last_failure_at, blocked_until FROM login_throttle
                   WHERE key = ANY($1::bytea[]) ORDER BY key FOR UPDATE""",
                keys,
            )
            by_key = {bytes(r["key"]): r for r in rows}
            counters = tuple(
                ThrottleCounter(
                    by_key[k]["failures"], by_key[k]["last_failure_at"], by_key[k]["blocked_until"]
                )
                for k in keys
            )
            updated = change(counters)
            if updated is None:
                return
            await conn.executemany(
                """UPDATE login_throttle SET failures = $2, last_failure_at = $3,
                                             blocked_until = $4 WHERE key = $1""",
                [
                    (k, c.failures, c.last_failure_at, c.blocked_until)
                    for k, c in zip(keys, updated, strict=True)
                ],
            )

    async def prune(self, now: datetime) -> int:
        """Forget counters that count as zero anyway: no failure for `forget_after` and no
        delay running. Keeps the table from growing with every address ever tried."""
        result = await self._pool.execute(
            """DELETE FROM login_throttle
               WHERE (last_failure_at IS NULL OR last_failure_at < $1)
                 AND (blocked_until IS NULL OR blocked_until < $2)""",
            now - self._forget_after,
            now,
        )
        return int(result.split()[-1])
