"""The seed flow over https, through the TLS-terminating nginx a deployment puts in front, in
Chromium: the cookie flags are read from Chromium's own cookie jar. And a form that a page of
another origin (served here, on a second port) posts to us is refused. issue 13."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from devinfra.processes import free_port
from playwright.async_api import BrowserContext, expect

from .test_seed_flow import NEW_PASSWORD, ask_for_a_reset, open_email_button

CHOSEN = "A" * 43  # the attacker's CSRF token, also planted as a cookie


def jar(cookies: list) -> dict[str, dict]:
    return {c["name"]: c for c in cookies}


async def test_seed_flow_over_https_sets_only_secure_prefixed_cookies(
    https_context: BrowserContext, https_urls, new_account, mail, shoot
) -> None:
    page = https_context.pages[0] if https_context.pages else await https_context.new_page()
    email = await new_account()
    code = await ask_for_a_reset(page, https_urls, email, shoot, "https")
    assert page.url.startswith("https://")

    message = await mail.reset_email(email)
    assert mail.link_in(message).startswith(f"{https_urls['reset']}/reset-password?token=")
    reset_page = await open_email_button(https_context, mail.html_of(message), shoot, "https")
    await expect(reset_page).to_have_url(f"{https_urls['reset']}/reset-password")
    await expect(reset_page.get_by_role("heading", name="Set new password")).to_be_visible()
    await shoot(reset_page, "https-05-set-new-password")
    cookies = jar(await https_context.cookies())
    link = cookies["__Secure-reset_link"]
    assert link["secure"] and link["httpOnly"] and link["path"] == "/reset-password"
    assert link["sameSite"] == "Lax"

    await reset_page.get_by_label("New Password").fill(NEW_PASSWORD)
    await reset_page.get_by_label("Confirm").fill(NEW_PASSWORD)
    await reset_page.get_by_label("Verification Code").fill(code)
    await reset_page.get_by_role("button", name="Set new password").click()
    await expect(reset_page).to_have_url(f"{https_urls['identity']}/login?reset=done")
    await shoot(reset_page, "https-06-login-after-reset")
    await reset_page.get_by_label("Email address").fill(email)
    await reset_page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    await reset_page.get_by_role("button", name="Log in").click()
    await expect(reset_page).to_have_url(f"{https_urls['identity']}/logged-in")
    await shoot(reset_page, "https-07-logged-in")

    cookies = jar(await https_context.cookies())
    assert {"__Host-csrf", "__Host-session"} <= set(cookies), set(cookies)
    for cookie in cookies.values():
        # Every cookie Secure, HttpOnly, Lax; __Host- ones host-only on path /.
        assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie
        assert cookie["name"].startswith(("__Host-", "__Secure-")), cookie
        if cookie["name"].startswith("__Host-"):
            assert cookie["path"] == "/" and not cookie["domain"].startswith("."), cookie
    assert "csrf" not in cookies and "session" not in cookies


class _AttackerPage(BaseHTTPRequestHandler):
    form_action = ""

    def do_GET(self) -> None:  # the http.server interface
        body = (
            "<!doctype html><title>Win a prize</title>"
            f'<form method="post" action="{self.form_action}">'
            f'<input type="hidden" name="csrf_token" value="{CHOSEN}">'
            '<input type="hidden" name="email" value="victim@example.com">'
            "<button>Claim your prize</button></form>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        # Plants the token as a cookie for the host (cookies ignore ports).
        self.send_header("Set-Cookie", f"csrf={CHOSEN}; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def attacker_origin(https_urls) -> Iterator[str]:
    """A page of another origin (a second port, plain http), posting our form."""
    handler = type(
        "Handler", (_AttackerPage,), {"form_action": f"{https_urls['reset']}/forgot-password"}
    )
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_form_posted_from_a_page_of_another_origin_is_refused(
    https_context: BrowserContext, https_urls, attacker_origin: str, shoot
) -> None:
    page = https_context.pages[0] if https_context.pages else await https_context.new_page()
    # The person has our page open in the same browser (our CSRF cookie is set).
    await page.goto(f"{https_urls['reset']}/forgot-password")
    await page.goto(f"{attacker_origin}/")
    async with page.expect_response(f"{https_urls['reset']}/forgot-password") as answer:
        await page.get_by_role("button", name="Claim your prize").click()
    refused = await answer.value
    assert refused.status == 403
    assert (await refused.json())["error"] == "cross_origin"
    await expect(page.locator("#verification-code")).to_have_count(0)
    await shoot(page, "https-08-cross-origin-form-refused")
