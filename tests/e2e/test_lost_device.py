"""A person lost the phone with their authenticator (and their recovery codes): support removes
two-factor through identity's admin API, and the person gets back in with a reset. Real
processes: identity with an admin port whose callers' tokens come from a stand-in identity
provider (devinfra.idp: key pairs made here, the JWKS served over HTTP), reset, the notifier,
Kafka, PostgreSQL, SMTP; the `identity-service admin` CLI as a process of its own."""

import asyncio
import json
import os
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from devinfra.idp import Provider, SigningKey
from devinfra.platform import Platform
from devinfra.topic_reader import read_topics
from pwreset_contracts import AdminActionAuditedV1, cloudevents_kafka

from .conftest import OLD_PASSWORD, Register
from .test_reset_flow import NEW_PASSWORD, link_in, new_email, reset_email_for
from .test_security import enable_totp, token_of, wait_mail

pytestmark = pytest.mark.e2e

SUPPORT_SUBJECT = "grace.support@corp.example"
ADMIN_SUBJECT = "ada.admin@corp.example"
REASON = "SUP-4711: lost phone and recovery codes; identity checked by video call"
REMOVED = "Two-factor authentication was removed by support"


@pytest.fixture
async def admin(admin_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=admin_url, timeout=10) as client:
        yield client


