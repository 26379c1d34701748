"""Sliding-window rate limits kept in PostgreSQL, so every replica sees the same counts.

A hit is a row (scope, subject hash, time). Checking and counting happen under a transaction-
scoped advisory lock on the subject, so concurrent requests cannot both take the last slot.
"""

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg


@dataclass(frozen=True)
class Limit:
    scope: str  # "ip" or "account"
    subject: bytes  # keyed hash of the IP address or the normalised email
    max_hits: int
    window: timedelta


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_seconds: int = 0


async def lock_subject(conn: asyncpg.Connection, scope: str, subject: bytes) -> None:
    """Hold the subject's lock until the transaction ends (``take`` takes it too; taking it again
    in the same transaction is a no-op)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1 || encode($2, 'hex'), 0))",
        scope,
        subject,
    )


async def take(conn: asyncpg.Connection, limit: Limit, now: datetime) -> Decision:
    """Count one hit if the window has room; must run inside a transaction."""
    await lock_subject(conn, limit.scope, limit.subject)
    since = now - limit.window
    count, oldest = await conn.fetchrow(
        """SELECT count(*), min(at) FROM rate_limit_hits
           WHERE scope = $1 AND subject = $2 AND at > $3""",
        limit.scope,
        limit.subject,
        since,
    )
    if count >= limit.max_hits:
        retry = (oldest + limit.window - now).total_seconds() if oldest else 1
        return Decision(False, max(1, int(retry + 0.999)))
    await conn.execute(
        "INSERT INTO rate_limit_hits (scope, subject, at) VALUES ($1, $2, $3)",
        limit.scope,
        limit.subject,
        now,
    )
    return Decision(True)


async def prune_rate_limits(pool: asyncpg.Pool, window: timedelta, stop: asyncio.Event) -> None:
    """Delete hits that fell out of every window, once a minute, until ``stop``."""
    while not stop.is_set():
        with contextlib.suppress(asyncpg.PostgresError, OSError):
            await pool.execute(
                "DELETE FROM rate_limit_hits WHERE at < now() - make_interval(secs => $1)",
                window.total_seconds(),
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 60)
