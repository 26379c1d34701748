"""Attacks on identity's public API over HTTP: online guessing side by side, the same answers for
unknown emails, and a hashing flood answered with 503 at once."""

import asyncio
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from devinfra.platform import Platform

from .conftest import Register
from .test_reset_flow import EMAIL_WAIT, OLD_PASSWORD, new_email

pytestmark = pytest.mark.e2e
WRONG = "certainly not the right password"


def spoofed_ip() -> dict[str, str]:
    # The test platform trusts loopback as a proxy, so each test can be a client of its own.
    return {"X-Forwarded-For": f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.7"}


async def test_twenty_five_concurrent_wrong_passwords_are_mostly_refused_unchecked(
    identity: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    await register(email)
    ip = spoofed_ip()
    answers = await asyncio.gather(
        *(
            identity.post(
                "/v1/login", json={"email": email, "password": f"{WRONG} {i}"}, headers=ip
            )
            for i in range(25)
        )
    )
    statuses = [a.status_code for a in answers]
    assert statuses.count(401) <= 6, statuses  # 5 free failures, the 6th sets a delay
    throttled = [a for a in answers if a.status_code == 429]
    assert len(throttled) >= 19
    for answer in throttled:
        assert answer.json()["error"] == "login_throttled"
        assert int(answer.headers["retry-after"]) >= 1
    # (That the delay holds even the right password, and grows, is shown with an injected clock
    # in services/identity/tests/integration/test_attack_login.py: here the first delay is 1 s,
    # which a loaded machine can use up before the next request.)


async def test_throttling_does_not_tell_known_from_unknown_emails(
    identity: httpx.AsyncClient,
    register: Register,
) -> None:
    known = new_email()
    await register(known)
    seen = []
    for email in (known, new_email()):
        ip = spoofed_ip()
        answers = [
            await identity.post("/v1/login", json={"email": email, "password": WRONG}, headers=ip)
            for _ in range(8)
        ]
        seen.append([(a.status_code, a.json()["error"], sorted(a.headers)) for a in answers])
    assert [s[:2] for s in seen[0]] == [s[:2] for s in seen[1]]
    assert [s[0] for s in seen[0]] == [401] * 6 + [429] * 2


async def test_a_login_flood_gets_503_with_retry_after_instead_of_queueing(
    platform: Platform,
) -> None:
    small = Platform(
        platform.endpoints,
        platform.run_dir / "hash-queue",
        extra_env={"identity": {"HASH_QUEUE_MAX": "2", "OUTBOX_RELAY_ENABLED": "false"}},
    )
    small.start_service("identity")
    try:
        async with httpx.AsyncClient(base_url=small.url("identity"), timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/v1/login",
                        json={"email": new_email(), "password": WRONG},
                        headers=spoofed_ip(),
                    )
                    for _ in range(30)
                )
            )
    finally:
        small.stop()
    busy = [a for a in answers if a.status_code == 503]
    assert busy, [a.status_code for a in answers]
    assert all(a.json()["error"] == "busy" and a.headers["retry-after"] == "1" for a in busy)
    assert {a.status_code for a in answers} <= {401, 503}


async def test_a_stolen_session_needs_the_password_for_two_factor_and_the_owner_undoes_it(
    infra,
    identity: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    await register(email)
    stolen = await identity.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    auth = {"Authorization": f"Bearer {stolen.json()['session_token']}"}
    setup = await identity.post("/v1/totp/setup", headers=auth)
    totp = pyotp.TOTP(setup.json()["secret"])

    bare = await identity.post("/v1/totp/activate", json={"code": totp.now()}, headers=auth)
    assert bare.status_code == 422, bare.text  # the password is required
    wrong = await identity.post(
        "/v1/totp/activate", json={"code": totp.now(), "password": WRONG}, headers=auth
    )
    assert wrong.status_code == 403 and wrong.json()["error"] == "password_wrong"
    login = await identity.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    assert "session_token" in login.json()  # two-factor is still off

    # A thief who also has the password turns it on: the owner is told, and undoes it.
    on = await identity.post(
        "/v1/totp/activate", json={"code": totp.now(), "password": OLD_PASSWORD}, headers=auth
    )
    assert on.status_code == 200, on.text
    notice = await infra.mailbox.wait_for(
        lambda m: m["To"] == email and m["Subject"] == "Two-factor authentication was turned on",
        timeout=EMAIL_WAIT,
    )
    text = notice.get_body(("plain",)).get_content()
    link = re.search(r"https?://\S+/this-wasnt-me\?token=[A-Za-z0-9_-]+", text)
    assert link, text
    undone = await identity.post(
        "/v1/this-wasnt-me", json={"token": parse_qs(urlsplit(link.group(0)).query)["token"][0]}
    )
    assert undone.status_code == 200, undone.text
    # The thief's session is gone, and the owner logs in with the password alone again.
    assert (await identity.post("/v1/totp/setup", headers=auth)).status_code == 401
    again = await identity.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    assert again.status_code == 200 and "session_token" in again.json()


async def test_twenty_four_people_behind_one_address_logging_in_together_all_get_in(
    identity: httpx.AsyncClient, platform: Platform
) -> None:
    # Each login is counted before its password is checked; within the free failures, logins
    # side by side from one NAT must not block each other, in whatever order they take the lock.
    people = [(new_email(), OLD_PASSWORD) for _ in range(24)]
    await asyncio.to_thread(platform.seed_accounts, people)
    ip = spoofed_ip()
    answers = await asyncio.gather(
        *(
            identity.post("/v1/login", json={"email": e, "password": p}, headers=ip)
            for e, p in people
        )
    )
    refused = [(a.status_code, a.text[:120]) for a in answers if a.status_code != 200]
    assert not refused, refused
