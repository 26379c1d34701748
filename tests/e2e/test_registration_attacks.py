"""Attacks on registration: learning who has an account, claiming another person's address,
racing or replaying the verification link, and bombing an inbox."""

import asyncio

import httpx
import pytest
from devinfra.platform import Platform
from devinfra.registration import VERIFY_SUBJECT, verification_token

from .conftest import EMAIL_WAIT, OLD_PASSWORD, Register
from .test_identity_attacks import spoofed_ip
from .test_reset_flow import new_email

pytestmark = pytest.mark.e2e
ATTACKER_PASSWORD = "the attacker's own long password"


def shape(answer: httpx.Response) -> tuple[object, ...]:
    volatile = {"date", "content-length", "x-request-id", "traceparent", "server-timing"}
    return (answer.status_code, answer.json(), sorted(set(answer.headers) - volatile))


async def test_registration_answers_the_same_for_known_and_unknown_addresses(
    infra, identity: httpx.AsyncClient, register: Register
) -> None:
    known = new_email()
    await register(known)
    answers = [
        await identity.post("/v1/accounts", json={"email": email, "password": ATTACKER_PASSWORD})
        for email in (known, new_email())
    ]
    assert shape(answers[0]) == shape(answers[1]), [a.text for a in answers]
    assert answers[0].status_code == 202
    # Only the mailbox learns the difference: the owner is told, and nothing changed.
    notice = await infra.mailbox.wait_for(
        lambda m: m["To"] == known and m["Subject"] == "You already have an account",
        timeout=EMAIL_WAIT,
    )
    assert "verify-email" not in notice.get_body(("plain",)).get_content()
    login = await identity.post("/v1/login", json={"email": known, "password": OLD_PASSWORD})
    assert login.status_code == 200
    stolen = await identity.post("/v1/login", json={"email": known, "password": ATTACKER_PASSWORD})
    assert stolen.status_code == 401


async def test_nobody_can_hold_an_address_before_its_mailbox_confirms_it(
    infra, identity: httpx.AsyncClient
) -> None:
    victim = new_email()
    squat = await identity.post(
        "/v1/accounts", json={"email": victim, "password": ATTACKER_PASSWORD}
    )
    assert squat.status_code == 202
    # No account exists: the squatter cannot log in, so cannot turn on two-factor either.
    login = await identity.post("/v1/login", json={"email": victim, "password": ATTACKER_PASSWORD})
    assert login.status_code == 401
    # The link went to the victim's mailbox, not the squatter. A mail scanner opening it
    # creates nothing (GET only shows a button).
    token = await verification_token(infra.mailbox, victim)
    scanned = await identity.get("/verify-email", params={"token": token})
    assert scanned.status_code == 200 and "Confirm and create my account" in scanned.text
    assert (
        await identity.post("/v1/login", json={"email": victim, "password": ATTACKER_PASSWORD})
    ).status_code == 401
    # The victim registers with a password of their own and gets the address.
    asked = await identity.post("/v1/accounts", json={"email": victim, "password": OLD_PASSWORD})
    assert asked.status_code == 202
    second = await infra.mailbox.wait_for(
        lambda m: (
            m["To"] == victim
            and m["Subject"] == VERIFY_SUBJECT
            and token not in m.get_body(("plain",)).get_content()
        ),
        timeout=EMAIL_WAIT,
    )
    own_token = second.get_body(("plain",)).get_content().split("token=")[1].split()[0]
    created = await identity.post("/v1/accounts/verify", json={"token": own_token})
    assert created.status_code == 201, created.text
    mine = await identity.post("/v1/login", json={"email": victim, "password": OLD_PASSWORD})
    assert mine.status_code == 200
    # The squatter's link, even if it ever leaked, no longer makes an account.
    late = await identity.post("/v1/accounts/verify", json={"token": token})
    assert late.status_code == 410


async def test_twenty_concurrent_uses_of_one_link_create_one_account(
    infra, identity: httpx.AsyncClient
) -> None:
    email = new_email()
    asked = await identity.post("/v1/accounts", json={"email": email, "password": OLD_PASSWORD})
    assert asked.status_code == 202
    token = await verification_token(infra.mailbox, email)
    answers = await asyncio.gather(
        *(identity.post("/v1/accounts/verify", json={"token": token}) for _ in range(20))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [410] * 19, statuses
    assert all(a.json()["error"] == "link_invalid" for a in answers if a.status_code == 410)


async def test_registration_cannot_bomb_an_inbox_or_be_flooded_from_one_address(
    infra, platform: Platform, identity: httpx.AsyncClient
) -> None:
    target = new_email()
    answers = [
        await identity.post(
            "/v1/accounts",
            json={"email": target, "password": ATTACKER_PASSWORD},
            headers=spoofed_ip(),
        )
        for _ in range(10)
    ]
    assert {a.status_code for a in answers} == {202}  # the same answer every time...
    await asyncio.sleep(3)  # ...but let every email that will be sent arrive
    sent = [
        m for m in infra.mailbox.messages() if m["To"] == target and m["Subject"] == VERIFY_SUBJECT
    ]
    assert 1 <= len(sent) <= 4, len(sent)  # 3 free, the 4th starts the delays

    limited = Platform(
        platform.endpoints,
        platform.run_dir / "registration-limited",
        extra_env={"identity": {"REGISTRATION_FREE_PER_IP": "3", "OUTBOX_RELAY_ENABLED": "false"}},
    )
    limited.start_service("identity")
    try:
        async with httpx.AsyncClient(base_url=limited.url("identity"), timeout=30) as client:
            ip = spoofed_ip()
            flood = [
                await client.post(
                    "/v1/accounts",
                    json={"email": new_email(), "password": ATTACKER_PASSWORD},
                    headers=ip,
                )
                for _ in range(6)
            ]
    finally:
        limited.stop()
    statuses = [a.status_code for a in flood]
    assert statuses[:4] == [202] * 4 and statuses[4:] == [429, 429], statuses
    assert int(flood[-1].headers["retry-after"]) >= 1
