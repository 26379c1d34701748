"""The security rules across the running services: what a client, a mail scanner, a topic
reader or a log reader can see. One test per rule; docs/security.md maps rules to these tests."""

import asyncio
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pyotp
import pytest
from devinfra.platform import TOPICS, Platform
from devinfra.topic_reader import read_topics
from servicekit.web.security_headers import HEADERS

from .conftest import Register
from .test_reset_flow import EMAIL_WAIT, OLD_PASSWORD, link_in, new_email

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "a fresh and long new password 7"


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


async def wait_mail(infra, email: str, subject: str):
    return await infra.mailbox.wait_for(
        lambda m: m["To"] == email and m["Subject"] == subject, timeout=EMAIL_WAIT
    )


async def enable_totp(identity: httpx.AsyncClient, email: str) -> tuple[pyotp.TOTP, list[str]]:
    session = await identity.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    auth = {"Authorization": f"Bearer {session.json()['session_token']}"}
    totp = pyotp.TOTP((await identity.post("/v1/totp/setup", headers=auth)).json()["secret"])
    activated = await identity.post(
        "/v1/totp/activate", json={"code": totp.now(), "password": OLD_PASSWORD}, headers=auth
    )
    assert activated.status_code == 200, activated.text
    return totp, activated.json()["recovery_codes"]


