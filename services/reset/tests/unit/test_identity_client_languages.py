"""reset's client of identity's internal API over a real socket (a scripted HTTP server on
loopback): the page's language goes with the new password, a 204 (no body) is a success, and an
identity from before languages, which refuses the unknown field, still gets the change; identity's
refusals of the second factor become the port's errors."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from reset_service.adapters.identity_client import IdentityClient
from reset_service.service_layer.identity import (
    PasswordRejected,
    SecondFactor,
    TotpInvalid,
    TwoFactorOff,
)

Script = Callable[[dict[str, Any]], tuple[int, dict[str, Any] | None]]
Serve = Callable[[Script], Awaitable[IdentityClient]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []
    clients: list[IdentityClient] = []

    async def start(script: Script) -> IdentityClient:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = next(
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                    status, body = script(json.loads(await reader.readexactly(length)))
                    payload = b"" if body is None else json.dumps(body).encode()
                    writer.write(
                        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n"
                        f"content-length: {len(payload)}\r\n\r\n".encode()
                        + payload
                    )
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        client = IdentityClient(f"http://127.0.0.1:{port}", "token", timeout=5)
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.aclose()
    for server in servers:
        server.close()


async def test_the_language_goes_with_the_new_password_and_204_is_success(serve: Serve) -> None:
    bodies: list[dict[str, Any]] = []

    def identity(body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        bodies.append(body)
        return 204, None  # as identity answers: no body

    client = await serve(identity)
    await client.set_password(uuid.uuid4(), "a long new password", None, "192.0.2.1", "de")
    assert bodies == [
        {"new_password": "a long new password", "client_ip": "192.0.2.1", "locale": "de"}
    ]


async def test_an_identity_from_before_languages_still_gets_the_change(serve: Serve) -> None:
    bodies: list[dict[str, Any]] = []

    def old_identity(body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        bodies.append(body)
        if "locale" in body:  # extra="forbid", as SetPassword was
            details = [{"field": "locale", "problem": "Extra inputs are not permitted"}]
            return 422, {"error": "invalid_request", "message": "x", "details": details}
        return 204, None

    client = await serve(old_identity)
    await client.set_password(uuid.uuid4(), "a long new password", None, None, "es")
    assert [("locale" in b) for b in bodies] == [True, False]


async def test_a_refused_password_keeps_its_reason_and_bound(serve: Serve) -> None:
    def identity(body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        refused = {"reason": "too_short", "limit": 15, "message": "use at least 15 characters"}
        return 422, {"error": "password_rejected", **refused}

    client = await serve(identity)
    with pytest.raises(PasswordRejected) as rejected:
        await client.set_password(uuid.uuid4(), "short", None, None, "de")
    assert (rejected.value.reason, rejected.value.limit) == ("too_short", 15)


@pytest.mark.parametrize(
    ("status", "error", "raised"),
    [
        (403, "totp_invalid", TotpInvalid),
        (409, "two_factor_off", TwoFactorOff),  # not a wrong code: the reset is out of date
    ],
)
async def test_identitys_second_factor_refusals_are_told_apart(
    serve: Serve, status: int, error: str, raised: type[Exception]
) -> None:
    def identity(body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        return status, {"error": error, "message": "refused"}

    client = await serve(identity)
    with pytest.raises(raised) as refused:
        await client.set_password(uuid.uuid4(), "a long new password", SecondFactor("123456"), None)
    assert type(refused.value) is raised
