"""reset's OpenAPI documents: the public one on the public port without the internal API, the
internal one on INTERNAL_PORT only; every error of every operation documented with the error
body (what each answers is checked against the running service by tests/e2e, schemathesis)."""

from typing import Any

import email_validator
import httpx
import pytest
from pwreset_contracts.emails import SPECIAL_USE_DOMAINS
from reset_service.api.main import create_app
from reset_service.core.config import Settings
from servicekit.testing import undocumented_errors

PUBLIC, INTERNAL = 8002, 8102


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
    assert set(paths) == {"/v1/password-resets", "/v1/password-resets/confirm"}
    assert not [p for p in paths if p.startswith(("/internal", "/admin"))]


async def test_the_internal_document_is_served_on_the_internal_port_only() -> None:
    internal = await document(INTERNAL, "/internal/openapi.json")
    assert set(internal["paths"]) == {
        "/internal/v1/password-resets",
        # identity's admin API: an account's open requests, and cancelling them
        "/internal/v1/accounts/{account_id}/password-resets",
        "/internal/v1/accounts/{account_id}/password-resets/cancel",
    }
    assert (await get(PUBLIC, "/internal/openapi.json")).status_code == 404
    assert (await get(INTERNAL, "/openapi.json")).status_code == 404
    operation = internal["paths"]["/internal/v1/password-resets"]["post"]
    assert operation["security"] == [{"internalToken": []}]
    assert internal["components"]["securitySchemes"]["internalToken"]["scheme"] == "bearer"


@pytest.mark.parametrize(
    ("port", "path"), [(PUBLIC, "/openapi.json"), (INTERNAL, "/internal/openapi.json")]
)
async def test_every_operation_declares_the_error_body_for_its_statuses(
    port: int, path: str
) -> None:
    assert undocumented_errors(await document(port, path)) == []


async def test_the_use_cases_refusals_are_documented() -> None:
    paths = (await document(PUBLIC, "/openapi.json"))["paths"]
    request = paths["/v1/password-resets"]["post"]["responses"]
    confirm = paths["/v1/password-resets/confirm"]["post"]["responses"]
    assert {"202", "429", "503"} <= set(request)
    assert {"200", "400", "410", "422", "429", "503"} <= set(confirm)
    assert request["429"]["headers"]["Retry-After"]["required"] is True
    # totp_throttled carries no Retry-After; rate_limited does.
    assert confirm["429"]["headers"]["Retry-After"]["required"] is False


def test_the_documented_email_pattern_names_what_email_validator_refuses() -> None:
    assert tuple(email_validator.SPECIAL_USE_DOMAIN_NAMES) == SPECIAL_USE_DOMAINS


@pytest.mark.parametrize(
    ("port", "path"), [(PUBLIC, "/openapi.json"), (INTERNAL, "/internal/openapi.json")]
)
async def test_every_operation_with_a_body_refuses_another_media_type_with_415(
    port: int, path: str
) -> None:
    paths = (await document(port, path))["paths"]
    with_body = [p for p, ops in paths.items() if "requestBody" in ops.get("post", {})]
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