async def test_request_response_is_identical_for_known_unknown_2fa_and_rate_limited(
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    known, with_2fa, limited = new_email(), new_email(), new_email()
    for email in (known, with_2fa, limited):
        await register(email)
    await enable_totp(identity, with_2fa)
    for _ in range(3):  # use up the per-account limit
        await reset.post("/v1/password-resets", json={"email": limited})

    responses = {
        kind: await reset.post("/v1/password-resets", json={"email": email})
        for kind, email in {
            "known": known,
            "unknown": new_email(),
            "2fa": with_2fa,
            "rate-limited": limited,
        }.items()
    }
    shapes = {
        kind: (
            r.status_code,
            tuple(sorted(r.json())),
            r.json()["message"],
            r.json()["expires_in_seconds"],
        )
        for kind, r in responses.items()
    }
    assert len(set(shapes.values())) == 1, shapes
    for r in responses.values():
        assert re.fullmatch(r"[A-Z2-9]{8}", r.json()["verification_code"])
        assert set(r.headers) >= {"cache-control", "content-security-policy"}


async def test_per_ip_limit_is_a_429_with_retry_after(platform: Platform) -> None:
    limited = Platform(
        platform.endpoints,
        platform.run_dir / "ip-limited",
        ports={
            "identity": platform.ports["identity"],
            "identity-internal": platform.ports["identity-internal"],
        },
        extra_env={"reset": {"RATE_LIMIT_IP_MAX": "3", "OUTBOX_RELAY_ENABLED": "false"}},
    )
    limited.start_service("reset")
    try:
        async with httpx.AsyncClient(base_url=limited.url("reset"), timeout=10) as client:
            ip = {"X-Forwarded-For": f"198.51.100.{uuid.uuid4().int % 200 + 1}"}
            for _ in range(3):
                ok = await client.post(
                    "/v1/password-resets", json={"email": new_email()}, headers=ip
                )
                assert ok.status_code == 202
            over = await client.post("/v1/password-resets", json={"email": new_email()}, headers=ip)
            other = {"X-Forwarded-For": "203.0.113.77"}
            unaffected = await client.post(
                "/v1/password-resets", json={"email": new_email()}, headers=other
            )
    finally:
        limited.stop()
    assert over.status_code == 429
    assert over.json()["error"] == "rate_limited"
    assert 0 < int(over.headers["retry-after"]) <= 900
    assert "email" not in over.text and "account" not in over.json()["message"]
    assert unaffected.status_code == 202


async def test_emailed_link_origin_ignores_host_and_forwarded_host_headers(
    infra,
    platform: Platform,
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    await register(email)
    response = await reset.post(
        "/v1/password-resets",
        json={"email": email},
        headers={
            "Host": "evil.example",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Proto": "https",
            "Forwarded": "host=evil.example",
        },
    )
    assert response.status_code == 202
    link = link_in(await wait_mail(infra, email, "Reset your password"))
    assert link.startswith(platform.url("reset") + "/reset-password?token=")
    assert "evil" not in link


async def test_get_and_head_of_the_link_never_consume_it(
    infra,
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    await register(email)
    code = (await reset.post("/v1/password-resets", json={"email": email})).json()[
        "verification_code"
    ]
    link = link_in(await wait_mail(infra, email, "Reset your password"))
    path = urlsplit(link).path + "?" + urlsplit(link).query
    for method in ("HEAD", "GET", "HEAD", "GET"):  # scanners prefetch, people reload
        landing = await reset.request(method, path)
        assert landing.status_code == 303
        assert landing.headers["location"] == "/reset-password"  # the token leaves the URL
        cookie = landing.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=" in cookie
    confirmed = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token_of(link), "verification_code": code, "new_password": NEW_PASSWORD},
    )
    assert confirmed.status_code == 200, confirmed.text


async def test_internal_api_requires_the_service_credential(platform: Platform) -> None:
    body = {"email": new_email()}
    async with httpx.AsyncClient(
        base_url=platform.url("identity-internal"), timeout=10
    ) as internal:
        missing = await internal.post("/internal/v1/accounts/lookup", json=body)
        wrong = await internal.post(
            "/internal/v1/accounts/lookup", json=body, headers={"Authorization": "Bearer nope"}
        )
        set_password = await internal.post(
            f"/internal/v1/accounts/{uuid.uuid4()}/password", json={"new_password": NEW_PASSWORD}
        )
        public_on_internal = await internal.post("/v1/login", json=body)
    assert missing.status_code == wrong.status_code == set_password.status_code == 401
    assert missing.json()["error"] == "unauthorized"
    assert public_on_internal.status_code == 404  # the internal port serves nothing else


async def test_internal_api_is_not_served_on_the_public_port(identity: httpx.AsyncClient) -> None:
    # A NetworkPolicy admits only reset to the internal port; the public port must not serve
    # the internal API at all, credential or not.
    response = await identity.post(
        "/internal/v1/accounts/lookup",
        json={"email": new_email()},
        headers={"Authorization": "Bearer dev-only-internal-token-change-me"},
    )
    assert response.status_code == 404


async def test_resets_internal_api_needs_the_credential_its_port_and_no_ip_bucket(
    platform: Platform,
) -> None:
    """identity's "This wasn't me" starts resets here, from identity's few addresses: they must
    not share a per-IP bucket (anyone filling it would block every undo)."""
    limited = Platform(
        platform.endpoints,
        platform.run_dir / "internal-unlimited",
        ports={
            "identity": platform.ports["identity"],
            "identity-internal": platform.ports["identity-internal"],
        },
        extra_env={"reset": {"RATE_LIMIT_IP_MAX": "3", "OUTBOX_RELAY_ENABLED": "false"}},
    )
    limited.start_service("reset")
    auth = {"Authorization": "Bearer dev-only-internal-token-change-me"}
    path = "/internal/v1/password-resets"
    try:
        async with (
            httpx.AsyncClient(base_url=limited.url("reset"), timeout=30) as public,
            httpx.AsyncClient(base_url=limited.url("reset-internal"), timeout=30) as internal,
        ):
            on_public = await public.post(path, json={"email": new_email()}, headers=auth)
            refused = await internal.post(path, json={"email": new_email()})
            answers = await asyncio.gather(
                *(internal.post(path, json={"email": new_email()}, headers=auth) for _ in range(25))
            )
    finally:
        limited.stop()
    assert on_public.status_code == 404  # not on the public port
    assert refused.status_code == 401
    assert [a.status_code for a in answers] == [202] * 25  # 25 at once, per-IP limit 3
    assert all(re.fullmatch(r"[A-Z2-9]{8}", a.json()["verification_code"]) for a in answers)


@pytest.mark.parametrize(
    ("service", "method", "path", "body", "status"),
    [
        ("identity", "POST", "/internal/v1/accounts/lookup", b"{}", 404),  # the port gate
        ("identity", "GET", "/no-such-page", None, 404),
        ("reset", "POST", "/v1/password-resets", b"x" * 20_000, 413),  # the body limit
        ("reset", "DELETE", "/v1/password-resets", None, 405),
        ("reset", "POST", "/v1/password-resets", b"{", 400),
    ],
)
async def test_error_answers_carry_the_same_security_headers(
    platform: Platform, service: str, method: str, path: str, body: bytes | None, status: int
) -> None:
    async with httpx.AsyncClient(base_url=platform.url(service), timeout=10) as client:
        response = await client.request(
            method, path, content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == status
    assert "error" in response.json()
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers)


@pytest.mark.parametrize(
    ("service", "path"), [("reset", "/v1/password-resets"), ("identity", "/v1/login")]
)
async def test_an_oversized_chunked_body_gets_the_same_413_as_a_declared_one(
    platform: Platform, service: str, path: str
) -> None:
    """Through the real server: leaving out Content-Length (Transfer-Encoding: chunked) must
    not change the body limit's answer."""

    async def chunks() -> Any:
        for _ in range(64):  # 64 KiB, four times the default MAX_BODY_BYTES
            yield b"x" * 1024

    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=platform.url(service), timeout=10) as client:
        declared = await client.post(path, content=b"x" * 65536, headers=headers)
        chunked = await client.post(path, content=chunks(), headers=headers)
    assert "content-length" not in chunked.request.headers
    assert declared.status_code == chunked.status_code == 413
    assert chunked.json() == declared.json()
    assert chunked.json()["error"] == "body_too_large"
    for name, value in HEADERS.items():
        assert chunked.headers.get(name) == value, (name, chunked.headers)


