"""The seed flow under a team's branding, with one page and one email piece overridden: the
product's name, logo (from another origin, which the CSP admits), colour, support link and
legal footer on every page and in both emails, the From header's display name, and the
overrides in place of the shipped pieces. Screenshots of each page and both emails.

identity and reset run as extra branded instances (the session's databases and Kafka); the
notifier is swapped for a branded one in the same consumer group for the duration, so every
email of the walk is the branded one and none is sent twice."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from devinfra.platform import Platform
from devinfra.processes import free_port
from playwright.async_api import BrowserContext, Page, expect

from .test_seed_flow import NEW_PASSWORD, ask_for_a_reset, open_email_button

PRODUCT = "Acme <Cloud>"  # escaped wherever it appears
COLOUR = "#0b7a4b"
COLOUR_RGB = "rgb(11, 122, 75)"
FROM_NAME = "Acme Konto – Zurücksetzen"  # not ASCII: RFC 2047 in the header  # noqa: RUF001
FOOTER = "Acme Cloud Ltd · 1 Example Road · Example Town"
SUPPORT = "https://help.acme.example/account-recovery"
LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="40" viewBox="0 0 160 40">'
    f'<rect width="160" height="40" rx="6" fill="{COLOUR}"/>'
    '<text x="80" y="27" font-family="Arial" font-size="20" font-weight="bold" fill="#fff" '
    'text-anchor="middle">ACME</text></svg>'
)
PAGE_FOOTER = (
    '<footer class="brand-footer" data-override="page-footer">\n'
    '  <p><a href="{{ brand.support_url }}">Help and support</a>'
    " · Overridden footer of {{ brand.product_name }}</p>\n"
    '  <p class="legal">{{ brand.legal_footer }}</p>\n'
    "</footer>\n"
)
EMAIL_FOOTER = (
    '<tr><td data-override="email-footer" style="padding:16px 32px 28px 32px;'
    "border-top:1px solid #e3e5e8;font-family:Arial,Helvetica,sans-serif;font-size:12px;"
    'color:#5b616e;">\n'
    "Overridden email footer: you get this because of your {{ brand.product_name }} account.\n"
    '<a href="{{ brand.support_url }}" style="color:{{ brand.primary_colour }};">'
    "Help and support</a><br>{{ brand.legal_footer }}\n"
    "</td></tr>\n"
)


@dataclass(frozen=True)
class Branded:
    urls: dict[str, str]
    logo_url: str
    logo_origin: str


@pytest.fixture(scope="module")
def logo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The logo on an origin of its own (another port), as a CDN would serve it."""
    root = tmp_path_factory.mktemp("cdn")
    (root / "logo.svg").write_text(LOGO_SVG)
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def branded(
    platform: Platform, logo_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Branded]:
    overrides = tmp_path_factory.mktemp("template-overrides")
    (overrides / "_page_footer.html").write_text(PAGE_FOOTER)
    (overrides / "_email_footer.html").write_text(EMAIL_FOOTER)
    branding = {
        "PRODUCT_NAME": PRODUCT,
        "LOGO_URL": f"{logo_server}/logo.svg",
        "PRIMARY_COLOUR": COLOUR,
        "SUPPORT_URL": SUPPORT,
        "LEGAL_FOOTER": FOOTER,
        "MAIL_FROM_NAME": FROM_NAME,
        "TEMPLATE_OVERRIDE_DIR": str(overrides),
    }
    for name in ("identity-branded", "reset-branded"):
        platform.ports.setdefault(name, free_port())
        platform.ports.setdefault(f"{name}-internal", free_port())
    urls = {"identity": platform.url("identity-branded"), "reset": platform.url("reset-branded")}
    started: list[str] = []
    try:
        platform.start_instance(
            "identity",
            "identity-branded",
            env={
                **branding,
                "PUBLIC_BASE_URL": urls["identity"],
                "RESET_PUBLIC_URL": urls["reset"],
                "RESET_URL": platform.url("reset-branded-internal"),
            },
        )
        started.append("identity-branded")
        platform.start_instance(
            "reset",
            "reset-branded",
            env={
                **branding,
                "PUBLIC_BASE_URL": urls["reset"],
                "IDENTITY_PUBLIC_URL": urls["identity"],
                "IDENTITY_URL": platform.url("identity-branded-internal"),
            },
        )
        started.append("reset-branded")
        # The same consumer group: the branded notifier takes over every partition.
        platform.stop_service("notifier")
        platform.start_instance("notifier", "notifier-branded", env=branding)
        started.append("notifier-branded")
        yield Branded(urls, branding["LOGO_URL"], logo_server)
    finally:
        for name in reversed(started):
            platform.stop_service(name)
        if "notifier" not in platform.running:
            platform.start_service("notifier")


