"""Named background workers run for an app's lifetime: started together, stopped together.

A service's ``bootstrap`` lists its workers (outbox relay, housekeeping, the notifier's
consumer); ``run_workers`` starts each as a task, restarts one that crashes (after a backoff, so
a bug cannot spin the CPU, and counted, so an operator sees it), and on exit sets their common
stop event and waits for each to finish its current step before cancelling it.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter

from servicekit.runtime.backoff import Backoff, sleep_unless_stopped

log = logging.getLogger("servicekit.runtime.workers")

WORKER_RESTARTS = Counter(
    "worker_restarts_total",
    "Background workers that crashed and were started again",
    ["worker"],
)

Job = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Worker:
    """``run(stop)`` works until ``stop`` is set, then returns within ``stop_timeout_seconds``."""

    name: str
    run: Callable[[asyncio.Event], Awaitable[None]]
    stop_timeout_seconds: float = 20.0


def every(seconds: float, job: Job, name: str) -> Callable[[asyncio.Event], Awaitable[None]]:
    """A worker body running ``job`` every ``seconds``; a failed run is logged and tried again
    next time (housekeeping must never take the service down)."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await sleep_unless_stopped(stop, seconds)
            if stop.is_set():
                return
            try:
                await job()
            except Exception:
                log.exception("periodic job failed", extra={"fields": {"worker": name}})

    return run


async def _supervise(worker: Worker, stop: asyncio.Event) -> None:
    backoff = Backoff(initial=1.0, maximum=30.0)
    while not stop.is_set():
        try:
            await worker.run(stop)
            return
        except Exception:
            if stop.is_set():
                return
            WORKER_RESTARTS.labels(worker.name).inc()
            log.exception("worker crashed; restarting", extra={"fields": {"worker": worker.name}})
            await sleep_unless_stopped(stop, backoff.next_delay())


@contextlib.asynccontextmanager
async def run_workers(workers: Sequence[Worker]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [(w, asyncio.create_task(_supervise(w, stop), name=w.name)) for w in workers]
    try:
        yield
    finally:
        stop.set()
        for worker, task in tasks:
            try:
                await asyncio.wait_for(task, timeout=worker.stop_timeout_seconds)
            except (TimeoutError, asyncio.CancelledError):
                log.warning(
                    "worker did not stop in time", extra={"fields": {"worker": worker.name}}
                )
