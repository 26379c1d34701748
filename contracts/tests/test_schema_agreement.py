"""The pydantic models and the published JSON Schema files must describe the same events."""

from collections.abc import Callable

import jsonschema
import pytest
from pwreset_contracts import ResetRequestedV1, SealedValue, load_schema
from pydantic import ValidationError

Factory = Callable[[], ResetRequestedV1]


def _validator() -> jsonschema.Draft202012Validator:
    schema = load_schema("password-reset.requested.v1")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_model_output_validates_against_schema(make_reset_requested: Factory) -> None:
    _validator().validate(make_reset_requested().model_dump(mode="json"))


def test_schema_and_model_name_the_same_fields_and_required_set() -> None:
    schema = load_schema("password-reset.requested.v1")
    model_schema = ResetRequestedV1.model_json_schema()
    assert set(schema["properties"]) == set(model_schema["properties"])
    assert set(schema["required"]) == set(model_schema["required"])
    sealed = schema["$defs"]["SealedValue"]
    assert set(sealed["properties"]) == set(SealedValue.model_json_schema()["properties"])


@pytest.mark.parametrize("field", ["request_id", "account_id", "email", "sealed_link"])
def test_both_reject_a_record_missing_a_required_field(
    field: str, make_reset_requested: Factory
) -> None:
    data = make_reset_requested().model_dump(mode="json")
    del data[field]
    with pytest.raises(jsonschema.ValidationError):
        _validator().validate(data)
    with pytest.raises(ValidationError):
        ResetRequestedV1.model_validate(data)


def test_both_accept_unknown_fields_from_newer_producers(make_reset_requested: Factory) -> None:
    data = make_reset_requested().model_dump(mode="json") | {"added_in_v1_1": "x"}
    _validator().validate(data)
    assert ResetRequestedV1.model_validate(data).request_id
