"""Kafka cluster faults (issue 19): the platform on three brokers (replication factor 3,
min.insync.replicas 2, devinfra.kafka_cluster) while reset requests keep arriving, open loop.

1. The broker leading the reset topic's partitions (and, when it is that too, the notifier
   group's coordinator) is SIGKILLed: every accepted request is mailed once, the outbox drains,
   the notifier's group carries on with the brokers left; the broker then comes back and
   rejoins every ISR.
2. The brokers are rolled one by one, as an operator (Strimzi, MSK) upgrades them: SIGTERM,
   start, wait until the restarted broker is back in sync for every partition, next. Every
   request is mailed once, and the request -> email p99 during the roll is printed and bounded.

`make test-cluster` runs these (marker `cluster`), not `make test`: docs/delivery.md, "Kafka
cluster faults", has what they measured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import asyncpg
import pytest
from devinfra.kafka_cluster import LocalKafkaCluster
from devinfra.kafka_security import NOTIFIER_GROUP
from devinfra.topics import RESET_REQUESTED

from .conftest import FaultKit, percentile

# pytest-timeout's 300 s covers a test and the session's teardown after the last one: a roll on
# two busy cores takes two to three minutes by itself.
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]
T = TypeVar("T")

IN_SYNC_WITHIN = 120.0  # seconds for a restarted broker to catch up on 2 busy cores
# The roll's request -> email p99 may not exceed this (single broker, quiet: ~0.1 s; a leader
# moving costs the relay one failed publish and a fresh producer, the notifier a refetch).
ROLL_P99_BOUND_S = 10.0


async def wait_in_sync(cluster: LocalKafkaCluster, within: float = IN_SYNC_WITHIN) -> float:
    """Seconds until every replica of every partition (the broker's own topics included) is in
    its ISR again."""
    started = time.monotonic()
    while True:
        missing = await asyncio.to_thread(cluster.out_of_sync)
        if not missing:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"not back in sync after {within:.0f}s: {missing[:4]}")
        await asyncio.sleep(0.5)


async def settled(read: Callable[[], T], within: float = 30.0) -> T:
    """`read()` (a metadata question) once the cluster answers it: right after a broker dies
    the answer may be an error for a few seconds (no coordinator yet, say)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await asyncio.to_thread(read)
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


class BacklogWatch:
    """Reset's unpublished outbox rows, sampled four times a second while a fault runs."""

    def __init__(self, kit: FaultKit) -> None:
        self._kit = kit
        self.samples: list[tuple[float, int]] = []  # (wall clock, rows)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BacklogWatch:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        self._stop.set()
        assert self._task is not None
        await self._task

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), await self._kit.outbox_backlog()))
            except (OSError, asyncpg.PostgresError):
                pass  # a missed sample, not a result
            await asyncio.sleep(0.25)

    def peak(self, since: float) -> int:
        return max((rows for t, rows in self.samples if t >= since), default=0)

    def drained_after(self, since: float, normal: int) -> float:
        """Seconds from `since` until the backlog was back to `normal` rows (or fewer) for
        good: the sample after the last one above it (0 when it never rose above)."""
        after = [(t, rows) for t, rows in self.samples if t >= since]
        above = [n for n, (_, rows) in enumerate(after) if rows > normal]
        if not above:
            return 0.0
        last = above[-1]
        back = after[last + 1][0] if last + 1 < len(after) else float("inf")
        return back - since


def sent_between(kit: FaultKit, tally, start: float, end: float) -> set[str]:
    return {e for e, t in tally.sent_at.items() if start <= t <= end}


def slow_until(kit: FaultKit, tally, emails: Iterable[str], threshold: float, since: float):
    """Seconds from `since` until the last email that took longer than `threshold` arrived:
    when the path from request to email was back to its usual pace (0 when none was slow)."""
    wanted = set(emails) & tally.accepted
    first = kit.mail.first_arrivals(wanted)
    slow = [first[e] for e in wanted if e in first and first[e] - tally.sent_at[e] > threshold]
    return max(slow) - since if slow else 0.0


