"""Compatibility gate: may this schema replace its released version without breaking anyone?

Consumers of a topic meet records of both versions side by side (replays, consumers and
producers deployed at different times), so each version must read what the other writes. That
leaves two kinds of change that are safe within a major version:

* adding an optional field to an object that accepts unknown fields (the released schema
  already accepts records carrying it, and the new one does not need it);
* changing annotations (title, description, examples, $comment, deprecated).

Everything else is a breaking change and is reported with the field and what it breaks: a field
removed, newly required or no longer required, a type narrowed, widened or changed, an enum
value removed or added, a const, default, format or bound changed, additionalProperties
closed or opened. A breaking change needs a new major version (see contracts/README.md).

The check understands the keywords in ``KEYWORDS``; a schema using another one fails the gate
until this module learns what changing it means. ``python -m pwreset_contracts.compat`` runs the
gate over every schema of the package against its copy in ``contracts/released/``.
"""

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pwreset_contracts.schemas_on_disk import load_schema, schema_names

ANNOTATIONS = frozenset({"title", "description", "examples", "$comment", "deprecated"})
# Validation keywords compared for equality: any change to one of them breaks someone.
_BOUNDS = frozenset(
    {"format", "maxLength", "minLength", "pattern", "contentEncoding", "minimum", "maximum"}
)
_STRUCTURE = frozenset(
    {"$schema", "$id", "$ref", "$defs", "type", "properties", "required"}
    | {"additionalProperties", "enum", "const", "default", "anyOf", "oneOf", "allOf", "items"}
)
KEYWORDS = ANNOTATIONS | _BOUNDS | _STRUCTURE
_MISSING = object()

Schema = Mapping[str, Any]
FieldPath = tuple[str, ...]  # field names from the top of the record (and anyOf[i] steps)


@dataclass(frozen=True)
class Break:
    """One breaking change: where in the schema (a field path) and what it breaks."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


def breaking_changes(released: Schema, current: Schema) -> list[Break]:
    """Every change from ``released`` to ``current`` that would break a consumer of either.

    Local ``$ref``s are followed first, so moving a definition into ``$defs`` (or out of it) is
    no change, and a change inside a definition is reported at the field that uses it.
    """
    return list(_compare(resolve_local_refs(released), resolve_local_refs(current), ()))


def resolve_local_refs(schema: Schema) -> Any:
    """``schema`` with every local ``$ref`` replaced by its target and ``$defs`` dropped."""
    return _inline(schema, schema)


def _inline(node: Any, root: Schema, expanding: frozenset[str] = frozenset()) -> Any:
    """``node`` with every local ``$ref`` replaced by what it points to (``$defs`` dropped).

    A recursive reference is left as it is (and compared as a string). A sibling of ``$ref``
    (a description) wins over the same keyword of the target.
    """
    if isinstance(node, list):
        return [_inline(item, root, expanding) for item in node]
    if not isinstance(node, Mapping):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#") and ref not in expanding:
        target = _inline(_pointer(root, ref), root, expanding | {ref})
        siblings = {k: _inline(v, root, expanding) for k, v in node.items() if k != "$ref"}
        return {**target, **siblings}
    return {k: _inline(v, root, expanding) for k, v in node.items() if k != "$defs"}


def _pointer(root: Schema, ref: str) -> Any:
    """The target of a JSON pointer fragment such as ``#/$defs/SealedValue``."""
    node: Any = root
    for part in ref.removeprefix("#").split("/")[1:]:
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _where(path: FieldPath) -> str:
    return ".".join(path) or "(whole record)"


def _compare(old: Any, new: Any, path: FieldPath) -> Iterator[Break]:
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        if old != new:
            yield Break(_where(path), f"schema changed from {old!r} to {new!r}")
        return
    unknown = sorted((old.keys() | new.keys()) - KEYWORDS)
    if unknown:
        yield Break(
            _where(path),
            f"uses {', '.join(unknown)}, which the compatibility check does not understand; "
            "teach pwreset_contracts.compat what changing it means before publishing it",
        )
    yield from _compare_types(old, new, path)
    yield from _compare_fields(old, new, path)
    yield from _compare_additional(old, new, path)
    yield from _compare_enum(old, new, path)
    yield from _compare_values(old, new, path)
    yield from _compare_subschemas(old, new, path)


