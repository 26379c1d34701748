"""identity's OpenAPI documents: the public one on the public port without the internal or the
admin API (test_admin_routes.py checks the admin one), the internal one on INTERNAL_PORT only;
every error of every operation documented with the error body, the session and the internal
token declared (what each answers is checked against the running service by tests/e2e,
schemathesis)."""

from typing import Any

import httpx
import pytest
from identity_service.api.main import create_app
from identity_service.core.config import Settings
from servicekit.testing import undocumented_errors

PUBLIC, INTERNAL = 8001, 8101
SESSION_OPERATIONS = {"/v1/logout", "/v1/totp/setup", "/v1/totp/activate", "/v1/totp/disable"}


async def get(port: int, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(Settings(internal_port=INTERNAL)))
    async with httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{port}") as c:
        return await c.get(path)


async def document(port: int, path: str) -> dict[str, Any]:
    answer = await get(port, path)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_the_public_document_has_no_internal_or_admin_path() -> None:
    paths = (await document(PUBLIC, "/openapi.json"))["paths"]
    assert {"/v1/accounts", "/v1/login", *SESSION_OPERATIONS} <= set(paths)
    assert not [p for p in paths if p.startswith(("/internal", "/admin"))]


async def test_the_internal_document_is_served_on_the_internal_port_only() -> None:
    internal = await document(INTERNAL, "/internal/openapi.json")
    assert set(internal["paths"]) == {
        "/internal/v1/accounts/lookup",
        "/internal/v1/accounts/{account_id}/totp/verify",
        "/internal/v1/accounts/{account_id}/password",
    }
    assert (await get(PUBLIC, "/internal/openapi.json")).status_code == 404
    assert (await get(INTERNAL, "/openapi.json")).status_code == 404
    for operations in internal["paths"].values():
        assert operations["post"]["security"] == [{"internalToken": []}]


async def test_session_routes_declare_the_session_scheme_and_no_other_route_does() -> None:
    public = await document(PUBLIC, "/openapi.json")
    assert public["components"]["securitySchemes"] == {
        "sessionToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "session_token from POST /v1/login",
        }
    }
    secured = {p for p, ops in public["paths"].items() if ops["post"].get("security")}
    assert secured == SESSION_OPERATIONS
    # The header is the scheme's, not a parameter a client fills in.
    assert "authorization" not in str(public["paths"]).lower()


@pytest.mark.parametrize(
    ("port", "path"), [(PUBLIC, "/openapi.json"), (INTERNAL, "/internal/openapi.json")]
)
async def test_every_operation_declares_the_error_body_for_its_statuses(
    port: int, path: str
) -> None:
    assert undocumented_errors(await document(port, path)) == []


async def test_the_use_cases_refusals_are_documented() -> None:
    paths = (await document(PUBLIC, "/openapi.json"))["paths"]

    def statuses(path: str) -> set[str]:
        return set(paths[path]["post"]["responses"])

    assert {"202", "422", "429", "503"} <= statuses("/v1/accounts")
    assert {"201", "410"} <= statuses("/v1/accounts/verify")
    assert {"200", "401", "429", "503"} <= statuses("/v1/login")
    assert {"204", "401"} <= statuses("/v1/logout")
    assert {"200", "401", "409"} <= statuses("/v1/totp/setup")
    assert {"200", "400", "401", "403", "429", "503"} <= statuses("/v1/totp/activate")
    assert {"200", "400", "401", "403", "429", "503"} <= statuses("/v1/totp/disable")
    assert {"200", "410"} <= statuses("/v1/this-wasnt-me")


@pytest.mark.parametrize(
    ("port", "path"), [(PUBLIC, "/openapi.json"), (INTERNAL, "/internal/openapi.json")]
)
async def test_every_operation_with_a_body_refuses_another_media_type_with_415(
    port: int, path: str
) -> None:
    paths = (await document(port, path))["paths"]
    with_body = [p for p, ops in paths.items() if "requestBody" in ops["post"]]
    assert with_body
    transport = httpx.ASGITransport(app=create_app(Settings(internal_port=INTERNAL)))
    async with httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{port}") as c:
        for operation in with_body:
            answer = await c.post(
                operation.replace("{account_id}", "6f1b0f5e-3c55-4a8e-9d7e-2f1d3a9c0b11"),
                content=b'{"email": "ada@example.com"}',
                headers={"content-type": "text/plain"},
            )
            assert answer.status_code == 415, (operation, answer.text)
            assert answer.json()["error"] == "unsupported_media_type"


async def test_the_internal_password_change_documents_two_factor_off() -> None:
    """reset tells a person to ask again (not that their code is wrong) on this answer."""
    internal = await document(INTERNAL, "/internal/openapi.json")
    responses = internal["paths"]["/internal/v1/accounts/{account_id}/password"]["post"]
    assert "two_factor_off" in responses["responses"]["409"]["description"]
