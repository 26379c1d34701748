"""For every contract, the JSON Schema file, the pydantic model and the example record agree.

The schema is what other teams read; the model is what our services run; the example is what
both teams copy. A record that one of them accepts and another rejects is a bug in the contract.
"""

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pwreset_contracts import DEAD_LETTER_TOPIC, SCHEMA_MODELS, load_schema
from pwreset_contracts import cloudevents_kafka as ce
from pwreset_contracts.compat import KEYWORDS, resolve_local_refs
from pwreset_contracts.dead_letters import read_dead_letter
from pwreset_contracts.schemas_on_disk import schema_names
from pydantic import BaseModel, ValidationError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NAMES = sorted(SCHEMA_MODELS)


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = load_schema(name)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def _described(name: str) -> dict[str, Any]:
    """The part of the example record that the schema describes: headers for a dead letter
    (its value is the original record's, unchanged), the JSON value for an event."""
    example = _example(name)
    return dict(example["headers"] if name == DEAD_LETTER_TOPIC else example["value"])


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True)


def test_every_schema_file_has_a_model_and_an_example() -> None:
    assert schema_names() == NAMES
    assert sorted(path.stem for path in EXAMPLES.glob("*.json")) == NAMES


def _all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in _all_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _all_refs(value)]
    return []


def _keywords(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = set(node) - {"properties", "$defs"}
        children = [*node.get("properties", {}).values(), *node.get("$defs", {}).values()]
        children += [v for k, v in node.items() if k not in ("properties", "$defs", "enum")]
        return found | {kw for child in children for kw in _keywords(child)}
    if isinstance(node, list):
        return {kw for child in node for kw in _keywords(child)}
    return set()


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_2020_12_self_contained_and_understood_by_the_gate(name: str) -> None:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:pwreset:events:{name}"
    # Self-contained: a reader needs this one file, no resolver for other documents.
    assert all(ref.startswith("#/$defs/") for ref in _all_refs(schema))
    # Only keywords the compatibility gate knows (they also mean the same in draft-07, the
    # dialect AsyncAPI tools read payloads with).
    assert _keywords(schema) <= KEYWORDS


@pytest.mark.parametrize("name", NAMES)
def test_example_is_valid_for_schema_and_model_and_survives_a_round_trip(name: str) -> None:
    document = _described(name)
    _validator(name).validate(document)
    parsed = SCHEMA_MODELS[name].model_validate(document)
    assert _dump(parsed) == document
    _validator(name).validate(_dump(parsed))


def _shape(node: dict[str, Any]) -> dict[str, Any]:
    """What both sides must agree on for one (ref-resolved) schema node."""
    if "anyOf" in node:
        return {"anyOf": [_shape(option) for option in node["anyOf"]]}
    values = node.get("enum", [node["const"]] if "const" in node else None)
    types = node.get("type") or sorted({type(v).__name__.replace("str", "string") for v in values})
    shape: dict[str, Any] = {
        "type": sorted([types] if isinstance(types, str) else types),
        "values": values,
        "limits": {k: node.get(k) for k in ("maxLength", "minLength", "pattern")},
    }
    if "properties" in node:
        shape["fields"] = {k: _shape(v) for k, v in node["properties"].items()}
        shape["unknown fields allowed"] = node.get("additionalProperties", True) is not False
    return shape


def _formats(node: Any, path: str = "") -> dict[str, str]:
    if not isinstance(node, dict):
        return {}
    found = {path: node["format"]} if "format" in node else {}
    for key, child in node.get("properties", {}).items():
        found |= _formats(child, f"{path}.{key}")
    return found


@pytest.mark.parametrize("name", NAMES)
def test_model_and_schema_name_the_same_fields_types_and_limits(name: str) -> None:
    model = SCHEMA_MODELS[name]
    ours = resolve_local_refs(load_schema(name))
    theirs = resolve_local_refs(model.model_json_schema(by_alias=True, mode="serialization"))
    assert _shape(ours) == _shape(theirs)
    # Every format the model checks, the schema states (the schema may say more, e.g. email).
    assert _formats(theirs).items() <= _formats(ours).items()


def _required_pairs() -> list[tuple[str, str]]:
    return [(name, field) for name in NAMES for field in load_schema(name)["required"]]


@pytest.mark.parametrize(("name", "field"), _required_pairs())
def test_both_reject_a_record_missing_a_required_field(name: str, field: str) -> None:
    document = _described(name)
    del document[field]
    with pytest.raises(jsonschema.ValidationError):
        _validator(name).validate(document)
    model = SCHEMA_MODELS[name]
    alias_to_field = {info.alias or key: key for key, info in model.model_fields.items()}
    if model.model_fields[alias_to_field[field]].is_required():
        with pytest.raises(ValidationError):
            model.model_validate(document)
    else:
        # The model fills in its default, and what it writes is valid again.
        _validator(name).validate(_dump(model.model_validate(document)))


@pytest.mark.parametrize("name", NAMES)
def test_both_reject_a_field_of_the_wrong_type(name: str) -> None:
    for field in load_schema(name)["properties"]:
        document = _described(name) | {field: [1]}
        with pytest.raises(jsonschema.ValidationError):
            _validator(name).validate(document)
        with pytest.raises(ValidationError):
            SCHEMA_MODELS[name].model_validate(document)


@pytest.mark.parametrize("name", NAMES)
def test_both_accept_unknown_fields_from_newer_producers(name: str) -> None:
    document = _described(name) | {"added_in_v1_1": "x"}
    _validator(name).validate(document)
    assert _dump(SCHEMA_MODELS[name].model_validate(document))["added_in_v1_1"] == "x"


def test_sealed_values_are_closed_in_both() -> None:
    document = _described("password-reset.requested.v1")
    document["sealed_link"] = copy.deepcopy(document["sealed_link"]) | {"plaintext": "x"}
    with pytest.raises(jsonschema.ValidationError):
        _validator("password-reset.requested.v1").validate(document)
    with pytest.raises(ValidationError):
        SCHEMA_MODELS["password-reset.requested.v1"].model_validate(document)


def _headers(example: dict[str, Any]) -> ce.Headers:
    return [(name, value.encode()) for name, value in example["headers"].items()]


@pytest.mark.parametrize("name", [n for n in NAMES if n != DEAD_LETTER_TOPIC])
def test_event_example_is_a_record_our_codec_reads(name: str) -> None:
    example = _example(name)
    received = ce.decode(_headers(example), json.dumps(example["value"]).encode())
    model = SCHEMA_MODELS[name]
    assert isinstance(received.data, model)
    assert received.id == example["headers"]["ce_id"]
    assert received.type == example["headers"]["ce_type"] == received.data.ce_type
    assert example["topic"] == received.data.topic == name
    key_field = "registration_id" if "registration" in name else "account_id"
    assert example["key"] == received.data.partition_key() == str(getattr(received.data, key_field))


def test_dead_letter_example_is_a_copy_of_an_event_record_plus_its_headers() -> None:
    example = _example(DEAD_LETTER_TOPIC)
    dead_letter = read_dead_letter(_headers(example))
    origin = _example(dead_letter.origin_topic)
    assert example["topic"] == DEAD_LETTER_TOPIC
    assert (example["key"], example["value"]) == (origin["key"], origin["value"])
    copied = {k: v for k, v in example["headers"].items() if not k.startswith("deadletter_")}
    assert copied == origin["headers"]
    # Still the original CloudEvent to any reader that ignores the added headers.
    received = ce.decode(_headers(example), json.dumps(example["value"]).encode())
    assert received.type == origin["headers"]["ce_type"]
    assert received.extensions == {}
