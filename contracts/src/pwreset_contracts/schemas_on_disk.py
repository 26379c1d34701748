import json
from functools import cache
from importlib import resources
from typing import Any


def schema_names() -> list[str]:
    """Names of the published schemas (file stems, each the topic it describes), sorted."""
    folder = resources.files("pwreset_contracts").joinpath("schemas")
    return sorted(
        item.name.removesuffix(".json") for item in folder.iterdir() if item.name.endswith(".json")
    )


def resolve_dataschema(uri: str) -> dict[str, Any]:
    """The schema a record's ``ce_dataschema`` names (the ``$id`` of one of ours)."""
    for name in schema_names():
        if load_schema(name).get("$id") == uri:
            return load_schema(name)
    raise LookupError(f"no schema with $id {uri!r} in this package (a newer major version?)")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The published JSON Schema of an event: ``load_schema("password-reset.requested.v1")``."""
    text = resources.files("pwreset_contracts").joinpath("schemas", f"{name}.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema
