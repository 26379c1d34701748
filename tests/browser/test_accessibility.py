"""Keyboard only, JavaScript off, a phone's width, and the headers every page carries."""

import re

import httpx
import pytest
from playwright.async_api import Page, expect

NEW_PASSWORD = "keyboard typed long passphrase"
PHONE = {"width": 375, "height": 740}

FOCUS_NAME = "(() => { const e = document.activeElement; return e.id || e.textContent.trim(); })()"
EVERY_INPUT_LABELLED = """
[...document.querySelectorAll('input:not([type=hidden])')].every(i => i.labels.length > 0)
"""
FITS_WIDTH = "document.documentElement.scrollWidth <= window.innerWidth"


async def tab_order(page: Page, presses: int) -> list[str]:
    seen = [await page.evaluate(FOCUS_NAME)]
    for _ in range(presses):
        await page.keyboard.press("Tab")
        seen.append(await page.evaluate(FOCUS_NAME))
    return seen


async def test_the_reset_flow_works_with_the_keyboard_alone(
    page: Page, urls, new_account, mail
) -> None:
    email = await new_account()
    await page.goto(f"{urls['identity']}/login")
    # autofocus lands after load: wait for it, or the first name read is the page's body.
    await expect(page.get_by_label("Email address")).to_be_focused()
    assert await tab_order(page, 3) == ["email", "password", "Log in", "Forgot your password?"]
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{urls['reset']}/forgot-password")

    await expect(page.get_by_label("Email address")).to_be_focused()
    await page.keyboard.type(email)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Your verification code")).to_be_visible()
    code = (await page.locator("#verification-code").inner_text()).strip()
    # The button is hidden until copy-code.js (deferred) shows it: Tab only once it is there.
    await expect(page.get_by_role("button", name="Copy code")).to_be_visible()
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Copy code")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Copied")

    await page.goto(mail.link_in(await mail.reset_email(email)))
    await expect(page.get_by_label("New Password")).to_be_focused()
    assert await tab_order(page, 3) == [
        "new_password",
        "confirm_password",
        "verification_code",
        "Set new password",
    ]
    await page.get_by_label("New Password").focus()
    for text in (NEW_PASSWORD, NEW_PASSWORD, code):
        await page.keyboard.type(text)
        await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{urls['identity']}/login?reset=done")


async def test_everything_but_the_copy_button_works_without_javascript(
    new_context, urls, new_account, mail, shoot
) -> None:
    context = await new_context(java_script_enabled=False)
    page = context.pages[0]
    email = await new_account()
    await page.goto(f"{urls['reset']}/forgot-password")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_role("button", name="Reset Password").click()
    code = (await page.locator("#verification-code").inner_text()).strip()
    assert re.fullmatch(r"[A-Z2-9]{8}", code)
    # No button that would do nothing: it stays hidden without its script.
    await expect(page.locator("#copy-code")).to_be_hidden()
    await shoot(page, "nojs-code")

    await page.goto(mail.link_in(await mail.reset_email(email)))
    await page.get_by_label("New Password").fill(NEW_PASSWORD)
    await page.get_by_label("Confirm").fill(NEW_PASSWORD)
    await page.get_by_label("Verification Code").fill(code)
    await page.get_by_role("button", name="Set new password").click()
    await expect(page).to_have_url(f"{urls['identity']}/login?reset=done")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="You are logged in")).to_be_visible()


async def test_pages_fit_a_phone_and_label_every_field(
    new_context, urls, new_account, mail, shoot
) -> None:
    context = await new_context(viewport=PHONE, permissions=["clipboard-write"])
    page = context.pages[0]
    email = await new_account()

    async def check(name: str) -> None:
        assert await page.evaluate(FITS_WIDTH), f"{name} scrolls sideways at 375 px"
        assert await page.evaluate(EVERY_INPUT_LABELLED), f"{name} has an unlabelled field"
        await shoot(page, f"phone-{name}")

    await page.goto(f"{urls['identity']}/login?reset=done")
    await check("login")
    await page.goto(f"{urls['reset']}/forgot-password")
    await check("forgot-password")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_role("button", name="Reset Password").click()
    await page.get_by_role("button", name="Copy code").click()
    await check("code")
    await page.goto(mail.link_in(await mail.reset_email(email)))
    await page.get_by_role("button", name="Set new password").click()  # empty: an error
    await expect(page.get_by_role("alert")).to_have_text("Enter a new password.")
    await check("set-new-password-error")


@pytest.mark.parametrize(
    ("service", "path", "status"),
    [
        ("identity", "/login", 200),
        ("reset", "/forgot-password", 200),
        ("reset", "/reset-password", 410),  # no link cookie: the "can't be used" page
    ],
)
async def test_every_page_carries_the_security_headers(urls, service, path, status) -> None:
    async with httpx.AsyncClient(base_url=urls[service], timeout=10) as client:
        response = await client.get(path)
    assert response.status_code == status
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, "inline script"
    assert "<style" not in html and " style=" not in html, "inline style"
    assert 'name="csrf_token"' in html or status == 410
    assert "csrf" in response.cookies or status == 410