def _type_set(schema: Schema) -> frozenset[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    return frozenset([declared] if isinstance(declared, str) else declared)


def _describe(types: frozenset[str] | None) -> str:
    return "any type" if types is None else "|".join(sorted(types))


def _compare_types(old: Schema, new: Schema, path: FieldPath) -> Iterator[Break]:
    before, after = _type_set(old), _type_set(new)
    if before == after:
        return
    change = f"type changed from {_describe(before)} to {_describe(after)}"
    if after is not None and (before is None or after < before):
        yield Break(_where(path), f"{change} (narrowed): records valid before are rejected now")
    elif before is not None and (after is None or after > before):
        yield Break(
            _where(path),
            f"{change} (widened): consumers of the released schema reject the new values",
        )
    else:
        yield Break(_where(path), f"{change}: existing records and consumers no longer agree")


def _compare_fields(old: Schema, new: Schema, path: FieldPath) -> Iterator[Break]:
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    closed = old.get("additionalProperties", True) is False
    for name in old_props.keys() - new_props.keys():
        yield Break(
            _where((*path, name)),
            "field removed: consumers of the released schema read it",
        )
    for name in sorted(new_props.keys() - old_props.keys()):
        if closed:
            yield Break(
                _where((*path, name)),
                "field added to an object with additionalProperties: false: consumers of the "
                "released schema reject records that carry it",
            )
    for name in sorted(old_props.keys() & new_props.keys()):
        yield from _compare(old_props[name], new_props[name], (*path, name))

    old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
    for name in sorted(new_required - old_required):
        yield Break(
            _where((*path, name)),
            "field newly required: records written against the released schema may lack it",
        )
    for name in sorted(old_required - new_required):
        yield Break(
            _where((*path, name)),
            "field no longer required: consumers of the released schema rely on it being there",
        )


def _compare_additional(old: Schema, new: Schema, path: FieldPath) -> Iterator[Break]:
    before = old.get("additionalProperties", True)
    after = new.get("additionalProperties", True)
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        yield from _compare(before, after, (*path, "(any other field)"))
    elif after is False and before is not False:
        yield Break(
            _where(path),
            "additionalProperties closed: records with fields this schema does not name "
            "(written by newer producers) are rejected now",
        )
    elif before is False and after is not False:
        yield Break(
            _where(path),
            "additionalProperties opened: consumers of the released schema reject records "
            "with fields it does not name",
        )
    elif before != after:
        yield Break(_where(path), f"additionalProperties changed from {before!r} to {after!r}")


def _compare_enum(old: Schema, new: Schema, path: FieldPath) -> Iterator[Break]:
    if "enum" not in old and "enum" not in new:
        return
    if "enum" not in old or "enum" not in new:
        state = "added" if "enum" in new else "removed"
        yield Break(_where(path), f"enum {state}: the set of valid values changed")
        return
    before, after = old["enum"], new["enum"]
    removed = [value for value in before if value not in after]
    added = [value for value in after if value not in before]
    if removed:
        yield Break(
            _where(path),
            f"enum value {_values(removed)} removed: records carrying it were valid before",
        )
    if added:
        yield Break(
            _where(path),
            f"enum value {_values(added)} added: consumers of the released schema reject it",
        )


def _values(values: list[Any]) -> str:
    return ", ".join(json.dumps(value) for value in values)


_VALUE_EFFECT = {
    "const": "the one valid value changed",
    "default": "readers fill in a different value for records without the field",
    "$ref": "the field now has another definition",
    "$id": "the schema now names another contract",
    "$schema": "the schema dialect changed",
}


def _compare_values(old: Schema, new: Schema, path: FieldPath) -> Iterator[Break]:
    for keyword in sorted(_BOUNDS | _VALUE_EFFECT.keys()):
        before, after = old.get(keyword, _MISSING), new.get(keyword, _MISSING)
        if before == after:
            continue
        if before is _MISSING:
            change = f"{keyword} {json.dumps(after)} added"
        elif after is _MISSING:
            change = f"{keyword} {json.dumps(before)} removed"
        else:
            change = f"{keyword} changed from {json.dumps(before)} to {json.dumps(after)}"
        effect = _VALUE_EFFECT.get(
            keyword, "a value valid under one version is rejected by readers of the other"
        )
        yield Break(_where(path), f"{change}: {effect}")


def _compare_subschemas(old: Schema, new: Schema, path: FieldPath) -> Iterator[Break]:
    for keyword in ("anyOf", "oneOf", "allOf"):
        before, after = old.get(keyword, []), new.get(keyword, [])
        if len(before) != len(after):
            yield Break(
                _where(path),
                f"{keyword} changed from {len(before)} to {len(after)} alternatives: "
                "the set of valid values changed",
            )
            continue
        for index, (was, now) in enumerate(zip(before, after, strict=True)):
            yield from _compare(was, now, (*path, f"{keyword}[{index}]"))
    if "items" in old or "items" in new:
        yield from _compare(old.get("items", True), new.get("items", True), (*path, "[]"))


def check_released(released_dir: Path) -> dict[str, list[Break]]:
    """Every schema of the package against its released copy in ``released_dir``.

    Returns the breaking changes per schema name; a schema with no released copy, or a released
    schema that is gone from the package, is a failure too.
    """
    released = {path.stem: path for path in sorted(released_dir.glob("*.json"))}
    current = set(schema_names())
    report: dict[str, list[Break]] = {}
    for name in sorted(released.keys() | current):
        if name not in current:
            report[name] = [
                Break("(schema)", "released schema deleted: consumers still read this topic")
            ]
        elif name not in released:
            report[name] = [
                Break(
                    "(schema)",
                    f"no released copy in {released_dir}: copy the schema there when it is "
                    "first published (contracts/README.md, 'Releasing')",
                )
            ]
        else:
            old = json.loads(released[name].read_text())
            report[name] = breaking_changes(old, load_schema(name))
    return report


# -- the Kafka binding: headers and record keys ---------------------------------------------
# A consumer depends on them as much as on the payload: which ce_* headers are always there and
# what they hold, and what the record key is. contracts/asyncapi.yaml describes them; its
# released copy is released/bindings/kafka.json, and the same rules apply to a change.
BINDINGS_FILE = Path("bindings") / "kafka.json"


def kafka_bindings(asyncapi: Mapping[str, Any]) -> dict[str, Any]:
    """The header schema and each topic's record-key schema, from the AsyncAPI document."""
    components = asyncapi["components"]
    keys = {}
    for channel in asyncapi["channels"].values():
        for message in channel["messages"].values():
            name = message["$ref"].rsplit("/", 1)[1]
            keys[channel["address"]] = components["messages"][name]["bindings"]["kafka"]["key"]
    return {"headers": components["schemas"]["CloudEventsKafkaHeaders"], "keys": keys}


def binding_breaks(released: Mapping[str, Any], current: Mapping[str, Any]) -> list[Break]:
    """Breaking changes of the headers or a record key from the released binding."""
    found = [
        Break(f"headers.{b.where}", b.what)
        for b in breaking_changes(released["headers"], current["headers"])
    ]
    for topic, key in released["keys"].items():
        if topic not in current["keys"]:
            found.append(Break(f"key of {topic}", "topic gone: its consumers still read it"))
            continue
        found += [
            Break(f"key of {topic}: {b.where}", b.what)
            for b in breaking_changes(key, current["keys"][topic])
        ]
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    default = Path(__file__).resolve().parents[2] / "released"
    released_dir = Path(args[0]) if args else default
    failures = 0
    for name, breaks in check_released(released_dir).items():
        for item in breaks:
            print(f"{name}: {item}", file=sys.stderr)
        failures += len(breaks)
        if not breaks:
            print(f"{name}: compatible with its released version")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
