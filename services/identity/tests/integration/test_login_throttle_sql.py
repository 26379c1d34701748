"""The failed-login counters' SQL functions (migration 0009) against the rules they implement
(domain.login_throttle): the same attempts through both, every verdict and every stored counter
compared. The rules read in Python; the database applies them in one call per step."""

import random
import secrets
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from identity_service.adapters.login_throttle_repository import LoginThrottleRepository
from identity_service.domain.login_throttle import ThrottleCounter, ThrottleRule, give_back, reserve

pytestmark = pytest.mark.integration

FORGET = timedelta(seconds=40)
RULES = (
    ThrottleRule("account", 2, timedelta(seconds=60)),
    ThrottleRule("account_ip", 0, timedelta(seconds=5)),
    ThrottleRule("ip", 3, timedelta(seconds=20), base_delay=timedelta(milliseconds=250)),
    ThrottleRule("register_ip", 1, timedelta(0)),  # a cap of zero: never a delay
)


async def _stored(pool: asyncpg.Pool, keys: list[bytes]) -> dict[bytes, ThrottleCounter]:
    rows = await pool.fetch(
        "SELECT key, failures, last_failure_at, blocked_until FROM login_throttle"
        " WHERE key = ANY($1::bytea[])",
        keys,
    )
    return {
        bytes(r["key"]): ThrottleCounter(r["failures"], r["last_failure_at"], r["blocked_until"])
        for r in rows
        # A row at zero and no row at all mean the same.
        if (r["failures"], r["last_failure_at"], r["blocked_until"]) != (0, None, None)
    }


@pytest.mark.parametrize("seed", range(4))
async def test_the_functions_decide_exactly_as_the_domain_rules(
    pool: asyncpg.Pool, seed: int
) -> None:
    rng = random.Random(seed)
    keys = [secrets.token_bytes(32) for _ in RULES]
    repository = LoginThrottleRepository(pool)
    model: dict[bytes, ThrottleCounter] = {}
    now = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    blocked = counted = given_back = 0
    for _ in range(400):
        # Mostly forward, sometimes a long quiet spell, sometimes a clock read a moment earlier.
        now += rng.choice(
            [
                timedelta(milliseconds=rng.randint(0, 1500)),
                timedelta(seconds=rng.randint(1, 50)),
                -timedelta(milliseconds=rng.randint(1, 5)),
            ]
        )
        picked = sorted(rng.sample(range(len(RULES)), rng.randint(1, len(RULES))))
        rules = tuple(RULES[i] for i in picked)
        step_keys = tuple(keys[i] for i in picked)
        current = tuple(model.get(k, ThrottleCounter()) for k in step_keys)
        if rng.random() < 0.7:
            expected = reserve(rules, current, now, FORGET)
            verdict = await repository.reserve(rules, step_keys, now, FORGET)
            assert (verdict.allowed, verdict.retry_after) == (
                expected.allowed,
                expected.retry_after,
            )
            if expected.allowed:
                model.update(zip(step_keys, expected.counters, strict=True))
                counted += 1
            else:
                blocked += 1
        else:
            clear = tuple(rng.random() < 0.5 for _ in picked)
            model.update(zip(step_keys, give_back(rules, current, clear=clear), strict=True))
            await repository.give_back(rules, step_keys, clear)
            given_back += 1
        expected_rows = {k: c for k, c in model.items() if c != ThrottleCounter()}
        assert await _stored(pool, keys) == expected_rows
    # The sequence went through every branch: counted, blocked, given back.
    assert min(blocked, counted, given_back) >= 20, (blocked, counted, given_back)
