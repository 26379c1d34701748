"""The delivery use case against in-memory fakes: once per event, retry or dead letter by what
failed, the interrupted-resend window counted, and 25 concurrent hand-outs of one event."""

import asyncio
from datetime import timedelta

from notifier_service import metrics
from notifier_service.domain.outcomes import (
    AlreadyDelivered,
    DeadLetter,
    DeadLettered,
    Delivered,
    Expired,
    Retry,
)
from notifier_service.service_layer.ports import PermanentSmtpError, TransientSmtpError

from .fakes import Row, World, event_of, reset_record


def counted(metric: object) -> float:
    return metric._value.get()  # type: ignore[attr-defined]


async def test_an_event_becomes_one_email_recorded_as_sent() -> None:
    world = World()
    event = event_of(reset_record("ada@example.com"))
    assert await world.delivery().deliver(event) == Delivered()
    (message,) = world.sender.sent
    assert message["To"] == "ada@example.com"
    assert message["Message-ID"] == f"<{event.id}@example.com>"
    assert world.ledger.status(event.id) == "sent"


async def test_a_redelivered_event_is_not_sent_twice() -> None:
    world = World()
    event = event_of(reset_record())
    delivery = world.delivery()
    assert await delivery.deliver(event) == Delivered()
    assert await delivery.deliver(event) == AlreadyDelivered()
    assert len(world.sender.sent) == 1


async def test_25_concurrent_hand_outs_of_one_event_send_one_email() -> None:
    """Rebalances and a second instance hand out the same record at once: the claim makes all
    but one wait, and they find it sent."""
    world = World()
    event = event_of(reset_record())
    outcomes = await asyncio.gather(*(world.delivery().deliver(event) for _ in range(25)))
    assert outcomes.count(Delivered()) == 1
    assert outcomes.count(AlreadyDelivered()) == 24
    assert len(world.sender.sent) == 1


async def test_smtp_refusing_for_now_is_a_retry_and_nothing_is_recorded_as_sent() -> None:
    world = World()
    world.sender.fail_with = TransientSmtpError("451 4.3.0 try later", maybe_accepted=False)
    event = event_of(reset_record())
    outcome = await world.delivery().deliver(event)
    assert outcome == Retry("TransientSmtpError: 451 4.3.0 try later")
    assert world.ledger.status(event.id) == "failed"  # refused: nothing accepted, not 'sending'
    assert world.sender.sent == []
    world.sender.fail_with = None
    assert await world.delivery().deliver(event) == Delivered()  # not counted as interrupted
    assert world.ledger.status(event.id) == "sent"


async def test_a_permanent_smtp_refusal_is_dead_lettered() -> None:
    world = World()
    world.sender.fail_with = PermanentSmtpError("550 5.1.1 <a***@example.com>: no such user")
    event = event_of(reset_record())
    outcome = await world.delivery().deliver(event)
    assert outcome == DeadLetter("PermanentSmtpError: 550 5.1.1 <a***@example.com>: no such user")
    assert world.ledger.status(event.id) == "failed"


async def test_another_instance_holding_the_event_is_a_retry() -> None:
    world = World()
    event = event_of(reset_record())
    world.ledger.busy.add(event.id)
    outcome = await world.delivery().deliver(event)
    assert isinstance(outcome, Retry) and outcome.reason.startswith("DeliveryBusy: event ")
    assert world.sender.sent == []


async def test_the_ledger_database_away_is_a_retry_naming_the_driver_error() -> None:
    world = World()
    world.ledger.away = True
    outcome = await world.delivery().deliver(event_of(reset_record()))
    assert outcome == Retry("ConnectionRefusedError: [Errno 111] Connection refused")
    assert world.sender.sent == []


async def test_an_attempt_interrupted_after_its_claim_is_resent_and_counted() -> None:
    world = World()
    event = event_of(reset_record())
    # What a notifier killed between the SMTP accept and its ledger write leaves behind.
    world.ledger.rows[event.id] = Row(event.type, "sending", attempts=1)
    before = counted(metrics.INTERRUPTED_RESENDS)
    assert await world.delivery().deliver(event) == Delivered(resent_after_interruption=True)
    assert counted(metrics.INTERRUPTED_RESENDS) == before + 1
    assert await world.delivery().deliver(event) == AlreadyDelivered()  # and never again
    assert len(world.sender.sent) == 1


