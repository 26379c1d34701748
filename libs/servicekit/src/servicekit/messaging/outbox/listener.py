"""LISTEN on a dedicated connection and set an event on every NOTIFY; reconnect when it drops.

A pooled connection cannot LISTEN (the pool hands it to others), hence its own connection. A lost
notification only delays work until the relay's next poll, so this is a latency aid, not a
correctness requirement.
"""

import asyncio
import contextlib
import logging

import asyncpg

from servicekit.runtime.backoff import Backoff, sleep_unless_stopped

log = logging.getLogger("servicekit.messaging.outbox.listener")

# A silently dead TCP connection never reports itself; a cheap query every few seconds does.
KEEPALIVE_SECONDS = 5.0


class NotifyListener:
    def __init__(self, dsn: str, channel: str, wake: asyncio.Event) -> None:
        self._dsn = dsn
        self._channel = channel
        self._wake = wake
        self.listening = False

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(initial=0.2, maximum=2.0)
        while not stop.is_set():
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
                await conn.add_listener(self._channel, self._on_notify)
                self.listening = True
                backoff.reset()
                self._wake.set()  # catch up on anything written while we were not listening
                while not stop.is_set():
                    await sleep_unless_stopped(stop, KEEPALIVE_SECONDS)
                    await conn.fetchval("SELECT 1", timeout=5)
            except (
                OSError,
                TimeoutError,
                asyncpg.PostgresError,
                asyncpg.InterfaceError,
                asyncpg.TargetServerAttributeNotMatched,
            ) as exc:
                if self.listening:
                    log.warning(
                        "outbox listener lost its connection; reconnecting",
                        extra={"fields": {"error": type(exc).__name__}},
                    )
                self.listening = False
                await sleep_unless_stopped(stop, backoff.next_delay())
            finally:
                self.listening = False
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.close(), 2)

    def _on_notify(self, *_: object) -> None:
        self._wake.set()
