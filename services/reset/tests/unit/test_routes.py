"""The HTTP layer on the use cases on fakes (the app's lifespan, which builds the real adapters,
is not run): routes call the use cases and turn the service layer's errors into answers."""

import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from reset_service.api.main import create_app
from reset_service.core.config import DEV_INTERNAL_TOKEN, Settings
from reset_service.service_layer.password_resets import PasswordResets

from .fakes import FakeDatabase, FakeIdentity, emailed_token

ORIGIN = "http://127.0.0.1:8002"  # Settings' development public origin


@pytest.fixture
async def client(resets: PasswordResets) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings())
    app.state.resets = resets
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url=ORIGIN, headers={"Origin": ORIGIN}
    ) as client:
        yield client


async def test_known_and_unknown_emails_get_the_same_answer(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    identity.add("ada@example.com")
    known = await client.post("/v1/password-resets", json={"email": "ada@example.com"})
    unknown = await client.post("/v1/password-resets", json={"email": "eve@example.com"})
    assert known.status_code == unknown.status_code == 202
    assert known.json().keys() == unknown.json().keys()
    assert known.json()["verification_code"] != unknown.json()["verification_code"]
    assert len(db.tables.outbox) == 1


async def test_over_the_ip_limit_is_a_429_with_retry_after(
    client: httpx.AsyncClient, db: FakeDatabase
) -> None:
    for n in range(20):
        answer = await client.post("/v1/password-resets", json={"email": f"p{n}@example.com"})
        assert answer.status_code == 202
    limited = await client.post("/v1/password-resets", json={"email": "late@example.com"})
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert limited.headers["Retry-After"] == str(limited.json()["retry_after_seconds"]) == "900"


async def test_identity_down_is_a_503_not_a_500(
    client: httpx.AsyncClient, identity: FakeIdentity
) -> None:
    identity.unavailable = True
    answer = await client.post("/v1/password-resets", json={"email": "ada@example.com"})
    assert answer.status_code == 503
    assert answer.json()["error"] == "service_unavailable"


async def test_a_wrong_code_says_how_many_attempts_are_left(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    account = identity.add("ada@example.com")
    await client.post("/v1/password-resets", json={"email": "ada@example.com"})
    answer = await client.post(
        "/v1/password-resets/confirm",
        json={
            "token": emailed_token(db, account),
            "new_password": "a brand new long password",
            "verification_code": "ZZZZZZZZ",
        },
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "wrong_code" and answer.json()["attempts_left"] == 4


async def test_a_reset_outdated_by_removed_two_factor_is_a_409_saying_to_ask_again(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    account = identity.add("ada@example.com", totp=True)
    await client.post("/v1/password-resets", json={"email": "ada@example.com"})
    identity.remove_two_factor(account)  # support removed it since
    answer = await client.post(
        "/v1/password-resets/confirm",
        json={
            "token": emailed_token(db, account),
            "new_password": "a brand new long password",
            "totp_code": "123456",
        },
    )
    assert answer.status_code == 409
    assert answer.json()["error"] == "reset_outdated"
    assert "attempts_left" not in answer.json()
    assert "new reset" in answer.json()["message"]


async def test_opening_the_link_swaps_the_token_for_a_cookie_and_consumes_nothing(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    account = identity.add("ada@example.com", totp=True)
    await client.post("/v1/password-resets", json={"email": "ada@example.com"})
    token = emailed_token(db, account)
    landing = await client.get(f"/reset-password?token={token}")
    assert landing.status_code == 303
    assert landing.headers["location"] == "/reset-password"  # no token left in the URL
    cookie = landing.headers["set-cookie"]
    assert cookie.startswith(f"reset_link={token};") and "HttpOnly" in cookie
    assert "Path=/reset-password" in cookie
    page = await client.get("/reset-password")  # the browser sends the cookie back
    assert page.status_code == 200 and 'name="totp_code"' in page.text
    assert all(r.used_at is None for r in db.tables.requests.values())


@pytest.mark.parametrize(
    "token",
    ["%C4%B0" * 20, "%FF%FE" * 10, "%00%0D%0ASet-Cookie:%20x%3D1aaaaaaaa", "x" * 5000, "short"],
    ids=["non-latin-1", "invalid utf-8", "control characters", "huge", "too short"],
)
async def test_a_crafted_link_token_gets_the_invalid_link_page_and_no_cookie(
    client: httpx.AsyncClient, token: str
) -> None:
    # A link anyone can craft and send around: its token was a 500 (not encodable in a
    # Set-Cookie header) or was stored in the browser as it came, whatever it held.
    landing = await client.get(f"/reset-password?token={token}")
    assert landing.status_code == 410
    assert landing.headers["content-type"].startswith("text/html")
    assert "reset_link" not in landing.headers.get("set-cookie", "")


async def test_identity_starts_a_reset_on_the_internal_api_outside_the_client_buckets(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    identity.add("ada@example.com")
    answer = await client.post(
        "/internal/v1/password-resets",
        json={"email": "ada@example.com"},
        headers={"Authorization": f"Bearer {DEV_INTERNAL_TOKEN}"},
    )
    assert answer.status_code == 202
    assert [h.scope for h in db.tables.hits] == ["account"]
    refused = await client.post("/internal/v1/password-resets", json={"email": "a@example.com"})
    assert refused.status_code == 401


async def test_identity_lists_and_cancels_an_accounts_open_requests_for_support(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    ada = identity.add("ada@example.com")
    auth = {"Authorization": f"Bearer {DEV_INTERNAL_TOKEN}"}
    assert (await client.post("/v1/password-resets", json={"email": "ada@example.com"})).is_success
    path = f"/internal/v1/accounts/{ada.account_id}/password-resets"

    listed = await client.get(path, headers=auth)
    assert listed.status_code == 200
    (request,) = listed.json()["open"]
    # ids, times and counts: nothing that opens the request
    assert set(request) == {"id", "created_at", "expires_at", "requires_totp", "failed_attempts"}
    token = emailed_token(db, ada)
    assert token not in listed.text

    cancelled = await client.post(f"{path}/cancel", headers=auth)
    assert cancelled.status_code == 200 and cancelled.json() == {"cancelled": 1}
    assert (await client.get(path, headers=auth)).json() == {"open": []}
    # The emailed link no longer works.
    confirm = await client.post(
        "/v1/password-resets/confirm",
        json={"token": token, "new_password": "a brand new long password"},
    )
    assert confirm.status_code in (400, 410) and confirm.json()["error"] == "link_invalid"

    for method, url in (("GET", path), ("POST", f"{path}/cancel")):
        refused = await client.request(method, url)  # no credential
        assert refused.status_code == 401


@pytest.mark.parametrize("support_url", [None, "https://help.example.org/lost-device?from=reset"])
async def test_lost_device_on_the_set_new_password_page_leads_to_support(
    support_url: str | None, resets: PasswordResets, identity: FakeIdentity, db: FakeDatabase
) -> None:
    app = create_app(Settings(support_url=support_url))
    app.state.resets = resets
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url=ORIGIN, headers={"Origin": ORIGIN}
    ) as client:
        account = identity.add("ada@example.com", totp=True)
        await client.post("/v1/password-resets", json={"email": "ada@example.com"})
        await client.get(f"/reset-password?token={emailed_token(db, account)}")
        page = await client.get("/reset-password")
    assert "Ask our support team to remove two-factor authentication" in page.text
    assert "never ask for your password or a code" in page.text
    if support_url is None:  # no page to send them to: the sentence, without a dead link
        assert "help.example.org" not in page.text
    else:  # SUPPORT_URL set (the deployments set it): the sentence links to the team's page
        assert 'href="https://help.example.org/lost-device?from=reset"' in page.text


async def _chunks(total: int, pulled: list[int]) -> AsyncIterator[bytes]:
    """A body sent with Transfer-Encoding: chunked (no Content-Length), 1 KiB at a time."""
    for _ in range(total // 1024):
        pulled.append(1024)
        yield b"x" * 1024


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/password-resets", "application/json"),
        ("/v1/password-resets/confirm", "application/json"),
        ("/forgot-password", "application/x-www-form-urlencoded"),
    ],
)
async def test_an_oversized_chunked_body_is_the_same_413_as_a_declared_one(
    client: httpx.AsyncClient, path: str, content_type: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Leaving out Content-Length must not turn the body limit's 413 into another answer, and
    the app stops reading at the limit."""
    limit = Settings().max_body_bytes
    headers = {"content-type": content_type}
    declared = await client.post(path, content=b"x" * (4 * limit), headers=headers)
    pulled: list[int] = []
    chunked = await client.post(path, content=_chunks(4 * limit, pulled), headers=headers)
    assert "content-length" not in chunked.request.headers
    assert chunked.request.headers["transfer-encoding"] == "chunked"
    assert declared.status_code == chunked.status_code == 413
    assert chunked.json() == declared.json()
    assert chunked.json()["error"] == "body_too_large"
    assert sum(pulled) <= limit + 1024  # not one chunk past the one over the limit
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # a refusal, no error
