"""SIGTERM: the notifier stops fetching, finishes the email in flight, commits, exits."""

import asyncio
import time


async def test_sigterm_mid_stream_finishes_in_flight_and_commits(kit) -> None:
    emails = await kit.accounts(50, "sigterm")
    tally = kit.tally()
    stream = asyncio.create_task(kit.stream(emails, per_second=10, tally=tally))
    await asyncio.sleep(2)
    process = kit.platform.running["notifier"].process
    before = kit.log_offset("notifier")
    started = time.monotonic()
    await asyncio.to_thread(kit.platform.stop_service, "notifier")  # SIGTERM
    shutdown_s = time.monotonic() - started
    async with kit.notifier_db() as db:
        unsettled = await db.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sending'")
    since = kit.log_offset("notifier")
    stopped_cleanly = kit.log_lines("notifier", before, "offsets committed, group left")
    lifespan_done = kit.log_lines("notifier", before, "Application shutdown complete")
    await asyncio.to_thread(kit.platform.start_service, "notifier")
    await stream
    counts = await kit.wait_for_mail(tally.accepted, within=60)
    # Every event the old process handled was committed: the new one meets none of them again.
    redelivered = kit.log_lines("notifier", since, "already delivered; skipped")
    numbers = kit.outcome(tally, counts)
    kit.report(
        "7 notifier SIGTERM",
        **numbers,
        dead_lettered=0,
        exit_code=process.returncode,
        shutdown_s=round(shutdown_s, 2),
        redelivered_after_restart=redelivered,
    )

    # uvicorn re-raises the SIGTERM after its graceful shutdown, hence -15 rather than 0.
    assert process.returncode in (0, -15)
    assert (stopped_cleanly, lifespan_done) == (1, 1)
    assert shutdown_s < 15
    assert unsettled == 0  # the email in flight was finished, not cut off
    assert redelivered == 0
    assert numbers["accepted"] == 50 and numbers["lost"] == 0 and numbers["duplicates"] == 0
