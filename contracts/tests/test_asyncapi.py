"""contracts/asyncapi.yaml: valid for the reference AsyncAPI parser, and true to the code.

The validator is `@asyncapi/parser` from npm (pinned in contracts/asyncapi-validate/
package-lock.json); the first run installs it there with `npm ci`. Node.js 20+ and npm must be
installed: without them this test fails and says so, it does not skip.
"""

import fcntl
import hashlib
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pwreset_contracts import DEAD_LETTER_TOPIC, SCHEMA_MODELS, TOPICS

CONTRACTS = Path(__file__).resolve().parents[1]
ASYNCAPI = CONTRACTS / "asyncapi.yaml"
VALIDATOR = CONTRACTS / "asyncapi-validate"
TOKEN_LIFETIME_MS = 30 * 60 * 1000
UNDO_LINK_LIFETIME_MS = 7 * 24 * 3600 * 1000


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=VALIDATOR, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def node_validator() -> list[str]:
    """The command that validates an AsyncAPI file, with its npm packages installed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail(
            "node and npm are needed to validate contracts/asyncapi.yaml with @asyncapi/parser: "
            "install Node.js 20 or newer with npm (Debian: apt-get install nodejs npm)"
        )
    major = int(_run([node, "--version"], 30).stdout.strip().lstrip("v").split(".")[0])
    assert major >= 20, f"Node.js 20 or newer is needed, found {major}"
    lock = (VALIDATOR / "package-lock.json").read_bytes()
    stamp = VALIDATOR / "node_modules" / ".installed-from-lock"
    wanted = hashlib.sha256(lock).hexdigest()
    # Another pytest run may install at the same moment: one `npm ci` at a time.
    with open(VALIDATOR / ".npm-install.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not stamp.is_file() or stamp.read_text() != wanted:
            # --ignore-scripts: the parser needs no install script (one dependency ships a
            # telemetry postinstall that has no business running in CI).
            done = _run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], 300)
            if done.returncode != 0:
                pytest.fail(f"npm ci in {VALIDATOR} failed:\n{done.stdout}\n{done.stderr}")
            stamp.write_text(wanted)
    return [node, str(VALIDATOR / "validate.mjs")]


def test_the_asyncapi_document_passes_the_reference_parser(node_validator: list[str]) -> None:
    done = _run([*node_validator, str(ASYNCAPI)], 120)
    assert done.returncode == 0, f"{ASYNCAPI} is not valid AsyncAPI:\n{done.stdout}{done.stderr}"
    assert "asyncapi: valid 3.0.0" in done.stdout
    for topic in [*TOPICS, DEAD_LETTER_TOPIC]:
        assert topic in done.stdout


BROKEN = """
asyncapi: 3.0.0
info: {title: broken, version: 1.0.0}
channels:
  requested:
    address: password-reset.requested.v1
    bindings: {kafka: {partitions: three, bindingVersion: 0.5.0}}
operations:
  send:
    action: publish
    channel: {$ref: '#/channels/missing'}
"""


def test_the_validator_rejects_a_broken_document(node_validator: list[str], tmp_path: Path) -> None:
    broken = tmp_path / "asyncapi.yaml"
    broken.write_text(BROKEN)
    done = _run([*node_validator, str(broken)], 120)
    assert done.returncode == 1
    assert "partitions" in done.stdout
    assert "asyncapi: INVALID" in done.stdout


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return yaml.safe_load(ASYNCAPI.read_text())


def _channels(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {channel["address"]: channel for channel in document["channels"].values()}


def test_every_topic_is_a_channel_with_3_partitions_and_bounded_retention(
    document: dict[str, Any],
) -> None:
    channels = _channels(document)
    assert set(channels) == {*TOPICS, DEAD_LETTER_TOPIC} == set(SCHEMA_MODELS)
    retention = {}
    for address, channel in channels.items():
        kafka = channel["bindings"]["kafka"]
        assert kafka["partitions"] == 3, address
        assert kafka["topicConfiguration"]["cleanup.policy"] == ["delete"], address
        retention[address] = kafka["topicConfiguration"]["retention.ms"]
    # No topic keeps a record longer than the link in it works (give or take one segment:
    # Kafka deletes closed segments only, so the short-lived topic rolls them often).
    assert 0 < retention["password-reset.requested.v1"] <= TOKEN_LIFETIME_MS
    requested = channels["password-reset.requested.v1"]["bindings"]["kafka"]
    assert requested["topicConfiguration"]["segment.ms"] <= TOKEN_LIFETIME_MS // 3
    assert 0 < retention["identity.password-changed.v1"] <= UNDO_LINK_LIFETIME_MS
    assert 0 < retention[DEAD_LETTER_TOPIC] <= UNDO_LINK_LIFETIME_MS


def _message(document: dict[str, Any], address: str) -> dict[str, Any]:
    [ref] = [m["$ref"] for m in _channels(document)[address]["messages"].values()]
    return document["components"]["messages"][ref.rsplit("/", 1)[1]]


def test_messages_use_the_package_schemas_and_the_account_id_as_key(
    document: dict[str, Any],
) -> None:
    for address in SCHEMA_MODELS:
        message = _message(document, address)
        schema_ref = f"./src/pwreset_contracts/schemas/{address}.json"
        described = message["headers"] if address == DEAD_LETTER_TOPIC else message["payload"]
        assert described == {"$ref": schema_ref}
        assert (CONTRACTS / schema_ref).is_file()
        # The key is the account id, or for a registration (no account yet) its own id.
        key_field = "registration_id" if "registration" in address else "account_id"
        assert key_field in message["bindings"]["kafka"]["key"]["description"] or (
            address == DEAD_LETTER_TOPIC
            and "account" in message["bindings"]["kafka"]["key"]["description"]
        )
    for address, ce_type in TOPICS.items():
        headers = _message(document, address)["headers"]["allOf"]
        assert headers[0] == {"$ref": "#/components/schemas/CloudEventsKafkaHeaders"}
        assert headers[1]["properties"]["ce_type"]["const"] == ce_type


def test_example_records_carry_the_headers_the_document_promises(
    document: dict[str, Any],
) -> None:
    ce_headers = document["components"]["schemas"]["CloudEventsKafkaHeaders"]
    for address in SCHEMA_MODELS:
        example = json.loads((CONTRACTS / "examples" / f"{address}.json").read_text())
        # Draft 7: AsyncAPI's schema dialect; a dead letter keeps the original's ce_* headers.
        jsonschema.Draft7Validator(
            ce_headers, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
        ).validate(example["headers"])
        jsonschema.validate(example["key"], {"type": "string", "format": "uuid"})


def test_operations_say_which_service_sends_and_receives_what(document: dict[str, Any]) -> None:
    channel_address = {f"#/channels/{k}": v["address"] for k, v in document["channels"].items()}
    operations = {
        (op["tags"][0]["name"], op["action"], channel_address[op["channel"]["$ref"]])
        for op in document["operations"].values()
    }
    assert operations == {
        ("reset", "send", "password-reset.requested.v1"),
        ("identity", "send", "identity.password-changed.v1"),
        ("identity", "send", "identity.second-factor-changed.v1"),
        ("identity", "send", "identity.registration-requested.v1"),
        ("identity", "send", "identity.admin-action-audited.v1"),
        ("notifier", "receive", "password-reset.requested.v1"),
        ("notifier", "receive", "identity.password-changed.v1"),
        ("notifier", "receive", "identity.second-factor-changed.v1"),
        ("notifier", "receive", "identity.registration-requested.v1"),
        ("notifier", "send", DEAD_LETTER_TOPIC),
    }
