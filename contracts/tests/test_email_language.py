"""The email's language (``locale``) as the producers now fill it: a compatible use of the
released optional field. An older consumer (the released schema, and a model that predates the
field) reads the new records; the current consumer reads records that lack it, as English."""

import json
from pathlib import Path
from typing import ClassVar
from uuid import UUID

import pytest
from jsonschema import Draft202012Validator
from pwreset_contracts import (
    PasswordChangedV1,
    RegistrationRequestedV1,
    ResetRequestedV1,
    SecondFactorChangedV1,
    cloudevents_kafka,
    compat,
)
from pwreset_contracts.events import Event
from pydantic import BaseModel, ConfigDict

CONTRACTS = Path(__file__).resolve().parents[1]
EVENTS: list[type[Event]] = [
    ResetRequestedV1,
    PasswordChangedV1,
    SecondFactorChangedV1,
    RegistrationRequestedV1,
]


def _released(topic: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((CONTRACTS / "released" / f"{topic}.json").read_text()))


def _current(topic: str) -> dict[str, object]:
    path = CONTRACTS / "src/pwreset_contracts/schemas" / f"{topic}.json"
    return dict(json.loads(path.read_text()))


def _example(topic: str) -> dict[str, object]:
    return dict(json.loads((CONTRACTS / "examples" / f"{topic}.json").read_text())["value"])


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.topic)
def test_the_gate_accepts_the_field_as_the_producers_fill_it(event: type[Event]) -> None:
    released = json.loads((CONTRACTS / "released" / f"{event.topic}.json").read_text())
    assert compat.breaking_changes(released, _current(event.topic)) == []
    # The field stays optional: a record without it is valid in both versions.
    assert "locale" not in _current(event.topic)["required"]  # type: ignore[operator]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.topic)
@pytest.mark.parametrize("locale", ["de", "es", "es-419", "en"])
def test_an_older_consumer_reads_the_new_records(event: type[Event], locale: str) -> None:
    record = {**_example(event.topic), "locale": locale}
    assert list(_released(event.topic).iter_errors(record)) == []
    assert event.model_validate(record).locale == locale


class ResetRequestedBeforeLanguages(BaseModel):
    """A consumer's model written before it cared about ``locale`` (as contracts/README.md tells
    consumers to write them: unknown fields accepted)."""

    model_config = ConfigDict(extra="allow")
    topic: ClassVar[str] = "password-reset.requested.v1"
    request_id: UUID
    account_id: UUID
    email: str


def test_a_model_that_never_knew_the_field_reads_a_german_record() -> None:
    record = {**_example(ResetRequestedV1.topic), "locale": "de"}
    older = ResetRequestedBeforeLanguages.model_validate(record)
    assert older.email == "ada@example.com"


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.topic)
def test_the_current_consumer_reads_a_record_without_it_as_english(event: type[Event]) -> None:
    record = _example(event.topic)
    record.pop("locale")
    assert list(_released(event.topic).iter_errors(record)) == []
    assert event.model_validate(record).locale == "en"


def test_a_german_record_goes_through_the_cloudevents_codec(make_reset_requested) -> None:  # type: ignore[no-untyped-def]
    data = make_reset_requested().model_copy(update={"locale": "de"})
    encoded = cloudevents_kafka.encode(data, source="/pwreset/reset")
    assert json.loads(encoded.value)["locale"] == "de"
    decoded = cloudevents_kafka.decode(encoded.headers, encoded.value).data
    assert isinstance(decoded, ResetRequestedV1) and decoded.locale == "de"