# What the notifier's log says its consumer went through (aiokafka's and servicekit's lines).
GROUP_EVENTS = {
    "coordinator_found": "Discovered coordinator",
    "group_joins": "Joined group",
    "commit_failures": "offset commit failed",
    "consumer_restarts": "kafka consumer failed",
}


def group_events(kit: FaultKit, since: int) -> dict[str, int]:
    return {name: kit.log_lines("notifier", since, text) for name, text in GROUP_EVENTS.items()}


async def test_the_reset_topics_leader_killed_under_load_loses_and_repeats_nothing(
    cluster_kit: FaultKit,
) -> None:
    kit = cluster_kit
    cluster = kit.infra.kafka_cluster
    assert cluster is not None
    partitions = await settled(lambda: cluster.partitions([RESET_REQUESTED]))
    assert {len(p.replicas) for p in partitions} == {3}, partitions  # replicated as documented
    rate, kill_after_s, load_s = 8.0, 4.0, 24.0
    emails = await kit.accounts(int(rate * load_s) + 10, "leader")
    tally = kit.tally()
    await kit.stream(emails[:10], per_second=10, tally=tally)  # the path is warm
    await kit.wait_for_mail(set(tally.accepted), within=30)
    usual = percentile(kit.latencies(tally), 0.99)

    leaders = await settled(lambda: cluster.leaders(RESET_REQUESTED))
    coordinator = await settled(lambda: cluster.coordinator(NOTIFIER_GROUP))
    # The broker leading most of the topic's partitions; the group's coordinator among equals,
    # so the notifier loses its coordinator and a partition leader at once.
    victim = max(leaders, key=lambda n: (leaders[n], n == coordinator))
    notifier_log = kit.log_offset("notifier")
    async with BacklogWatch(kit) as backlog:
        load = asyncio.create_task(kit.stream(emails[10:], per_second=rate, tally=tally))
        await asyncio.sleep(kill_after_s)
        normal = backlog.peak(since=0)  # what the outbox holds at this rate, unharmed
        killed = time.time()
        await asyncio.to_thread(cluster.node(victim).kill)
        await asyncio.sleep(8)  # the controllers fence it (broker.session.timeout.ms 4.5 s)
        leaders_after = await settled(lambda: cluster.leaders(RESET_REQUESTED))
        coordinator_after = await settled(lambda: cluster.coordinator(NOTIFIER_GROUP))
        await load
        load_ended = time.time()
        counts = await kit.wait_for_mail(tally.accepted, within=90)
        for _ in range(240):  # at most a minute more for the outbox to empty
            if not await kit.outbox_backlog():
                break
            await asyncio.sleep(0.25)
        outbox_left = await kit.outbox_backlog()
    after_kill = sent_between(kit, tally, killed, load_ended)
    latencies = kit.latencies(tally, after_kill)
    notifier_ready, _ = await kit.readiness("notifier")

    started = time.monotonic()
    await asyncio.to_thread(cluster.node(victim).start)
    rejoined_s = time.monotonic() - started + await wait_in_sync(cluster)
    numbers = kit.outcome(tally, counts)
    kit.report(
        "cluster 1 leader SIGKILLed",
        **numbers,
        victim=victim,
        victim_was_coordinator=victim == coordinator,
        requests_after_kill=len(after_kill),
        outbox_peak_rows=backlog.peak(since=killed),
        outbox_drained_s=round(backlog.drained_after(killed, normal), 2),
        recovered_s=round(slow_until(kit, tally, after_kill, max(2.0, 3 * usual), killed), 2),
        p99_after_kill_s=round(percentile(latencies, 0.99), 2),
        max_after_kill_s=round(max(latencies, default=float("nan")), 2),
        back_in_isr_s=round(rejoined_s, 1),
        **group_events(kit, notifier_log),
    )

    assert numbers["accepted"] == numbers["requested"]
    assert numbers["lost"] == 0 and numbers["duplicates"] == 0
    assert len(after_kill) >= rate * (load_s - kill_after_s) * 0.8  # the load went on meanwhile
    assert victim not in leaders_after and sum(leaders_after.values()) == len(partitions)
    assert coordinator_after != victim  # the group found the coordinator that took over
    assert outbox_left == 0  # the outbox drained
    assert notifier_ready == 200
    assert backlog.drained_after(killed, normal) < 30


