"""The delivery use case against in-memory fakes: once per event, retry or dead letter by what
failed, the interrupted-resend window counted, and 25 concurrent hand-outs of one event."""

import asyncio
import uuid
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
    assert message.recipient == "ada@example.com"
    assert message.message_id == f"<{event.id}@example.com>"
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
        "(event id, account id, recipient, and what the email says)"
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


# -- batches --------------------------------------------------------------------------------
async def test_a_batch_is_claimed_once_and_recorded_in_few_writes_each_event_one_email() -> None:
    world = World()
    world.ledger.write_seconds = 0.005  # a round trip: the sends meanwhile share the next write
    events = [event_of(reset_record(f"user{n}@example.com")) for n in range(30)]
    outcomes = await world.delivery().deliver_all(events)
    assert outcomes == [Delivered()] * 30
    assert sorted(m.recipient for m in world.sender.sent) == sorted(
        f"user{n}@example.com" for n in range(30)
    )
    assert world.ledger.claims == 1 and world.ledger.writes <= 3
    assert {world.ledger.status(e.id) for e in events} == {"sent"}


async def test_an_accepted_email_is_recorded_within_two_writes_not_after_its_batch() -> None:
    """The window between "accepted" and "recorded" (a crash in it means a second copy) stays
    one or two ledger round trips, however long the batch takes to send."""
    world = World()
    world.sender.seconds = world.ledger.write_seconds = 0.005
    events = [event_of(reset_record(f"user{n}@example.com")) for n in range(8)]
    unrecorded_at_each_send: list[int] = []

    def count_unrecorded(_: object) -> None:
        sent = {m.message_id_local_part for m in world.sender.sent}
        unrecorded_at_each_send.append(
            sum(1 for e in events if e.id in sent and world.ledger.status(e.id) != "sent")
        )

    world.sender.on_send = count_unrecorded
    assert await world.delivery(sends_at_once=1).deliver_all(events) == [Delivered()] * 8
    assert max(unrecorded_at_each_send) <= 2


async def test_a_batch_sends_side_by_side_but_one_accounts_emails_in_order() -> None:
    """Events of one account (one Kafka key) go out one after the other, in order, as they
    would from their partition; other accounts' alongside."""
    world = World()
    world.sender.seconds = 0.01
    accounts = [uuid.uuid4() for _ in range(3)]
    events = [
        event_of(reset_record(f"user{n % 3}@example.com", account_id=accounts[n % 3]))
        for n in range(12)
    ]
    assert await world.delivery(sends_at_once=4).deliver_all(events) == [Delivered()] * 12
    assert world.sender.most_at_once == 3  # three accounts, never more than four at once
    assert not world.sender.overlapped_per_recipient
    for n in range(3):
        sent = [m.message_id for m in world.sender.sent_to(f"user{n}@example.com")]
        assert sent == [f"<{e.id}@example.com>" for e in events[n::3]]


async def test_a_batch_never_sends_more_at_once_than_the_sender_has_connections() -> None:
    world = World()
    world.sender.seconds = 0.01
    events = [event_of(reset_record(f"user{n}@example.com")) for n in range(20)]
    assert await world.delivery(sends_at_once=3).deliver_all(events) == [Delivered()] * 20
    assert world.sender.most_at_once == 3


async def test_after_a_try_later_failure_no_new_send_starts_and_nothing_is_left_sending() -> None:
    """A server down or refusing for now: one failure, not one timeout per email; the events
    not tried are given back ('failed'), so a redelivery is not counted as interrupted."""
    world = World()
    events = [event_of(reset_record(f"user{n}@example.com")) for n in range(5)]
    world.sender.fail_for["user1@example.com"] = TransientSmtpError(
        "451 4.3.0 try later", maybe_accepted=False
    )
    outcomes = await world.delivery(sends_at_once=1).deliver_all(events)
    assert outcomes[0] == Delivered()
    assert outcomes[1:] == [Retry("TransientSmtpError: 451 4.3.0 try later")] * 4
    assert world.sender.tried == ["user0@example.com", "user1@example.com"]
    assert [world.ledger.status(e.id) for e in events] == ["sent"] + ["failed"] * 4
    world.sender.fail_for.clear()
    before = counted(metrics.INTERRUPTED_RESENDS)
    assert await world.delivery().deliver_all(events) == [AlreadyDelivered()] + [Delivered()] * 4
    assert counted(metrics.INTERRUPTED_RESENDS) == before
    assert len(world.sender.sent) == 5