async def test_totp_code_used_at_login_is_rejected_at_reset(
    infra,
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    await register(email)
    totp, _ = await enable_totp(identity, email)
    await reset.post("/v1/password-resets", json={"email": email})
    token = token_of(link_in(await wait_mail(infra, email, "Reset your password")))
    used = totp.at(time.time() + 30)  # activation took the current step
    login = await identity.post(
        "/v1/login", json={"email": email, "password": OLD_PASSWORD, "totp_code": used}
    )
    assert login.status_code == 200, login.text
    replay = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token, "new_password": NEW_PASSWORD, "totp_code": used},
    )
    assert replay.status_code == 400 and replay.json()["error"] == "wrong_code"


async def test_after_a_reset_sessions_end_no_login_happens_and_this_wasnt_me_works(
    infra,
    platform: Platform,
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    await register(email)
    session = await identity.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    auth = {"Authorization": f"Bearer {session.json()['session_token']}"}
    code = (await reset.post("/v1/password-resets", json={"email": email})).json()[
        "verification_code"
    ]
    token = token_of(link_in(await wait_mail(infra, email, "Reset your password")))
    confirmed = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token, "verification_code": code, "new_password": NEW_PASSWORD},
        headers={"X-Forwarded-For": "198.51.100.23"},
    )
    assert confirmed.status_code == 200
    assert "set-cookie" not in confirmed.headers and "token" not in confirmed.text  # no login
    assert (await identity.post("/v1/totp/setup", headers=auth)).status_code == 401

    notice = await wait_mail(infra, email, "Your password was changed")
    text = notice.get_body(("plain",)).get_content()
    assert "198.51.100.23" in text
    undo = re.search(r"https?://\S+/this-wasnt-me\?token=[A-Za-z0-9_-]+", text)
    assert undo and undo.group(0).startswith(platform.url("identity"))
    assert ">This wasn't me</a>" in notice.get_body(("html",)).get_content()

    infra.mailbox.clear()
    fresh = await identity.post("/v1/login", json={"email": email, "password": NEW_PASSWORD})
    fresh_auth = {"Authorization": f"Bearer {fresh.json()['session_token']}"}
    undone = await identity.post("/v1/this-wasnt-me", json={"token": token_of(undo.group(0))})
    assert undone.status_code == 200, undone.text
    assert re.fullmatch(r"[A-Z2-9]{8}", undone.json()["verification_code"])
    assert (await identity.post("/v1/totp/setup", headers=fresh_auth)).status_code == 401
    await wait_mail(infra, email, "Reset your password")  # the fresh reset is on its way
    again = await identity.post("/v1/this-wasnt-me", json={"token": token_of(undo.group(0))})
    assert again.status_code == 410


async def test_the_reset_email_goes_to_the_stored_address_not_the_typed_one(
    infra, reset: httpx.AsyncClient, register: Register
) -> None:
    stored = new_email()
    await register(stored)
    typed = f"  {stored.upper()} "
    assert (await reset.post("/v1/password-resets", json={"email": typed})).status_code == 202
    message = await infra.mailbox.wait_for(
        lambda m: str(m["To"]).lower() == stored and m["Subject"] == "Reset your password",
        timeout=EMAIL_WAIT,
    )
    assert message["To"] == stored


