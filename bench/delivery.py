"""From a reset request to an email: end-to-end latency, notifier throughput, Kafka outage.

Emails are timestamped by the bench's SMTP sink the moment it accepts them. A request is matched
to its email by recipient, in order (one account's events share a Kafka partition and are
delivered in order), so accounts can be reused.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiosmtplib
import httpx
from notifier_service.domain.emails import build_message, render_reset_email

from bench.load import Sample, closed_loop, open_loop
from bench.smtp_sink import Accepted
from bench.system import System
from bench.waiting import eventually


class ResetPoster:
    """Posts reset requests, each from one of many client addresses (see load.py)."""

    def __init__(self, system: System) -> None:
        self._http = httpx.AsyncClient(
            base_url=system.platform.url("reset"),
            timeout=30,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
        )
        self._n = 0

    async def post(self, email: str) -> int:
        self._n += 1
        ip = self._n % 4096
        answer = await self._http.post(
            "/v1/password-resets",
            json={"email": email},
            headers={"X-Forwarded-For": f"10.78.{ip // 256}.{ip % 256}"},
        )
        return answer.status_code

    async def aclose(self) -> None:
        await self._http.aclose()


class Mail:
    """What the sink accepted so far, for a set of recipients."""

    def __init__(self, system: System, recipients: Iterable[str]) -> None:
        self._sink = system.sink
        self._recipients = set(recipients)
        self.accepted: list[Accepted] = []
        self._sink.read_new()  # earlier phases' emails are not ours

    def collect(self) -> int:
        self.accepted += [a for a in self._sink.read_new() if a.recipient in self._recipients]
        return len(self.accepted)


def match_in_order(answered: list[tuple[str, float]], mail: list[Accepted]) -> list[float]:
    """Email acceptance time minus answer time (ms), per request in order per recipient."""
    requests: dict[str, list[float]] = defaultdict(list)
    for email, at in sorted(answered, key=lambda pair: pair[1]):
        requests[email].append(at)
    emails: dict[str, list[float]] = defaultdict(list)
    for accepted in sorted(mail, key=lambda a: a.at):
        emails[accepted.recipient].append(accepted.at)
    return [
        (sent - asked) * 1000
        for email, times in requests.items()
        for asked, sent in zip(times, emails[email], strict=False)
    ]


async def end_to_end(system: System, *, rate: float, seconds: float) -> tuple[list[float], int]:
    """One open-loop run: latencies (ms) from the 202 to the sink's acceptance, and how many
    requests were not accepted."""
    emails = system.bench_accounts["e2e"]
    mail = Mail(system, emails)
    poster = ResetPoster(system)

    async def send(i: int) -> tuple[int, object]:
        email = emails[i % len(emails)]
        return await poster.post(email), email

    try:
        samples: list[Sample] = await open_loop(rate, int(rate * seconds), send)
    finally:
        await poster.aclose()
    answered = [(str(s.payload), s.answered) for s in samples if s.status == 202]
    await eventually(
        lambda: mail.collect() >= len(answered), within=60, what="every end-to-end email"
    )
    return match_in_order(answered, mail.accepted), len(samples) - len(answered)


async def queue_backlog(system: System, *, count: int) -> list[str]:
    """Stop the notifier and leave `count` events for it in Kafka (published by the relay)."""
    emails = system.bench_accounts["notify"]
    system.platform.stop_service("notifier")
    poster = ResetPoster(system)
    try:
        _, statuses = await closed_loop(
            16, [emails[i % len(emails)] for i in range(count)], poster.post
        )
    finally:
        await poster.aclose()
    assert all(s == 202 for s in statuses), statuses
    await eventually(lambda: _empty_outbox(system), within=60, what="outbox published", every=0.2)
    return emails


@dataclass(frozen=True)
class Drain:
    per_second: float  # from the first email to the last
    cpu_ms_per_email: dict[str, float]  # per process, from the first email seen to the last


async def drain_backlog(system: System, emails: list[str], *, count: int) -> Drain:
    """Start the notifier: emails per second from the first email to the last, and the CPU of
    each process per email in between (so the notifier's start-up is not counted)."""
    mail = Mail(system, emails)
    system.platform.start_service("notifier")
    first: tuple[int, dict[str, float]] | None = None

    def progress() -> bool:
        nonlocal first
        seen = mail.collect()
        if first is None and seen:
            first = (seen, system.cpu())
        return seen >= count

    await eventually(progress, within=180, what="the notifier's backlog", every=0.02)
    assert first is not None
    emails_since, cpu_then = count - first[0], first[1]
    cpu_now = system.cpu()
    times = sorted(a.at for a in mail.accepted)
    return Drain(
        per_second=(len(times) - 1) / (times[-1] - times[0]),
        cpu_ms_per_email={
            name: 1000 * (cpu_now[name] - cpu_then[name]) / max(emails_since, 1) for name in cpu_now
        },
    )


async def smtp_seconds_per_email(system: System) -> float:
    """Mean time of one SMTP send, from the notifier's own histogram (its process so far)."""
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(system.platform.metrics_url("notifier"))).text
    values = {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("notifier_smtp_send_seconds_")
    }
    count = values.get("notifier_smtp_send_seconds_count", 0.0)
    return values.get("notifier_smtp_send_seconds_sum", float("nan")) / count if count else 0.0


async def notifier_throughput(system: System, *, count: int) -> tuple[Drain, float]:
    """How a backlog of `count` events drained (emails per second, CPU per email by process);
    and the mean SMTP send time (ms) the notifier measured meanwhile."""
    emails = await queue_backlog(system, count=count)
    drain = await drain_backlog(system, emails, count=count)
    return drain, await smtp_seconds_per_email(system) * 1000


async def _empty_outbox(system: System) -> bool:
    return await system.outbox_backlog() == 0


def reference_message() -> bytes:
    """A reset email as the notifier renders it, for the raw-SMTP reference."""
    now = datetime.now(UTC)
    token = uuid.uuid4().hex + uuid.uuid4().hex[:11]  # the length of a real token
    rendered = render_reset_email(
        link=f"http://127.0.0.1:8002/reset-password?token={token}",
        expires_at=now + timedelta(minutes=30),
        minutes_valid=30,
    )
    message = build_message(
        rendered,
        to="raw-smtp@example.com",
        sender="Password reset <no-reply@pwreset.local>",
        event_id=str(uuid.uuid4()),
        sent_at=now,
    )
    return message.content


async def raw_smtp(system: System, *, count: int, connections: int) -> float:
    """Messages per second with aiosmtplib alone, over `connections` reused connections."""
    message = reference_message()
    clients = [
        aiosmtplib.SMTP(hostname=system.sink.host, port=system.sink.port, timeout=10)
        for _ in range(connections)
    ]
    for client in clients:
        await client.connect()
    try:
        for client in clients:  # warm-up
            await client.sendmail("no-reply@pwreset.local", ["raw-smtp@example.com"], message)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(count):
            queue.put_nowait(i)

        async def work(client: aiosmtplib.SMTP) -> None:
            while not queue.empty():
                queue.get_nowait()
                await client.sendmail("no-reply@pwreset.local", ["raw-smtp@example.com"], message)

        started = time.perf_counter()
        await asyncio.gather(*(work(c) for c in clients))
        elapsed = time.perf_counter() - started
    finally:
        for client in clients:
            await client.quit()
    system.sink.read_new()
    return count / elapsed
