"""Through a real TLS-terminating proxy (nginx, the ingress-nginx role), as a browser reaches
the services in production: every cookie Secure and prefixed, HSTS on every answer, forms from
another origin refused, links on the https origin. issue 13."""

import re
import ssl
from collections.abc import AsyncIterator
from email.message import EmailMessage

import httpx
import pytest
from devinfra.registration import register_by_email

from .conftest import EMAIL_WAIT, OLD_PASSWORD
from .test_reset_flow import new_email

pytestmark = pytest.mark.e2e
EVIL = "https://evil.example.com"


@pytest.fixture
async def via_proxy(https_platform) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """Clients that verify the proxy's certificate (the test's CA)."""
    tls = ssl.create_default_context(cafile=str(https_platform.certificate.ca))
    async with (
        httpx.AsyncClient(base_url=https_platform.url("identity"), verify=tls, timeout=10) as i,
        httpx.AsyncClient(base_url=https_platform.url("reset"), verify=tls, timeout=10) as r,
    ):
        yield {"identity": i, "reset": r}


def cookie_line(response: httpx.Response, name: str) -> str:
    lines = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    (line,) = [v for v in lines if v.startswith(f"{name}=")] or [f"(no {name} in {lines})"]
    return line


def token_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def test_behind_the_proxy_cookies_are_secure_and_prefixed_and_every_answer_has_hsts(
    via_proxy: dict[str, httpx.AsyncClient],
) -> None:
    identity, reset = via_proxy["identity"], via_proxy["reset"]
    for client, path in ((identity, "/login"), (reset, "/forgot-password")):
        page = await client.get(path)
        assert page.status_code == 200
        csrf = cookie_line(page, "__Host-csrf")
        assert "Secure" in csrf and "HttpOnly" in csrf and "Path=/" in csrf, csrf
        assert "Domain" not in csrf
        assert page.headers["strict-transport-security"].startswith("max-age=")
    landing = await reset.get("/reset-password", params={"token": "x" * 43})
    assert landing.status_code == 303
    link_cookie = cookie_line(landing, "__Secure-reset_link")
    assert "Secure" in link_cookie and "Path=/reset-password" in link_cookie, link_cookie
    # Error answers too: a 404, a 405, a 413, a 422.
    for answer in (
        await identity.get("/no-such-page"),
        await reset.delete("/v1/password-resets"),
        await reset.post("/v1/password-resets", content=b"x" * 20_000),
        await reset.post("/v1/password-resets", json={}),
    ):
        assert answer.status_code >= 400
        assert "strict-transport-security" in answer.headers, answer.status_code
        assert "content-security-policy" in answer.headers


async def test_a_form_from_another_origin_with_a_token_and_cookie_it_chose_is_refused(
    via_proxy: dict[str, httpx.AsyncClient], https_platform
) -> None:
    reset = via_proxy["reset"]
    chosen = "A" * 43  # the attacker's token, planted as the cookie (sibling subdomain)
    form = {"csrf_token": chosen, "email": new_email()}
    reset.cookies.set("__Host-csrf", chosen)
    for headers in ({"Origin": EVIL}, {"Origin": "null", "Sec-Fetch-Site": "cross-site"}):
        refused = await reset.post("/forgot-password", data=form, headers=headers)
        assert refused.status_code == 403, headers
        assert refused.json()["error"] == "cross_origin"
        assert "strict-transport-security" in refused.headers
    # From the reset page itself, the same form goes through.
    ours = await reset.post(
        "/forgot-password", data=form, headers={"Origin": https_platform.url("reset")}
    )
    assert ours.status_code == 200 and "Your verification code" in ours.text


async def test_the_emailed_link_is_on_the_https_origin(
    infra, via_proxy: dict[str, httpx.AsyncClient], https_platform
) -> None:
    email = new_email()
    await register_by_email(via_proxy["identity"], infra.mailbox, email, OLD_PASSWORD)
    requested = await via_proxy["reset"].post("/v1/password-resets", json={"email": email})
    assert requested.status_code == 202
    message: EmailMessage = await infra.mailbox.wait_for(
        lambda m: m["To"] == email and m["Subject"] == "Reset your password", timeout=EMAIL_WAIT
    )
    text = message.get_body(("plain",)).get_content()
    assert f"{https_platform.url('reset')}/reset-password?token=" in text
