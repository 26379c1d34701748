"""Attacks by a writer on identity's topics who copies a genuine record and changes what the email
says (two-factor "turned on" becomes "removed by support"), or writes an "already registered"
notice to any address: the seal must not open, so the record is dead-lettered, never mailed.

Genuine records are sealed with the binding their own model names (`undo_link_binding`,
`link_binding`), as identity does; the forgeries change fields after sealing."""

import uuid
from datetime import timedelta

import pytest
from aiokafka.structs import ConsumerRecord
from notifier_service.domain.composition import EmailComposer, UnboundSeal, UndeliverableEvent
from notifier_service.entrypoints.kafka_consumer import EventRecords
from pwreset_contracts import RegistrationRequestedV1, SecondFactorChangedV1, cloudevents_kafka
from pwreset_contracts.events import Event, SealedValue
from pwreset_contracts.sealed import seal
from servicekit.messaging.consumer import COMMIT

from .fakes import KEY, NOW, World, event_of, parsed, record_of
from .test_identity_emails import UNDO, received

PLACEHOLDER = SealedValue(kid="k1", nonce="AAAAAAAAAAAAAAAA", ciphertext="AAAA")


def composer() -> EmailComposer:
    return EmailComposer(link_keys={}, notice_keys={"k1": KEY}, mail_from="A <no-reply@ex.com>")


def turned_on(**fields: object) -> SecondFactorChangedV1:
    """A genuine "two-factor was turned on" notice, sealed as identity seals it."""
    event = SecondFactorChangedV1(
        **{
            "change_id": uuid.uuid4(),
            "account_id": uuid.uuid4(),
            "email": "ada@example.com",
            "locale": "en",
            "changed_at": NOW - timedelta(seconds=3),
            "change": "enabled",
            "actor": "account_holder",
            "client_ip": "203.0.113.7",
            "sealed_undo_link": PLACEHOLDER,
            **fields,
        }
    )
    sealed = seal(UNDO, key=KEY, kid="k1", associated_data=event.undo_link_binding())
    return event.model_copy(update={"sealed_undo_link": sealed})


def already_registered(email: str = "ada@example.com") -> RegistrationRequestedV1:
    """A genuine "you already have an account" notice, sealed as identity seals it."""
    event = RegistrationRequestedV1(
        registration_id=uuid.uuid4(),
        email=email,
        locale="en",
        requested_at=NOW,
        expires_at=NOW + timedelta(hours=24),
        kind="already_registered",
        sealed_link=PLACEHOLDER,
    )
    sealed = seal("", key=KEY, kid="k1", associated_data=event.link_binding())
    return event.model_copy(update={"sealed_link": sealed})


# What the forger changes in a copy of the genuine "turned on" record: each makes the email say
# something that did not happen (or at another time, or in another language).
SECOND_FACTOR_FORGERIES = {
    "removed by support": {"change": "disabled", "actor": "support"},
    "turned off": {"change": "disabled"},
    "turned on by support": {"actor": "support"},
    "another time": {"changed_at": NOW - timedelta(days=2)},
    "another language": {"locale": "de"},
}


def test_a_genuine_second_factor_notice_is_mailed() -> None:
    composed = composer().compose(received(turned_on()), NOW)
    assert composed is not None
    assert parsed(composed)["Subject"] == "Two-factor authentication was turned on"


@pytest.mark.parametrize("changes", SECOND_FACTOR_FORGERIES.values(), ids=SECOND_FACTOR_FORGERIES)
def test_a_copy_that_changes_what_the_second_factor_notice_says_is_not_mailed(
    changes: dict[str, object],
) -> None:
    forged = turned_on().model_copy(update=changes)
    with pytest.raises(UnboundSeal):
        composer().compose(received(forged), NOW)


def test_an_unsealed_already_registered_notice_is_not_mailed() -> None:
    """Without a seal anybody writing the topic could send our notice to any address."""
    unsealed = already_registered("victim@example.org").model_copy(update={"sealed_link": None})
    with pytest.raises(UndeliverableEvent):
        composer().compose(received(unsealed), NOW)


def test_an_already_registered_notice_copied_to_another_address_is_not_mailed() -> None:
    forged = already_registered().model_copy(update={"email": "victim@example.org"})
    with pytest.raises(UnboundSeal):
        composer().compose(received(forged), NOW)


def test_a_verification_record_relabelled_already_registered_is_not_mailed() -> None:
    """The verification link's seal does not vouch for the other email."""
    verify = RegistrationRequestedV1(
        registration_id=uuid.uuid4(),
        email="ada@example.com",
        requested_at=NOW,
        expires_at=NOW + timedelta(hours=24),
        kind="verify_address",
        sealed_link=PLACEHOLDER,
    )
    sealed = seal("https://id.example.com/verify-email?token=t", key=KEY, kid="k1",
                  associated_data=verify.link_binding())  # fmt: skip
    relabelled = verify.model_copy(update={"sealed_link": sealed, "kind": "already_registered"})
    with pytest.raises(UnboundSeal):
        composer().compose(received(relabelled), NOW)


def test_a_genuine_already_registered_notice_is_mailed() -> None:
    composed = composer().compose(received(already_registered()), NOW)
    assert composed is not None
    assert parsed(composed)["Subject"] == "You already have an account"


# -- through the Kafka entrypoint: the record as the relay writes it, JSON and all -------------
def identity_record(event: Event, offset: int = 7) -> ConsumerRecord[bytes, bytes]:
    encoded = cloudevents_kafka.encode(event, source="/pwreset/identity", time=NOW)
    return record_of(
        encoded.headers, encoded.value, key=encoded.key, offset=offset, topic=event.topic
    )


def entrypoint(world: World) -> EventRecords:
    delivery = world.delivery()
    return EventRecords(delivery.deliver, delivery.dead_letter, delivery.deliver_all)


async def test_genuine_identity_records_survive_their_encoding_and_are_mailed() -> None:
    world = World()
    records = entrypoint(world)
    assert await records.handle(identity_record(turned_on(), offset=1)) == COMMIT
    assert await records.handle(identity_record(already_registered(), offset=2)) == COMMIT
    assert world.topic.copies == []
    assert len(world.sender.sent) == 2


@pytest.mark.parametrize("changes", SECOND_FACTOR_FORGERIES.values(), ids=SECOND_FACTOR_FORGERIES)
async def test_a_changed_second_factor_record_is_dead_lettered(changes: dict[str, object]) -> None:
    world = World()
    forged = identity_record(turned_on().model_copy(update=changes))
    assert await entrypoint(world).handle(forged) == COMMIT
    assert world.sender.sent == []
    ((_, reason),) = world.topic.copies
    assert reason.startswith("UnboundSeal: sealed link does not open")
    assert world.ledger.status(event_of(forged).id) == "dead_lettered"


async def test_an_unsealed_already_registered_record_is_dead_lettered() -> None:
    world = World()
    unsealed = already_registered("victim@example.org").model_copy(update={"sealed_link": None})
    record = identity_record(unsealed)
    assert await entrypoint(world).handle(record) == COMMIT
    assert world.sender.sent == []
    ((_, reason),) = world.topic.copies
    assert reason == "UndeliverableEvent: already_registered without a sealed link"
    assert world.ledger.status(event_of(record).id) == "dead_lettered"
