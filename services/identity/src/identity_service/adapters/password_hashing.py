"""argon2id off the event loop, in two lanes.

argon2id is CPU- and memory-bound (19 MiB a hash): more hashing threads than cores only thrash the
caches and keep more arenas of freed hash memory resident (on 2 cores, 6 threads hash 13% slower
than 2; docs/benchmarks.md). Logins and registrations share one lane whose queue is bounded: when
it is full they are refused at once (HashingBusy -> 503 with Retry-After) instead of piling up
behind a flood. The password change that a reset's confirm waits for has a lane of its own, so no
flood of logins can starve it.
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from identity_service.domain.passwords import Argon2Hasher
from identity_service.service_layer.errors import HashingBusy


class PasswordHashing:
    def __init__(self, hasher: Argon2Hasher, *, queue_limit: int) -> None:
        self._hasher = hasher
        self._queue_limit = queue_limit
        self._queued = 0
        self._shared = ThreadPoolExecutor(
            max_workers=os.cpu_count() or 1, thread_name_prefix="argon2id"
        )
        self._changes = ThreadPoolExecutor(max_workers=1, thread_name_prefix="argon2id-change")

    @contextlib.asynccontextmanager
    async def shared_slot(self) -> AsyncIterator[None]:
        """A place in the shared lane's queue for one login or registration, or HashingBusy."""
        if self._queued >= self._queue_limit:
            raise HashingBusy
        self._queued += 1
        try:
            yield
        finally:
            self._queued -= 1

    async def verify(self, stored_hash: str, password: str) -> tuple[bool, bool]:
        """(matches, needs rehash); call inside shared_slot()."""
        return await asyncio.get_running_loop().run_in_executor(
            self._shared, self._hasher.verify, stored_hash, password
        )

    async def hash(self, password: str) -> str:
        """A new hash in the shared lane; call inside shared_slot()."""
        return await asyncio.get_running_loop().run_in_executor(
            self._shared, self._hasher.hash, password
        )

    async def hash_for_change(self, password: str) -> str:
        """A new hash in the password-change lane (reset confirm), never queued behind logins."""
        return await asyncio.get_running_loop().run_in_executor(
            self._changes, self._hasher.hash, password
        )

    def hash_now(self, password: str) -> str:
        """On the caller's thread: only for start-up work."""
        return self._hasher.hash(password)
