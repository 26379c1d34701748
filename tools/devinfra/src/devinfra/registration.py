"""Registering an account the way a person does, for the e2e and browser tests: ask identity,
read the "Confirm your email address" email from the capture, follow its link."""

import re

import httpx

from devinfra.mailbox import Mailbox

VERIFY_SUBJECT = "Confirm your email address"
_LINK = re.compile(r"https?://\S+/verify-email\?token=([A-Za-z0-9_-]+)")


EMAIL_WAIT = 30.0


async def verification_token(mailbox: Mailbox, email: str) -> str:
    message = await mailbox.wait_for(
        lambda m: m["To"] == email and m["Subject"] == VERIFY_SUBJECT, timeout=EMAIL_WAIT
    )
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = _LINK.search(text)
    assert found, text
    return found.group(1)


async def register_by_email(
    identity: httpx.AsyncClient, mailbox: Mailbox, email: str, password: str
) -> str:
    """The new account's id."""
    asked = await identity.post("/v1/accounts", json={"email": email, "password": password})
    assert asked.status_code == 202, asked.text
    token = await verification_token(mailbox, email)
    created = await identity.post("/v1/accounts/verify", json={"token": token})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])
