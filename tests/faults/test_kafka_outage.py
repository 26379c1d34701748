"""Fault 1: the Kafka broker stops for 30 s while reset requests keep arriving."""

import asyncio
import time

OUTAGE_SECONDS = 30


async def test_requests_during_a_kafka_outage_are_all_accepted_and_mailed_once(kit) -> None:
    emails = await kit.accounts(40, "kafka")
    tally = kit.tally()
    await kit.stream(emails[:5], per_second=10, tally=tally)  # before: the path is warm

    await asyncio.to_thread(kit.infra.kafka.stop)
    stopped = time.monotonic()
    # Spread over the outage, one request a little under every second.
    during = asyncio.create_task(
        kit.stream(emails[5:], per_second=35 / (OUTAGE_SECONDS - 5), tally=tally)
    )
    await asyncio.sleep(8)  # long enough for both services to have noticed
    reset_ready, reset_body = await kit.readiness("reset")
    notifier_ready, notifier_body = await kit.readiness("notifier")
    backlog = await kit.metric("reset", "outbox_backlog_rows")
    await during
    await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))

    await asyncio.to_thread(kit.infra.kafka.start)
    returned = time.time()
    counts = await kit.wait_for_mail(tally.accepted, within=60)
    drained = kit.mail.last_arrival(tally.accepted) - returned if counts else float("nan")
    after = {key: (await kit.readiness(key))[0] for key in ("reset", "notifier")}
    numbers = kit.outcome(tally, counts)
    kit.report(
        "1 kafka stopped 30s",
        **numbers,
        dead_lettered=0,
        drain_after_return_s=round(drained, 2),
        outbox_backlog_during=int(backlog),
    )

    # Kafka away: reset still takes requests (degraded, not unready); the notifier is unready.
    assert (reset_ready, reset_body.get("degraded")) == (200, ["kafka"])
    assert (notifier_ready, notifier_body.get("failing")) == (503, ["kafka"])
    assert backlog > 0  # the metric shows the rows waiting for Kafka
    assert numbers["accepted"] == numbers["requested"] == 40
    assert numbers["lost"] == 0 and numbers["duplicates"] == 0
    assert after == {"reset": 200, "notifier": 200}  # and both recover on their own
    assert drained < 10, f"backlog took {drained:.1f}s to drain after Kafka returned"
