"""In-memory stand-ins for the delivery use case's ports (service_layer/ports.py): a ledger that
keeps rows in a dict and claims with an asyncio lock per event (like the advisory lock), an SMTP
sender that keeps what it was handed, a dead-letter topic that keeps its copies, a clock."""

import asyncio
import contextlib
import email
import email.policy
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from aiokafka.structs import ConsumerRecord
from notifier_service.domain.composition import EmailComposer
from notifier_service.domain.mime import OutgoingEmail
from notifier_service.domain.records import received_event
from notifier_service.service_layer.deliver_email import EmailDelivery
from notifier_service.service_layer.ports import (
    DeadLetterTopicUnavailable,
    EventKey,
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


@dataclass(frozen=True)
class FakeClaim:
    event_id: str
    previous_status: str | None
    attempts: int

    @property
    def settled(self) -> bool:
        return self.previous_status in SETTLED

    @property
    def interrupted(self) -> bool:
        return self.previous_status == "sending"


@dataclass
class FakeLedger:
    rows: dict[str, Row] = field(default_factory=dict)
    dead_letters: dict[Origin, tuple[str | None, str]] = field(default_factory=dict)
    away: bool = False  # every statement fails, as with the database down
    busy: set[str] = field(default_factory=set)  # held by another instance
    lose_next_record_sent: bool = False  # the database goes away right after the SMTP accept
    claims: int = 0  # how many claim statements (one per batch)
    writes: int = 0  # how many record_sent statements
    write_seconds: float = 0.0  # how long one takes
    _locks: defaultdict[str, asyncio.Lock] = field(
        default_factory=lambda: defaultdict(asyncio.Lock)
    )

    def check_reachable(self) -> None:
        if self.away:
            raise LedgerUnavailable(ConnectionRefusedError(111, "Connection refused"))

    @contextlib.asynccontextmanager
    async def claim(
        self, events: Sequence[EventKey], *, wait: bool
    ) -> AsyncIterator[Mapping[str, FakeClaim]]:
        self.check_reachable()
        self.claims += 1
        types = dict(reversed(events))
        async with contextlib.AsyncExitStack() as held:
            claimed: dict[str, FakeClaim] = {}
            for event_id in sorted(types):  # one order for everyone: no deadlock
                lock = self._locks[event_id]
                if event_id in self.busy or (lock.locked() and not wait):
                    continue
                await held.enter_async_context(lock)
                row = self.rows.get(event_id)
                previous = row.status if row else None
                if previous not in SETTLED:
                    row = self.rows.setdefault(event_id, Row(types[event_id], "sending"))
                    row.status = "sending"
                    row.attempts += 1
                claimed[event_id] = FakeClaim(event_id, previous, row.attempts if row else 0)
            await asyncio.sleep(0)  # let concurrent claims queue up on the locks
            yield claimed

    async def record_sent(self, events: Sequence[EventKey]) -> None:
        if not events:
            return
        self.check_reachable()
        self.writes += 1
        await asyncio.sleep(self.write_seconds)
        if self.lose_next_record_sent:
            self.lose_next_record_sent = False
            raise LedgerUnavailable(ConnectionResetError("connection lost"))
        for event_id, event_type in events:
            self.rows.setdefault(event_id, Row(event_type, "sent")).status = "sent"

    async def refused(self, event_ids: Sequence[str]) -> None:
        if not event_ids:
            return
        self.check_reachable()
        for event_id in event_ids:
            row = self.rows[event_id]
            if row.status == "sending":
                row.status = "failed"

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


def parsed(sent: OutgoingEmail) -> EmailMessage:
    """The message as a mail client reads it."""
    message = email.message_from_bytes(sent.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@dataclass
class FakeSender:
    """`fail_with`: raised by every send (`fail_for`: by the sends to one recipient);
    `accept_then_fail`: the server takes the message, then the connection drops before we hear
    so (the message is remembered as accepted). `seconds`: how long a send takes."""

    sent: list[OutgoingEmail] = field(default_factory=list)
    fail_with: Exception | None = None
    fail_for: dict[str, Exception] = field(default_factory=dict)
    accept_then_fail: Exception | None = None
    seconds: float = 0.0
    on_send: Callable[[OutgoingEmail], None] | None = None  # called as each send starts
    tried: list[str] = field(default_factory=list)  # recipients, in the order sends started
    in_flight: list[str] = field(default_factory=list)
    most_at_once: int = 0
    overlapped_per_recipient: bool = False
    _accepted: set[str] = field(default_factory=set)

    async def send(self, message: OutgoingEmail) -> None:
        if self.on_send is not None:
            self.on_send(message)
        self.tried.append(message.recipient)
        if message.recipient in self.in_flight:
            self.overlapped_per_recipient = True
        self.in_flight.append(message.recipient)
        self.most_at_once = max(self.most_at_once, len(self.in_flight))
        try:
            await asyncio.sleep(self.seconds)
            failure = self.fail_for.get(message.recipient, self.fail_with)
            if failure is not None:
                raise failure
            self.sent.append(message)
            self._accepted.add(message.message_id_local_part)
            if self.accept_then_fail is not None:
                raise self.accept_then_fail
        finally:
            self.in_flight.remove(message.recipient)

    def accepted(self, message_id_local_part: str) -> bool:
        return message_id_local_part in self._accepted

    def sent_to(self, address: str) -> list[OutgoingEmail]:
        return [m for m in self.sent if m.recipient == address]


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

    def delivery(self, *, sends_at_once: int = 4) -> EmailDelivery:
        composer = EmailComposer(
            link_keys={"k1": KEY}, notice_keys={"k1": KEY}, mail_from=MAIL_FROM
        )
        return EmailDelivery(
            self.ledger,
            self.sender,
            self.topic,
            composer,
            sends_at_once=sends_at_once,
            clock=self.clock,
        )


def reset_record(
    to: str = "ada@example.com",
    *,
    kid: str = "k1",
    minutes_valid: int = 30,
    offset: int = 7,
    account_id: uuid.UUID | None = None,
    **changes: object,
) -> ConsumerRecord[bytes, bytes]:
    """A ResetRequested record as the reset service's relay writes it (a new account unless
    `account_id` is given); `changes` alter the event after sealing (what a forger who copied a
    sealed link would do)."""
    request_id, account_id = uuid.uuid4(), account_id or uuid.uuid4()
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
    topic: str = "password-reset.requested.v1",
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic,
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
    return received_event(list(record.headers), record.value, record.topic)
