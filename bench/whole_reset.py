"""CPU per whole reset: a request accepted and its email accepted by SMTP, summed over every
process of the system (reset, identity, notifier, PostgreSQL with all its backends, Kafka).

N reset requests for known accounts go out open loop at a moderate rate (each from one of many
client addresses, as in the other rows); the window closes when the SMTP sink has accepted all N
emails. CPU is utime + stime from /proc of each process, read when the window opens and when it
closes, divided by N. The load generator and the SMTP sink are read too and shown, but are not
the system. Idle work (the relay's and the notifier's polls, Kafka's own housekeeping) runs
during the window and is counted in, as it is in production; its rate, measured over a quiet
stretch just before, is in the JSON.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bench.delivery import Mail, ResetPoster
from bench.load import Sample, open_loop
from bench.system import System
from bench.waiting import eventually

SYSTEM = ("reset", "identity", "notifier", "postgres", "kafka")
OUTSIDE = ("smtp sink", "load generator")
IDLE_SECONDS = 3.0


@dataclass(frozen=True)
class WholeReset:
    total_ms: float  # summed over SYSTEM
    per_process_ms: dict[str, float]  # SYSTEM and OUTSIDE
    idle_ms_per_second: dict[str, float]  # just before, nothing sent
    accepted: int
    refused: int


def _per_reset_ms(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    return {name: (after[name] - before[name]) * 1000 / n for name in (*SYSTEM, *OUTSIDE)}


async def whole_reset_cpu(system: System, *, count: int, rate: float) -> WholeReset:
    """One run: ms of CPU per whole reset, per process and summed over the system's."""
    emails = system.bench_accounts["e2e"]
    mail = Mail(system, emails)
    poster = ResetPoster(system)

    quiet = system.cpu()
    await asyncio.sleep(IDLE_SECONDS)
    idle = {
        name: round((now - quiet[name]) * 1000 / IDLE_SECONDS, 1)
        for name, now in system.cpu().items()
    }

    async def send(i: int) -> tuple[int, object]:
        email = emails[i % len(emails)]
        return await poster.post(email), email

    before = system.cpu()
    try:
        samples: list[Sample] = await open_loop(rate, count, send)
    finally:
        await poster.aclose()
    accepted = sum(1 for s in samples if s.status == 202)
    await eventually(lambda: mail.collect() >= accepted, within=120, what="every reset's email")
    per_reset = _per_reset_ms(before, system.cpu(), accepted)
    return WholeReset(
        total_ms=sum(per_reset[name] for name in SYSTEM),
        per_process_ms={name: round(ms, 3) for name, ms in per_reset.items()},
        idle_ms_per_second=idle,
        accepted=accepted,
        refused=count - accepted,
    )
