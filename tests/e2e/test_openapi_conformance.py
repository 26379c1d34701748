"""Schemathesis against every OpenAPI document the services serve, on the running platform (real
PostgreSQL, Kafka and SMTP): generated requests, valid and invalid, with every check it has.

It finds nothing when each answer is one the document lists, in the documented media type,
headers and schema; when no request gets a 5xx; when invalid requests are refused and valid ones
are not. Bounded: a few examples per operation, a deadline per document.

The limits are the test platform's (devinfra.platform.TEST_DEFAULTS): the per-account and
link-miss limits are production's, so a 429 is part of the run and must be documented. Each
document is exercised as a client of its own (X-Forwarded-For, believed from loopback on the
test platform), so the buckets it fills are nobody else's.

One line per document in TARGETS: (name, the platform's port key, the document's path, the name
of a fixture that gives the Authorization header, or None).
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from devinfra.idp import Provider
from devinfra.platform import Platform
from reset_service.core.config import DEV_INTERNAL_TOKEN

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("schemathesis.toml")
# Per operation, in the fuzzing phase; the coverage phase adds its boundary and negative cases.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
DEADLINE_SECONDS = 240  # per document; a run over it is a failure, not a pass


@dataclass(frozen=True)
class Target:
    name: str
    port: str  # key in Platform.ports, or the name of a fixture giving the base URL
    document: str
    auth: str | None  # fixture giving the Authorization header value


TARGETS = [
    Target("reset", "reset", "/openapi.json", None),
    Target("reset-internal", "reset-internal", "/internal/openapi.json", "internal_bearer"),
    Target("identity", "identity", "/openapi.json", "session_bearer"),
    Target("identity-internal", "identity-internal", "/internal/openapi.json", "internal_bearer"),
    # identity on ADMIN_PORT (an instance of its own, tests/e2e/conftest.py), an admin's JWT
    Target("identity-admin", "admin_url", "/admin/openapi.json", "admin_bearer"),
]

SESSION_PASSWORD = "schemathesis account password, long enough"


@pytest.fixture
def internal_bearer() -> str:
    return f"Bearer {DEV_INTERNAL_TOKEN}"  # the platform runs in development


@pytest.fixture
def admin_bearer(idp: Provider) -> str:
    return f"Bearer {idp.token(sub='schemathesis@corp.example', roles=['admin'])}"


@pytest.fixture
def session_bearer(platform: Platform) -> str:
    """A session of an account of its own (seeded: registration has tests of its own)."""
    email = f"schemathesis-{time.time_ns()}@example.com"
    platform.seed_accounts([(email, SESSION_PASSWORD)])
    answer = httpx.post(
        f"{platform.url('identity')}/v1/login",
        json={"email": email, "password": SESSION_PASSWORD},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return f"Bearer {answer.json()['session_token']}"


@pytest.fixture
def account_id(platform: Platform) -> str:
    """An account of its own for the routes of one account (schemathesis.toml): its password
    may be changed by the run."""
    email = f"schemathesis-target-{time.time_ns()}@example.com"
    return platform.seed_accounts([(email, SESSION_PASSWORD)])[email]


def _operations(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback URL
        document = json.load(answer)
    return sum(len(methods) for methods in document["paths"].values())


@pytest.mark.timeout(DEADLINE_SECONDS + 60)
@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_schemathesis_finds_nothing(
    target: Target,
    platform: Platform,
    account_id: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    base = (
        platform.url(target.port)
        if target.port in platform.ports
        else request.getfixturevalue(target.port)
    )
    url = f"{base}{target.document}"
    operations = _operations(url)
    assert operations > 0, f"{url} documents no operation"
    client = f"198.51.100.{TARGETS.index(target) + 10}"  # TEST-NET-2: a client of its own
    headers = [f"X-Forwarded-For: {client}"]
    if target.auth is not None:
        headers.append(f"Authorization: {request.getfixturevalue(target.auth)}")
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "--no-color",
        "run",
        url,
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--request-timeout",
        "20",
        "--generation-database",
        "none",
        *(arg for header in headers for arg in ("-H", header)),
    ]
    log = tmp_path / f"schemathesis-{target.name}.log"
    started = time.monotonic()
    with log.open("wb") as out:
        # In tmp_path: schemathesis keeps a cache of what it found in its working directory.
        result = subprocess.run(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_ACCOUNT_ID": account_id},
            timeout=DEADLINE_SECONDS,
            check=False,
        )
    elapsed = time.monotonic() - started
    output = log.read_text(errors="replace")
    print(f"schemathesis {target.name}: {operations} operations, {elapsed:.0f} s")
    assert result.returncode == 0, output[-12000:]
    assert f"Tested: {operations}\n" in output, output[-3000:]  # every operation, none skipped
