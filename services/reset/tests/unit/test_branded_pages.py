"""The reset pages with a deployment's branding and one overridden template: what a person
types still comes back escaped, and an override cannot switch that off."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from reset_service.api.main import create_app
from reset_service.core.config import Settings
from reset_service.service_layer.password_resets import PasswordResets

ORIGIN = "http://127.0.0.1:8002"
TYPED = '"><script>alert(1)</script>@example.com'
FORGOT_OVERRIDE = """{% extends "base.html" %}
{% import "forms.html" as forms with context %}
{% block title %}Forgot it?{% endblock %}
{% block content %}
<h1>Forgot your {{ brand.product_name }} password?</h1>
{{ forms.error_box() }}
<form method="post" action="/forgot-password">{{ forms.csrf_field() }}
{{ forms.field("email", "Email address", type="email", value=email) }}
<p>You typed: {{ email }}</p>
<button type="submit" class="button">Reset Password</button></form>
{% endblock %}
"""


async def client_for(resets: PasswordResets, **settings: object) -> httpx.AsyncClient:
    app = create_app(Settings.model_validate(settings))
    app.state.resets = resets
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    return httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"Origin": ORIGIN})


@pytest.fixture
async def branded(resets: PasswordResets, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "forgot_password.html").write_text(FORGOT_OVERRIDE)
    async with await client_for(
        resets,
        product_name="Acme <Cloud>",
        logo_url="https://cdn.acme.example/logo.svg",
        primary_colour="#0B7A4B",
        support_url="https://help.acme.example/reset",
        legal_footer="Acme Ltd, 1 Road, Town",
        template_override_dir=tmp_path,
    ) as client:
        yield client


async def test_every_page_carries_the_brand_and_the_override_replaces_its_page(
    branded: httpx.AsyncClient,
) -> None:
    page = await branded.get("/forgot-password")
    assert page.status_code == 200
    assert "<h1>Forgot your Acme &lt;Cloud&gt; password?</h1>" in page.text
    assert '<img class="brand-logo" src="https://cdn.acme.example/logo.svg"' in page.text
    assert 'href="https://help.acme.example/reset"' in page.text
    assert "Acme Ltd, 1 Road, Town" in page.text
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' https://cdn.acme.example;" in policy
    # A page not overridden: the shipped one, branded the same.
    link = await branded.get("/reset-password")
    assert "<h1>Forgot your" not in link.text
    assert "Acme &lt;Cloud&gt;" in link.text
    assert "img-src 'self' https://cdn.acme.example;" in link.headers["content-security-policy"]
    css = await branded.get("/brand.css")
    assert "--accent: #0b7a4b;" in css.text


async def test_what_a_person_typed_comes_back_escaped_through_the_override(
    branded: httpx.AsyncClient,
) -> None:
    page = await branded.post("/forgot-password", data={"email": TYPED, "csrf_token": "x"})
    assert page.status_code == 403  # no CSRF cookie: the form comes back
    assert "<h1>Forgot your" in page.text  # through the override
    assert "<script>" not in page.text
    assert "You typed: &#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.com" in page.text


@pytest.mark.parametrize(
    "unescaping",
    [
        "{% autoescape false %}<p>You typed: {{ email }}</p>{% endautoescape %}",
        "<p>You typed: {{ email|safe }}</p>",
    ],
)
async def test_an_override_that_unescapes_what_a_person_typed_is_not_used(
    resets: PasswordResets, tmp_path: Path, unescaping: str
) -> None:
    (tmp_path / "forgot_password.html").write_text(
        FORGOT_OVERRIDE.replace("<p>You typed: {{ email }}</p>", unescaping)
    )
    async with await client_for(resets, template_override_dir=tmp_path) as client:
        page = await client.post("/forgot-password", data={"email": TYPED, "csrf_token": "x"})
    assert page.status_code == 403
    assert "<script>" not in page.text
    assert "<h1>Reset password</h1>" in page.text  # the shipped page