async def assert_branded_page(page: Page, branded: Branded) -> None:
    """Logo (loaded from its own origin), name, colour, the overridden footer, the title."""
    logo = page.locator("header.brand img.brand-logo")
    await expect(logo).to_have_attribute("src", branded.logo_url)
    await expect(logo).to_have_attribute("alt", PRODUCT)
    # Loaded, not refused by the CSP (the context fixture also fails on any CSP report).
    assert await logo.evaluate("img => img.complete && img.naturalWidth") == 160
    footer = page.locator("footer[data-override=page-footer]")
    await expect(footer).to_contain_text(f"Overridden footer of {PRODUCT}")
    await expect(footer.locator(".legal")).to_have_text(FOOTER)
    await expect(footer.get_by_role("link", name="Help and support")).to_have_attribute(
        "href", SUPPORT
    )
    assert (await page.title()).endswith(f"– {PRODUCT}")  # noqa: RUF001
    accent = "getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()"
    assert await page.evaluate(accent) == COLOUR
    buttons = page.locator(".button:not(.button-secondary)")
    for index in range(await buttons.count()):
        colour = await buttons.nth(index).evaluate("b => getComputedStyle(b).backgroundColor")
        assert colour == COLOUR_RGB


def assert_branded_email(message: EmailMessage, branded: Branded) -> str:
    (sender,) = message["From"].addresses
    assert sender.display_name == FROM_NAME
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert f'<img src="{branded.logo_url}" alt="Acme &lt;Cloud&gt;"' in html
    assert "Overridden email footer" in html and "Acme &lt;Cloud&gt; account" in html
    assert PRODUCT not in html  # only escaped
    assert COLOUR in html
    assert f"Help and support: {SUPPORT}" in text and FOOTER in text
    return html


async def shoot_email(context: BrowserContext, html: str, shoot, name: str) -> None:
    inbox = await context.new_page()
    await inbox.set_viewport_size({"width": 640, "height": 800})
    await inbox.set_content(html)
    logo = inbox.locator("img").first
    await expect(logo).to_be_visible()
    await expect(inbox.locator("[data-override=email-footer]")).to_be_visible()
    await shoot(inbox, name)
    await inbox.close()


async def test_the_seed_flow_is_branded_end_to_end(
    context: BrowserContext, page: Page, branded: Branded, new_account, mail, shoot
) -> None:
    email = await new_account()
    await page.goto(f"{branded.urls['identity']}/login")
    await assert_branded_page(page, branded)
    code = await ask_for_a_reset(page, branded.urls, email, shoot, "branded")
    await assert_branded_page(page, branded)
    await shoot(page, "branded-03-code")

    message = await mail.reset_email(email)
    html = assert_branded_email(message, branded)
    reset_page = await open_email_button(context, html, shoot, "branded")
    await expect(reset_page).to_have_url(f"{branded.urls['reset']}/reset-password")
    await expect(reset_page.get_by_role("heading", name="Set new password")).to_be_visible()
    await assert_branded_page(reset_page, branded)
    await shoot(reset_page, "branded-05-set-new-password")
    await reset_page.get_by_label("New Password").fill(NEW_PASSWORD)
    await reset_page.get_by_label("Confirm").fill(NEW_PASSWORD)
    await reset_page.get_by_label("Verification Code").fill(code)
    await reset_page.get_by_role("button", name="Set new password").click()

    await expect(reset_page).to_have_url(f"{branded.urls['identity']}/login?reset=done")
    await expect(reset_page.get_by_role("status")).to_contain_text("Your password was changed")
    await assert_branded_page(reset_page, branded)
    await shoot(reset_page, "branded-06-login-after-reset")

    changed = await mail.changed_email(email)
    changed_html = assert_branded_email(changed, branded)
    assert "/this-wasnt-me?token=" in changed_html
    await shoot_email(context, changed_html, shoot, "branded-07-password-changed-email")
