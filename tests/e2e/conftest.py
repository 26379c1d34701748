"""HTTP clients of the running services; the `platform` fixture itself is in tests/conftest.py
(shared with tests/browser)."""

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from devinfra.platform import Platform
from devinfra.registration import register_by_email

OLD_PASSWORD = "old correct horse battery"
EMAIL_WAIT = 30.0
# register(email, password=OLD_PASSWORD) -> the new account's id, through the emailed link.
Register = Callable[..., Awaitable[str]]


@pytest.fixture
async def identity(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("identity"), timeout=10) as client:
        yield client


@pytest.fixture
async def reset(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("reset"), timeout=10) as client:
        yield client


@pytest.fixture
def register(infra, identity: httpx.AsyncClient) -> Register:
    async def create(email: str, password: str = OLD_PASSWORD) -> str:
        return await register_by_email(identity, infra.mailbox, email, password)

    return create
