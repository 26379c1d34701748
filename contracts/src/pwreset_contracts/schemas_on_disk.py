import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The published JSON Schema of an event: ``load_schema("password-reset.requested.v1")``."""
    text = resources.files("pwreset_contracts").joinpath("schemas", f"{name}.json").read_text()
    return json.loads(text)