async def test_a_rolling_restart_of_the_brokers_loses_and_repeats_nothing(
    cluster_kit: FaultKit,
) -> None:
    kit = cluster_kit
    cluster = kit.infra.kafka_cluster
    assert cluster is not None
    await wait_in_sync(cluster)  # whatever ran before, the roll starts from a healthy cluster
    rate, max_load_s = 5.0, 180.0  # the roll takes about a minute; the count bounds the load
    emails = await kit.accounts(int(rate * max_load_s) + 10, "roll")
    tally = kit.tally()
    await kit.stream(emails[:10], per_second=10, tally=tally)
    await kit.wait_for_mail(set(tally.accepted), within=30)
    before = kit.latencies(tally)

    rolled = asyncio.Event()
    load = asyncio.create_task(kit.stream(emails[10:], per_second=rate, tally=tally, until=rolled))
    await asyncio.sleep(3)
    roll_started = time.time()
    notifier_log = kit.log_offset("notifier")
    steps: list[tuple[object, ...]] = []
    for node_id, node in sorted(cluster.nodes.items()):
        started = time.monotonic()
        exit_code = await asyncio.to_thread(node.stop)
        stopped = time.monotonic()
        await asyncio.to_thread(node.start)
        running = time.monotonic()
        in_sync_s = await wait_in_sync(cluster)
        steps.append(
            (
                node_id,
                exit_code,
                round(stopped - started, 1),
                round(running - stopped, 1),
                round(in_sync_s, 1),
            )
        )
    roll_ended = time.time()
    covered = not load.done()  # the load lasted the whole roll
    await asyncio.sleep(3)
    rolled.set()
    await load
    counts = await kit.wait_for_mail(tally.accepted, within=90)
    during = sent_between(kit, tally, roll_started, roll_ended)
    latencies = kit.latencies(tally, during)
    numbers = kit.outcome(tally, counts)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)

    kit.report_table(
        "rolling restart of the brokers (SIGTERM, start, wait for every ISR):",
        ("broker", "exit", "stop_s", "start_s", "in_sync_s"),
        steps,
    )
    kit.report_table(
        "request -> email seconds:",
        ("requests", "p50", "p99", "max"),
        [
            ("before", *(round(percentile(before, q), 2) for q in (0.5, 0.99, 1.0))),
            (f"roll ({len(during)})", round(p50, 2), round(p99, 2), round(max(latencies), 2)),
        ],
    )
    kit.report(
        "cluster 2 brokers rolled",
        **numbers,
        roll_s=round(roll_ended - roll_started, 1),
        requests_during_roll=len(during),
        p50_roll_s=round(p50, 2),
        p99_roll_s=round(p99, 2),
        max_roll_s=round(max(latencies), 2),
        p99_before_s=round(percentile(before, 0.99), 2),
        **group_events(kit, notifier_log),
    )

    assert covered, "the load ended before the roll did: raise max_load_s"
    assert numbers["accepted"] == numbers["requested"]
    assert numbers["lost"] == 0 and numbers["duplicates"] == 0
    # Controlled shutdowns, not SIGKILLs after stop()'s timeout.
    assert all(step[1] != -9 for step in steps), steps
    assert len(latencies) == len(during) >= rate * (roll_ended - roll_started) * 0.8
    assert p99 < ROLL_P99_BOUND_S, f"request -> email p99 {p99:.2f}s during the roll"
