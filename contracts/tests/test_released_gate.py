"""CI's compatibility gate: every published schema against its released copy in the repo."""

from pathlib import Path

from pwreset_contracts import compat
from pwreset_contracts.schemas_on_disk import schema_names

RELEASED_DIR = Path(__file__).resolve().parents[1] / "released"


def test_every_schema_has_a_released_copy() -> None:
    released = sorted(path.stem for path in RELEASED_DIR.glob("*.json"))
    assert released == schema_names()
    assert len(released) == 6


def test_no_schema_breaks_the_consumers_of_its_released_version() -> None:
    report = compat.check_released(RELEASED_DIR)
    breaks = [f"{name}: {item}" for name, items in report.items() for item in items]
    assert breaks == [], "breaking schema changes (see contracts/README.md, 'Releasing'):\n" + (
        "\n".join(breaks)
    )


# -- headers and record keys (the Kafka binding in asyncapi.yaml) ------------------------------
def _bindings() -> tuple[dict, dict]:
    import json

    import yaml

    document = yaml.safe_load((RELEASED_DIR.parent / "asyncapi.yaml").read_text())
    released = json.loads((RELEASED_DIR / compat.BINDINGS_FILE).read_text())
    return released, compat.kafka_bindings(document)


def test_headers_and_keys_keep_what_their_released_binding_promised() -> None:
    released, current = _bindings()
    assert set(released["keys"]) == set(current["keys"]) == set(compat_topics())
    assert compat.binding_breaks(released, current) == []


def compat_topics() -> list[str]:
    return schema_names()


def test_the_gate_catches_a_dropped_required_header_and_a_loosened_key() -> None:
    """The edits another team tried: both passed the old, payload-only gate."""
    import copy

    released, current = _bindings()
    no_time = copy.deepcopy(current)
    no_time["headers"]["required"].remove("ce_time")
    assert [str(b) for b in compat.binding_breaks(released, no_time)] == [
        "headers.ce_time: field no longer required: consumers of the released schema rely on "
        "it being there"
    ]
    any_key = copy.deepcopy(current)
    del any_key["keys"]["password-reset.requested.v1"]["format"]
    (found,) = compat.binding_breaks(released, any_key)
    assert str(found).startswith("key of password-reset.requested.v1") and "uuid" in str(found)
    gone = copy.deepcopy(current)
    del gone["keys"]["identity.password-changed.v1"]
    assert compat.binding_breaks(released, gone)
    retyped = copy.deepcopy(current)
    retyped["headers"]["properties"]["ce_id"]["type"] = "integer"
    assert compat.binding_breaks(released, retyped)


def test_every_event_names_its_released_schema_as_dataschema() -> None:
    """ce_dataschema on every record resolves to the schema released for its topic."""
    import json

    from pwreset_contracts.events import EVENT_TYPES
    from pwreset_contracts.schemas_on_disk import resolve_dataschema

    for model in EVENT_TYPES.values():
        released = json.loads((RELEASED_DIR / f"{model.topic}.json").read_text())
        assert model.dataschema() == released["$id"]
        resolved = resolve_dataschema(model.dataschema())
        assert resolved["$id"] == released["$id"]
        assert compat.breaking_changes(released, resolved) == []
