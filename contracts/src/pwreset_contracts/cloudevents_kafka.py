"""CloudEvents 1.0 in Kafka binary content mode.

Attributes travel as ``ce_*`` headers, the event data as the JSON record value, and
``content-type`` says so. Any CloudEvents SDK reads these records.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from pwreset_contracts.events import EVENT_TYPES, Event

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

Headers = list[tuple[str, bytes]]


class InvalidRecord(ValueError):
    """A record that is not one of our events (missing attributes, unknown type, bad data)."""


@dataclass(frozen=True)
class KafkaRecord:
    topic: str
    key: bytes
    value: bytes
    headers: Headers


@dataclass(frozen=True)
class ReceivedEvent:
    id: str
    type: str
    source: str
    time: datetime
    data: Event
    extensions: dict[str, str]
    dataschema: str | None = None  # absent on records written before contracts 1.1


def encode(
    event: Event,
    *,
    source: str,
    event_id: str | None = None,
    time: datetime | None = None,
    extensions: dict[str, str] | None = None,
) -> KafkaRecord:
    when = time or datetime.now(UTC)
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", (event_id or str(uuid.uuid4())).encode()),
        ("ce_source", source.encode()),
        ("ce_type", event.ce_type.encode()),
        ("ce_time", when.isoformat().replace("+00:00", "Z").encode()),
        # Which schema the data follows: resolve it with schemas_on_disk.resolve_dataschema.
        ("ce_dataschema", event.dataschema().encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    for name, value in (extensions or {}).items():
        headers.append((f"ce_{name}", value.encode()))
    return KafkaRecord(
        topic=event.topic,
        key=event.partition_key().encode(),
        value=event.model_dump_json().encode(),
        headers=headers,
    )


_REQUIRED = ("specversion", "id", "source", "type")


def decode(headers: Headers | None, value: bytes | None) -> ReceivedEvent:
    attrs: dict[str, str] = {}
    content_type = None
    for name, raw in headers or []:
        try:
            text = raw.decode()
        except (UnicodeDecodeError, AttributeError) as exc:
            raise InvalidRecord(f"header {name!r} is not UTF-8") from exc
        if name.startswith("ce_"):
            attrs[name[3:]] = text
        elif name.lower() == "content-type":
            content_type = text
    missing = [a for a in _REQUIRED if a not in attrs]
    if missing:
        raise InvalidRecord(f"not a CloudEvent in binary mode: missing {', '.join(missing)}")
    if attrs["specversion"] != SPEC_VERSION:
        raise InvalidRecord(f"unsupported specversion {attrs['specversion']!r}")
    if content_type is not None and not content_type.startswith(CONTENT_TYPE):
        raise InvalidRecord(f"unsupported content-type {content_type!r}")
    model = EVENT_TYPES.get(attrs["type"])
    if model is None:
        raise InvalidRecord(f"unknown event type {attrs['type']!r}")
    try:
        payload: Any = json.loads(value or b"")
        data = model.model_validate(payload)
        time = datetime.fromisoformat(attrs["time"]) if "time" in attrs else datetime.now(UTC)
    except (ValueError, ValidationError) as exc:
        raise InvalidRecord(f"invalid {attrs['type']} data: {exc}") from exc
    known = {*_REQUIRED, "time", "dataschema"}
    return ReceivedEvent(
        id=attrs["id"],
        type=attrs["type"],
        source=attrs["source"],
        time=time,
        data=data,
        extensions={k: v for k, v in attrs.items() if k not in known},
        dataschema=attrs.get("dataschema"),
    )
