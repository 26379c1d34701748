"""The at-least-once loop's batch path: a whole fetch to the batch handler, each partition done
up to its first record to retry, the rest left for the record-by-record retries; and a
revocation waits for the batch in flight."""

import asyncio

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord
from servicekit.messaging.consumer import COMMIT, AtLeastOnceConsumer, PauseAndRetry, Record, Step

A, B, C = (TopicPartition("events", n) for n in range(3))


def record(tp: TopicPartition, offset: int) -> Record:
    return ConsumerRecord(
        topic=tp.topic, partition=tp.partition, offset=offset, timestamp=0, timestamp_type=0,
        key=None, value=b"", checksum=None, serialized_key_size=0, serialized_value_size=0,
        headers=[],
    )  # fmt: skip


def consumer(batch_handler) -> AtLeastOnceConsumer:
    async def one(record: Record) -> Step:
        raise AssertionError("not called by the batch path")

    return AtLeastOnceConsumer(
        bootstrap_servers="unused", group_id="g", topics=["events"], handler=one,
        batch_handler=batch_handler,
    )  # fmt: skip


async def test_each_partition_is_done_up_to_its_first_retry_and_the_rest_is_left() -> None:
    seen: list[list[tuple[int, int]]] = []
    retry = {(A.partition, 11), (C.partition, 30)}

    async def batch(records: list[Record]) -> list[Step]:
        seen.append([(r.partition, r.offset) for r in records])
        return [
            PauseAndRetry("smtp") if (r.partition, r.offset) in retry else COMMIT for r in records
        ]

    loop = consumer(batch)
    fetched = {
        B: [record(B, 20), record(B, 21)],
        A: [record(A, 10), record(A, 11), record(A, 12)],
        C: [record(C, 30)],
    }
    left = await loop._handle_batch(fetched, asyncio.Event(), loop._fence.generation)
    # One call, every partition's records in order.
    assert seen == [[(0, 10), (0, 11), (0, 12), (1, 20), (1, 21), (2, 30)]]
    assert left == {A: fetched[A][1:], C: fetched[C]}  # from the first retry on
    assert loop._offsets.pending({A, B, C}) == {A: 11, B: 22}
    assert loop.processed_total == 3


async def test_a_batch_after_stop_or_after_a_revocation_is_not_handled() -> None:
    calls = 0

    async def batch(records: list[Record]) -> list[Step]:
        nonlocal calls
        calls += 1
        return [COMMIT for _ in records]

    loop = consumer(batch)
    stop = asyncio.Event()
    stop.set()
    assert await loop._handle_batch({A: [record(A, 1)]}, stop, loop._fence.generation) == {}
    stale = loop._fence.generation
    async with loop._fence.revoking():
        pass
    assert await loop._handle_batch({A: [record(A, 1)]}, asyncio.Event(), stale) == {}
    assert calls == 0 and loop._offsets.pending({A}) == {}


async def test_a_revocation_waits_for_the_batch_in_flight_and_sees_it_done() -> None:
    started, release = asyncio.Event(), asyncio.Event()

    async def batch(records: list[Record]) -> list[Step]:
        started.set()
        await release.wait()
        return [COMMIT for _ in records]

    loop = consumer(batch)
    task = asyncio.create_task(
        loop._handle_batch({A: [record(A, 5)], B: [record(B, 7)]}, asyncio.Event(), 0)
    )
    await started.wait()
    pending_at_revocation: list[dict[TopicPartition, int]] = []

    async def revoke() -> None:
        async with loop._fence.revoking():
            pending_at_revocation.append(loop._offsets.pending({A, B}))

    revocation = asyncio.create_task(revoke())
    await asyncio.sleep(0.01)
    assert not revocation.done()  # held by the batch in flight
    release.set()
    await asyncio.gather(task, revocation)
    assert pending_at_revocation == [{A: 6, B: 8}]


class SlowCommits:
    """Enough of AIOKafkaConsumer for the loop: `fetches` one after the other (then `stop`),
    and commits that wait for `answer`."""

    def __init__(self, fetches: list[dict[TopicPartition, list[Record]]], stop: asyncio.Event):
        self.fetches, self.stop = fetches, stop
        self.answer = asyncio.Event()
        self.asked: list[dict[TopicPartition, int]] = []
        self.handled_while_committing = 0

    async def getmany(self, timeout_ms: int) -> dict[TopicPartition, list[Record]]:
        if not self.fetches:
            self.stop.set()
            return {}
        await asyncio.sleep(0.01)  # the commit in the background gets to ask the broker
        return self.fetches.pop(0)

    def assignment(self) -> set[TopicPartition]:
        return {A}

    def paused(self) -> set[TopicPartition]:
        return set()

    def highwater(self, tp: TopicPartition) -> None:
        return None

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.asked.append(dict(offsets))
        await self.answer.wait()


async def test_the_next_batch_does_not_wait_for_the_commit_of_the_one_before() -> None:
    stop = asyncio.Event()
    kafka = SlowCommits([{A: [record(A, n)]} for n in range(3)], stop)

    async def batch(records: list[Record]) -> list[Step]:
        if kafka.asked:
            kafka.handled_while_committing += 1
        return [COMMIT for _ in records]

    loop = consumer(batch)
    await asyncio.wait_for(loop._consume(kafka, stop), 5)  # type: ignore[arg-type]
    # All three handled although the first commit never got its answer; one commit at a time.
    assert kafka.handled_while_committing == 2 and kafka.asked == [{A: 1}]
    kafka.answer.set()
    await loop._commit_finished()
    assert loop._offsets.pending({A}) == {A: 3}  # the rest goes with the next commit
