"""A reset asked for while two-factor was on asks for the authenticator code instead of the
on-screen one. If two-factor is then turned off (support removes it for a lost phone), that
link must not start working on its own: a reader of the mailbox, who never saw the screen,
would set the password with the link and any six digits. Real processes throughout."""

import httpx
import pytest
from devinfra.idp import Provider

from .conftest import EMAIL_WAIT, Register
from .test_lost_device import cli
from .test_reset_flow import NEW_PASSWORD, link_in, new_email, reset_email_for
from .test_security import enable_totp, token_of

pytestmark = pytest.mark.e2e

REASON = "SUP-4712: lost phone and recovery codes; identity checked by video call"


async def test_a_link_asked_for_with_two_factor_on_is_no_link_alone_once_it_is_off(
    infra,
    idp: Provider,
    admin_url: str,
    identity: httpx.AsyncClient,
    reset: httpx.AsyncClient,
    register: Register,
) -> None:
    email = new_email()
    account_id = await register(email)
    await enable_totp(identity, email)
    asked = await reset.post("/v1/password-resets", json={"email": email})
    assert asked.status_code == 202
    old_link = link_in(await reset_email_for(infra, email))  # what a mailbox reader sees

    support = idp.token(sub="grace.support@corp.example", roles=["support"])
    status, _, err = await cli(admin_url, support, "remove-2fa", account_id, "--reason", REASON)
    assert status == 0, err

    # The mailbox reader: the old link, no on-screen code, any six digits (or a made-up
    # recovery code). Refused, and not as a wrong code (which would say "N attempts left" and
    # count, however right the code): the reset is outdated, ask for a new one. More tries
    # than the wrong-code limit: none counts.
    for factor in [{"totp_code": "000000"}, {"recovery_code": "aaaa-bbbb-cc"}] * 3:
        answer = await reset.post(
            "/v1/password-resets/confirm",
            json={"token": token_of(old_link), "new_password": NEW_PASSWORD, **factor},
        )
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"] == "reset_outdated"
        assert "attempts_left" not in answer.json()
    refused = await identity.post("/v1/login", json={"email": email, "password": NEW_PASSWORD})
    assert refused.status_code == 401

    # The owner asks again: the code on screen and the new link, no second factor now.
    code = (await reset.post("/v1/password-resets", json={"email": email})).json()[
        "verification_code"
    ]
    newer = await infra.mailbox.wait_for(
        lambda m: (
            m["To"] == email
            and m["Subject"] == "Reset your password"
            and token_of(old_link) not in m.get_body(("plain",)).get_content()
        ),
        timeout=EMAIL_WAIT,
    )
    new_link = link_in(newer)
    confirmed = await reset.post(
        "/v1/password-resets/confirm",
        json={"token": token_of(new_link), "new_password": NEW_PASSWORD, "verification_code": code},
    )
    assert confirmed.status_code == 200, confirmed.text
    login = await identity.post("/v1/login", json={"email": email, "password": NEW_PASSWORD})
    assert login.status_code == 200, login.text
