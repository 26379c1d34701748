"""A job run every so often for the app's lifetime (housekeeping such as pruning old rows)."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from servicekit.runtime.backoff import sleep_unless_stopped

log = logging.getLogger("servicekit.runtime.periodic")


@contextlib.asynccontextmanager
async def periodic(
    name: str, every_seconds: float, job: Callable[[], Awaitable[object]]
) -> AsyncIterator[None]:
    """Run `job` every `every_seconds` while the context is open; a failed run is logged and
    tried again next time (housekeeping must never take the service down)."""
    stop = asyncio.Event()

    async def loop() -> None:
        while not stop.is_set():
            await sleep_unless_stopped(stop, every_seconds)
            if stop.is_set():
                return
            try:
                await job()
            except Exception:
                log.exception("periodic job failed", extra={"fields": {"job": name}})

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=10)
