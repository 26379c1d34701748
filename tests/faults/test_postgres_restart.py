"""Fault 4: PostgreSQL restarts under load; the services recover without a restart of their own."""

import asyncio
import time


async def test_services_ride_out_a_postgres_restart(kit) -> None:
    emails = await kit.accounts(60, "pg")
    after_emails = await kit.accounts(5, "pg-after")
    processes = {name: s.process.pid for name, s in kit.platform.running.items()}
    tally = kit.tally()
    stream = asyncio.create_task(kit.stream(emails, per_second=8, tally=tally))
    await asyncio.sleep(2)
    await asyncio.to_thread(kit.infra.postgres.stop)
    await asyncio.sleep(3)
    await asyncio.to_thread(kit.infra.postgres.start)
    restarted = time.monotonic()
    await stream

    async def all_ready() -> float:
        async with asyncio.timeout(30):
            while True:
                states = [
                    (await kit.readiness(key))[0] for key in ("identity", "reset", "notifier")
                ]
                if states == [200, 200, 200]:
                    return time.monotonic() - restarted
                await asyncio.sleep(0.2)

    recovered_after = await all_ready()
    later = kit.tally()
    for email in after_emails:  # and new work goes through as before
        await kit.request_reset(email, later)
    counts = await kit.wait_for_mail(tally.accepted | later.accepted, within=60)
    numbers = kit.outcome(tally, counts)
    mailed_refused = sum(1 for e in tally.refused if counts[e] > 0)
    kit.report(
        "4 postgres restarted under load",
        **numbers,
        dead_lettered=0,
        refused_during_restart=len(tally.refused),
        refused_answers=dict(tally.statuses),
        mailed_although_refused=mailed_refused,
        ready_again_after_s=round(recovered_after, 1),
    )

    assert {n: s.process.pid for n, s in kit.platform.running.items()} == processes
    assert all(s.process.poll() is None for s in kit.platform.running.values())
    assert numbers["lost"] == 0 and numbers["duplicates"] == 0
    assert numbers["accepted"] >= 10  # the stream ran on both sides of the restart
    assert len(later.accepted) == 5 and all(counts[e] == 1 for e in later.accepted)
