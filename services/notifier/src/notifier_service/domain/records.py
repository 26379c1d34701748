"""A Kafka record as the notifier keys it: its CloudEvent, under an id that names the record's
content as well as the id its producer gave it.

The delivery ledger settles an event once (sent, dead-lettered, expired), and a settled event is
skipped. Keyed by the CloudEvent id alone, that id is a handle anyone who can write a topic may
reuse: a writer who saw a genuine record's id (it is in the headers and in log lines) writes a
copy under it with a field changed (a seal that no longer opens, an expiry in the past, another
event type on a topic it may write) ahead of the genuine record, e.g. while the genuine record's
partition waits for SMTP; the copy is dead-lettered or found expired, settles the id, and the
genuine email (a reset link, or the "This wasn't me" link of a password change) is never sent.

So the key is the CloudEvent id plus a digest of the type and the record's value as it came:
the same record delivered again (the relay's resend, a rebalance, a dead-letter replay, which
all carry the same bytes) has the same key and is mailed once; a copy with anything changed is
another event to the ledger and cannot settle the genuine one.

An event counts only on its own topic: the Kafka ACLs let each service write its own topics
alone, which would mean nothing if a ResetRequested written to an identity topic (by identity's
user, leaked) were mailed like one from reset. Each topic of the contracts carries one event
type; a topic outside them (the integration tests' own) has no such rule.
"""

import hashlib
from dataclasses import replace

from pwreset_contracts import TOPICS
from pwreset_contracts.cloudevents_kafka import Headers, InvalidRecord, ReceivedEvent, decode

DIGEST_CHARS = 32  # 128 bits: no writer can make a changed value share the genuine one's key


def received_event(headers: Headers, value: bytes | None, topic: str) -> ReceivedEvent:
    """The event of a record read from `topic` (`decode`), under its delivery id. Raises
    InvalidRecord, also for an event whose type belongs on another topic."""
    event = decode(headers, value)
    if TOPICS.get(topic, event.type) != event.type:
        raise InvalidRecord(f"event type {event.type!r} does not belong on topic {topic!r}")
    return replace(event, id=delivery_id(event.id, event.type, value or b""))


def delivery_id(event_id: str, event_type: str, value: bytes) -> str:
    """`<CloudEvent id>.<digest>`: the dot keeps it a valid Message-ID local part."""
    digest = hashlib.sha256(event_type.encode() + b"\0" + value).hexdigest()[:DIGEST_CHARS]
    return f"{event_id}.{digest}"


def cloudevent_id(delivery_id: str) -> str:
    """The id the producer gave the event, for people (the dead-letter listing)."""
    return delivery_id.rpartition(".")[0] or delivery_id
