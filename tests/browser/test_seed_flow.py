"""The seed's flow as a person walks it, by clicking: login page, "Forgot your password?", the
code, the email's button, "Set new password", and logging in with the new password."""

import re
import time

import httpx
import pyotp
from playwright.async_api import BrowserContext, Page, expect

NEW_PASSWORD = "a brand new long enough passphrase"
OLD_PASSWORD = "old correct horse battery staple"  # as registered by the new_account fixture


async def ask_for_a_reset(page: Page, urls: dict[str, str], email: str, shoot, name: str) -> str:
    """From the login page to the code page; returns the code shown."""
    await page.goto(f"{urls['identity']}/login")
    await expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    await shoot(page, f"{name}-01-login")
    await page.get_by_role("link", name="Forgot your password?").click()
    await expect(page).to_have_url(f"{urls['reset']}/forgot-password")
    await expect(page.get_by_role("heading", name="Reset password")).to_be_visible()
    await shoot(page, f"{name}-02-forgot-password")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_role("button", name="Reset Password").click()
    await expect(page.get_by_role("heading", name="Your verification code")).to_be_visible()
    code = (await page.locator("#verification-code").inner_text()).strip()
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code), code
    assert code not in page.url
    return code


async def open_email_button(context: BrowserContext, html: str, shoot, name: str) -> Page:
    """Renders the email's HTML part as a mail client would, and clicks its button."""
    inbox = await context.new_page()
    await inbox.set_viewport_size({"width": 640, "height": 800})
    await inbox.set_content(html)
    button = inbox.get_by_role("link", name="Reset password")
    await expect(button).to_be_visible()
    await shoot(inbox, f"{name}-04-email")
    async with context.expect_page() as opened:
        await button.click()
    reset_page = await opened.value
    await reset_page.wait_for_load_state()
    await inbox.close()
    return reset_page


async def test_seed_flow_by_clicking(
    context: BrowserContext, page: Page, urls, new_account, mail, shoot
) -> None:
    email = await new_account()
    code = await ask_for_a_reset(page, urls, email, shoot, "seed")

    # Guidance for the person, the same for every address.
    body = await page.locator("main").inner_text()
    assert "Keep this tab open" in body
    assert "Reset your password" in body
    assert "may not be registered" in body

    await page.get_by_role("button", name="Copy code").click()
    await expect(page.get_by_role("status")).to_have_text("Copied")
    assert await page.evaluate("navigator.clipboard.readText()") == code
    await shoot(page, "seed-03-code-copied")

    message = await mail.reset_email(email)
    link = mail.link_in(message)
    assert code not in message.as_string()  # shown on screen, never emailed
    reset_page = await open_email_button(context, mail.html_of(message), shoot, "seed")

    # The token was swapped for a cookie: the address bar no longer holds it.
    await expect(reset_page).to_have_url(f"{urls['reset']}/reset-password")
    assert link.startswith(f"{urls['reset']}/reset-password?token=")
    await expect(reset_page.get_by_role("heading", name="Set new password")).to_be_visible()
    await expect(reset_page.get_by_label("Authenticator code")).to_have_count(0)
    await shoot(reset_page, "seed-05-set-new-password")
    await reset_page.get_by_label("New Password").fill(NEW_PASSWORD)
    await reset_page.get_by_label("Confirm").fill(NEW_PASSWORD)
    # Paste the copied code, as a person would.
    await reset_page.get_by_label("Verification Code").focus()
    await reset_page.keyboard.press("Control+V")
    await expect(reset_page.get_by_label("Verification Code")).to_have_value(code)
    await reset_page.get_by_role("button", name="Set new password").click()

    await expect(reset_page).to_have_url(f"{urls['identity']}/login?reset=done")
    await expect(reset_page.get_by_role("status")).to_contain_text("Your password was changed")
    await shoot(reset_page, "seed-06-login-after-reset")

    await reset_page.get_by_label("Email address").fill(email)
    await reset_page.get_by_label("Password", exact=True).fill(OLD_PASSWORD)
    await reset_page.get_by_role("button", name="Log in").click()
    await expect(reset_page.get_by_role("alert")).to_have_text("The email or password is wrong.")
    await expect(reset_page.get_by_label("Email address")).to_have_value(email)
    await reset_page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    await reset_page.get_by_role("button", name="Log in").click()
    await expect(reset_page).to_have_url(f"{urls['identity']}/logged-in")
    await expect(reset_page.get_by_role("heading", name="You are logged in")).to_be_visible()
    await shoot(reset_page, "seed-07-logged-in")

    # Signing out ends the session on the server: the cookie a copy of this browser kept is
    # no longer let in.
    cookie = next(c for c in await context.cookies() if c["name"].endswith("session"))
    await reset_page.get_by_role("button", name="Sign out").click()
    await expect(reset_page).to_have_url(f"{urls['identity']}/login?signed_out=1")
    await expect(reset_page.get_by_role("status")).to_have_text("You are signed out.")
    await shoot(reset_page, "seed-08-signed-out")
    await context.add_cookies([cookie])  # put back, as whoever copied it would
    await reset_page.goto(f"{urls['identity']}/logged-in")
    await expect(reset_page).to_have_url(f"{urls['identity']}/login")


