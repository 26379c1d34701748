"""Kafka stopped for 60 s under load: lost and duplicated emails, and the time to drain.

Requests arrive open-loop at a fixed rate for 10 s, then the broker is stopped for 60 s (the
reset service keeps accepting into its outbox), started again, and the load goes on for 10 s
more. Every accepted request must produce exactly one email (its Message-ID is derived from the
event id). Drain time: from the moment the broker answers again until the last email of the
requests accepted while it was away has been accepted by the SMTP sink.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from bench.delivery import Mail, ResetPoster, match_in_order
from bench.load import open_loop
from bench.report import Row
from bench.system import System
from bench.waiting import eventually

BEFORE, OUTAGE, AFTER = 10.0, 60.0, 10.0


async def kafka_outage(system: System, *, rate: float) -> Row:
    kafka = system.infra.kafka
    assert kafka is not None
    emails = system.bench_accounts["outage"]
    mail = Mail(system, emails)
    poster = ResetPoster(system)

    async def send(i: int) -> tuple[int, object]:
        email = emails[i % len(emails)]
        return await poster.post(email), email

    load = asyncio.create_task(open_loop(rate, int(rate * (BEFORE + OUTAGE + AFTER)), send))
    await asyncio.sleep(BEFORE)
    stopped_at = time.time()
    await asyncio.to_thread(kafka.stop)
    await asyncio.sleep(max(0.0, stopped_at + OUTAGE - time.time()))
    await asyncio.to_thread(kafka.start)
    back_at = time.time()
    await eventually(
        lambda: _outbox_empty(system), within=120, what="outbox drained after Kafka", every=0.1
    )
    outbox_drained_s = time.time() - back_at
    samples = await load
    await poster.aclose()
    answered = [(str(s.payload), s.answered) for s in samples if s.status == 202]
    refused = len(samples) - len(answered)
    await eventually(
        lambda: len({a.message_id for a in _collected(mail)}) >= len(answered),
        within=120,
        what="every email of the outage run",
        every=0.2,
    )
    await asyncio.sleep(3)  # late duplicates would arrive now
    mail.collect()
    ids = Counter(a.message_id for a in mail.accepted)
    lost = max(0, len(answered) - len(ids))
    duplicated = sum(n - 1 for n in ids.values())
    during = [(e, t) for e, t in answered if t < back_at]
    delays = match_in_order(during, mail.accepted)
    drained_s = _drain_seconds(during, mail, back_at)
    ok = lost == 0 and duplicated == 0 and refused == 0 and drained_s < 10
    return Row(
        f"Kafka stopped {OUTAGE:.0f} s at {rate:.0f} req/s",
        f"lost {lost}, duplicated {duplicated}, drained {drained_s:.1f} s",
        f"{len(answered)} accepted, {refused} refused; outbox empty {outbox_drained_s:.1f} s "
        "after the broker",
        None,
        "0 lost, 0 dup, < 10 s",
        ok,
        {
            "requests": len(samples),
            "accepted": len(answered),
            "refused": refused,
            "emails": sum(ids.values()),
            "lost": lost,
            "duplicated": duplicated,
            "drain_seconds": drained_s,
            "outbox_drained_seconds": outbox_drained_s,
            "accepted_while_down": len(during),
            "max_delay_while_down_ms": max(delays) if delays else None,
        },
    )


def _collected(mail: Mail) -> list:
    mail.collect()
    return mail.accepted


def _drain_seconds(during: list[tuple[str, float]], mail: Mail, back_at: float) -> float:
    """When the last email of the requests answered before the broker came back arrived."""
    requests: Counter[str] = Counter(email for email, _ in during)
    by_recipient: dict[str, list[float]] = {}
    for accepted in sorted(mail.accepted, key=lambda a: a.at):
        by_recipient.setdefault(accepted.recipient, []).append(accepted.at)
    last = max(
        by_recipient[email][count - 1]
        for email, count in requests.items()
        if len(by_recipient.get(email, [])) >= count
    )
    return last - back_at


async def _outbox_empty(system: System) -> bool:
    try:
        return await system.outbox_backlog() == 0
    except OSError:
        return False
