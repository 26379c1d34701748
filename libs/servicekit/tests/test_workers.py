"""run_workers: a crashed worker is started again (and counted); all stop with the context."""

import asyncio

from servicekit.runtime import workers as workers_module
from servicekit.runtime.workers import WORKER_RESTARTS, Worker, every, run_workers


async def test_a_crashing_worker_is_restarted_and_counted_and_all_stop_on_exit(monkeypatch):
    monkeypatch.setattr(workers_module, "sleep_unless_stopped", _no_sleep)
    starts: list[str] = []
    stopped: list[str] = []

    async def flaky(stop: asyncio.Event) -> None:
        starts.append("flaky")
        if len(starts) < 3:
            raise RuntimeError("bug")
        await stop.wait()
        stopped.append("flaky")

    async def steady(stop: asyncio.Event) -> None:
        await stop.wait()
        stopped.append("steady")

    before = WORKER_RESTARTS.labels("flaky")._value.get()
    async with run_workers([Worker("flaky", flaky), Worker("steady", steady)]):
        for _ in range(100):
            if len(starts) == 3:
                break
            await asyncio.sleep(0.01)
    assert starts == ["flaky"] * 3
    assert sorted(stopped) == ["flaky", "steady"]
    assert WORKER_RESTARTS.labels("flaky")._value.get() - before == 2


async def test_a_worker_that_ignores_stop_is_cancelled_after_its_timeout():
    cancelled = asyncio.Event()

    async def stubborn(stop: asyncio.Event) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async with run_workers([Worker("stubborn", stubborn, stop_timeout_seconds=0.05)]):
        await asyncio.sleep(0)
    assert cancelled.is_set()


async def test_every_runs_the_job_again_after_it_fails():
    runs = 0
    stop = asyncio.Event()

    async def job() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            stop.set()
        raise RuntimeError("database away")

    await asyncio.wait_for(every(0.001, job, "housekeeping")(stop), timeout=5)
    assert runs == 3


async def _no_sleep(stop: asyncio.Event, seconds: float) -> None:
    await asyncio.sleep(0)
