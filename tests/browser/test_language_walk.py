"""The seed flow walked once in German, by clicking, on the configured platform (branded, with
one overridden template: tests/browser/conftest.py, CONFIGURED_SETTINGS): login page,
"Passwort vergessen?", the code, the email's button, "Neues Passwort festlegen", logging in.
Every page and both emails are screenshotted (artifacts/screenshots/de-*.png) and read: German
text, no English string of the English pages and emails left, dates in German with their zone.

The browser asks for German as a German-speaking person's does (Accept-Language: de-DE); the
language menu is checked on the way."""

import re

from playwright.async_api import BrowserContext, Page, expect

from .conftest import ConfiguredPlatform, Mail, NewContext

NEW_PASSWORD = "ein brandneues, langes Passwort"
OLD_PASSWORD = "old correct horse battery staple"  # as registered by the new_account fixture
# What the English pages and emails say, none of which may be left on a German one.
ENGLISH = [
    "Log in",
    "Forgot your password",
    "Reset password",
    "Reset Password",
    "Email address",
    "Password",
    "Your verification code",
    "Keep this tab open",
    "Copy code",
    "Check your email",
    "Set new password",
    "New Password",
    "Confirm",
    "Verification Code",
    "Type the new password again",
    "Long is strong",
    "Your password was changed",
    "You are logged in",
    "This wasn't me",
    "If the button does not work",
    "The link works for",
    "Someone (hopefully you)",
    "minutes",
    "Back to log in",
    "Error",
]


def assert_german(text: str, where: str) -> None:
    leaked = [phrase for phrase in ENGLISH if phrase in text]
    assert not leaked, f"English on {where}: {leaked}\n{text}"


async def assert_german_page(page: Page, where: str) -> None:
    """The page's own words (the language menu names every language in itself, on purpose),
    under the deployment's brand: its name in the title, the overridden header, the support
    link and legal text in German."""
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    title = await page.title()
    assert_german(title, f"{where} (title)")
    assert title.endswith("\N{EN DASH} Acme Konto"), title
    assert_german(await page.locator("main").inner_text(), where)
    await expect(page.locator(".brand-tagline")).to_contain_text("· Kundenkonto")  # the override
    footer = page.locator(".brand-footer")
    await expect(footer.get_by_role("link", name="Hilfe und Support")).to_have_attribute(
        "href", "https://hilfe.acme.example/konto"
    )
    await expect(footer).to_contain_text("Acme Beispiel GmbH, Musterstraße 1, 10115 Berlin")


async def show_email(context: BrowserContext, html: str, shoot, name: str) -> Page:
    """The email's HTML part as a mail client shows it, screenshotted."""
    inbox = await context.new_page()
    await inbox.set_viewport_size({"width": 640, "height": 800})
    await inbox.set_content(html)
    await shoot(inbox, name)
    body = await inbox.locator("body").inner_text()
    assert_german(body, name)
    assert "Hilfe und Support" in body and "Acme Beispiel GmbH" in body, body  # the brand's footer
    return inbox


