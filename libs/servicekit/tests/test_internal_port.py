"""The internal API answers only on its own port; everything else only on the public one."""

import httpx
import pytest
from fastapi import FastAPI
from servicekit.web.internal_port import InternalPortGate

PUBLIC, INTERNAL = 8000, 8001


def app_with_gate(internal_port: int | None) -> FastAPI:
    app = FastAPI()

    @app.get("/internal/v1/thing")
    async def internal_thing() -> dict[str, str]:
        return {"api": "internal"}

    @app.get("/v1/thing")
    async def public_thing() -> dict[str, str]:
        return {"api": "public"}

    @app.get("/healthz/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(InternalPortGate, internal_port=internal_port)
    return app


async def get(app: FastAPI, port: int, path: str) -> int:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://svc:{port}") as client:
        return (await client.get(path)).status_code


@pytest.mark.parametrize(
    ("port", "path", "status"),
    [
        (INTERNAL, "/internal/v1/thing", 200),
        (PUBLIC, "/internal/v1/thing", 404),
        (PUBLIC, "/v1/thing", 200),
        (INTERNAL, "/v1/thing", 404),
        (PUBLIC, "/healthz/live", 200),
        (INTERNAL, "/healthz/live", 200),
    ],
)
async def test_each_api_only_on_its_port(port: int, path: str, status: int) -> None:
    assert await get(app_with_gate(INTERNAL), port, path) == status


async def test_without_an_internal_port_everything_is_served_on_one() -> None:
    app = app_with_gate(None)
    assert await get(app, PUBLIC, "/internal/v1/thing") == 200
    assert await get(app, PUBLIC, "/v1/thing") == 200