async def turn_on_totp(identity_api: httpx.AsyncClient, email: str) -> pyotp.TOTP:
    login = await identity_api.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    assert login.status_code == 200, login.text
    auth = {"Authorization": f"Bearer {login.json()['session_token']}"}
    setup = await identity_api.post("/v1/totp/setup", headers=auth)
    assert setup.status_code == 200, setup.text
    totp = pyotp.TOTP(setup.json()["secret"])
    # Activate with the previous step's code (inside the ±1 window): each step is accepted once,
    # so this leaves the current and the next step for the reset and the login below.
    for _ in range(2):  # a step boundary between computing and checking: compute again
        activated = await identity_api.post(
            "/v1/totp/activate",
            json={"code": totp.at(time.time() - 30), "password": OLD_PASSWORD},
            headers=auth,
        )
        if activated.is_success:
            return totp
    raise AssertionError(activated.text)


async def test_with_two_factor_the_authenticator_code_replaces_the_verification_code(
    context: BrowserContext, page: Page, urls, new_account, identity_api, mail, shoot
) -> None:
    email = await new_account()
    totp = await turn_on_totp(identity_api, email)
    await ask_for_a_reset(page, urls, email, shoot, "totp")

    reset_page = await open_email_button(
        context, mail.html_of(await mail.reset_email(email)), shoot, "totp"
    )
    await expect(reset_page.get_by_role("heading", name="Set new password")).to_be_visible()
    await expect(reset_page.get_by_label("Verification Code")).to_have_count(0)
    await shoot(reset_page, "totp-05-set-new-password")
    await reset_page.get_by_label("New Password").fill(NEW_PASSWORD)
    await reset_page.get_by_label("Confirm").fill(NEW_PASSWORD)
    await reset_page.get_by_label("Authenticator code").fill(totp.now())
    await reset_page.get_by_role("button", name="Set new password").click()
    await expect(reset_page).to_have_url(f"{urls['identity']}/login?reset=done")

    # The login asks for the second factor after the right password, then lets the person in.
    await reset_page.get_by_label("Email address").fill(email)
    await reset_page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    await reset_page.get_by_role("button", name="Log in").click()
    code_field = reset_page.get_by_label("Authenticator code")
    await expect(code_field).to_be_visible()
    await expect(reset_page.get_by_label("Email address")).to_have_value(email)
    await expect(reset_page.get_by_label("Password", exact=True)).to_have_value(
        ""
    )  # never sent back
    await expect(reset_page.get_by_label("Password", exact=True)).to_be_focused()
    await shoot(reset_page, "totp-06-login-asks-for-code")
    await reset_page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    await code_field.fill(totp.at(time.time() + 30))
    await reset_page.get_by_role("button", name="Log in").click()
    await expect(reset_page.get_by_role("heading", name="You are logged in")).to_be_visible()
