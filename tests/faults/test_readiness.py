"""Readiness names a broken database (503) and recovers by itself when it returns (the probes of
docs/operations.md)."""

import asyncio
import time


async def test_readiness_is_503_naming_the_database_while_it_is_down_then_200(kit) -> None:
    services = ("identity", "reset", "notifier")

    async def states_until(expected: int, within: float) -> dict[str, tuple[int, dict]]:
        deadline = time.monotonic() + within
        while True:
            states = {s: await kit.readiness(s) for s in services}
            if all(code == expected for code, _ in states.values()) or time.monotonic() > deadline:
                return states
            await asyncio.sleep(0.2)

    assert all(code == 200 for code, _ in (await states_until(200, 30)).values())
    await asyncio.to_thread(kit.infra.postgres.stop)
    try:
        down = await states_until(503, 20)
    finally:
        await asyncio.to_thread(kit.infra.postgres.start)
    back = await states_until(200, 30)
    kit.report("readiness with the database stopped", **{s: down[s][0] for s in services})

    for service, (code, body) in down.items():
        assert code == 503, (service, body)
        assert body["error"] == "dependency_unavailable" and "database" in body["failing"]
    assert all(code == 200 for code, _ in back.values()), back
