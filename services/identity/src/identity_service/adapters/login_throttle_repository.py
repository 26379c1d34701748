"""PostgreSQL storage of failed-login counters, one row per throttled scope key.

Each step is one call of a function of migration 0009 on a pooled connection, outside any
unit of work: PostgreSQL runs the call as a transaction of its own, so a reserved attempt is
committed (and seen by every other attempt) when the call returns. The functions lock the rows
of the keys in key order, so attempts on the same keys are decided one after the other and two
attempts never deadlock. They apply the rules of ``domain.login_throttle``.
"""

from datetime import datetime, timedelta

import asyncpg

from identity_service.domain.login_throttle import ThrottleRule, Verdict

_RESERVE = "SELECT login_throttle_reserve($1, $2, $3, $4, $5, $6)"
_GIVE_BACK = "SELECT login_throttle_give_back($1, $2, $3, $4, $5)"


def _rule_arrays(
    rules: tuple[ThrottleRule, ...],
) -> tuple[list[int], list[timedelta], list[timedelta]]:
    return (
        [r.free_failures for r in rules],
        [r.base_delay for r in rules],
        [r.max_delay for r in rules],
    )


class LoginThrottleRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def reserve(
        self,
        rules: tuple[ThrottleRule, ...],
        keys: tuple[bytes, ...],
        now: datetime,
        forget_after: timedelta,
    ) -> Verdict:
        wait = await self._pool.fetchval(
            _RESERVE, list(keys), *_rule_arrays(rules), now, forget_after
        )
        return Verdict(wait is None, wait or timedelta(0))

    async def give_back(
        self, rules: tuple[ThrottleRule, ...], keys: tuple[bytes, ...], clear: tuple[bool, ...]
    ) -> None:
        await self._pool.execute(_GIVE_BACK, list(keys), *_rule_arrays(rules), list(clear))

    async def prune(self, now: datetime, forget_before: datetime) -> int:
        result = await self._pool.execute(
            """DELETE FROM login_throttle
               WHERE (last_failure_at IS NULL OR last_failure_at < $1)
                 AND (blocked_until IS NULL OR blocked_until < $2)""",
            forget_before,
            now,
        )
        return int(result.split()[-1])
