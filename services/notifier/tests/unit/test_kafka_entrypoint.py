"""The Kafka entrypoint: what each record becomes for the consumer loop (commit, or pause and
retry), and what goes to the dead-letter topic; the use case behind it runs on the fakes."""

import json
from collections.abc import Sequence
from datetime import timedelta

import pytest
from aiokafka import ConsumerRecord
from notifier_service.domain.outcomes import DeliveryOutcome, Retry
from notifier_service.entrypoints.kafka_consumer import EventRecords
from notifier_service.service_layer.ports import TransientSmtpError
from pwreset_contracts.cloudevents_kafka import ReceivedEvent
from servicekit.messaging.consumer import COMMIT, PauseAndRetry

from .fakes import NOW, World, event_of, record_of, reset_record


def entrypoint(world: World) -> EventRecords:
    delivery = world.delivery()
    return EventRecords(delivery.deliver, delivery.dead_letter, delivery.deliver_all)


async def test_a_delivered_event_is_committed() -> None:
    world = World()
    assert await entrypoint(world).handle(reset_record("ada@example.com")) == COMMIT
    assert [m.recipient for m in world.sender.sent] == ["ada@example.com"]
    assert world.topic.copies == []


async def test_a_redelivered_record_is_committed_without_a_second_email() -> None:
    world = World()
    record = reset_record()
    records = entrypoint(world)
    assert await records.handle(record) == COMMIT
    assert await records.handle(record) == COMMIT
    assert len(world.sender.sent) == 1


async def test_an_undecodable_record_is_dead_lettered_as_it_came_and_committed() -> None:
    world = World()
    garbage = record_of([("ce_id", b"x"), ("ce_source", b"/it")], b"\xff not json")
    records = entrypoint(world)
    assert await records.handle(garbage) == COMMIT
    ((copied, reason),) = world.topic.copies
    assert copied is garbage and reason.startswith("invalid record: not a CloudEvent")
    assert records.dead_lettered_total == 1
    assert world.ledger.dead_letters[("password-reset.requested.v1", 0, 7)] == (None, reason)


async def test_an_unknown_event_type_is_dead_lettered() -> None:
    world = World()
    unknown = record_of(
        [
            ("ce_specversion", b"1.0"),
            ("ce_id", b"y"),
            ("ce_source", b"/it"),
            ("ce_type", b"com.example.unknown.v1"),
        ],
        b"{}",
    )
    assert await entrypoint(world).handle(unknown) == COMMIT
    ((_, reason),) = world.topic.copies
    assert reason == "invalid record: unknown event type 'com.example.unknown.v1'"


async def test_smtp_away_pauses_and_retries_without_committing() -> None:
    world = World()
    world.ledger.away = True
    step = await entrypoint(world).handle(reset_record())
    assert step == PauseAndRetry("ConnectionRefusedError: [Errno 111] Connection refused")


async def test_a_forged_record_is_dead_lettered_with_its_event_id_never_mailed() -> None:
    world = World()
    forged = reset_record("ada@example.com", email="mallory@evil.example")
    assert await entrypoint(world).handle(forged) == COMMIT
    assert world.sender.sent == []
    ((_, reason),) = world.topic.copies
    assert reason.startswith("UnboundSeal: sealed link does not open")
    assert world.ledger.status(event_of(forged).id) == "dead_lettered"


async def test_a_dead_letter_topic_away_pauses_and_retries() -> None:
    world = World()
    world.topic.away = True
    garbage = record_of([], b"x")
    records = entrypoint(world)
    assert await records.handle(garbage) == PauseAndRetry("TimeoutError: no broker answered")
    assert records.dead_lettered_total == 0
    world.topic.away = False
    assert await records.handle(garbage) == COMMIT


async def test_a_bug_dead_letters_the_record_so_the_partition_moves_on() -> None:
    world = World()

    async def buggy(event: ReceivedEvent) -> Retry:
        raise KeyError("bug")

    delivery = world.delivery()
    records = EventRecords(buggy, delivery.dead_letter)
    assert await records.handle(reset_record()) == COMMIT
    ((_, reason),) = world.topic.copies
    assert reason == "unexpected KeyError: 'bug'"


async def test_a_batch_is_one_delivery_and_one_step_per_record_in_order() -> None:
    world = World()
    garbage = record_of([], b"x", offset=2)
    forged = reset_record("ada@example.com", email="mallory@evil.example", offset=3)
    batch = [reset_record("a@example.com", offset=1), garbage, forged]
    batch += [reset_record("b@example.com", offset=4)]
    steps = await entrypoint(world).handle_batch(batch)
    assert steps == [COMMIT] * 4
    assert sorted(m.recipient for m in world.sender.sent) == ["a@example.com", "b@example.com"]
    assert [copied.offset for copied, _ in world.topic.copies] == [2, 3]
    assert (world.ledger.claims, world.ledger.writes) == (1, 1)


async def test_a_batch_while_smtp_refuses_asks_for_a_retry_of_every_record() -> None:
    world = World()
    world.sender.fail_with = TransientSmtpError("451 4.3.0 try later", maybe_accepted=False)
    batch = [reset_record(f"u{n}@example.com", offset=n) for n in range(3)]
    steps = await entrypoint(world).handle_batch(batch)
    assert steps == [PauseAndRetry("TransientSmtpError: 451 4.3.0 try later")] * 3
    assert world.sender.sent == [] and world.topic.copies == []


