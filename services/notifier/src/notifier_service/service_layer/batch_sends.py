"""How the emails of a claimed batch go out (for the delivery use case, deliver_email.py).

- Side by side, up to `lanes` at once (the sender's connections), except that the events of one
  key (the account: what keeps them on one Kafka partition, in order) go one after the other, in
  order, and none follows one that failed.
- After the first failure that says "try later" (SMTP refusing for now, timing out, away; or the
  ledger away), no new send starts: a hung server costs one round of timeouts, not one per email,
  and nothing more is sent while it could not be recorded.
- Each email is recorded 'sent' as soon as the server took it, group-commit style: one ledger
  write in flight, the next one takes everything accepted meanwhile. So an accepted email waits
  at most two ledger round trips for its record, as it did one email at a time: the window
  between "accepted" and "recorded" (docs/delivery.md, "What remains") does not grow with the
  batch, while a busy batch still costs one write per round trip, not one per email.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pwreset_contracts.cloudevents_kafka import ReceivedEvent

from notifier_service.domain.mime import OutgoingEmail
from notifier_service.service_layer.ports import (
    Claim,
    DeliveryLedger,
    LedgerUnavailable,
    PermanentSmtpError,
    TransientSmtpError,
)


@dataclass
class Attempt:
    """One email to send under its claim, and what became of it."""

    event: ReceivedEvent
    email: OutgoingEmail
    claim: Claim
    traceparent: str  # the trace of the request that produced the event, for the log lines
    failure: Exception | None = None  # None once sent


class SentRecords:
    """'sent' rows written as they come, one write at a time, each taking all that waits."""

    def __init__(self, ledger: DeliveryLedger) -> None:
        self._ledger = ledger
        self._waiting: list[ReceivedEvent] = []
        self._writer: asyncio.Task[None] | None = None
        self.recorded: set[str] = set()
        self.failed: dict[str, LedgerUnavailable] = {}

    @property
    def failing(self) -> LedgerUnavailable | None:
        """The first failed write, if any (the database is away: send nothing more)."""
        return next(iter(self.failed.values()), None)

    def add(self, event: ReceivedEvent) -> None:
        self._waiting.append(event)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())

    async def written(self) -> None:
        """Everything added so far is written (or failed)."""
        if self._writer is not None:
            await self._writer

    async def _write(self) -> None:
        while self._waiting:
            events, self._waiting = self._waiting, []
            try:
                await self._ledger.record_sent([(e.id, e.type) for e in events])
            except LedgerUnavailable as exc:
                self.failed.update({e.id: exc for e in events})
            else:
                self.recorded.update(e.id for e in events)


Send = Callable[[Attempt], Awaitable[Exception | None]]


async def send_all(attempts: list[Attempt], send: Send, records: SentRecords, lanes: int) -> None:
    """Sets each attempt's `failure` (None: sent, and handed to `records`)."""
    chains: dict[tuple[str, str], list[Attempt]] = {}
    for attempt in attempts:
        data = attempt.event.data
        chains.setdefault((data.topic, data.partition_key()), []).append(attempt)
    queue = deque(chains.values())
    try_later: list[TransientSmtpError] = []

    def not_tried() -> Exception | None:
        """Why no new send starts, as the failure of the attempts it leaves out."""
        if try_later:  # not tried, so certainly not accepted
            return TransientSmtpError(str(try_later[0]), maybe_accepted=False)
        return records.failing

    async def lane() -> None:
        while queue:
            chain = queue.popleft()
            for n, attempt in enumerate(chain):
                failure = not_tried()
                if failure is not None:
                    for waiting in chain[n:]:
                        waiting.failure = failure
                    break
                attempt.failure = await send(attempt)
                if attempt.failure is None:
                    records.add(attempt.event)
                elif isinstance(attempt.failure, TransientSmtpError):
                    try_later.append(attempt.failure)
                elif not isinstance(attempt.failure, PermanentSmtpError):
                    for waiting in chain[n + 1 :]:  # a bug: the rest waits for one by one
                        waiting.failure = TransientSmtpError("not tried", maybe_accepted=False)
                    break

    count = min(lanes, len(queue))
    if count == 1:
        await lane()
    elif count > 1:
        await asyncio.gather(*(lane() for _ in range(count)))
