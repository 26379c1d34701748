"""The body limit on identity's app (servicekit BodySizeLimit): a body over MAX_BODY_BYTES is
the same 413 whether it declares its length or comes chunked (no Content-Length)."""

from collections.abc import AsyncIterator

import httpx
import pytest
from identity_service.api.main import create_app
from identity_service.core.config import Settings

ORIGIN = "http://127.0.0.1:8001"  # Settings' development public origin


async def _chunks(total: int, pulled: list[int]) -> AsyncIterator[bytes]:
    """A body sent with Transfer-Encoding: chunked, 1 KiB at a time."""
    for _ in range(total // 1024):
        pulled.append(1024)
        yield b"x" * 1024


@pytest.mark.parametrize("path", ["/v1/login", "/v1/accounts", "/login"])
async def test_an_oversized_chunked_body_is_the_same_413_as_a_declared_one(path: str) -> None:
    settings = Settings()
    limit = settings.max_body_bytes
    transport = httpx.ASGITransport(app=create_app(settings), client=("198.51.100.7", 50000))
    form = path == "/login"  # the sign-in page's form
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    headers = {"content-type": content_type, "Origin": ORIGIN}
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers=headers) as client:
        declared = await client.post(path, content=b"x" * (4 * limit))
        pulled: list[int] = []
        chunked = await client.post(path, content=_chunks(4 * limit, pulled))
    assert "content-length" not in chunked.request.headers
    assert declared.status_code == chunked.status_code == 413
    assert chunked.json() == declared.json()
    assert chunked.json()["error"] == "body_too_large"
    assert sum(pulled) <= limit + 1024  # stops reading at the limit