async def test_a_bug_in_a_batch_handles_its_records_one_by_one_and_dead_letters_only_it() -> None:
    world = World()
    delivery = world.delivery()

    async def buggy_batch(events: Sequence[ReceivedEvent]) -> list[DeliveryOutcome]:
        raise KeyError("bug")

    bad = reset_record("bad@example.com", offset=2)
    bad_id = event_of(bad).id

    async def deliver(event: ReceivedEvent) -> DeliveryOutcome:
        if event.id == bad_id:
            raise KeyError("bug")
        return await delivery.deliver(event)

    records = EventRecords(deliver, delivery.dead_letter, buggy_batch)
    batch = [reset_record("a@example.com", offset=1), bad, reset_record("c@example.com", offset=3)]
    assert await records.handle_batch(batch) == [COMMIT] * 3
    assert sorted(m.recipient for m in world.sender.sent) == ["a@example.com", "c@example.com"]
    ((copied, reason),) = world.topic.copies
    assert copied is bad and reason == "unexpected KeyError: 'bug'"


async def test_one_by_one_stops_a_partition_at_its_first_retry() -> None:
    """After a record that must be retried, the rest of its partition waits (per-key order)."""
    world = World()
    delivery = world.delivery()

    async def buggy_batch(events: Sequence[ReceivedEvent]) -> list[DeliveryOutcome]:
        raise KeyError("bug")

    records = EventRecords(delivery.deliver, delivery.dead_letter, buggy_batch)
    world.sender.fail_for["a@example.com"] = TransientSmtpError("451", maybe_accepted=False)
    batch = [reset_record("a@example.com", offset=1), reset_record("b@example.com", offset=2)]
    steps = await records.handle_batch(batch)
    assert steps[0] == PauseAndRetry("TransientSmtpError: 451")
    assert isinstance(steps[1], PauseAndRetry)
    assert world.sender.tried == ["a@example.com"]  # b waits for a: same partition


def copy_under_its_id(record: ConsumerRecord[bytes, bytes], **changes: object) -> ConsumerRecord:
    """What a writer who saw a genuine record (its ce_id is in the headers, and in log lines)
    writes ahead of it: the same CloudEvent id, fields the seal does not bind changed."""
    data = {**json.loads(record.value or b""), **changes}
    return record_of(list(record.headers), json.dumps(data).encode(), key=b"other", offset=99)


FORGERIES = {
    "seal that does not open": {"email": "mallory@evil.example"},
    "expiry in the past": {"expires_at": (NOW - timedelta(minutes=5)).isoformat()},
}


@pytest.mark.parametrize("changes", FORGERIES.values(), ids=FORGERIES.keys())
async def test_a_copy_under_the_genuine_id_handled_first_does_not_suppress_the_email(
    changes: dict[str, object],
) -> None:
    """The attack: the genuine record waits (its partition is paused on a retry, or simply later)
    while a copy under its ce_id is dead-lettered or found expired. The genuine record must still
    become its email."""
    world = World()
    genuine = reset_record("ada@example.com")
    records = entrypoint(world)
    assert await records.handle(copy_under_its_id(genuine, **changes)) == COMMIT
    assert world.sender.sent == []
    assert await records.handle(genuine) == COMMIT
    assert [m.recipient for m in world.sender.sent] == ["ada@example.com"]


@pytest.mark.parametrize("changes", FORGERIES.values(), ids=FORGERIES.keys())
async def test_a_copy_under_the_genuine_id_in_the_same_batch_does_not_suppress_the_email(
    changes: dict[str, object],
) -> None:
    world = World()
    genuine = reset_record("ada@example.com")
    records = entrypoint(world)
    steps = await records.handle_batch([copy_under_its_id(genuine, **changes), genuine])
    for _ in range(3):  # what the loop does with a record to retry: hand it in again
        if steps[1] == COMMIT:
            break
        steps[1] = await records.handle(genuine)
    assert steps[1] == COMMIT
    assert [m.recipient for m in world.sender.sent] == ["ada@example.com"]


async def test_an_event_on_a_topic_that_is_not_its_own_is_dead_lettered_not_mailed() -> None:
    """The ACLs let identity's user write identity.* only, so reset's events can come from reset
    alone; unless the notifier took a ResetRequested from identity's topic. The attack: a leaked
    identity credential writes a copy of a reset record (a fresh ce_id) there."""
    world = World()
    genuine = reset_record("ada@example.com")
    headers = [
        (name, b"0f6e3c1e-0000-4000-8000-000000000001" if name == "ce_id" else value)
        for name, value in genuine.headers
    ]
    smuggled = record_of(headers, genuine.value, topic="identity.password-changed.v1")
    assert await entrypoint(world).handle(smuggled) == COMMIT
    assert world.sender.sent == []
    ((_, reason),) = world.topic.copies
    assert reason == (
        "invalid record: event type 'pwreset.password-reset.requested.v1' does not belong on "
        "topic 'identity.password-changed.v1'"
    )
