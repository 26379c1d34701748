"""The admin API's HTTP layer on the use cases on fakes, with tokens of a stand-in identity
provider (devinfra.idp: fresh keys, the JWKS over HTTP on loopback). The app's lifespan is not
run: the test hands it the use cases and the token check bootstrap would build."""

import uuid
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import httpx
import pytest
from devinfra.idp import AUDIENCE, ISSUER, Provider, SigningKey, serving
from identity_service.adapters.admin_tokens import JwksCache, JwtAdminTokens
from identity_service.api.main import create_app
from identity_service.core.config import Settings
from identity_service.domain.support import Action

from .fakes import World

PUBLIC, INTERNAL, ADMIN_PORT = 8001, 8101, 8201
REASON = {"reason": "lost phone; checked by video call, ticket SUP-7"}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with serving(Provider([SigningKey.ec()])) as running:
        yield running


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def app(provider: Provider, world: World) -> AsyncIterator[object]:
    settings = Settings(
        internal_port=INTERNAL,
        admin_port=ADMIN_PORT,
        admin_jwks_url=provider.url,
        admin_jwt_issuer=ISSUER,
        admin_jwt_audience=AUDIENCE,
    )
    app = create_app(settings)
    jwks = JwksCache(provider.url, ttl=600, min_refetch_interval=30)
    tokens = JwtAdminTokens(
        jwks,
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=settings.admin_algorithms,
        role_claim="roles",
        leeway_seconds=5,
    )
    app.state.identity = SimpleNamespace(support=world.support, admin_tokens=tokens)
    yield app
    await jwks.aclose()


def client(app: object, port: int) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 50000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{port}")


@pytest.fixture
async def admin(app: object) -> AsyncIterator[httpx.AsyncClient]:
    async with client(app, ADMIN_PORT) as c:
        yield c


