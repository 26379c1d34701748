"""identity's client of reset's internal API sends the account's language, and still starts the
reset (in English) against a reset from before languages, which refuses the unknown field."""

import json

import httpx
from identity_service.adapters.reset_client import ResetClient


def _client(handler: httpx.MockTransport) -> ResetClient:
    client = ResetClient("http://reset.internal", "token")
    client._http = httpx.AsyncClient(base_url="http://reset.internal", transport=handler)
    return client


async def test_the_language_goes_with_the_request() -> None:
    bodies: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(202, json={"verification_code": "ABCD2345"})

    assert await _client(httpx.MockTransport(answer)).start_reset("a@example.com", "de") == (
        "ABCD2345"
    )
    assert bodies == [{"email": "a@example.com", "locale": "de"}]


async def test_a_reset_from_before_languages_still_starts_the_reset() -> None:
    bodies: list[dict[str, str]] = []

    def old_reset(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if "locale" in body:  # extra="forbid", as reset's ResetRequest was
            problem = {"field": "locale", "problem": "Extra inputs are not permitted"}
            return httpx.Response(422, json={"error": "invalid_request", "details": [problem]})
        return httpx.Response(202, json={"verification_code": "ABCD2345"})

    code = await _client(httpx.MockTransport(old_reset)).start_reset("a@example.com", "es")
    assert code == "ABCD2345"
    assert bodies == [{"email": "a@example.com", "locale": "es"}, {"email": "a@example.com"}]


async def test_another_422_is_not_retried() -> None:
    calls = 0

    def refuses(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        problem = {"field": "email", "problem": "not an email"}
        return httpx.Response(422, json={"error": "invalid_request", "details": [problem]})

    try:
        await _client(httpx.MockTransport(refuses)).start_reset("a@example.com", "es")
    except Exception as exc:  # ResetUnavailable
        assert "422" in str(exc)
    else:
        raise AssertionError("a refused reset must not look started")
    assert calls == 1
