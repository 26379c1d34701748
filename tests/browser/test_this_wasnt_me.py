"""The "This wasn't me" button of the "Your password was changed" email, clicked as a person
would: opening the link only shows a page (mail scanners follow links); its one button signs
the account out everywhere and shows the code of a fresh reset, which then works."""

import re
import ssl
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
from playwright.async_api import BrowserContext, Page, expect

from .test_seed_flow import NEW_PASSWORD, OLD_PASSWORD

OTHER_PASSWORD = "someone else chose this long password"


async def log_in(page: Page, urls: dict[str, str], email: str, password: str) -> None:
    await page.goto(f"{urls['identity']}/login")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password", exact=True).fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{urls['identity']}/logged-in")


async def reset_through_the_api(
    urls: dict[str, str], mail, email: str, password: str, verify: ssl.SSLContext | bool = True
) -> None:
    """Someone with the inbox and a screen sets a password (the change the owner undoes)."""
    async with httpx.AsyncClient(base_url=urls["reset"], timeout=10, verify=verify) as reset:
        code = (await reset.post("/v1/password-resets", json={"email": email})).json()[
            "verification_code"
        ]
        link = mail.link_in(await mail.reset_email(email))
        token = parse_qs(urlsplit(link).query)["token"][0]
        confirmed = await reset.post(
            "/v1/password-resets/confirm",
            json={"token": token, "verification_code": code, "new_password": password},
        )
        assert confirmed.status_code == 200, confirmed.text


async def test_this_wasnt_me_from_the_email_signs_out_everywhere_and_starts_a_reset(
    context: BrowserContext, page: Page, urls, new_account, mail, shoot
) -> None:
    await walk_this_wasnt_me(context, page, urls, await new_account(), mail, shoot, "undo")


async def test_this_wasnt_me_over_https_through_the_proxy(
    https_context: BrowserContext, https_urls, https_platform, new_account, mail, shoot
) -> None:
    page = https_context.pages[0] if https_context.pages else await https_context.new_page()
    tls = ssl.create_default_context(cafile=str(https_platform.certificate.ca))
    email = await new_account()
    await walk_this_wasnt_me(
        https_context, page, https_urls, email, mail, shoot, "https-undo", verify=tls
    )


async def walk_this_wasnt_me(
    context: BrowserContext,
    page: Page,
    urls: dict[str, str],
    email: str,
    mail,
    shoot,
    name: str,
    verify: ssl.SSLContext | bool = True,
) -> None:
    await reset_through_the_api(urls, mail, email, OTHER_PASSWORD, verify)
    first_reset = ((await mail.reset_email(email))["Message-ID"],)
    await log_in(page, urls, email, OTHER_PASSWORD)  # a session the owner wants ended

    notice = await mail.changed_email(email)
    inbox = await context.new_page()
    await inbox.set_content(mail.html_of(notice))
    button = inbox.get_by_role("link", name="This wasn't me")
    await expect(button).to_be_visible()
    await shoot(inbox, f"{name}-01-password-changed-email")
    async with context.expect_page() as opened:
        await button.click()
    undo = await opened.value
    await undo.wait_for_load_state()
    assert undo.url.startswith(f"{urls['identity']}/this-wasnt-me?token=")
    await expect(undo.get_by_role("heading", name="Secure your account")).to_be_visible()
    await shoot(undo, f"{name}-02-this-wasnt-me")

    # Opening the link did nothing: the session still works.
    await page.goto(f"{urls['identity']}/logged-in")
    await expect(page.get_by_role("heading", name="You are logged in")).to_be_visible()

    await undo.get_by_role("button", name="This wasn't me").click()
    await expect(
        undo.get_by_role("heading", name="Your account is signed out everywhere")
    ).to_be_visible()
    code = (await undo.locator("#verification-code").inner_text()).strip()
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code), code
    await shoot(undo, f"{name}-03-signed-out-with-new-code")

    # Every session ended.
    await page.goto(f"{urls['identity']}/logged-in")
    await expect(page).to_have_url(f"{urls['identity']}/login")

    # The fresh reset's email and the code on the page set the owner's password.
    fresh = await mail.reset_email(email, excluding=first_reset)
    await page.goto(mail.link_in(fresh))
    await page.get_by_label("New Password").fill(NEW_PASSWORD)
    await page.get_by_label("Confirm").fill(NEW_PASSWORD)
    await page.get_by_label("Verification Code").fill(code)
    await page.get_by_role("button", name="Set new password").click()
    await expect(page).to_have_url(f"{urls['identity']}/login?reset=done")
    await log_in(page, urls, email, NEW_PASSWORD)

    # The button works once: the link, opened again, says so.
    await undo.go_back()
    await undo.reload()
    await expect(undo.get_by_role("heading", name="This link can't be used")).to_be_visible()


async def test_a_link_that_matches_nothing_says_so_and_its_post_is_refused(
    page: Page, urls, identity_api: httpx.AsyncClient
) -> None:
    missing = await page.goto(f"{urls['identity']}/this-wasnt-me?token=" + "x" * 43)
    assert missing is not None and missing.status == 410
    await expect(page.get_by_role("heading", name="This link can't be used")).to_be_visible()
    posted = await identity_api.post("/this-wasnt-me", data={"token": "x" * 43})
    assert posted.status_code in (403, 410)  # no CSRF token, and no such link either way


async def test_this_wasnt_me_turns_off_two_factor_that_somebody_else_turned_on(
    context: BrowserContext,
    page: Page,
    urls,
    new_account,
    mail,
    shoot,
    identity_api: httpx.AsyncClient,
) -> None:
    email = await new_account()
    # Somebody with the password and a session turns two-factor on with their own device.
    login = await identity_api.post("/v1/login", json={"email": email, "password": OLD_PASSWORD})
    auth = {"Authorization": f"Bearer {login.json()['session_token']}"}
    secret = (await identity_api.post("/v1/totp/setup", headers=auth)).json()["secret"]
    activated = await identity_api.post(
        "/v1/totp/activate",
        json={"code": pyotp.TOTP(secret).now(), "password": OLD_PASSWORD},
        headers=auth,
    )
    assert activated.status_code == 200, activated.text

    notice = await mail.email(email, "Two-factor authentication was turned on")
    inbox = await context.new_page()
    await inbox.set_content(mail.html_of(notice))
    await shoot(inbox, "undo-2fa-01-turned-on-email")
    async with context.expect_page() as opened:
        await inbox.get_by_role("link", name="This wasn't me").click()
    undo = await opened.value
    await undo.wait_for_load_state()
    await expect(
        undo.get_by_text("If you did not turn on two-factor authentication")
    ).to_be_visible()
    await shoot(undo, "undo-2fa-02-this-wasnt-me")
    await undo.get_by_role("button", name="This wasn't me").click()
    await expect(undo.get_by_text("Two-factor authentication is off again")).to_be_visible()
    await shoot(undo, "undo-2fa-03-off-again")

    # The intruder's session is gone; the owner logs in with the password alone.
    assert (await identity_api.post("/v1/totp/setup", headers=auth)).status_code == 401
    await log_in(page, urls, email, OLD_PASSWORD)