async def test_the_seed_flow_in_german(
    new_context: NewContext,
    configured_platform: ConfiguredPlatform,
    new_account,
    mail: Mail,
    shoot,
) -> None:
    identity, reset = configured_platform.url("identity"), configured_platform.url("reset")
    context = await new_context(locale="de-DE")
    page = context.pages[0] if context.pages else await context.new_page()
    email = await new_account()

    await page.goto(f"{identity}/login")
    await expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
    brand_css = await context.request.get(f"{identity}/brand.css")
    assert "--accent: #0b7a57;" in await brand_css.text()
    menu = page.get_by_role("navigation", name="Sprache")
    await expect(menu.locator('[aria-current="true"]')).to_have_text("Deutsch")
    await expect(menu.get_by_role("link", name="Español")).to_be_visible()
    await assert_german_page(page, "login")
    await shoot(page, "de-01-login")

    await page.get_by_role("link", name="Passwort vergessen?").click()
    await expect(page).to_have_url(f"{reset}/forgot-password")
    await expect(page.get_by_role("heading", name="Passwort zurücksetzen")).to_be_visible()
    # A form error, in German too.
    await page.get_by_label("E-Mail-Adresse").fill("keine adresse")
    await page.get_by_role("button", name="Passwort zurücksetzen").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Geben Sie Ihre E-Mail-Adresse ein, zum Beispiel name@example.com."
    )
    assert (await page.title()).startswith("Fehler: ")
    await assert_german_page(page, "forgot password (error)")
    await shoot(page, "de-02-forgot-password-error")
    await page.get_by_label("E-Mail-Adresse").fill(email)
    await page.get_by_role("button", name="Passwort zurücksetzen").click()

    await expect(page.get_by_role("heading", name="Ihr Bestätigungscode")).to_be_visible()
    code = (await page.locator("#verification-code").inner_text()).strip()
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code), code
    body = await page.locator("main").inner_text()
    assert "Lassen Sie diesen Tab geöffnet." in body
    assert "„Ihr Passwort zurücksetzen“" in body  # the German email's subject, as sent
    await assert_german_page(page, "code")
    await shoot(page, "de-03-code")

    message = await mail.email(email, "Ihr Passwort zurücksetzen")
    assert message["From"].addresses[0].display_name == "Acme Konto"
    text = message.get_body(("plain",)).get_content()
    assert_german(re.sub(r"https?://\S+", "", text), "reset email (text)")
    # The expiry in German, with its time zone.
    assert re.search(r"bis \d{1,2}\. \w+ \d{4}, \d{2}:\d{2}:\d{2} UTC\.", text), text
    inbox = await show_email(context, mail.html_of(message), shoot, "de-04-reset-email")
    async with context.expect_page() as opened:
        await inbox.get_by_role("link", name="Passwort zurücksetzen").click()
    reset_page = await opened.value
    await reset_page.wait_for_load_state()
    await inbox.close()

    await expect(reset_page).to_have_url(f"{reset}/reset-password")
    await expect(reset_page.get_by_role("heading", name="Neues Passwort festlegen")).to_be_visible()
    await assert_german_page(reset_page, "set new password")
    await shoot(reset_page, "de-05-set-new-password")
    await reset_page.get_by_label("Neues Passwort").fill(NEW_PASSWORD)
    await reset_page.get_by_label("Bestätigen").fill(NEW_PASSWORD)
    await reset_page.get_by_label("Bestätigungscode").fill(code)
    await reset_page.get_by_role("button", name="Neues Passwort festlegen").click()

    await expect(reset_page).to_have_url(f"{identity}/login?reset=done")
    await expect(reset_page.get_by_role("status")).to_have_text(
        "Ihr Passwort wurde geändert. Melden Sie sich mit Ihrem neuen Passwort an."
    )
    await assert_german_page(reset_page, "login after the reset")
    await shoot(reset_page, "de-06-login-after-reset")
    await reset_page.get_by_label("E-Mail-Adresse").fill(email)
    await reset_page.get_by_label("Passwort", exact=True).fill(NEW_PASSWORD)
    await reset_page.get_by_role("button", name="Anmelden").click()
    await expect(reset_page).to_have_url(f"{identity}/logged-in")
    await expect(reset_page.get_by_role("heading", name="Sie sind angemeldet")).to_be_visible()
    await assert_german_page(reset_page, "logged in")
    await shoot(reset_page, "de-07-logged-in")

    # The account kept the language of the reset: identity's email is German too.
    changed = await mail.email(email, "Ihr Passwort wurde geändert")
    changed_text = changed.get_body(("plain",)).get_content()
    assert re.search(r"am \d{1,2}\. \w+ \d{4}, \d{2}:\d{2}:\d{2} UTC", changed_text), changed_text
    inbox = await show_email(context, mail.html_of(changed), shoot, "de-08-password-changed-email")
    async with context.expect_page() as opened:
        await inbox.get_by_role("link", name="Das war ich nicht").click()
    undo = await opened.value
    await undo.wait_for_load_state()
    await expect(undo.get_by_role("heading", name="Schützen Sie Ihr Konto")).to_be_visible()
    await assert_german_page(undo, "this wasn't me")
    await shoot(undo, "de-09-this-wasnt-me")  # shown only: opening the link does nothing
