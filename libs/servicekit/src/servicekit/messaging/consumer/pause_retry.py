"""Pausing consumption while a dependency is away, and waiting for the retry without leaving the
consumer group.

When a record must be tried again, every assigned partition is paused (the records behind it
would only fail the same way) and the record is retried with exponential backoff. `getmany`
keeps being called while paused, so the group sees a live member and never rebalances, however
long the outage (`max_poll_interval_ms` never runs out). The first record to succeed resumes
consumption.
"""

import asyncio
import enum
import logging
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import Gauge

from servicekit.runtime.backoff import sleep_unless_stopped

NAP_SECONDS = 0.2  # how often a waiting task looks again while another one polls
POLL_SECONDS = 0.5  # longest single getmany while paused
QUICK_POLL_SECONDS = 0.05  # a poll that returned faster than this did not wait: nap instead


@dataclass
class PauseState:
    """Whether consumption is paused for a retry, since when (monotonic) and why."""

    since: float | None = None
    reason: str | None = None

    @property
    def paused(self) -> bool:
        return self.since is not None

    def pause(self, reason: str, now: float) -> bool:
        """Pause for `reason`; False when already paused (the first reason is kept: it is the
        one the operator needs, the others follow from it)."""
        if self.since is not None:
            return False
        self.since, self.reason = now, reason
        return True

    def resume(self, now: float) -> float:
        """Resume; the seconds it was paused (0 when it was not)."""
        paused_for = now - (self.since if self.since is not None else now)
        self.since = self.reason = None
        return paused_for

    def problem(self, now: float) -> str | None:
        """What a health check reports while paused, None otherwise."""
        if self.since is None:
            return None
        return f"paused for {now - self.since:.0f}s: {self.reason}"


class WaitStep(enum.Enum):
    DONE = "done"  # the backoff is over: try the record again
    NAP = "nap"  # sleep briefly: another task polls for everyone, or consumption resumed
    POLL = "poll"  # call getmany (on paused partitions) so the group keeps this member


@dataclass(frozen=True)
class Wait:
    step: WaitStep
    seconds: float = 0.0


def next_wait(remaining: float, *, paused: bool, another_task_polls: bool) -> Wait:
    """One step of waiting out a retry's backoff.

    getmany must not be awaited twice at once, so one task polls for all. Once another
    partition's record succeeded and resumed consumption, polling (which pauses the partitions
    first) would leave them paused for good: nap until the backoff is over instead.
    """
    if remaining <= 0:
        return Wait(WaitStep.DONE)
    if another_task_polls or not paused:
        return Wait(WaitStep.NAP, min(remaining, NAP_SECONDS))
    return Wait(WaitStep.POLL, min(remaining, POLL_SECONDS))


class PauseRetry:
    """The pause of one consumer: its state, the gauge and log lines, and the polling wait."""

    def __init__(self, log: logging.Logger, name: str, gauge: Gauge | None = None) -> None:
        self._log = log
        self._name = name  # what is paused, in the log lines ("deliveries")
        self._gauge = gauge
        self._polling = asyncio.Lock()
        self.state = PauseState()

    def forget(self) -> None:
        """A new consumer starts unpaused."""
        self.state = PauseState()

    def pause(
        self, consumer: AIOKafkaConsumer, reason: str, tp: TopicPartition, offset: int
    ) -> None:
        if not self.state.pause(reason, time.monotonic()):
            return
        if self._gauge is not None:
            self._gauge.set(1)
        consumer.pause(*consumer.assignment())
        self._log.warning(
            f"{self._name} paused; retrying with backoff",
            extra={"fields": {"reason": reason, "partition": tp.partition, "offset": offset}},
        )

    def resume(self, consumer: AIOKafkaConsumer) -> None:
        paused_for = self.state.resume(time.monotonic())
        if self._gauge is not None:
            self._gauge.set(0)
        consumer.resume(*consumer.assignment())
        self._log.info(
            f"{self._name} resumed", extra={"fields": {"paused_s": round(paused_for, 1)}}
        )

    async def wait(self, consumer: AIOKafkaConsumer, seconds: float, stop: asyncio.Event) -> None:
        """Wait `seconds` (or until `stop`), calling getmany all along so the group keeps us."""
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            wait = next_wait(
                remaining, paused=self.state.paused, another_task_polls=self._polling.locked()
            )
            if wait.step is WaitStep.DONE:
                return
            if wait.step is WaitStep.NAP:
                await sleep_unless_stopped(stop, wait.seconds)
                continue
            async with self._polling:
                consumer.pause(*consumer.assignment())  # partitions assigned since are paused too
                started = time.monotonic()
                fetched = await consumer.getmany(timeout_ms=int(wait.seconds * 1000))
                for tp, records in fetched.items():
                    # Fetched by a race with a new assignment: read them again after the resume.
                    if records:
                        consumer.seek(tp, records[0].offset)
            if time.monotonic() - started < QUICK_POLL_SECONDS:
                await sleep_unless_stopped(stop, min(remaining, NAP_SECONDS))
