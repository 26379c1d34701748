"""The Kafka entrypoint: what each record becomes for the consumer loop (commit, or pause and
retry), and what goes to the dead-letter topic; the use case behind it runs on the fakes."""

from notifier_service.domain.outcomes import Retry
from notifier_service.entrypoints.kafka_consumer import EventRecords
from pwreset_contracts.cloudevents_kafka import ReceivedEvent
from servicekit.messaging.consumer import COMMIT, PauseAndRetry

from .fakes import World, event_of, record_of, reset_record


def entrypoint(world: World) -> EventRecords:
    delivery = world.delivery()
    return EventRecords(delivery.deliver, delivery.dead_letter)


async def test_a_delivered_event_is_committed() -> None:
    world = World()
    assert await entrypoint(world).handle(reset_record("ada@example.com")) == COMMIT
    assert [m["To"] for m in world.sender.sent] == ["ada@example.com"]
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
