"""The double-submit CSRF check and the shared page rendering, on a tiny app (no infrastructure)."""

import re
from pathlib import Path
from typing import Annotated

import pytest
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.testclient import TestClient
from servicekit.web import csrf
from servicekit.web.pages import mount_static, page_templates, render_page
from servicekit.web.security_headers import SecurityHeaders


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    (tmp_path / "form.html").write_text(
        '{% extends "base.html" %}{% import "forms.html" as forms with context %}'
        "{% block title %}Form{% endblock %}{% block content %}{{ forms.error_box() }}"
        '<form method="post">{{ forms.csrf_field() }}'
        '{{ forms.field("name", "Name", focus=True) }}</form>{% endblock %}'
    )
    templates = page_templates(tmp_path)
    app = FastAPI()
    app.add_middleware(SecurityHeaders)
    mount_static(app)

    @app.get("/form")
    async def show(request: Request) -> HTMLResponse:
        return render_page(templates, request, "form.html")

    @app.get("/form-with-error")
    async def show_error(request: Request) -> HTMLResponse:
        return render_page(
            templates, request, "form.html", 400, error="Enter a name.", error_field="name"
        )

    @app.post("/form")
    async def submit(
        request: Request, name: Annotated[str | None, Form()] = None
    ) -> PlainTextResponse:
        if not await csrf.verify(request):
            return PlainTextResponse("refused", status_code=403)
        return PlainTextResponse(f"hello {name}")

    return app


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_a_form_carries_the_token_of_its_cookie_and_is_accepted(app: FastAPI) -> None:
    client = TestClient(app)
    page = client.get("/form")
    token = form_token(page.text)
    assert page.cookies["csrf"] == token
    cookie_header = page.headers["set-cookie"]
    assert "HttpOnly" in cookie_header and "SameSite=lax" in cookie_header
    assert "Path=/" in cookie_header and "Secure" not in cookie_header  # plain http here
    answer = client.post("/form", data={"csrf_token": token, "name": "Ada"})
    assert answer.status_code == 200 and answer.text == "hello Ada"


def test_the_token_is_reused_while_the_cookie_lasts(app: FastAPI) -> None:
    client = TestClient(app)
    first = form_token(client.get("/form").text)
    second = form_token(client.get("/form").text)
    assert first == second  # two open tabs both keep working


@pytest.mark.parametrize(
    "field",
    [None, "", "x" * 43, "not a token"],
    ids=["no field", "empty", "other token", "malformed"],
)
def test_a_post_without_the_cookies_token_is_refused(app: FastAPI, field: str | None) -> None:
    client = TestClient(app)
    client.get("/form")
    data = {"name": "Mallory"} if field is None else {"name": "Mallory", "csrf_token": field}
    assert client.post("/form", data=data).status_code == 403


def test_a_post_without_the_cookie_is_refused_even_with_a_plausible_token(app: FastAPI) -> None:
    token = form_token(TestClient(app).get("/form").text)
    fresh = TestClient(app)  # another browser: the attacker's page has no access to our cookie
    assert fresh.post("/form", data={"csrf_token": token}).status_code == 403


# On https (as the public origin decides, not the socket): test_web_security.py.


def test_pages_link_the_shared_stylesheet_and_carry_no_inline_script_or_style(
    app: FastAPI,
) -> None:
    client = TestClient(app)
    page = client.get("/form")
    assert '<link rel="stylesheet" href="/static/pages.css">' in page.text
    assert "<script" not in page.text and "style=" not in page.text and "<style" not in page.text
    assert "style-src 'self'" in page.headers["content-security-policy"]
    css = client.get("/static/pages.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_an_error_is_announced_and_the_field_in_error_is_focused(app: FastAPI) -> None:
    page = TestClient(app).get("/form-with-error")
    assert page.status_code == 400
    assert "<title>Error: Form \N{EN DASH} pwreset</title>" in page.text  # the product name last
    assert 'role="alert" id="form-error"' in page.text
    field = re.search(r"<input id=\"name\"[^>]*>", page.text)
    assert field, page.text
    assert 'aria-invalid="true"' in field.group(0)
    assert 'aria-describedby="form-error"' in field.group(0)
    assert "autofocus" in field.group(0)
