"""Fault 6: two relays (two reset processes) and two notifiers at once: no duplicates."""

import asyncio
import json


def published_by(kit, key: str, since: int) -> int:
    total = 0
    with (kit.platform.log_dir / f"{key}.log").open("rb") as log:
        log.seek(since)
        for line in log:
            if b'"outbox published"' in line:
                total += json.loads(line)["records"]
    return total


async def test_two_relays_and_two_notifiers_send_each_email_once(kit) -> None:
    emails = await kit.accounts(60, "twice")
    since = {key: kit.log_offset(key) for key in ("reset", "notifier")}
    await asyncio.to_thread(kit.platform.start_instance, "reset", "reset-2")
    await asyncio.to_thread(kit.platform.start_instance, "notifier", "notifier-2")
    since |= {"reset-2": 0, "notifier-2": 0}
    try:
        await asyncio.sleep(5)  # the second notifier joins the group and gets partitions
        tally = kit.tally()
        await kit.stream(emails, per_second=15, tally=tally, via=("reset", "reset-2"))
        counts = await kit.wait_for_mail(tally.accepted, within=30)
    finally:
        for key in ("notifier-2", "reset-2"):
            await asyncio.to_thread(kit.platform.stop_service, key)
    relayed = {key: published_by(kit, key, since[key]) for key in ("reset", "reset-2")}
    sent = {
        key: kit.log_lines(key, since[key], '"email sent"') for key in ("notifier", "notifier-2")
    }
    numbers = kit.outcome(tally, counts)
    kit.report(
        "6 two relays + two notifiers",
        **numbers,
        dead_lettered=0,
        published_per_relay=relayed,
        sent_per_notifier=sent,
    )

    assert numbers["accepted"] == 60 and numbers["lost"] == 0 and numbers["duplicates"] == 0
    assert all(n > 0 for n in relayed.values()), relayed  # both relays took part
    assert all(n > 0 for n in sent.values()), sent  # and both notifiers
    assert sum(sent.values()) == 60
