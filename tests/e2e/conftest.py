"""HTTP clients of the running services; the `platform` fixture itself is in tests/conftest.py
(shared with tests/browser)."""

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import httpx
import pytest
from devinfra.idp import AUDIENCE, ISSUER, Provider, SigningKey, serving
from devinfra.platform import Platform
from devinfra.processes import free_port
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


@pytest.fixture(scope="module")
def idp() -> Iterator[Provider]:
    """A stand-in for the company's identity provider: key pairs made here, JWKS over HTTP."""
    with serving(Provider([SigningKey.rsa()])) as provider:
        yield provider


@pytest.fixture(scope="module")
def admin_url(platform: Platform, idp: Provider) -> Iterator[str]:
    """One more identity process (same database and Kafka) that also serves the admin API."""
    port = free_port()
    platform.start_instance(
        "identity",
        "identity-admin",
        env={
            "ADMIN_PORT": str(port),
            "ADMIN_JWKS_URL": idp.url,
            "ADMIN_JWT_ISSUER": ISSUER,
            "ADMIN_JWT_AUDIENCE": AUDIENCE,
        },
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        platform.stop_service("identity-admin")
