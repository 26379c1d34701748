"""What the delivery use case needs from the outside world, and the errors it may get back.

Adapters implement these (`adapters/deliveries_ledger.py`, `adapters/smtp_sender.py`,
`adapters/dead_letter_topic.py`) and translate their drivers' errors into the ones below, so the
use case decides retry or dead letter without knowing asyncpg, SMTP or aiokafka; the unit
tests give it in-memory fakes.
"""

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from servicekit.messaging.consumer import ConsumedRecord

from notifier_service.domain.mime import OutgoingEmail

Clock = Callable[[], datetime]
Origin = tuple[str, int, int]  # topic, partition, offset of a consumed record
EventKey = tuple[str, str]  # event id, event type


# -- errors the adapters raise -------------------------------------------------------------
class DependencyUnavailable(Exception):
    """A dependency is away right now (its driver's error is `cause`): try again later."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class LedgerUnavailable(DependencyUnavailable):
    """The ledger's database cannot be reached, or failed a statement."""


class DeadLetterTopicUnavailable(DependencyUnavailable):
    """Kafka did not take the dead-letter copy."""


class TransientSmtpError(Exception):
    """Try again later: 4xx replies, refused or dropped connections, timeouts.

    `maybe_accepted` is true when the failure leaves open whether the server took the message
    (a timeout or a dropped connection after the data was sent); false when it clearly did not.
    """

    def __init__(self, reason: str, *, maybe_accepted: bool) -> None:
        super().__init__(reason)
        self.maybe_accepted = maybe_accepted


class PermanentSmtpError(Exception):
    """The server refused for good (5xx); retrying would not help."""


# -- ports -----------------------------------------------------------------------------------
class Claim(Protocol):
    """One event held exclusively for one delivery attempt (see DeliveryLedger.claim)."""

    @property
    def settled(self) -> bool:
        """Sent or dead-lettered before: nothing to do."""
        ...

    @property
    def interrupted(self) -> bool:
        """An earlier attempt died after claiming and before settling."""
        ...

    @property
    def attempts(self) -> int: ...


class DeliveryLedger(Protocol):
    """Which events already produced an email (keyed by CloudEvent id), and the dead letters."""

    def claim(
        self, events: Sequence[EventKey], *, wait: bool
    ) -> AbstractAsyncContextManager[Mapping[str, Claim]]:
        """Hold the events exclusively until the block ends, each marked 'sending' unless it
        is settled already; the claims by event id. An event another instance holds is left
        out of the mapping: at once, or (`wait`) after waiting a while for it."""
        ...

    async def record_sent(self, events: Sequence[EventKey]) -> None:
        """Settle them as sent (under their claim)."""
        ...

    async def refused(self, event_ids: Sequence[str]) -> None:
        """The server said no (4xx, 5xx) or could not be reached: nothing was accepted, so a
        redelivery is a fresh try, not an interrupted one (under their claim)."""
        ...

    async def dead_lettered(self, origin: Origin) -> bool:
        """Whether this very record (topic, partition, offset) went to the dead-letter topic."""
        ...

    async def record_dead_letter(
        self, *, event_id: str | None, event_type: str | None, origin: Origin, reason: str
    ) -> None:
        """Keep the dead letter for operators and settle the event, so a redelivery skips it."""
        ...


class EmailSender(Protocol):
    async def send(self, email: OutgoingEmail) -> None:
        """Raises TransientSmtpError or PermanentSmtpError. May be called concurrently: the
        sender decides how many go out at once."""
        ...

    def accepted(self, message_id_local_part: str) -> bool:
        """Whether this process handed the server that message lately (it remembers, so a
        retry after a failed ledger write does not send again)."""
        ...


class DeadLetterTopic(Protocol):
    async def copy(self, record: ConsumedRecord, reason: str) -> None:
        """The record as it came, plus the dead-letter headers; raises
        DeadLetterTopicUnavailable."""
        ...
