"""Dead letters: records the notifier gave up on, copied to ``notifier.dead-letter.v1``.

The record is copied as it was (key, value, headers), so its ``ce_*`` headers still name the
original event and any CloudEvents reader still reads it; the notifier only adds the
``deadletter_*`` headers of ``DeadLetterV1``. The header names carry no ``ce_`` prefix on
purpose: they describe the copy, not the event, and must not turn into CloudEvents extensions.
"""

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

from pwreset_contracts.cloudevents_kafka import Headers, InvalidRecord

DEAD_LETTER_TOPIC = "notifier.dead-letter.v1"
REASON_MAX_LENGTH = 1000

_DECIMAL = r"^(0|[1-9][0-9]*)$"


class DeadLetterV1(BaseModel):
    """The headers the notifier adds to a dead-lettered record (header name = field alias)."""

    # Extra headers (the original record's ce_* and content-type) are kept, not rejected.
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    reason: str = Field(alias="deadletter_reason", min_length=1, max_length=REASON_MAX_LENGTH)
    origin_topic: str = Field(alias="deadletter_origin_topic", min_length=1, max_length=249)
    origin_partition: str = Field(alias="deadletter_origin_partition", pattern=_DECIMAL)
    origin_offset: str = Field(alias="deadletter_origin_offset", pattern=_DECIMAL)
    time: datetime = Field(alias="deadletter_time")


def dead_letter_headers(
    original_headers: Iterable[tuple[str, bytes]] | None,
    *,
    reason: str,
    origin_topic: str,
    origin_partition: int,
    origin_offset: int,
    time: datetime | None = None,
) -> Headers:
    """The headers of the dead-letter copy: the original ones, then the ``deadletter_*`` ones.

    ``reason`` is for people; it must hold no secret and no full email address (mask it first).
    It is cut to ``REASON_MAX_LENGTH`` characters so a long SMTP reply cannot break the schema.
    """
    added = DeadLetterV1(
        reason=(reason.strip() or "unspecified")[:REASON_MAX_LENGTH],
        origin_topic=origin_topic,
        origin_partition=str(origin_partition),
        origin_offset=str(origin_offset),
        time=time or datetime.now(UTC),
    )
    kept = [(name, value) for name, value in original_headers or [] if name not in _NAMES]
    dumped = added.model_dump(mode="json", by_alias=True)
    return kept + [(name, value.encode()) for name, value in dumped.items()]


def read_dead_letter(headers: Iterable[tuple[str, bytes]] | None) -> DeadLetterV1:
    """The ``deadletter_*`` headers of a record read from the dead-letter topic."""
    values: dict[str, str] = {}
    for name, raw in headers or []:
        if name in _NAMES:
            try:
                values[name] = raw.decode()
            except UnicodeDecodeError as exc:
                raise InvalidRecord(f"header {name!r} is not UTF-8") from exc
    try:
        return DeadLetterV1.model_validate(values)
    except ValueError as exc:
        raise InvalidRecord(f"not a dead letter: {exc}") from exc


_NAMES = frozenset(field.alias for field in DeadLetterV1.model_fields.values() if field.alias)
