"""argon2id off the event loop, in two lanes, on memory given back once hashing stops.

argon2id is CPU- and memory-bound (19 MiB a hash): more hashing threads than cores only thrash the
caches (on 2 cores, 6 threads hash 13% slower than 2; docs/benchmarks.md). Logins and
registrations share one lane of a thread per core whose queue is bounded: when it is full they
are refused at once (HashingBusy -> 503 with Retry-After) instead of piling up behind a flood.
The password change that a reset's confirm waits for has a lane of its own, also a thread per
core, so no flood of logins can starve it and confirms side by side use every core.

The hashes' working memory (adapters.argon2id) is kept while hashing goes on and unmapped once no
hash has run for IDLE_RELEASE_SECONDS: an idle identity holds none of it, a busy one maps nothing
per hash.
"""

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from identity_service.adapters.argon2id import Argon2Hasher
from identity_service.service_layer.errors import HashingBusy

IDLE_RELEASE_SECONDS = 1.0
T = TypeVar("T")


class PasswordHashing:
    def __init__(self, hasher: Argon2Hasher, *, queue_limit: int) -> None:
        self._hasher = hasher
        self._queue_limit = queue_limit
        self._queued = 0
        cores = os.cpu_count() or 1
        self._shared = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="argon2id")
        self._changes = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="argon2id-change")
        self._running = 0
        self._release: asyncio.TimerHandle | None = None

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

    async def _run(self, lane: ThreadPoolExecutor, work: Callable[..., T], *args: str) -> T:
        loop = asyncio.get_running_loop()
        if self._release is not None:
            self._release.cancel()
            self._release = None
        self._running += 1
        try:
            return await loop.run_in_executor(lane, work, *args)
        finally:
            self._running -= 1
            if not self._running:
                self._release = loop.call_later(IDLE_RELEASE_SECONDS, self._release_memory)

    def _release_memory(self) -> None:
        self._release = None
        if not self._running:
            self._hasher.release_memory()

    async def verify(self, stored_hash: str, password: str) -> tuple[bool, bool]:
        """(matches, needs rehash); call inside shared_slot()."""
        return await self._run(self._shared, self._hasher.verify, stored_hash, password)

    async def hash(self, password: str) -> str:
        """A new hash in the shared lane; call inside shared_slot()."""
        return await self._run(self._shared, self._hasher.hash, password)

    async def hash_for_change(self, password: str) -> str:
        """A new hash in the password-change lane (reset confirm), never queued behind logins."""
        return await self._run(self._changes, self._hasher.hash, password)

    def hash_now(self, password: str) -> str:
        """On the caller's thread: only for start-up work (its memory is unmapped at once)."""
        try:
            return self._hasher.hash(password)
        finally:
            self._hasher.release_memory()