BAD_REQUESTS = [
    ("malformed json", b'{"email": ', "application/json"),
    ("wrong type", b'{"email": 42}', "application/json"),
    ("array body", b'["a@example.com"]', "application/json"),
    ("missing field", b"{}", "application/json"),
    ("extra field", b'{"email": "a@example.com", "admin": true}', "application/json"),
    ("not an email", b'{"email": "not-an-email"}', "application/json"),
    ("control character", b'{"email": "a\\u0000b@example.com"}', "application/json"),
    (
        "newline injection",
        b'{"email": "a@example.com\\r\\nBcc: x@evil.example"}',
        "application/json",
    ),
    ("zero-width space", '{"email": "ada@exa\u200bmple.com"}'.encode(), "application/json"),
    ("right-to-left override", '{"email": "ada\u202e@example.com"}'.encode(), "application/json"),
    ("fullwidth at sign", '{"email": "ada\uff20example.com"}'.encode(), "application/json"),
    # U+0130: lower() in a UTF-8 database made it admin@; non-ASCII local parts are refused.
    (
        "dotted capital I look-alike",
        '{"email": "adm\u0130n@corp.example"}'.encode(),
        "application/json",
    ),
    ("too long", b'{"email": "' + b"a" * 400 + b'@example.com"}', "application/json"),
    (
        "oversized body",
        b'{"email": "a@example.com", "pad": "' + b"x" * 40_000 + b'"}',
        "application/json",
    ),
    ("invalid utf-8", b'{"email": "\xff\xfe@example.com"}', "application/json"),
    ("form instead of json", b"email=a@example.com", "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize(
    ("case", "body", "content_type"), BAD_REQUESTS, ids=[c[0] for c in BAD_REQUESTS]
)
async def test_bad_input_is_a_clear_4xx_and_writes_nothing(
    infra,
    reset: httpx.AsyncClient,
    identity: httpx.AsyncClient,
    case: str,
    body: bytes,
    content_type: str,
) -> None:
    conn = await asyncpg.connect(infra.dsn_for("reset"))
    try:
        count = "SELECT (SELECT count(*) FROM reset_requests) + (SELECT count(*) FROM outbox)"
        before = await conn.fetchval(count)
        headers = {"Content-Type": content_type}
        responses = [
            await reset.post("/v1/password-resets", content=body, headers=headers),
            await reset.post("/v1/password-resets/confirm", content=body, headers=headers),
            await identity.post("/v1/accounts", content=body, headers=headers),
            await identity.post("/v1/login", content=body, headers=headers),
        ]
        after = await conn.fetchval(count)
    finally:
        await conn.close()
    for response in responses:
        assert 400 <= response.status_code < 500, (case, response.status_code, response.text)
        assert response.json()["error"]  # machine-readable
    assert after == before


async def test_no_secret_reaches_any_log_or_kafka_record(
    infra,
    platform: Platform,
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    await register(email)
    totp, recovery = await enable_totp(identity, email)
    markers = {OLD_PASSWORD, NEW_PASSWORD, totp.secret, *recovery}
    requested = await reset.post("/v1/password-resets", json={"email": email})
    markers.add(requested.json()["verification_code"])
    reset_mail = await wait_mail(infra, email, "Reset your password")
    token = token_of(link_in(reset_mail))
    markers.add(token)
    totp_code = totp.at(time.time() + 30)
    markers.add(totp_code)
    await reset.get(f"/reset-password?token={token}")
    confirmed = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token, "new_password": NEW_PASSWORD, "totp_code": totp_code},
    )
    assert confirmed.status_code == 200, confirmed.text
    notice = await wait_mail(infra, email, "Your password was changed")
    undo = re.search(
        r"this-wasnt-me\?token=([A-Za-z0-9_-]+)", notice.get_body(("plain",)).get_content()
    )
    assert undo
    markers.add(undo.group(1))
    await asyncio.sleep(1)  # let the services flush their logs

    haystacks = await asyncio.to_thread(read_logs, Path(platform.log_dir))
    haystacks += await all_records(infra.kafka_options())
    hits = [(where, m) for where, data in haystacks for m in markers if m.encode() in data]
    assert len(haystacks) > 5 and not hits, hits
    # The email address appears only masked in logs.
    assert not [
        name for name, data in haystacks if name.endswith(".log") and email.encode() in data
    ]


async def all_records(kafka: dict[str, Any]) -> list[tuple[str, bytes]]:
    """Every record of our topics, key + value + headers, read from the beginning."""
    return [
        (
            f"{r.topic}:{r.offset}",
            (r.key or b"") + (r.value or b"") + b"".join(k.encode() + v for k, v in r.headers),
        )
        for r in await read_topics(kafka, TOPICS)
    ]


def read_logs(log_dir: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in log_dir.glob("*.log")]
