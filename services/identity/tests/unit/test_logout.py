"""Signing out, on the API and the page: the session ends on the server, so a copy of its
token (a shared computer's cookie, a leaked log) is dead too; the person's other sessions stay;
another site cannot sign anyone out."""

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from identity_service.api.main import create_app
from identity_service.core.config import Settings
from identity_service.domain.second_factor import SecondFactor

from .fakes import PASSWORD, World

ORIGIN = "http://127.0.0.1:8001"


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings())
    app.state.accounts = world.accounts
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url=ORIGIN, headers={"Origin": ORIGIN}
    ) as c:
        yield c


async def test_a_signed_out_token_is_refused_everywhere_at_once(
    client: httpx.AsyncClient, world: World
) -> None:
    _, email = await world.new_account()
    token = await world.accounts.login(email, PASSWORD, SecondFactor())
    other = await world.accounts.login(email, PASSWORD, SecondFactor())
    auth = {"Authorization": f"Bearer {token}"}
    assert (await client.post("/v1/logout", headers=auth)).status_code == 204
    # The copy of the token, used 25 times side by side: every use refused.
    answers = await asyncio.gather(
        *(client.post("/v1/totp/setup", headers=auth) for _ in range(25))
    )
    assert [a.status_code for a in answers] == [401] * 25
    again = await client.post("/v1/logout", headers=auth)
    assert again.status_code == 401 and again.json()["error"] == "unauthorized"
    assert (await client.post("/v1/logout")).status_code == 401
    still = await client.post("/v1/totp/setup", headers={"Authorization": f"Bearer {other}"})
    assert still.status_code == 200


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def _logged_in(client: httpx.AsyncClient, email: str) -> str:
    form = await client.get("/login")
    done = await client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": _csrf(form.text)}
    )
    assert done.status_code == 303 and done.headers["location"] == "/logged-in"
    return done.cookies["session"]


async def test_the_sign_out_button_ends_the_session_on_the_server(
    client: httpx.AsyncClient, world: World
) -> None:
    _, email = await world.new_account()
    session = await _logged_in(client, email)
    page = await client.get("/logged-in")
    assert page.status_code == 200 and 'action="/logout"' in page.text
    out = await client.post("/logout", data={"csrf_token": _csrf(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login?signed_out=1"
    assert 'session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    assert await world.accounts.account_of_session(session) is None
    notice = await client.get(out.headers["location"])
    assert "You are signed out." in notice.text


async def test_another_site_cannot_sign_the_person_out(
    client: httpx.AsyncClient, world: World
) -> None:
    _, email = await world.new_account()
    session = await _logged_in(client, email)
    # From another origin (refused before the route), and a same-site form whose token is not
    # the one this browser was given (the route's own check).
    cross = await client.post(
        "/logout", data={"csrf_token": "A" * 43}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    planted = await client.post("/logout", data={"csrf_token": "A" * 43})
    assert planted.status_code == 303 and planted.headers["location"] == "/logged-in"
    assert await world.accounts.account_of_session(session) is not None
