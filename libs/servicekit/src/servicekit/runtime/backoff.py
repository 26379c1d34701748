"""Exponential backoff for loops that retry a dependency (Kafka, SMTP, PostgreSQL)."""

import asyncio
import contextlib
import random


class Backoff:
    """0.2 s, 0.4 s, 0.8 s ... up to `maximum`; +-20 % jitter so replicas do not retry in step."""

    def __init__(self, initial: float = 0.2, maximum: float = 5.0) -> None:
        self._initial = initial
        self._maximum = maximum
        self._next = initial

    def reset(self) -> None:
        self._next = self._initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._maximum)
        return delay * random.uniform(0.8, 1.2)  # jitter, not a secret


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake at once when `stop` is set (shutdown must not wait out a backoff)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
