"""The seed's flow end to end: real Kafka, PostgreSQL and SMTP, services as processes."""

import re
import time
import uuid
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from .conftest import EMAIL_WAIT, OLD_PASSWORD, Register

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "new staple battery horse correct"


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


async def reset_email_for(infra, email: str) -> EmailMessage:
    return await infra.mailbox.wait_for(
        lambda m: m["To"] == email and m["Subject"] == "Reset your password", timeout=EMAIL_WAIT
    )


def link_in(message: EmailMessage) -> str:
    text = message.get_body(("plain",)).get_content()
    match = re.search(r"https?://\S+/reset-password\?token=[A-Za-z0-9_-]+", text)
    assert match, text
    return match.group(0)


async def test_seed_flow_reset_by_email_then_log_in_with_new_password(
    infra,
    platform,
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    await register(email)

    requested = await reset.post("/v1/password-resets", json={"email": email})
    assert requested.status_code == 202, requested.text
    code = requested.json()["verification_code"]
    assert re.fullmatch(r"[A-Z2-9]{8}", code)

    message = await reset_email_for(infra, email)
    assert message["Subject"] == "Reset your password"
    link = link_in(message)
    assert link.startswith(platform.url("reset") + "/reset-password?token=")
    html = message.get_body(("html",)).get_content()
    assert ">Reset password</a>" in html and f'href="{link}"' in html
    assert code not in message.as_string()  # the code is shown on screen, never emailed

    # The link works in a browser: the token is swapped for a cookie, the form is shown.
    landing = await reset.get(link.removeprefix(platform.url("reset")))
    assert landing.status_code == 303 and landing.headers["location"] == "/reset-password"
    assert "token" not in landing.headers["location"]
    page = await reset.get("/reset-password")
    assert page.status_code == 200
    assert "Set new password" in page.text and "Verification Code" in page.text

    token = parse_qs(urlsplit(link).query)["token"][0]
    confirmed = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token, "new_password": NEW_PASSWORD, "verification_code": code},
    )
    assert confirmed.status_code == 200, confirmed.text

    new_login = await identity.post("/v1/login", json={"email": email, "password": NEW_PASSWORD})
    assert new_login.status_code == 200, new_login.text
    old_login = await identity.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    assert old_login.status_code == 401
    assert old_login.json()["error"] == "invalid_credentials"

    again = await reset.post(
        "/v1/password-resets/confirm",
        json={
            "token": token,
            "new_password": "yet another long password",
            "verification_code": code,
        },
    )
    assert again.status_code == 410 and again.json()["error"] == "link_invalid"


async def test_with_totp_on_the_authenticator_code_is_required_and_works(
    infra,
    platform,
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    await register(email)
    session = await identity.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    auth = {"Authorization": f"Bearer {session.json()['session_token']}"}
    setup = await identity.post("/v1/totp/setup", headers=auth)
    assert setup.status_code == 200, setup.text
    totp = pyotp.TOTP(setup.json()["secret"])
    assert setup.json()["provisioning_uri"].startswith("otpauth://totp/")
    activated = await identity.post(
        "/v1/totp/activate", json={"code": totp.now(), "password": OLD_PASSWORD}, headers=auth
    )
    assert activated.status_code == 200, activated.text
    assert len(activated.json()["recovery_codes"]) == 10

    code = (await reset.post("/v1/password-resets", json={"email": email})).json()[
        "verification_code"
    ]
    token = parse_qs(urlsplit(link_in(await reset_email_for(infra, email))).query)["token"][0]

    only_code = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token, "new_password": NEW_PASSWORD, "verification_code": code},
    )
    assert only_code.status_code == 400 and only_code.json()["error"] == "totp_required"

    wrong = "000000" if totp.now() != "000000" else "111111"
    bad_totp = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token, "new_password": NEW_PASSWORD, "totp_code": wrong},
    )
    assert bad_totp.status_code == 400 and bad_totp.json()["error"] == "wrong_code"

    # Activation used the current step; the next step is inside the ±1 window and unused.
    next_code = totp.at(time.time() + 30)
    confirmed = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token, "new_password": NEW_PASSWORD, "totp_code": next_code},
    )
    assert confirmed.status_code == 200, confirmed.text

    # The new password is right (the login now asks for the second factor); the old one is not.
    new_login = await identity.post("/v1/login", json={"email": email, "password": NEW_PASSWORD})
    assert new_login.status_code == 401 and new_login.json()["error"] == "totp_required"
    old_login = await identity.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    assert old_login.json()["error"] == "invalid_credentials"


async def test_unknown_email_gets_the_same_response_and_no_email(
    infra,
    platform,
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    unknown, known = new_email(), new_email()
    await register(known)

    unknown_response = await reset.post("/v1/password-resets", json={"email": unknown})
    known_response = await reset.post("/v1/password-resets", json={"email": known})
    assert unknown_response.status_code == known_response.status_code == 202
    assert unknown_response.json().keys() == known_response.json().keys()
    assert re.fullmatch(r"[A-Z2-9]{8}", unknown_response.json()["verification_code"])

    # Once the email requested after it has arrived, the pipeline has had its chance.
    await reset_email_for(infra, known)
    assert not [m for m in infra.mailbox.messages() if m["To"] == unknown]
