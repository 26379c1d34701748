"""Branding values end up in a stylesheet, in HTML, in a CSP header: each is refused unless it
is what it claims to be, and what is text is escaped. Attacks as a careless or hostile
configuration (or a copy-pasted value) would bring them."""

import re
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from pydantic import ValidationError
from servicekit.web.branding import Branding, BrandingSettings
from servicekit.web.pages import install_branding, page_templates, render_page
from servicekit.web.security_headers import HEADERS, SecurityHeaders, content_security_policy


class ProductionBranding(BrandingSettings):
    environment: str = "production"


def brand(**values: object) -> Branding:
    return BrandingSettings.model_validate(values).branding


def branded_app(tmp_path: Path, branding: Branding) -> FastAPI:
    (tmp_path / "hello.html").write_text(
        '{% extends "base.html" %}{% block title %}Hello{% endblock %}'
        "{% block content %}<h1>Hello</h1>{% endblock %}"
    )
    templates = page_templates(tmp_path)
    app = FastAPI()
    app.add_middleware(
        SecurityHeaders,
        public_base_url="http://accounts.example.com",
        image_origin=branding.logo_origin,
    )
    install_branding(app, branding)

    @app.get("/hello")
    async def hello(request: Request) -> HTMLResponse:
        return render_page(templates, request, "hello.html")

    @app.get("/json")
    async def json() -> dict[str, str]:
        return {"ok": "yes"}

    return app


@pytest.mark.parametrize(
    "colour",
    [
        "#fff;}</style><script>alert(1)</script>",
        "#fff; background:url(https://evil.example.com/x)",
        "red",
        "#12345",
        "#1234567",
        "#ggg",
        "#fff\n",
        "rgb(1,2,3)",
        "",
    ],
)
def test_a_colour_is_a_hex_colour_and_nothing_else(colour: str) -> None:
    with pytest.raises(ValidationError, match="PRIMARY_COLOUR"):
        BrandingSettings(primary_colour=colour)


def test_a_hex_colour_is_accepted_as_written_in_lower_case() -> None:
    assert BrandingSettings(primary_colour="#AbC").primary_colour == "#abc"
    assert BrandingSettings(primary_colour="#0B7A4B").primary_colour == "#0b7a4b"


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+",
        "vbscript:msgbox(1)",
        "//evil.example.com/logo.png",
        "https://user:secret@cdn.example.com/logo.png",
        "logo.png",
    ],
)
@pytest.mark.parametrize("name", ["logo_url", "support_url"])
def test_a_url_that_is_not_plain_http_or_https_is_refused(name: str, url: str) -> None:
    with pytest.raises(ValidationError):
        BrandingSettings.model_validate({name: url})


@pytest.mark.parametrize("name", ["LOGO_URL", "SUPPORT_URL"])
def test_production_refuses_an_http_branding_url(name: str) -> None:
    with pytest.raises(ValidationError, match=f"{name} must be https"):
        ProductionBranding.model_validate({name.lower(): "http://cdn.example.com/x"})
    https = ProductionBranding.model_validate({name.lower(): "https://cdn.example.com/x"})
    assert https.environment == "production"


def test_the_variables_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCT_NAME", "Acme")
    monkeypatch.setenv("LOGO_URL", "https://cdn.acme.example/logo.svg")
    monkeypatch.setenv("PRIMARY_COLOUR", "#0b7a4b")
    monkeypatch.setenv("SUPPORT_URL", "https://help.acme.example/")
    monkeypatch.setenv("LEGAL_FOOTER", "Acme Ltd, 1 Road, Town")
    monkeypatch.setenv("MAIL_FROM_NAME", "Acme Accounts")
    branding = BrandingSettings().branding
    assert branding == Branding(
        product_name="Acme",
        logo_url="https://cdn.acme.example/logo.svg",
        primary_colour="#0b7a4b",
        support_url="https://help.acme.example/",
        legal_footer="Acme Ltd, 1 Road, Town",
        mail_from_name="Acme Accounts",
    )


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "A" * 61,
        "Acme\r\nBcc: victim@example.com",
        "Acme\x00",
        "Acme\u202egnp.exe",  # right-to-left override: reads differently from what it is
    ],
)
def test_a_product_name_is_short_printable_text(name: str) -> None:
    with pytest.raises(ValidationError):
        BrandingSettings(product_name=name)