async def test_a_send_that_may_have_been_accepted_leaves_the_claim_open_for_the_count() -> None:
    """A timeout after the data went out: the server may have it. The row stays 'sending', so a
    redelivery handled by another process is counted as an interrupted resend."""
    world = World()
    world.sender.fail_with = TransientSmtpError("TimeoutError", maybe_accepted=True)
    event = event_of(reset_record())
    assert isinstance(await world.delivery().deliver(event), Retry)
    assert world.ledger.status(event.id) == "sending"


async def test_a_ledger_write_lost_after_smtp_accepted_is_recorded_not_resent() -> None:
    world = World()
    world.ledger.lose_next_record_sent = True
    event = event_of(reset_record())
    delivery = world.delivery()
    before = counted(metrics.INTERRUPTED_RESENDS)
    assert await delivery.deliver(event) == Retry("ConnectionResetError: connection lost")
    assert world.ledger.status(event.id) == "sending"  # accepted: never marked refused
    assert await delivery.deliver(event) == AlreadyDelivered(recorded_now=True)
    assert world.ledger.status(event.id) == "sent"
    assert len(world.sender.sent) == 1
    assert counted(metrics.INTERRUPTED_RESENDS) == before  # this process knew it had sent it


async def test_an_expired_link_is_settled_without_an_email() -> None:
    world = World()
    event = event_of(reset_record(minutes_valid=30))
    world.clock.now += timedelta(minutes=31)
    assert await world.delivery().deliver(event) == Expired()
    assert world.sender.sent == []
    assert world.ledger.status(event.id) == "sent"


async def test_a_record_copied_to_another_recipient_is_dead_lettered_not_mailed() -> None:
    world = World()
    forged = event_of(reset_record("ada@example.com", email="mallory@evil.example"))
    before = metrics.UNBOUND_SEALS.labels(forged.type)._value.get()
    outcome = await world.delivery().deliver(forged)
    assert outcome == DeadLetter(
        "UnboundSeal: sealed link does not open under the record's own fields "
        "(event id, account id, recipient)"
    )
    assert world.sender.sent == []
    assert world.ledger.status(forged.id) == "failed"
    assert metrics.UNBOUND_SEALS.labels(forged.type)._value.get() == before + 1


async def test_a_seal_under_a_key_we_do_not_hold_is_dead_lettered() -> None:
    world = World()
    outcome = await world.delivery().deliver(event_of(reset_record(kid="retired")))
    assert outcome == DeadLetter("UnboundSeal: no key with id 'retired'")


async def test_a_bug_in_sending_propagates_and_the_claim_is_given_back() -> None:
    world = World()
    world.sender.fail_with = RuntimeError("bug")
    event = event_of(reset_record())
    try:
        await world.delivery().deliver(event)
    except RuntimeError:
        pass
    else:
        raise AssertionError("a bug must reach the entrypoint, which dead-letters the record")
    assert world.ledger.status(event.id) == "failed"


async def test_dead_letter_copies_once_settles_the_event_and_masks_addresses() -> None:
    world = World()
    record = reset_record("ada@example.com")
    event = event_of(record)
    delivery = world.delivery()
    before = counted(metrics.DEAD_LETTERS)
    reason = "PermanentSmtpError: 550 <ada@example.com> " + "x" * 600
    assert await delivery.dead_letter(record, reason, event) == DeadLettered()
    assert await delivery.dead_letter(record, reason, event) == DeadLettered()  # redelivered
    ((copied, copied_reason),) = world.topic.copies  # copied once
    assert copied is record
    assert "ada@example.com" not in copied_reason and "a***@example.com" in copied_reason
    assert len(copied_reason) == 500
    assert world.ledger.status(event.id) == "dead_lettered"
    assert world.ledger.dead_letters[(record.topic, record.partition, record.offset)][0] == event.id
    assert counted(metrics.DEAD_LETTERS) == before + 2


async def test_dead_letter_retries_while_the_topic_or_the_ledger_is_away() -> None:
    world = World()
    record = reset_record()
    world.topic.away = True
    outcome = await world.delivery().dead_letter(record, "invalid record: x")
    assert outcome == Retry("TimeoutError: no broker answered")
    assert world.ledger.dead_letters == {}  # nothing settled: the copy comes first
    world.topic.away, world.ledger.away = False, True
    assert isinstance(await world.delivery().dead_letter(record, "invalid record: x"), Retry)