def bearer(provider: Provider, **claims: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {provider.token(**claims)}"}


async def test_the_admin_api_answers_on_its_port_only(
    app: object, provider: Provider, world: World
) -> None:
    account_id, _ = await world.new_account()
    path = f"/admin/v1/accounts/{account_id}/security"
    auth = bearer(provider)
    for port in (PUBLIC, INTERNAL):
        async with client(app, port) as other:
            answer = await other.get(path, headers=auth)
            assert answer.status_code == 404 and answer.json()["error"] == "not_found"
            assert (await other.get("/admin/openapi.json")).status_code == 404
    async with client(app, ADMIN_PORT) as admin:
        assert (await admin.get(path, headers=auth)).status_code == 200
        # ...and nothing but the admin API (and health) answers there.
        assert (await admin.get("/login")).status_code == 404
        assert (await admin.post("/internal/v1/accounts/lookup", json={})).status_code == 404


async def test_no_admin_port_no_admin_api(provider: Provider) -> None:
    app = create_app(Settings())
    async with client(app, PUBLIC) as public:
        answer = await public.get(f"/admin/v1/accounts/{uuid.uuid4()}/security")
        assert answer.status_code == 404


async def test_the_admin_document_is_its_own_and_lists_every_error(
    app: object, admin: httpx.AsyncClient
) -> None:
    document = (await admin.get("/admin/openapi.json")).json()
    assert document["components"]["securitySchemes"]["adminJwt"]["scheme"] == "bearer"
    assert len(document["paths"]) == 6
    for path, operations in document["paths"].items():
        assert path.startswith("/admin/v1/")
        for operation in operations.values():
            answers = operation["responses"]
            assert {"401", "503"} <= set(answers), path
            for status, answer in answers.items():
                if status.startswith(("4", "5")):  # the body every error has, 422 too
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema["$ref"].endswith("/ErrorBody"), (path, status)
    async with client(app, PUBLIC) as public:
        public_document = (await public.get("/openapi.json")).json()
    assert not [p for p in public_document["paths"] if p.startswith("/admin")]


async def test_no_token_or_a_bad_one_is_a_401(
    admin: httpx.AsyncClient, provider: Provider, world: World
) -> None:
    account_id, _ = await world.new_account()
    path = f"/admin/v1/accounts/{account_id}/sign-out-everywhere"
    for headers in (
        {},
        {"Authorization": "Basic Z3JhY2U6cGFzcw=="},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer not.a.jwt"},
        bearer(provider, iss="https://idp.evil.example/"),
        bearer(provider, aud="wiki"),
        bearer(provider, exp=1_600_000_000, iat=1_599_999_000),
        {"Authorization": f"Bearer {provider.token(kid='rotated-away')}"},
    ):
        answer = await admin.post(path, json=REASON, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.json()["error"] == "invalid_token"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert world.tables.audit == []


async def test_a_token_without_our_roles_is_a_403(
    admin: httpx.AsyncClient, provider: Provider, world: World
) -> None:
    account_id, _, _, _ = await world.totp_account()
    answer = await admin.post(
        f"/admin/v1/accounts/{account_id}/two-factor/remove",
        json=REASON,
        headers=bearer(provider, roles=["employee"]),
    )
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    assert world.account(account_id).totp_enabled and world.tables.audit == []


async def test_support_may_not_read_the_audit_log(
    admin: httpx.AsyncClient, provider: Provider
) -> None:
    refused = await admin.get("/admin/v1/audit", headers=bearer(provider, roles=["support"]))
    assert refused.status_code == 403
    allowed = await admin.get("/admin/v1/audit", headers=bearer(provider, roles=["admin"]))
    assert allowed.status_code == 200


async def test_the_audit_names_the_tokens_subject_whatever_the_request_claims(
    admin: httpx.AsyncClient, provider: Provider, world: World
) -> None:
    """Headers a proxy might set for a user, or a body naming another actor, change nothing:
    only the verified token's subject is who acted."""
    account_id, _ = await world.new_account()
    path = f"/admin/v1/accounts/{account_id}/sign-out-everywhere"
    spoofing = {
        "X-Forwarded-User": "ada.admin@corp.example",
        "X-Remote-User": "ada.admin@corp.example",
        "X-Auth-Request-User": "ada.admin@corp.example",
        "X-Admin-Subject": "ada.admin@corp.example",
    }
    extra = await admin.post(
        path,
        json={**REASON, "actor": "ada.admin@corp.example"},
        headers=bearer(provider) | spoofing,
    )
    assert extra.status_code == 422  # no such field
    done = await admin.post(path, json=REASON, headers=bearer(provider) | spoofing)
    assert done.status_code == 200
    (record,) = world.tables.audit
    assert record.actor == "grace@corp.example" and str(record.id) == done.json()["audit_id"]


async def test_the_lost_device_calls_end_to_end_on_fakes(
    admin: httpx.AsyncClient, provider: Provider, world: World
) -> None:
    account_id, email, _, _ = await world.totp_account()
    auth = bearer(provider)
    found = await admin.post("/admin/v1/accounts/lookup", json={"email": email}, headers=auth)
    assert found.json() == {"account_id": str(account_id)}
    state = await admin.get(f"/admin/v1/accounts/{account_id}/security", headers=auth)
    assert state.status_code == 200
    body = state.json()
    assert body["two_factor_enabled"] is True and body["recovery_codes_left"] == 10
    assert body["open_reset_requests"] == []
    assert "hash" not in state.text and "secret" not in state.text
    no_reason = await admin.post(
        f"/admin/v1/accounts/{account_id}/two-factor/remove", json={}, headers=auth
    )
    assert no_reason.status_code == 422
    removed = await admin.post(
        f"/admin/v1/accounts/{account_id}/two-factor/remove", json=REASON, headers=auth
    )
    assert removed.status_code == 200
    again = await admin.post(
        f"/admin/v1/accounts/{account_id}/two-factor/remove", json=REASON, headers=auth
    )
    assert again.status_code == 409 and again.json()["error"] == "two_factor_not_enabled"
    unknown = await admin.post(
        f"/admin/v1/accounts/{uuid.uuid4()}/two-factor/remove", json=REASON, headers=auth
    )
    assert unknown.status_code == 404
    world.resets.unavailable = True
    down = await admin.post(
        f"/admin/v1/accounts/{account_id}/password-resets/cancel", json=REASON, headers=auth
    )
    assert down.status_code == 503 and "Retry-After" in down.headers
    page = await admin.get(
        "/admin/v1/audit",
        params={"account_id": str(account_id), "limit": 2},
        headers=bearer(provider, roles=["admin"], sub="ada@corp.example"),
    )
    records = page.json()["records"]
    assert [r["action"] for r in records] == [
        Action.TWO_FACTOR_REMOVED.value,
        Action.SECURITY_STATE_VIEWED.value,
    ]
    assert records[0]["reason"] == REASON["reason"] and records[0]["role"] == "support"
    assert page.json()["next_before"] is not None


async def test_a_page_cursor_past_the_audit_ids_range_is_a_422(
    admin: httpx.AsyncClient, provider: Provider
) -> None:
    """Schemathesis sent before=2997554117369862440046500103722106880: PostgreSQL's bigint
    overflowed, a 500. The cursor is an audit row id: past 2**63 - 1 it is invalid input."""
    auth = bearer(provider, roles=["admin"])
    for cursor in (2**63, 2997554117369862440046500103722106880):
        answer = await admin.get(f"/admin/v1/audit?before={cursor}", headers=auth)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "invalid_request"
    assert (await admin.get(f"/admin/v1/audit?before={2**63 - 1}", headers=auth)).status_code == 200


async def test_a_reason_with_a_nul_or_control_character_is_a_422_on_every_route(
    admin: httpx.AsyncClient, provider: Provider, world: World
) -> None:
    """Schemathesis sent reason=...%00 to the security state: PostgreSQL's text refuses NUL, a
    500. A reason is text a person typed: controls other than tab and newlines are refused."""
    account_id, _ = await world.new_account()
    auth = bearer(provider)
    for reason in ("SUP-1\x00", "ok\x1b[2Jforged", "\x85ticket"):
        state = await admin.get(
            f"/admin/v1/accounts/{account_id}/security", params={"reason": reason}, headers=auth
        )
        assert state.status_code == 422, (reason, state.text)
        change = await admin.post(
            f"/admin/v1/accounts/{account_id}/sign-out-everywhere",
            json={"reason": reason},
            headers=auth,
        )
        assert change.status_code == 422, (reason, change.text)
    assert world.tables.audit == []
    lines = "ticket SUP-1\n\tidentity checked by video call"
    kept = await admin.get(
        f"/admin/v1/accounts/{account_id}/security", params={"reason": lines}, headers=auth
    )
    assert kept.status_code == 200
    assert world.tables.audit[-1].reason == lines
