"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium) against the platform.

Never `playwright install`: the browser is the system's, installed by
scripts/install-system-deps.sh. Each test gets a fresh Chromium profile (--user-data-dir) so no
cookie or cache carries over. Screenshots go to artifacts/screenshots/ at the repository root;
their paths are listed at the end of the run.
"""

import re
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from devinfra.platform import Platform
from devinfra.processes import free_port
from devinfra.registration import register_by_email
from playwright.async_api import BrowserContext, ConsoleMessage, Page, Playwright, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Headless, no sandbox (CI runs as root), nothing that reaches the network on its own.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PHONE = {"width": 375, "height": 740}
DESKTOP = {"width": 1024, "height": 800}
OLD_PASSWORD = "old correct horse battery staple"
EMAIL_WAIT = 30.0
TIMEOUT_MS = 15_000

_taken: list[Path] = []

Shoot = Callable[[Page, str], Coroutine[Any, Any, Path]]
NewContext = Callable[..., Any]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # They need the whole platform: `make test-unit` (-m "not e2e ...") leaves them out.
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _taken:
        terminalreporter.section("browser screenshots")
        for path in _taken:
            terminalreporter.write_line(str(path))


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps.sh", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
async def playwright(chromium: Path) -> AsyncIterator[Playwright]:
    async with async_playwright() as driver:
        yield driver


@pytest.fixture
async def new_context(playwright: Playwright) -> AsyncIterator[NewContext]:
    """Opens Chromium with a fresh profile; options as for launch_persistent_context."""
    opened: list[BrowserContext] = []
    profiles: list[str] = []
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        # A refused inline script or style, or a failed script, shows up as a console error.
        if message.type == "error":
            problems.append(message.text)

    async def open_context(**options: Any) -> BrowserContext:
        profiles.append(tempfile.mkdtemp(prefix="pwreset-chromium-"))
        context = await playwright.chromium.launch_persistent_context(
            profiles[-1],  # a fresh --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS + options.pop("extra_args", []),
            viewport=options.pop("viewport", DESKTOP),
            **options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        context.on("console", watch)
        context.on("weberror", lambda error: problems.append(str(error.error)))
        opened.append(context)
        return context

    yield open_context
    for context in opened:
        await context.close()
    for profile in profiles:
        shutil.rmtree(profile, ignore_errors=True)
    csp = [p for p in problems if "Content Security Policy" in p]
    assert not csp, f"the browser refused something under our CSP: {csp}"


@pytest.fixture
async def context(new_context: NewContext) -> BrowserContext:
    # Clipboard access, so the test can read what the copy button copied.
    return await new_context(permissions=["clipboard-read", "clipboard-write"])


@pytest.fixture
async def https_context(new_context: NewContext, https_platform) -> BrowserContext:
    """Chromium trusting the TLS proxy's certificate (by its public key, for this profile only),
    clipboard allowed as in `context`."""
    spki = https_platform.certificate.spki_sha256
    return await new_context(
        permissions=["clipboard-read", "clipboard-write"],
        extra_args=[f"--ignore-certificate-errors-spki-list={spki}"],
    )


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return context.pages[0] if context.pages else await context.new_page()


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Shoot:
    """Saves a full-page screenshot as artifacts/screenshots/<name>.png and prints its path."""

    async def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        await page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000, f"{path} looks empty"
        print(f"screenshot: {path}")
        _taken.append(path)
        return path

    return take


@pytest.fixture
def urls(platform: Platform) -> dict[str, str]:
    return {"identity": platform.url("identity"), "reset": platform.url("reset")}


@pytest.fixture
def https_urls(https_platform) -> dict[str, str]:
    """The https origins, through the TLS proxy."""
    return {"identity": https_platform.url("identity"), "reset": https_platform.url("reset")}


@pytest.fixture
async def identity_api(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("identity"), timeout=10) as client:
        yield client


@pytest.fixture
def new_account(infra, identity_api: httpx.AsyncClient) -> Callable[[], Coroutine[Any, Any, str]]:
    """Registers a fresh account (with OLD_PASSWORD) through the JSON API and the emailed
    link; returns its email."""

    async def create() -> str:
        email = f"browser-{uuid.uuid4().hex[:12]}@example.com"
        await register_by_email(identity_api, infra.mailbox, email, OLD_PASSWORD)
        return email

    return create


class Mail:
    """Reads the emails the SMTP capture received."""

    def __init__(self, infra) -> None:
        self._mailbox = infra.mailbox

    async def reset_email(self, to: str, *, excluding: tuple[str, ...] = ()) -> EmailMessage:
        """The first "Reset your password" email to `to` whose Message-ID is not excluded."""
        return await self._mailbox.wait_for(
            lambda m: (
                m["To"] == to
                and m["Subject"] == "Reset your password"
                and m["Message-ID"] not in excluding
            ),
            timeout=EMAIL_WAIT,
        )

    async def changed_email(self, to: str) -> EmailMessage:
        """The "Your password was changed" email to `to`."""
        return await self.email(to, "Your password was changed")

    async def email(self, to: str, subject: str) -> EmailMessage:
        """The first email to `to` with this subject."""
        return await self._mailbox.wait_for(
            lambda m: m["To"] == to and m["Subject"] == subject, timeout=EMAIL_WAIT
        )

    @staticmethod
    def link_in(message: EmailMessage) -> str:
        text = message.get_body(("plain",)).get_content()
        match = re.search(r"https?://\S+/reset-password\?token=[A-Za-z0-9_-]+", text)
        assert match, text
        return match.group(0)

    @staticmethod
    def html_of(message: EmailMessage) -> str:
        return message.get_body(("html",)).get_content()


@pytest.fixture
def mail(infra) -> Mail:
    return Mail(infra)


# -- the system as a deploying team configures it -----------------------------------------------
# Settings every service of the configured platform reads, and those of one service. The
# language walk runs on it; the team-facing settings that shape pages and emails (branding, a
# template override directory) go here, so the walk shows them too.
CONFIGURED_SETTINGS: dict[str, dict[str, str]] = {
    "all": {
        "PRODUCT_NAME": "Acme Konto",
        "PRIMARY_COLOUR": "#0b7a57",
        "SUPPORT_URL": "https://hilfe.acme.example/konto",
        "LEGAL_FOOTER": "Acme Beispiel GmbH, Musterstraße 1, 10115 Berlin",
        "MAIL_FROM_NAME": "Acme Konto",
    },
    "identity": {},
    "reset": {},
    "notifier": {},
}
# TEMPLATE_OVERRIDE_DIR of every configured service holds these (one overridden template: the
# pages' header, shared by identity and reset).
CONFIGURED_OVERRIDES = {
    "_page_header.html": (
        '<header class="brand"><span class="brand-name">{{ brand.product_name }}</span>'
        '<span class="brand-tagline">&nbsp;· Kundenkonto</span></header>\n'
    ),
}
CONFIGURED = ("identity", "reset", "notifier")


@dataclass(frozen=True)
class ConfiguredPlatform:
    """identity, reset and the notifier started with CONFIGURED_SETTINGS, on the session
    platform's databases and Kafka. The notifier takes the session notifier's place (same
    consumer group and delivery ledger) while it runs, so every email of the test comes from
    the configured one."""

    platform: Platform
    settings: dict[str, dict[str, str]]

    def url(self, name: str) -> str:
        return self.platform.url(f"{name}-configured")


@pytest.fixture
def configured_platform(platform: Platform, tmp_path: Path) -> Iterator[ConfiguredPlatform]:
    instances = {name: f"{name}-configured" for name in CONFIGURED}
    overrides = tmp_path / "template-overrides"
    overrides.mkdir()
    for name, source in CONFIGURED_OVERRIDES.items():
        (overrides / name).write_text(source)
    for name in ("identity", "reset"):  # each is told the other's addresses before both run
        platform.ports.setdefault(instances[name], free_port())
        platform.ports.setdefault(f"{instances[name]}-internal", free_port())
    wiring = {
        "identity": {
            "PUBLIC_BASE_URL": platform.url(instances["identity"]),
            "RESET_PUBLIC_URL": platform.url(instances["reset"]),
            "RESET_URL": platform.url(f"{instances['reset']}-internal"),
        },
        "reset": {
            "PUBLIC_BASE_URL": platform.url(instances["reset"]),
            "IDENTITY_PUBLIC_URL": platform.url(instances["identity"]),
            "IDENTITY_URL": platform.url(f"{instances['identity']}-internal"),
        },
        "notifier": {},
    }
    common = {**CONFIGURED_SETTINGS["all"], "TEMPLATE_OVERRIDE_DIR": str(overrides)}
    settings = {name: {**common, **CONFIGURED_SETTINGS[name]} for name in CONFIGURED}
    platform.stop_service("notifier")
    try:
        for name in CONFIGURED:
            platform.start_instance(name, instances[name], env={**wiring[name], **settings[name]})
        yield ConfiguredPlatform(platform, settings)
    finally:
        for name in CONFIGURED:
            platform.stop_service(instances[name])
        platform.start_service("notifier")
