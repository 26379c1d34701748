"""The public origin decides cookies, HSTS and which forms are accepted; every answer, a 500
included, carries the security headers. On a tiny app, as the attacker would send them."""

import re
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.testclient import TestClient
from servicekit.web import csrf
from servicekit.web.client_ip import parse_networks
from servicekit.web.http_errors import install_error_handlers
from servicekit.web.pages import page_templates, render_page
from servicekit.web.public_origin import origin_of, public_origin, same_origin
from servicekit.web.security_headers import HEADERS, SecurityHeaders

PROXY = ("10.0.0.5", 40000)
STRANGER = ("203.0.113.9", 40000)
HTTPS_ORIGIN = "https://accounts.example.com"


def make_app(tmp_path: Path, public_base_url: str, trusted: str = "") -> FastAPI:
    (tmp_path / "form.html").write_text(
        '{% extends "base.html" %}{% import "forms.html" as forms with context %}'
        "{% block title %}Form{% endblock %}{% block content %}"
        '<form method="post">{{ forms.csrf_field() }}</form>{% endblock %}'
    )
    templates = page_templates(tmp_path)
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(
        SecurityHeaders, public_base_url=public_base_url, trusted_proxies=parse_networks(trusted)
    )

    @app.get("/form")
    async def show(request: Request) -> HTMLResponse:
        return render_page(templates, request, "form.html")

    @app.post("/form")
    async def submit(
        request: Request, name: Annotated[str | None, Form()] = None
    ) -> PlainTextResponse:
        if not await csrf.verify(request):
            return PlainTextResponse("refused", status_code=403)
        return PlainTextResponse("done")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    return app


def token_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_a_cross_origin_form_with_a_token_and_cookie_the_attacker_chose_is_refused(
    tmp_path: Path,
) -> None:
    # The attacker planted csrf=<their token> from a sibling subdomain and posts the same token
    # from their own page: the double submit alone accepts it.
    app = make_app(tmp_path, "http://accounts.example.com")
    chosen = "A" * 43
    client = TestClient(app, base_url="http://accounts.example.com", cookies={"csrf": chosen})
    for headers in (
        {"Origin": "http://evil.example.com"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another origin
    ):
        answer = client.post("/form", data={"csrf_token": chosen}, headers=headers)
        assert answer.status_code == 403, headers
        assert answer.json()["error"] == "cross_origin"
        assert answer.headers["content-security-policy"] == HEADERS["Content-Security-Policy"]
    # The same form from our own page goes through.
    same = client.post(
        "/form", data={"csrf_token": chosen}, headers={"Origin": "http://accounts.example.com"}
    )
    assert same.status_code == 200 and same.text == "done"


def test_an_https_public_base_url_makes_cookies_secure_and_host_prefixed_and_adds_hsts(
    tmp_path: Path,
) -> None:
    # The service sees plain http from the TLS proxy; the configured origin decides.
    client = TestClient(make_app(tmp_path, HTTPS_ORIGIN), base_url="http://10.1.2.3:8000")
    page = client.get("/form")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-csrf=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
    assert page.headers["strict-transport-security"].startswith("max-age=")
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and "strict-transport-security" in missing.headers
    token = token_of(page.text)
    sent = client.post(
        "/form",
        data={"csrf_token": token},
        cookies={"__Host-csrf": token},
        headers={"Origin": HTTPS_ORIGIN},
    )
    assert sent.status_code == 200
    # Over http the plain "csrf" cookie is not the one read: a non-Secure cookie does not count.
    plain = client.post(
        "/form",
        data={"csrf_token": token},
        cookies={"csrf": token},
        headers={"Origin": HTTPS_ORIGIN},
    )
    assert plain.status_code == 403


def test_a_spoofed_x_forwarded_proto_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    app = make_app(tmp_path, "http://accounts.example.com", trusted="10.0.0.0/8")
    client = TestClient(app, base_url="http://accounts.example.com", client=STRANGER)
    spoofed = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example.com"}
    page = client.get("/form", headers=spoofed)
    assert page.headers["set-cookie"].startswith("csrf=")
    assert "Secure" not in page.headers["set-cookie"]
    assert "strict-transport-security" not in page.headers
    # Nor does a claimed host let a form from that host through.
    token = token_of(page.text)
    answer = client.post(
        "/form",
        data={"csrf_token": token},
        headers={**spoofed, "Origin": "https://evil.example.com"},
    )
    assert answer.status_code == 403


def test_a_trusted_proxy_tells_the_origin_the_browser_used(tmp_path: Path) -> None:
    app = make_app(tmp_path, "http://127.0.0.1:8002", trusted="10.0.0.0/8")
    client = TestClient(app, base_url="http://127.0.0.1:8002", client=PROXY)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "localhost:8443"}
    page = client.get("/form", headers=forwarded)
    assert page.headers["set-cookie"].startswith("__Host-csrf=")
    assert "Secure" in page.headers["set-cookie"]
    assert "strict-transport-security" in page.headers
    token = token_of(page.text)
    data, cookies = {"csrf_token": token}, {"__Host-csrf": token}
    ok = client.post(
        "/form",
        data=data,
        cookies=cookies,
        headers={**forwarded, "Origin": "https://localhost:8443"},
    )
    assert ok.status_code == 200
    # http of the same host is another origin.
    other = client.post(
        "/form",
        data=data,
        cookies=cookies,
        headers={**forwarded, "Origin": "http://localhost:8443"},
    )
    assert other.status_code == 403


@pytest.mark.parametrize("base", ["http://accounts.example.com", HTTPS_ORIGIN])
def test_a_500_carries_the_same_security_headers(tmp_path: Path, base: str) -> None:
    client = TestClient(make_app(tmp_path, base), raise_server_exceptions=False)
    answer = client.get("/boom")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "internal_error",
        "message": "unexpected error; it has been logged",
    }
    for name, value in HEADERS.items():
        assert answer.headers[name] == value, name
    assert ("strict-transport-security" in answer.headers) == base.startswith("https")


def test_origin_of_normalises_like_a_browser() -> None:
    assert origin_of("https://Example.COM:443/x?y") == "https://example.com"
    assert origin_of("http://127.0.0.1:8002/") == "http://127.0.0.1:8002"
    for bad in ("null", "ftp://x", "https://"):
        with pytest.raises(ValueError):
            origin_of(bad)


def test_forwarded_headers_count_only_from_trusted_peers_and_only_for_http_schemes() -> None:
    trusted = parse_networks("10.0.0.0/8")
    decide = lambda peer, proto, host=None: public_origin(  # noqa: E731
        "http://a.example", peer=peer, forwarded_proto=proto, forwarded_host=host, trusted=trusted
    )
    assert decide("10.0.0.1", "https", "b.example") == "https://b.example"
    assert decide("10.0.0.1", "https") == "https://a.example"
    assert decide("10.0.0.1", "gopher") == "http://a.example"
    assert decide("203.0.113.1", "https", "b.example") == "http://a.example"
    assert decide(None, "https") == "http://a.example"
    assert same_origin("https://a.example", origin_header=None, fetch_site=None)  # no browser
    assert same_origin("https://a.example", origin_header=None, fetch_site="same-origin")
    # Chromium's same-origin form under Referrer-Policy: no-referrer.
    assert same_origin("https://a.example", origin_header="null", fetch_site="same-origin")
    assert not same_origin(
        "https://a.example", origin_header="https://a.example", fetch_site="cross-site"
    )
    assert not same_origin(
        "https://a.example", origin_header="https://a.example.evil", fetch_site=None
    )
