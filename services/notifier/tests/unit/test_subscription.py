"""What the notifier reads from Kafka: the topics of the events it mails, and nothing else."""

import uuid
from datetime import UTC, datetime

from notifier_service import bootstrap
from notifier_service.domain.composition import MAILED_EVENTS
from notifier_service.entrypoints.kafka_consumer import EventRecords
from pwreset_contracts import TOPICS, AdminActionAuditedV1, cloudevents_kafka

from .fakes import World, record_of


def test_the_notifier_reads_no_topic_it_has_no_email_for() -> None:
    """Subscribed to every topic of the contracts, the notifier dead-lettered each support
    action's audit record (identity.admin-action-audited.v1, documented as read by no service of
    the platform): the dead-letters alert fired on routine support work, drowning the dead
    letters that matter (forged records), and the audit trail was copied to the dead-letter
    topic."""
    assert AdminActionAuditedV1.topic not in bootstrap.TOPICS
    assert sorted(bootstrap.TOPICS) == sorted(event.topic for event in MAILED_EVENTS)
    assert set(bootstrap.TOPICS) < set(TOPICS)


async def test_an_audit_record_has_no_email_and_would_be_dead_lettered() -> None:
    """Why the subscription matters."""
    world = World()
    delivery = world.delivery()
    audit = AdminActionAuditedV1(
        audit_id=uuid.uuid4(), occurred_at=datetime.now(UTC), actor="sam", role="support",
        action="account_looked_up",
    )  # fmt: skip
    encoded = cloudevents_kafka.encode(audit, source="/pwreset/identity")
    record = record_of(encoded.headers, encoded.value, topic=audit.topic)
    await EventRecords(delivery.deliver, delivery.dead_letter).handle(record)
    ((_, reason),) = world.topic.copies
    assert reason.startswith("UndeliverableEvent: no email for event type")