async def test_an_email_after_a_failed_one_of_the_same_account_waits_for_it() -> None:
    world = World()
    account = uuid.uuid4()
    first, second = (event_of(reset_record("ada@example.com", account_id=account)) for _ in "12")
    other = event_of(reset_record("bob@example.com"))
    world.sender.fail_for["ada@example.com"] = TransientSmtpError(
        "TimeoutError", maybe_accepted=True
    )
    outcomes = await world.delivery().deliver_all([first, other, second])
    assert isinstance(outcomes[0], Retry) and isinstance(outcomes[2], Retry)
    assert world.sender.tried.count("ada@example.com") == 1  # the second was never tried
    # The first may have reached the server: its claim stays open for the count.
    assert world.ledger.status(first.id) == "sending"
    assert world.ledger.status(second.id) == "failed"


async def test_a_permanent_refusal_dead_letters_that_email_only() -> None:
    world = World()
    events = [event_of(reset_record(f"user{n}@example.com")) for n in range(3)]
    world.sender.fail_for["user1@example.com"] = PermanentSmtpError("550 5.1.1 no such user")
    outcomes = await world.delivery().deliver_all(events)
    assert outcomes == [
        Delivered(),
        DeadLetter("PermanentSmtpError: 550 5.1.1 no such user"),
        Delivered(),
    ]
    assert world.ledger.status(events[1].id) == "failed"


async def test_the_same_event_twice_in_a_batch_is_one_email() -> None:
    """The relay may publish a record twice; both copies can arrive in one fetch."""
    world = World()
    event, other = event_of(reset_record()), event_of(reset_record("bob@example.com"))
    outcomes = await world.delivery().deliver_all([event, other, event])
    assert outcomes == [Delivered(), Delivered(), AlreadyDelivered()]
    assert len(world.sender.sent) == 2


async def test_an_event_another_instance_holds_is_retried_without_holding_up_the_batch() -> None:
    world = World()
    held, free = event_of(reset_record()), event_of(reset_record("bob@example.com"))
    world.ledger.busy.add(held.id)
    outcomes = await world.delivery().deliver_all([held, free])
    assert outcomes[1] == Delivered()
    assert isinstance(outcomes[0], Retry) and outcomes[0].reason.startswith("DeliveryBusy: ")
    assert [m.recipient for m in world.sender.sent] == ["bob@example.com"]


async def test_25_concurrent_batches_of_the_same_events_send_each_once() -> None:
    """Two instances and rebalances hand out overlapping batches at once: whichever claims an
    event first sends it; the others skip it or retry it, and a retry finds it sent."""
    world = World()
    world.sender.seconds = 0.001
    events = [event_of(reset_record(f"user{n}@example.com")) for n in range(8)]
    batches = [events[n % 3 :] + events[: n % 3] for n in range(25)]
    delivery = world.delivery()
    results = await asyncio.gather(
        *(delivery.deliver_all(batch, wait=n % 2 == 0) for n, batch in enumerate(batches))
    )
    retried = {
        event.id: event
        for outcomes, batch in zip(results, batches, strict=True)
        for outcome, event in zip(outcomes, batch, strict=True)
        if isinstance(outcome, Retry)
    }
    for event in retried.values():  # a retry delivers it now, or finds it delivered
        assert await delivery.deliver(event) in (Delivered(), AlreadyDelivered())
    assert sorted(m.recipient for m in world.sender.sent) == sorted(
        f"user{n}@example.com" for n in range(8)
    )
    delivered = [o for r in results for o in r if isinstance(o, Delivered)]
    assert len(delivered) <= 8


async def test_the_ledger_away_after_a_batch_was_accepted_records_it_on_retry_only() -> None:
    world = World()
    events = [event_of(reset_record(f"user{n}@example.com")) for n in range(4)]
    world.ledger.lose_next_record_sent = True
    delivery = world.delivery()
    assert (
        await delivery.deliver_all(events) == [Retry("ConnectionResetError: connection lost")] * 4
    )
    assert await delivery.deliver_all(events) == [AlreadyDelivered(recorded_now=True)] * 4
    assert len(world.sender.sent) == 4
    assert {world.ledger.status(e.id) for e in events} == {"sent"}


async def test_a_bug_in_one_send_settles_the_rest_and_propagates() -> None:
    world = World()
    events = [event_of(reset_record(f"user{n}@example.com")) for n in range(3)]
    world.sender.fail_for["user1@example.com"] = RuntimeError("bug")
    try:
        await world.delivery().deliver_all(events)
    except RuntimeError:
        pass
    else:
        raise AssertionError("a bug must reach the entrypoint, which handles one by one")
    assert [world.ledger.status(e.id) for e in events] == ["sent", "failed", "sent"]