def bearer(idp: Provider, subject: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {idp.token(sub=subject, roles=[role])}"}


async def cli(admin_url: str, token: str, *args: str) -> tuple[int, Any, str]:
    """`identity-service admin ...` as an operator runs it: exit status, JSON out, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "identity_service",
        "admin",
        *args,
        env={**os.environ, "IDENTITY_ADMIN_URL": admin_url, "IDENTITY_ADMIN_TOKEN": token},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, json.loads(out) if out.strip() else None, err.decode()


async def audited_events(infra, account_id: str) -> list[AdminActionAuditedV1]:
    records = await read_topics(infra.kafka_options(), [AdminActionAuditedV1.topic])
    events = [cloudevents_kafka.decode(list(r.headers), r.value).data for r in records]
    return [
        e for e in events if isinstance(e, AdminActionAuditedV1) and str(e.account_id) == account_id
    ]


async def test_support_removes_a_lost_devices_two_factor_and_the_person_resets_and_logs_in(
    infra,
    platform: Platform,
    idp: Provider,
    admin_url: str,
    admin: httpx.AsyncClient,
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    account_id = await register(email)
    await enable_totp(identity, email)
    without_code = await identity.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    assert without_code.json().get("error") == "totp_required"  # two-factor is on

    # The phone is gone, and the recovery codes with it. Support finds the account...
    support_token = idp.token(sub=SUPPORT_SUBJECT, roles=["support"])
    status, found, err = await cli(
        admin_url, support_token, "lookup", email, "--reason", "SUP-4711"
    )
    assert status == 0, err
    assert found == {"account_id": account_id}
    state = await admin.get(
        f"/admin/v1/accounts/{account_id}/security",
        headers=bearer(idp, SUPPORT_SUBJECT, "support"),
    )
    assert state.status_code == 200, state.text
    body = state.json()
    assert body["two_factor_enabled"] is True and body["recovery_codes_left"] == 10
    assert body["email"] == email and body["open_reset_requests"] == []
    assert body["active_sessions"] >= 1  # the session that turned two-factor on
    assert "second_factor_enabled" in [e["event"] for e in body["recent_security_events"]]

    # ...and, with the person checked out of band, removes two-factor from it.
    status, removed, err = await cli(
        admin_url, support_token, "remove-2fa", account_id, "--reason", REASON
    )
    assert status == 0, err
    audit_id = removed["audit_id"]

    # Email 1: the person is told, with "This wasn't me".
    notice = await wait_mail(infra, email, REMOVED)
    text = notice.get_body(("plain",)).get_content()
    assert "Our support team removed two-factor authentication" in text
    undo = re.search(r"https?://\S+/this-wasnt-me\?token=[A-Za-z0-9_-]+", text)
    assert undo and undo.group(0).startswith(platform.url("identity"))
    html = notice.get_body(("html",)).get_content()
    assert f'href="{undo.group(0)}"' in html and "This wasn&#39;t me</a>" in html

    # The person resets: the code on screen, the link from email 2, no second factor now.
    requested = await reset.post("/v1/password-resets", json={"email": email})
    assert requested.status_code == 202, requested.text
    code = requested.json()["verification_code"]
    link = link_in(await reset_email_for(infra, email))
    landing = await reset.get(link.removeprefix(platform.url("reset")))
    assert landing.status_code == 303
    page = await reset.get("/reset-password")
    assert "Verification Code" in page.text and 'name="totp_code"' not in page.text
    confirmed = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token_of(link), "new_password": NEW_PASSWORD, "verification_code": code},
    )
    assert confirmed.status_code == 200, confirmed.text
    login = await identity.post("/v1/login", json={"email": email, "password": NEW_PASSWORD})
    assert login.status_code == 200, login.text
    assert login.json()["session_token"]

    # The audit log (admins only) says who did it, to whom, why and when.
    refused = await admin.get("/admin/v1/audit", headers=bearer(idp, SUPPORT_SUBJECT, "support"))
    assert refused.status_code == 403
    page_of_log = await admin.get(
        "/admin/v1/audit",
        params={"account_id": account_id},
        headers=bearer(idp, ADMIN_SUBJECT, "admin"),
    )
    assert page_of_log.status_code == 200, page_of_log.text
    records = page_of_log.json()["records"]
    assert [r["action"] for r in records] == [
        "two_factor_removed",
        "security_state_viewed",
        "account_looked_up",
    ]
    (removal,) = [r for r in records if r["id"] == audit_id]
    assert removal["actor"] == SUPPORT_SUBJECT and removal["role"] == "support"
    assert removal["reason"] == REASON and removal["account_id"] == account_id
    assert removal["occurred_at"]

    # And the same record went out as an event, for the security team's tools.
    deadline = asyncio.get_running_loop().time() + 30
    events: list[AdminActionAuditedV1] = []
    while asyncio.get_running_loop().time() < deadline:
        events = await audited_events(infra, account_id)
        if any(e.action == "two_factor_removed" for e in events):
            break
        await asyncio.sleep(0.5)
    (event,) = [e for e in events if e.action == "two_factor_removed"]
    assert (str(event.audit_id), event.actor, event.reason) == (audit_id, SUPPORT_SUBJECT, REASON)


async def test_the_admin_api_is_not_on_identitys_public_or_internal_port(
    platform: Platform, idp: Provider, admin_url: str
) -> None:
    auth = bearer(idp, ADMIN_SUBJECT, "admin")
    ports = platform.ports
    async with httpx.AsyncClient(timeout=10) as client:
        for name in ("identity-admin", "identity-admin-internal", "identity"):
            answer = await client.get(
                f"http://127.0.0.1:{ports[name]}/admin/v1/audit", headers=auth
            )
            assert answer.status_code == 404, name
            document = await client.get(f"http://127.0.0.1:{ports[name]}/openapi.json")
            assert "/admin/" not in document.text, name
        own = await client.get(f"{admin_url}/admin/openapi.json")
        assert own.status_code == 200 and "/admin/v1/audit" in own.json()["paths"]


async def test_tokens_the_identity_provider_did_not_issue_for_us_are_refused(
    idp: Provider, admin: httpx.AsyncClient, register: Register
) -> None:
    """Over real HTTP, each refused before anything is read or changed (the token checks are
    attacked one by one in services/identity/tests/integration/test_admin_tokens.py)."""
    account_id = await register(new_email())
    path = f"/admin/v1/accounts/{account_id}/sign-out-everywhere"
    stranger = SigningKey.rsa()
    for claims, key, kid in (
        ({"iss": "https://idp.evil.example/"}, None, None),
        ({"aud": "wiki"}, None, None),
        ({"exp": 1_600_000_000, "iat": 1_599_999_000}, None, None),
        ({}, None, "not-a-key-id-of-the-provider"),
        ({"roles": ["admin"]}, stranger, idp.keys[0].kid),
    ):
        token = idp.token(key, kid=kid, **claims)
        answer = await admin.post(
            path, json={"reason": REASON}, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 401, claims
        assert answer.json()["error"] == "invalid_token"
    no_role = await admin.post(
        path, json={"reason": REASON}, headers=bearer(idp, SUPPORT_SUBJECT, "employee")
    )
    assert no_role.status_code == 403
    page = await admin.get(
        "/admin/v1/audit",
        params={"account_id": account_id},
        headers=bearer(idp, ADMIN_SUBJECT, "admin"),
    )
    assert page.json()["records"] == []  # nothing was done, so nothing was recorded
