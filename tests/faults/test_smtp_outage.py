"""Fault 2: the SMTP server is down (connections refused), then back."""

import asyncio
import time


async def test_emails_wait_while_smtp_is_down_and_go_out_once_when_it_returns(kit) -> None:
    emails = await kit.accounts(20, "smtp")
    tally = kit.tally()
    await asyncio.to_thread(kit.infra.smtp.stop)
    try:
        await kit.stream(emails, per_second=10, tally=tally)
        await asyncio.sleep(6)  # several retries while down
        ready, body = await kit.readiness("notifier")
        during = kit.mail.counts(set(emails))
    finally:
        await asyncio.to_thread(kit.infra.smtp.start)
    returned = time.time()
    counts = await kit.wait_for_mail(tally.accepted, within=30)
    numbers = kit.outcome(tally, counts)
    kit.report(
        "2 smtp down then up",
        **numbers,
        dead_lettered=0,
        delivered_while_down=sum(during.values()),
        drain_after_return_s=round(kit.mail.last_arrival(tally.accepted) - returned, 2),
    )

    assert sum(during.values()) == 0
    # Paused, not unready: readiness names the paused deliveries and stays 200.
    assert ready == 200 and body.get("degraded") == ["deliveries"], body
    assert numbers["accepted"] == 20
    assert numbers["lost"] == 0 and numbers["duplicates"] == 0
