"""What an operator sees of a dead letter, and whether replaying it can do any good.

Pure functions over a record read from `notifier.dead-letter.v1`, so they can be tested without
Kafka. Addresses are masked unless the operator asks for them.
"""

import enum
from dataclasses import dataclass
from datetime import datetime

from pwreset_contracts.cloudevents_kafka import InvalidRecord, ReceivedEvent
from pwreset_contracts.dead_letters import DeadLetterV1, read_dead_letter
from servicekit.runtime.logging import mask_email

from notifier_service.domain.records import cloudevent_id, received_event

Headers = list[tuple[str, bytes]]


class Verdict(enum.Enum):
    REPLAY = "replay"
    ALREADY_DELIVERED = "already delivered"  # the ledger has it: replaying would send nothing
    EXPIRED = "expired"  # its link no longer works: an email would help nobody
    NOT_AN_EVENT = "not an event"  # poison: it would only come back here


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    letter: DeadLetterV1
    event: ReceivedEvent | None  # the original event, when it still decodes

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    def original_headers(self) -> Headers:
        """The headers of the record as it first was (the deadletter_* ones taken off)."""
        return [(k, v) for k, v in self.headers if not k.startswith("deadletter_")]


def parse(
    partition: int, offset: int, key: bytes | None, value: bytes | None, headers: Headers
) -> DeadLetter:
    letter = read_dead_letter(headers)
    try:
        event = received_event(
            [(k, v) for k, v in headers if not k.startswith("deadletter_")],
            value or b"",
            letter.origin_topic,  # where a replay writes it back
        )
    except InvalidRecord:
        event = None
    return DeadLetter(partition, offset, key, value, headers, letter, event)


def expiry(letter: DeadLetter) -> datetime | None:
    """When the link in the event stops working, for the events whose record says so."""
    data = letter.event.data if letter.event else None
    return getattr(data, "expires_at", None)


def verdict(letter: DeadLetter, *, now: datetime, delivered: bool) -> Verdict:
    if letter.event is None:
        return Verdict.NOT_AN_EVENT
    if delivered:
        return Verdict.ALREADY_DELIVERED
    expires = expiry(letter)
    if expires is not None and expires <= now:
        return Verdict.EXPIRED
    return Verdict.REPLAY


def summary(letter: DeadLetter, *, reveal_addresses: bool = False) -> dict[str, str]:
    data = letter.event.data if letter.event else None
    email = getattr(data, "email", None)
    shown = email if reveal_addresses or email is None else mask_email(email)
    return {
        "position": letter.position,
        "time": letter.letter.time.isoformat(timespec="seconds"),
        "origin": f"{letter.letter.origin_topic}/{letter.letter.origin_partition}"
        f"@{letter.letter.origin_offset}",
        "type": letter.event.type if letter.event else "-",
        "event_id": cloudevent_id(letter.event.id) if letter.event else "-",
        "to": shown or "-",
        "reason": letter.letter.reason if reveal_addresses else _masked(letter.letter.reason),
    }


def _masked(text: str) -> str:
    # Reasons are scrubbed when written; mask again in case an older notifier wrote one.
    return " ".join(mask_email(w) if "@" in w else w for w in text.split(" "))


@dataclass(frozen=True)
class Selection:
    """Which dead letters an operator means: positions, a time range, a reason, or all."""

    positions: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    reason: str | None = None
    everything: bool = False

    def matches(self, letter: DeadLetter) -> bool:
        if self.positions and letter.position not in self.positions:
            return False
        if self.since and letter.letter.time < self.since:
            return False
        if self.until and letter.letter.time > self.until:
            return False
        if self.reason and self.reason.casefold() not in letter.letter.reason.casefold():
            return False
        return bool(self.everything or self.positions or self.since or self.until or self.reason)
