"""Fault 3: the notifier is killed with SIGKILL twice in the middle of a stream of events."""

import asyncio
import signal

INTERRUPTED = "resending after an interrupted attempt"


async def test_a_notifier_killed_mid_stream_loses_nothing(kit) -> None:
    emails = await kit.accounts(80, "sigkill")
    tally = kit.tally()
    since = kit.log_offset("notifier")
    stream = asyncio.create_task(kit.stream(emails, per_second=10, tally=tally))
    for at in (1.5, 4.0):
        await asyncio.sleep(at)
        await asyncio.to_thread(kit.platform.stop_service, "notifier", sig=signal.SIGKILL)
        await asyncio.to_thread(kit.platform.start_service, "notifier")
    await stream
    counts = await kit.wait_for_mail(tally.accepted, within=60)
    numbers = kit.outcome(tally, counts)
    interrupted = kit.log_lines("notifier", since, INTERRUPTED)
    async with kit.notifier_db() as db:
        unsettled = await db.fetchval("SELECT count(*) FROM deliveries WHERE status = 'sending'")
    kit.report(
        "3 notifier SIGKILL x2",
        **numbers,
        dead_lettered=0,
        interrupted_resends=interrupted,
        unsettled=unsettled,
    )

    assert numbers["accepted"] == 80
    assert numbers["lost"] == 0
    # The one window no SMTP client can close (killed after the server said 250, before the
    # ledger write) may resend, with the same Message-ID; it is detected and counted each time,
    # and nothing else may duplicate.
    assert numbers["duplicates"] <= interrupted <= 2
    assert unsettled == 0
