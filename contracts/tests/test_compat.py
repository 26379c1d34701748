"""The compatibility checker: what it accepts, what it rejects, and what its messages say."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pwreset_contracts import compat, load_schema

RELEASED = "password-reset.requested.v1"


def _released() -> dict[str, Any]:
    return copy.deepcopy(load_schema(RELEASED))


def _messages(current: dict[str, Any]) -> list[str]:
    return [str(item) for item in compat.breaking_changes(load_schema(RELEASED), current)]


def test_an_unchanged_schema_is_compatible() -> None:
    assert compat.breaking_changes(load_schema(RELEASED), _released()) == []


def test_accepts_an_additive_optional_field_and_annotation_changes() -> None:
    current = _released()
    current["properties"]["timezone"] = {"type": "string", "maxLength": 64}
    current["description"] = "Reworded."
    current["properties"]["email"]["description"] = "Reworded too."
    current["properties"]["email"]["examples"] = ["ada@example.com"]
    assert _messages(current) == []


def test_rejects_a_removed_field_naming_it() -> None:
    current = _released()
    del current["properties"]["locale"]
    assert _messages(current) == ["locale: field removed: consumers of the released schema read it"]


def test_rejects_a_field_that_becomes_required_or_optional() -> None:
    current = _released()
    current["required"] = [*current["required"], "locale"]
    current["required"].remove("email")
    assert _messages(current) == [
        "locale: field newly required: records written against the released schema may lack it",
        "email: field no longer required: consumers of the released schema rely on it being there",
    ]


def test_rejects_a_new_required_field_even_though_it_is_additive() -> None:
    current = _released()
    current["properties"]["timezone"] = {"type": "string"}
    current["required"].append("timezone")
    assert [b.where for b in compat.breaking_changes(load_schema(RELEASED), current)] == [
        "timezone"
    ]


@pytest.mark.parametrize(
    ("new_type", "expected"),
    [
        ("integer", "email: type changed from string to integer: existing records"),
        (["string", "null"], "email: type changed from string to null|string (widened)"),
    ],
)
def test_rejects_a_changed_or_widened_type(new_type: Any, expected: str) -> None:
    current = _released()
    current["properties"]["email"]["type"] = new_type
    [message] = _messages(current)
    assert message.startswith(expected)


def test_rejects_a_narrowed_type() -> None:
    wider = _released()
    wider["properties"]["email"]["type"] = ["string", "null"]
    assert [str(b) for b in compat.breaking_changes(wider, _released())] == [
        "email: type changed from null|string to string (narrowed): records valid before are "
        "rejected now"
    ]


def test_rejects_a_dropped_alternative() -> None:
    released = copy.deepcopy(load_schema("identity.password-changed.v1"))
    current = copy.deepcopy(released)
    current["properties"]["client_ip"]["anyOf"] = [{"type": "string", "maxLength": 45}]
    breaks = compat.breaking_changes(released, current)
    assert [str(b) for b in breaks] == [
        "client_ip: anyOf changed from 2 to 1 alternatives: the set of valid values changed"
    ]


def test_rejects_enum_values_removed_or_added() -> None:
    released = copy.deepcopy(load_schema("identity.password-changed.v1"))
    widened = copy.deepcopy(released)
    widened["properties"]["method"]["enum"] = ["reset", "self-service"]
    assert [str(b) for b in compat.breaking_changes(released, widened)] == [
        'method: enum value "self-service" added: consumers of the released schema reject it'
    ]
    assert [str(b) for b in compat.breaking_changes(widened, released)] == [
        'method: enum value "self-service" removed: records carrying it were valid before'
    ]


def test_rejects_closing_or_opening_additional_properties() -> None:
    closed = _released()
    closed["additionalProperties"] = False
    assert _messages(closed) == [
        "(whole record): additionalProperties closed: records with fields this schema does "
        "not name (written by newer producers) are rejected now"
    ]
    opened = _released()
    opened["$defs"]["SealedValue"]["additionalProperties"] = True
    [message] = _messages(opened)
    assert message.startswith("sealed_link: additionalProperties opened")


def test_rejects_a_field_added_to_an_object_that_forbids_unknown_fields() -> None:
    current = _released()
    current["$defs"]["SealedValue"]["properties"]["aad"] = {"type": "string"}
    [message] = _messages(current)
    assert message.startswith("sealed_link.aad: field added to an object with additionalProp")


def test_reports_changes_inside_definitions_at_the_field_that_uses_them() -> None:
    current = _released()
    current["$defs"]["SealedValue"]["properties"]["alg"]["const"] = "A128GCM"
    current["$defs"]["SealedValue"]["properties"]["kid"]["maxLength"] = 16
    assert _messages(current) == [
        'sealed_link.alg: const changed from "A256GCM" to "A128GCM": the one valid value changed',
        "sealed_link.kid: maxLength changed from 64 to 16: a value valid under one version is "
        "rejected by readers of the other",
    ]


def test_rejects_changed_format_default_and_bounds() -> None:
    current = _released()
    current["properties"]["email"]["format"] = "idn-email"
    current["properties"]["locale"]["default"] = "de"
    current["properties"]["locale"]["minLength"] = 2
    wheres = [
        (b.where, b.what.split(":")[0]) for b in compat.breaking_changes(_released(), current)
    ]
    assert wheres == [
        ("email", 'format changed from "email" to "idn-email"'),
        ("locale", 'default changed from "en" to "de"'),
        ("locale", "minLength 2 added"),
    ]


def test_moving_a_definition_inline_is_no_change() -> None:
    current = _released()
    current["properties"]["sealed_link"] = current["$defs"].pop("SealedValue")
    assert _messages(current) == []


def test_a_keyword_the_check_does_not_understand_fails_it() -> None:
    current = _released()
    current["properties"]["email"]["dependentRequired"] = {"email": ["locale"]}
    [message] = _messages(current)
    assert message.startswith("email: uses dependentRequired, which the compatibility check")


def _write(folder: Path, name: str, schema: dict[str, Any]) -> None:
    (folder / f"{name}.json").write_text(json.dumps(schema))


def test_the_gate_names_the_schema_and_fails_on_missing_or_breaking_copies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older = _released()
    older["properties"]["legacy_field"] = {"type": "string"}
    _write(tmp_path, RELEASED, older)
    _write(tmp_path, "password-reset.cancelled.v1", {"type": "object"})

    report = compat.check_released(tmp_path)
    assert [str(b) for b in report[RELEASED]] == [
        "legacy_field: field removed: consumers of the released schema read it"
    ]
    assert "released schema deleted" in str(report["password-reset.cancelled.v1"][0])
    assert "no released copy" in str(report["identity.password-changed.v1"][0])

    assert compat.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "password-reset.requested.v1: legacy_field: field removed" in err
