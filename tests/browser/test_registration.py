"""Registration as a person meets it: the "Confirm your email address" email, its button, a page
with one button (opening the link does nothing), then the login page with the new account."""

import uuid

import httpx
from playwright.async_api import BrowserContext, Page, expect

from .test_seed_flow import OLD_PASSWORD
from .test_this_wasnt_me import log_in


async def test_the_emailed_link_creates_the_account_only_when_its_button_is_pressed(
    context: BrowserContext, page: Page, urls, mail, shoot, identity_api: httpx.AsyncClient
) -> None:
    email = f"browser-{uuid.uuid4().hex[:12]}@example.com"
    asked = await identity_api.post("/v1/accounts", json={"email": email, "password": OLD_PASSWORD})
    assert asked.status_code == 202

    message = await mail.email(email, "Confirm your email address")
    inbox = await context.new_page()
    await inbox.set_content(mail.html_of(message))
    await shoot(inbox, "register-01-confirm-email")
    async with context.expect_page() as opened:
        await inbox.get_by_role("link", name="Confirm email address").click()
    confirm = await opened.value
    await confirm.wait_for_load_state()
    await expect(confirm.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    await shoot(confirm, "register-02-confirm-page")

    # Opening the link created nothing yet.
    refused = await identity_api.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    assert refused.status_code == 401

    await confirm.get_by_role("button", name="Confirm and create my account").click()
    await expect(confirm).to_have_url(f"{urls['identity']}/login?verified=1")
    await expect(confirm.get_by_text("Your email address is confirmed")).to_be_visible()
    await shoot(confirm, "register-03-confirmed-login")
    await log_in(page, urls, email, OLD_PASSWORD)

    # The link works once.
    await confirm.go_back()
    await confirm.reload()
    await confirm.get_by_role("button", name="Confirm and create my account").click()
    await expect(confirm.get_by_text("This link is invalid, used or expired")).to_be_visible()
