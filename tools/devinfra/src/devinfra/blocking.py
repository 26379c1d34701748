"""Run a coroutine to completion from synchronous code, whether or not a loop is running.

The providers are synchronous (pytest fixtures, the CLI) but are also called from async
tests, where `asyncio.run` is forbidden because the test's loop is already running. A
private loop in a short-lived thread works in both situations.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def run_blocking(factory: Callable[[], Awaitable[T]], timeout: float) -> T:
    """Run `factory()` on a fresh event loop in a helper thread; bounded by `timeout`."""
    result: list[T] = []
    error: list[BaseException] = []

    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout)

    def target() -> None:
        try:
            result.append(asyncio.run(bounded()))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    thread = threading.Thread(target=target, name="devinfra-blocking", daemon=True)
    thread.start()
    # A little slack over the inner timeout so the inner TimeoutError (with context) wins.
    thread.join(timeout + 5.0)
    if thread.is_alive():
        raise TimeoutError(f"operation did not finish within {timeout:.0f}s")
    if error:
        raise error[0]
    return result[0]
