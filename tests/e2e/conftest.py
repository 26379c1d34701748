"""HTTP clients of the running services; the `platform` fixture itself is in tests/conftest.py
(shared with tests/browser)."""

from collections.abc import AsyncIterator

import httpx
import pytest
from devinfra.platform import Platform


@pytest.fixture
async def identity(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("identity"), timeout=10) as client:
        yield client


@pytest.fixture
async def reset(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("reset"), timeout=10) as client:
        yield client
