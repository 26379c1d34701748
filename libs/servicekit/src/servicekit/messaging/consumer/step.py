"""What a record handler tells the at-least-once loop to do with the record it was given."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias

from aiokafka.structs import ConsumerRecord

Record: TypeAlias = ConsumerRecord[bytes, bytes]


@dataclass(frozen=True)
class Commit:
    """Done with the record (its work is durable, or it was dead-lettered): its offset may be
    committed and the partition moves on."""


@dataclass(frozen=True)
class PauseAndRetry:
    """A dependency is away: pause every assigned partition and try this record again after a
    backoff. `reason` is what the pause log line and the readiness check show."""

    reason: str


COMMIT = Commit()
Step = Commit | PauseAndRetry
Handler = Callable[[Record], Awaitable[Step]]
# A whole fetch at once, each partition's records in order: one step per record, in order.
BatchHandler = Callable[[list[Record]], Awaitable[list[Step]]]
