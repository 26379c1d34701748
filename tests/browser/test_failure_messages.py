"""Every way the flow can fail shows a clear message, in a real browser."""

import re

from playwright.async_api import BrowserContext, Page, expect

NEW_PASSWORD = "another brand new long passphrase"
OLD_PASSWORD = "old correct horse battery staple"  # as registered by the new_account fixture
MAX_CODE_ATTEMPTS = 5  # reset's MAX_CODE_ATTEMPTS default


async def request_code(page: Page, urls: dict[str, str], email: str) -> str:
    await page.goto(f"{urls['reset']}/forgot-password")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_role("button", name="Reset Password").click()
    return (await page.locator("#verification-code").inner_text()).strip()


async def fill_new_password(
    page: Page, *, password: str, confirm: str | None = None, code: str
) -> None:
    await page.get_by_label("New Password").fill(password)
    await page.get_by_label("Confirm").fill(password if confirm is None else confirm)
    await page.get_by_label("Verification Code").fill(code)
    await page.get_by_role("button", name="Set new password").click()


async def expect_error(page: Page, text: str, field: str | None = None) -> None:
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text(text)
    assert (await page.title()).startswith("Error: ")
    if field is not None:
        # The field to correct is focused, marked invalid and described by the message.
        control = page.get_by_label(field, exact=True)
        await expect(control).to_be_focused()
        await expect(control).to_have_attribute("aria-invalid", "true")
        await expect(control).to_have_attribute("aria-describedby", re.compile(r"\bform-error\b"))


def wrong(code: str) -> str:
    return "ABCDEFGH" if code != "ABCDEFGH" else "HGFEDCBA"


async def test_each_failure_of_set_new_password_has_its_message(
    context: BrowserContext, page: Page, urls, new_account, mail, shoot
) -> None:
    await page.goto(f"{urls['reset']}/forgot-password")
    await page.get_by_label("Email address").fill("not an email")
    await page.get_by_role("button", name="Reset Password").click()
    await expect_error(page, "Enter your email address, like name@example.com.", "Email address")
    await shoot(page, "failure-01-invalid-email")

    email = await new_account()
    code = await request_code(page, urls, email)
    first = await mail.reset_email(email)
    await page.goto(mail.link_in(first))

    await fill_new_password(page, password=NEW_PASSWORD, confirm=NEW_PASSWORD + "!", code=code)
    await expect_error(page, "The passwords do not match.", "Confirm")
    await expect(page.get_by_label("New Password")).to_have_value("")  # never sent back
    await shoot(page, "failure-02-passwords-differ")

    await fill_new_password(page, password="too short", code=code)
    await expect_error(
        page, "This password can't be used: use at least 15 characters.", "New Password"
    )
    await shoot(page, "failure-03-password-rejected")

    await fill_new_password(page, password=NEW_PASSWORD, code=wrong(code))
    await expect_error(
        page,
        f"That verification code is not right. {MAX_CODE_ATTEMPTS - 1} attempts left.",
        "Verification Code",
    )
    await shoot(page, "failure-04-wrong-code")
    for left in range(MAX_CODE_ATTEMPTS - 2, 0, -1):
        await fill_new_password(page, password=NEW_PASSWORD, code=wrong(code))
        plural = "attempt" if left == 1 else "attempts"
        await expect_error(page, f"{left} {plural} left.")
    await fill_new_password(page, password=NEW_PASSWORD, code=wrong(code))
    await expect(page.get_by_role("heading", name="This link can't be used")).to_be_visible()
    await expect(page.get_by_role("alert")).to_have_text(
        "Too many wrong codes were entered, so this reset link no longer works. "
        "Wait 15 minutes, then ask for a new one."
    )
    await shoot(page, "failure-05-too-many-attempts")
    # Even the right code cannot bring a burnt link back; "Start again" leads to a new request.
    await page.goto(f"{urls['reset']}/reset-password")
    await expect(page.get_by_role("heading", name="This link can't be used")).to_be_visible()
    await page.get_by_role("link", name="Start again").click()
    await expect(page).to_have_url(f"{urls['reset']}/forgot-password")

    # Asking again does not start the count afresh within the window (issue 13).
    await request_code(page, urls, email)
    again = await mail.reset_email(email, excluding=(first["Message-ID"],))
    await page.goto(mail.link_in(again))
    await expect(page.get_by_role("heading", name="This link can't be used")).to_be_visible()

    # A link that was used once shows the same way out.
    email = await new_account()
    code = await request_code(page, urls, email)
    second = await mail.reset_email(email)
    await page.goto(mail.link_in(second))
    await fill_new_password(page, password=NEW_PASSWORD, code=code)
    await expect(page).to_have_url(f"{urls['identity']}/login?reset=done")
    await page.goto(mail.link_in(second))
    await expect(page.get_by_role("heading", name="This link can't be used")).to_be_visible()
    await expect(page.get_by_role("alert")).to_contain_text(
        "This reset link has expired or has already been used."
    )
    await expect(page.get_by_role("link", name="Start again")).to_have_attribute(
        "href", "/forgot-password"
    )
    await shoot(page, "failure-06-link-used")


async def test_login_failures_have_their_messages(page: Page, urls, new_account, shoot) -> None:
    email = await new_account()
    await page.goto(f"{urls['identity']}/login")
    await page.get_by_role("button", name="Log in").click()
    await expect_error(page, "Enter your email address, like name@example.com.", "Email address")

    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password", exact=True).fill("not the password at all")
    await page.get_by_role("button", name="Log in").click()
    await expect_error(page, "The email or password is wrong.", "Password")
    await expect(page.get_by_label("Email address")).to_have_value(email)
    await shoot(page, "failure-07-login-wrong-password")


async def test_a_form_posted_from_another_site_is_refused(page: Page, urls, shoot) -> None:
    """CSRF: a page elsewhere (here about:blank, an opaque origin: Origin "null") posts our
    form. Refused by its Origin before the CSRF token is even looked at."""
    await page.set_content(
        f'<form method="post" action="{urls["reset"]}/forgot-password">'
        '<input name="email" value="victim@example.com"><button>Go</button></form>'
    )
    async with page.expect_response(f"{urls['reset']}/forgot-password") as answer:
        await page.get_by_role("button", name="Go").click()
    refused = await answer.value
    assert refused.status == 403
    assert (await refused.json())["error"] == "cross_origin"
    await expect(page.locator("#verification-code")).to_have_count(0)
    await shoot(page, "failure-08-csrf-refused")