@pytest.mark.parametrize(
    "name", ["Acme\r\nBcc: victim@example.com", "Acme\nX-Injected: 1", "Acme\x85", "A" * 65]
)
def test_a_mail_from_name_cannot_carry_a_line_break(name: str) -> None:
    with pytest.raises(ValidationError, match=r"MAIL_FROM_NAME|at most"):
        BrandingSettings(mail_from_name=name)


def test_a_legal_footer_keeps_its_lines_but_no_control_characters() -> None:
    assert BrandingSettings(legal_footer="Acme Ltd\r\nRoad 1").legal_footer == "Acme Ltd\nRoad 1"
    with pytest.raises(ValidationError):
        BrandingSettings(legal_footer="Acme\x1b[31m")
    with pytest.raises(ValidationError):
        BrandingSettings(legal_footer="x" * 501)


def test_html_in_the_product_name_and_footer_is_shown_as_text_on_pages(tmp_path: Path) -> None:
    branding = brand(
        product_name='<img src=x onerror="alert(1)">',
        legal_footer="</footer><script>alert(2)</script>",
        support_url="https://help.example.com/?a=1&b=<2>",
    )
    page = TestClient(branded_app(tmp_path, branding)).get("/hello").text
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert "&lt;/footer&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert 'href="https://help.example.com/?a=1&amp;b=%3C2%3E"' in page


def test_the_csp_admits_exactly_the_logo_origin_for_images(tmp_path: Path) -> None:
    branding = brand(logo_url="https://cdn.acme.example:8443/brand/logo.png?v=2")
    assert branding.logo_origin == "https://cdn.acme.example:8443"
    client = TestClient(branded_app(tmp_path, branding))
    for path in ("/hello", "/json", "/nowhere"):
        policy = client.get(path).headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["img-src"] == "'self' https://cdn.acme.example:8443", path
        # Nothing else widened: the logo's origin appears in img-src only.
        assert policy.count("cdn.acme.example") == 1, policy
        assert directives["default-src"] == "'self'"
    page = client.get("/hello").text
    assert '<img class="brand-logo" src="https://cdn.acme.example:8443/brand/logo.png?v=2"' in page


def test_without_a_logo_the_csp_is_the_default(tmp_path: Path) -> None:
    client = TestClient(branded_app(tmp_path, Branding()))
    for path in ("/hello", "/json"):
        assert (
            client.get(path).headers["content-security-policy"]
            == HEADERS["Content-Security-Policy"]
        )


def test_an_internationalised_logo_host_goes_into_the_csp_in_its_ascii_form() -> None:
    branding = brand(logo_url="https://bücher.example/logo.png")
    assert branding.logo_origin == "https://xn--bcher-kva.example"


@pytest.mark.parametrize(
    "origin",
    [
        "https://cdn.example.com; script-src *",
        "https://cdn.example.com 'unsafe-inline'",
        "https://cdn.example.com,https://evil.example.com",
        "javascript:alert(1)",
        "*",
    ],
)
def test_the_policy_refuses_anything_but_an_origin(origin: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        content_security_policy(image_origin=origin)


def test_the_primary_colour_is_served_as_a_stylesheet(tmp_path: Path) -> None:
    client = TestClient(branded_app(tmp_path, brand(primary_colour="#0B7A4B")))
    css = client.get("/brand.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert re.fullmatch(r":root \{\n  --accent: #0b7a4b;\n\}\n", css.text)
    page = client.get("/hello").text
    assert page.index('href="/static/pages.css"') < page.index('href="/brand.css"')


def test_an_empty_optional_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LOGO_URL", "SUPPORT_URL", "MAIL_FROM_NAME", "TEMPLATE_OVERRIDE_DIR"):
        monkeypatch.setenv(name, "")
    assert BrandingSettings().branding == Branding()


def test_a_missing_override_directory_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="TEMPLATE_OVERRIDE_DIR"):
        BrandingSettings(template_override_dir=tmp_path / "not-mounted")
