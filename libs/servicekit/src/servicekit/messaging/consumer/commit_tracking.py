"""Which offsets may be committed, and committing them when partitions move to another member.

A record's offset is committed only after its handler is done with it (the work is durable).
Each partition's records are handled one after the other, so "done up to here" is one number
per partition: the offset after the last record done. Commits happen after each fetched batch,
when partitions are revoked (once the records in flight finished) and on shutdown. A failed
commit is not fatal: those records come back, and the handler must make that a no-op.
"""

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

COMMIT_TIMEOUT_SECONDS = 10.0


class CommitTracker:
    """Per partition, the next offset to commit (records before it are done)."""

    def __init__(self) -> None:
        self._done: dict[TopicPartition, int] = {}
        # Next offset per partition, kept after commits (for the lag).
        self._position: dict[TopicPartition, int] = {}

    def done(self, tp: TopicPartition, offset: int) -> None:
        self._done[tp] = self._position[tp] = offset + 1

    def pending(
        self, assigned: Collection[TopicPartition], only: Collection[TopicPartition] | None = None
    ) -> dict[TopicPartition, int]:
        """Offsets to commit now: partitions still ours (committing a revoked one would fail
        or, worse, move its new owner's position), optionally only some of them."""
        return {
            tp: offset
            for tp, offset in self._done.items()
            if tp in assigned and (only is None or tp in only)
        }

    def committed(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Forget what was committed, unless a later record was done while the commit ran."""
        for tp, offset in offsets.items():
            if self._done.get(tp) == offset:
                del self._done[tp]

    def forget(self, partitions: Collection[TopicPartition]) -> None:
        """Revoked partitions: their next owner starts from the committed offset."""
        for tp in partitions:
            self._done.pop(tp, None)

    def lag(self, tp: TopicPartition, highwater: int | None) -> int | None:
        """Records between the partition's end and the next one to handle (None: not known)."""
        position = self._position.get(tp)
        if highwater is None or position is None:
            return None
        return max(highwater - position, 0)


class RevocationFence:
    """Lets a revocation wait for the records in flight, and tells records fetched before it
    that they are no longer ours to handle (their partition's next owner will)."""

    def __init__(self) -> None:
        # Held while a record of the partition is handled.
        self._in_flight: defaultdict[TopicPartition, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.generation = 0  # bumped on every revocation

    def handling(self, tp: TopicPartition) -> asyncio.Lock:
        return self._in_flight[tp]

    def still_ours(self, generation: int) -> bool:
        return generation == self.generation

    @contextlib.asynccontextmanager
    async def revoking(self) -> AsyncIterator[None]:
        """Wait for every record in flight, end the generation, and hold the partitions still
        (no record starts) until the caller committed."""
        async with contextlib.AsyncExitStack() as held:
            for tp in sorted(self._in_flight):
                await held.enter_async_context(self._in_flight[tp])
            self.generation += 1
            yield


async def commit_done(
    consumer: AIOKafkaConsumer,
    tracker: CommitTracker,
    log: logging.Logger,
    only: Collection[TopicPartition] | None = None,
) -> None:
    offsets = tracker.pending(consumer.assignment(), only)
    if not offsets:
        return
    try:
        # Bounded: with the broker away a commit would wait for a coordinator forever.
        await asyncio.wait_for(consumer.commit(offsets), COMMIT_TIMEOUT_SECONDS)
    except (KafkaError, OSError, TimeoutError) as exc:
        # Not fatal: those records come back and the handler skips them.
        log.warning("offset commit failed", extra={"fields": {"error": repr(exc)[:300]}})
        return
    tracker.committed(offsets)


# aiokafka ships no type information; subscribe() needs an instance of its listener class.
# The ignore is mypy's "subclass of Any" (the one way to extend an untyped class), nothing else.
class CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka calls this during a rebalance, before the partitions go to another member."""

    def __init__(self, on_revoked: Callable[[set[TopicPartition]], Awaitable[None]]) -> None:
        self._on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        """Nothing to do: positions start from the committed offsets."""
