"""Commit tracking of the at-least-once consumer: only what is done, only what is still ours,
and a revocation waits for the record in flight."""

import asyncio

from aiokafka import TopicPartition
from servicekit.messaging.consumer.commit_tracking import CommitTracker, RevocationFence

A, B, C = (TopicPartition("events", n) for n in range(3))


def test_the_next_offset_after_the_last_record_done_is_committed_per_partition() -> None:
    tracker = CommitTracker()
    assert tracker.pending({A, B}) == {}
    tracker.done(A, 4)
    tracker.done(A, 5)
    tracker.done(B, 0)
    assert tracker.pending({A, B}) == {A: 6, B: 1}


def test_partitions_no_longer_assigned_are_not_committed() -> None:
    tracker = CommitTracker()
    tracker.done(A, 1)
    tracker.done(C, 9)
    assert tracker.pending({A}) == {A: 2}
    assert tracker.pending({A, C}, only={C}) == {C: 10}


def test_a_record_done_while_the_commit_ran_stays_pending() -> None:
    tracker = CommitTracker()
    tracker.done(A, 1)
    tracker.done(B, 3)
    offsets = tracker.pending({A, B})
    tracker.done(A, 2)  # finished during the commit's round trip
    tracker.committed(offsets)
    assert tracker.pending({A, B}) == {A: 3}


def test_revoked_partitions_are_forgotten_but_the_lag_is_still_known() -> None:
    tracker = CommitTracker()
    tracker.done(A, 1)
    tracker.forget({A})
    assert tracker.pending({A}) == {}
    assert tracker.lag(A, 10) == 8
    assert tracker.lag(B, 10) is None
    assert tracker.lag(A, None) is None
    assert tracker.lag(A, 1) == 0  # never negative


async def test_a_revocation_waits_for_the_record_in_flight_and_ends_the_generation() -> None:
    fence = RevocationFence()
    generation = fence.generation
    order: list[str] = []

    async def handle_record() -> None:
        async with fence.handling(A):
            await asyncio.sleep(0.01)
            order.append("record done")

    async def revoke() -> None:
        await asyncio.sleep(0)  # the record started first
        async with fence.revoking():
            order.append("revoked")

    await asyncio.gather(handle_record(), revoke())
    assert order == ["record done", "revoked"]
    assert not fence.still_ours(generation)
    assert fence.still_ours(fence.generation)
