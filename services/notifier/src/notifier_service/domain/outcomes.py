"""What became of one event (`deliver`) or of one record given up on (`dead_letter`).

The Kafka entrypoint maps them onto the consumer loop: every outcome but `Retry` lets the
offset be committed; `Retry` pauses consumption and tries the record again; `DeadLetter` is
followed by the dead-letter copy.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Delivered:
    """The SMTP server accepted the email and the ledger recorded it. `resent_after_interruption`:
    an earlier attempt died between its claim and its ledger write, so the server may have a
    first copy (docs/delivery.md, "What remains")."""

    resent_after_interruption: bool = False


@dataclass(frozen=True)
class Expired:
    """Its link no longer works: recorded as settled, nothing sent (it would help nobody)."""


@dataclass(frozen=True)
class AlreadyDelivered:
    """Settled before (a redelivery, or another instance sent it). `recorded_now`: this process
    had sent it and only the ledger write was missing; it was written now, nothing resent."""

    recorded_now: bool = False


@dataclass(frozen=True)
class Retry:
    """A dependency is away or busy (SMTP 4xx/refused/timeout, ledger database, another instance
    holding the event, the dead-letter topic): try again later. Nothing was settled."""

    reason: str


@dataclass(frozen=True)
class DeadLetter:
    """The event can never become an email (SMTP 5xx, a seal that does not open, no email for
    its type): copy the record to the dead-letter topic."""

    reason: str


@dataclass(frozen=True)
class DeadLettered:
    """Copied to the dead-letter topic and settled in the ledger."""


DeliveryOutcome = Delivered | Expired | AlreadyDelivered | Retry | DeadLetter
DeadLetterOutcome = DeadLettered | Retry
