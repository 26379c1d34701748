"""In-memory stand-ins for the delivery use case's ports (service_layer/ports.py): a ledger that
keeps rows in a dict and claims with an asyncio lock per event (like the advisory lock), an SMTP
sender that keeps what it was handed, a dead-letter topic that keeps its copies, a clock."""

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from aiokafka.structs import ConsumerRecord
from notifier_service.domain.composition import EmailComposer
from notifier_service.service_layer.deliver_email import EmailDelivery
from notifier_service.service_layer.ports import (
    DeadLetterTopicUnavailable,
    DeliveryBusy,
    LedgerUnavailable,
    Origin,
)
from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.cloudevents_kafka import ReceivedEvent
from pwreset_contracts.sealed import reset_link_binding, seal
from servicekit.messaging.consumer import ConsumedRecord

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
KEY = b"u" * 32
SETTLED = ("sent", "dead_lettered")
MAIL_FROM = "Reset <no-reply@example.com>"


@dataclass
class Row:
    event_type: str
    status: str
    attempts: int = 0


@dataclass
class FakeClaim:
    ledger: "FakeLedger"
    event_id: str
    previous_status: str | None
    attempts: int

    @property
    def settled(self) -> bool:
        return self.previous_status in SETTLED

    @property
    def interrupted(self) -> bool:
        return self.previous_status == "sending"

    async def refused(self) -> None:
        self.ledger.check_reachable()
        row = self.ledger.rows[self.event_id]
        if row.status == "sending":
            row.status = "failed"


@dataclass
class FakeLedger:
    rows: dict[str, Row] = field(default_factory=dict)
    dead_letters: dict[Origin, tuple[str | None, str]] = field(default_factory=dict)
    away: bool = False  # every statement fails, as with the database down
    busy: set[str] = field(default_factory=set)  # held by another instance
    lose_next_record_sent: bool = False  # the database goes away right after the SMTP accept
    _locks: defaultdict[str, asyncio.Lock] = field(
        default_factory=lambda: defaultdict(asyncio.Lock)
    )

    def check_reachable(self) -> None:
        if self.away:
            raise LedgerUnavailable(ConnectionRefusedError(111, "Connection refused"))

    @contextlib.asynccontextmanager
    async def claim(self, event_id: str, event_type: str) -> AsyncIterator[FakeClaim]:
        self.check_reachable()
        if event_id in self.busy:
            raise DeliveryBusy(f"event {event_id} is being delivered by another instance")
        async with self._locks[event_id]:
            row = self.rows.get(event_id)
            previous = row.status if row else None
            if previous not in SETTLED:
                row = self.rows.setdefault(event_id, Row(event_type, "sending"))
                row.status = "sending"
                row.attempts += 1
            await asyncio.sleep(0)  # let concurrent claims queue up on the lock
            yield FakeClaim(self, event_id, previous, row.attempts if row else 0)

    async def record_sent(self, event_id: str, event_type: str) -> None:
        self.check_reachable()
        if self.lose_next_record_sent:
            self.lose_next_record_sent = False
            raise LedgerUnavailable(ConnectionResetError("connection lost"))
        self.rows.setdefault(event_id, Row(event_type, "sent")).status = "sent"

    async def dead_lettered(self, origin: Origin) -> bool:
        self.check_reachable()
        return origin in self.dead_letters

    async def record_dead_letter(
        self, *, event_id: str | None, event_type: str | None, origin: Origin, reason: str
    ) -> None:
        self.check_reachable()
        self.dead_letters.setdefault(origin, (event_id, reason))
        if event_id is not None:
            row = self.rows.setdefault(event_id, Row(event_type or "unknown", "dead_lettered"))
            if row.status != "sent":
                row.status = "dead_lettered"

    def status(self, event_id: str) -> str | None:
        row = self.rows.get(event_id)
        return row.status if row else None


@dataclass
class FakeSender:
    """`fail_with`: raised by every send; `accept_then_fail`: the server takes the message, then
    the connection drops before we hear so (the message is remembered as accepted)."""

    sent: list[EmailMessage] = field(default_factory=list)
    fail_with: Exception | None = None
    accept_then_fail: Exception | None = None
    _accepted: set[str] = field(default_factory=set)

    async def send(self, message: EmailMessage) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(message)
        self._accepted.add(str(message["Message-ID"]).strip("<>").partition("@")[0])
        if self.accept_then_fail is not None:
            raise self.accept_then_fail

    def accepted(self, message_id_local_part: str) -> bool:
        return message_id_local_part in self._accepted

    def sent_to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sent if m["To"] == address]


@dataclass
class FakeDeadLetterTopic:
    copies: list[tuple[ConsumedRecord, str]] = field(default_factory=list)
    away: bool = False

    async def copy(self, record: ConsumedRecord, reason: str) -> None:
        if self.away:
            raise DeadLetterTopicUnavailable(TimeoutError("no broker answered"))
        self.copies.append((record, reason))


@dataclass
class FakeClock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    ledger: FakeLedger = field(default_factory=FakeLedger)
    sender: FakeSender = field(default_factory=FakeSender)
    topic: FakeDeadLetterTopic = field(default_factory=FakeDeadLetterTopic)
    clock: FakeClock = field(default_factory=FakeClock)

    def delivery(self) -> EmailDelivery:
        composer = EmailComposer(link_keys={"k1": KEY}, notice_keys={}, mail_from=MAIL_FROM)
        return EmailDelivery(self.ledger, self.sender, self.topic, composer, clock=self.clock)


def reset_record(
    to: str = "ada@example.com",
    *,
    kid: str = "k1",
    minutes_valid: int = 30,
    offset: int = 7,
    **changes: object,
) -> ConsumerRecord[bytes, bytes]:
    """A ResetRequested record as the reset service's relay writes it; `changes` alter the event
    after sealing (what a forger who copied a sealed link would do)."""
    request_id, account_id = uuid.uuid4(), uuid.uuid4()
    binding = reset_link_binding(request_id=request_id, account_id=account_id, recipient=to)
    event = ResetRequestedV1(
        request_id=request_id,
        account_id=account_id,
        email=to,
        requested_at=NOW - timedelta(minutes=1),
        expires_at=NOW + timedelta(minutes=minutes_valid),
        sealed_link=seal(
            f"https://accounts.example.com/reset-password?token={uuid.uuid4().hex}",
            key=KEY,
            kid=kid,
            associated_data=binding,
        ),
    )
    if changes:
        event = event.model_copy(update=changes)
    encoded = cloudevents_kafka.encode(event, source="/pwreset/reset", time=NOW)
    return record_of(encoded.headers, encoded.value, key=encoded.key, offset=offset)


def record_of(
    headers: list[tuple[str, bytes]],
    value: bytes | None,
    *,
    key: bytes | None = b"k",
    offset: int = 7,
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic="password-reset.requested.v1",
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key or b""),
        serialized_value_size=len(value or b""),
        headers=headers,
    )


def event_of(record: ConsumerRecord[bytes, bytes]) -> ReceivedEvent:
    return cloudevents_kafka.decode(list(record.headers), record.value)
