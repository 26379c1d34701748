"""Languages: Accept-Language with q-values, the ``lang`` choice and its cookie, catalogs and
dates (no infrastructure; a tiny app with one translated template)."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import write_po
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from servicekit.i18n import (
    format_moment,
    is_language_tag,
    load_translations,
    negotiate,
    parse_accept_language,
    supported_language,
)
from servicekit.web.i18n import carry_choice
from servicekit.web.pages import page_templates, render_page
from servicekit.web.security_headers import SecurityHeaders


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de", ["de"]),
        ("de-CH, fr;q=0.9, en;q=0.8", ["de-CH", "fr", "en"]),
        # Order by weight, not by position; equal weights keep their order.
        ("en;q=0.2, es;q=0.9, de;q=0.9", ["es", "de", "en"]),
        ("fr;q=0, es", ["es"]),  # q=0: "not this one"
        ("*;q=0.5, de;q=0.4", ["de"]),  # "*" asks for nothing in particular
        ("de;q=abc, es;q=2, fr;q=-1, it", ["it"]),  # bad weights: skipped, not an error
        ("<script>, de_DE, x, de", ["de"]),  # not language tags
        ("", []),
        (None, []),
        ("DE-de;Q=0.7", ["DE-de"]),
    ],
)
def test_accept_language_is_read_by_weight(header: str | None, expected: list[str]) -> None:
    assert parse_accept_language(header) == expected


def test_a_huge_header_is_read_only_in_part() -> None:
    header = ", ".join(["xx"] * 10_000 + ["de"])
    assert parse_accept_language(header) == ["xx"] * 50


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (["fr", "es"], "es"),  # the first we ship, in the reader's order
        (["de-AT"], "de"),  # a region falls back to its language
        (["ES"], "es"),  # case does not matter
        (["pt-BR", "fr"], "en"),  # nothing we ship: the default
        ([None, "junk tag", "es"], "es"),
        ([], "en"),
    ],
)
def test_negotiation_picks_the_first_supported_language(
    wanted: list[str | None], expected: str
) -> None:
    assert negotiate(wanted) == expected


@pytest.mark.parametrize(
    "tag",
    ["de", "es-419", "zh-Hant-TW", "sr-Latn"],
)
def test_language_tags(tag: str) -> None:
    assert is_language_tag(tag)


@pytest.mark.parametrize(
    "tag",
    ["", "d", "de_DE", "de-", "de--DE", "de-toolongsubtag", "de-DE\n", "e" * 4, "de-" + "a-" * 20],
)
def test_not_language_tags(tag: str) -> None:
    assert not is_language_tag(tag)
    assert supported_language(tag) is None


def test_dates_are_written_the_languages_way_with_the_time_zone() -> None:
    moment = datetime(2026, 11, 29, 1, 6, 59, tzinfo=UTC)
    assert format_moment(moment, "en") == "November 29, 2026, 1:06:59\u202fAM UTC"
    assert format_moment(moment, "de") == "29. November 2026, 01:06:59 UTC"
    assert format_moment(moment, "es") == "29 de noviembre de 2026, 1:06:59 UTC"


def _write_catalog(locales: Path, language: str, messages: dict[str, str], fuzzy: set[str]) -> None:
    catalog = Catalog(locale=language)
    for message, translation in messages.items():
        catalog.add(message, translation, flags=("fuzzy",) if message in fuzzy else ())
    directory = locales / language / "LC_MESSAGES"
    directory.mkdir(parents=True)
    with (directory / "messages.po").open("wb") as out:
        write_po(out, catalog)


def test_catalogs_are_compiled_from_po_without_fuzzy_entries(tmp_path: Path) -> None:
    _write_catalog(tmp_path, "de", {"Hello": "Hallo", "Maybe": "Vielleicht"}, fuzzy={"Maybe"})
    german = load_translations(tmp_path, "de")
    assert german.gettext("Hello") == "Hallo"
    assert german.gettext("Maybe") == "Maybe"  # fuzzy: as pybabel compile, left out
    assert load_translations(tmp_path, "en").gettext("Hello") == "Hello"
    assert load_translations(tmp_path, "es").gettext("Hello") == "Hello"  # no catalog


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    templates_dir = tmp_path / "templates"
    templates_dir.mkdir()
    (templates_dir / "hello.html").write_text(
        '{% extends "base.html" %}{% block title %}{{ _("Hello") }}{% endblock %}'
        '{% block content %}<p id="greeting">{% trans name=name %}Hello, {{ name }}!{% endtrans %}'
        "</p>{% endblock %}"
    )
    locales = tmp_path / "locales"
    _write_catalog(locales, "de", {"Hello": "Hallo", "Hello, %(name)s!": "Hallo, %(name)s!"}, set())
    _write_catalog(locales, "es", {"Hello": "Hola", "Hello, %(name)s!": "¡Hola, %(name)s!"}, set())
    templates = page_templates(templates_dir)
    app = FastAPI()
    app.add_middleware(SecurityHeaders)

    @app.get("/hello")
    async def hello(request: Request) -> HTMLResponse:
        return render_page(templates, request, "hello.html", name="<b>Ana</b>")

    return TestClient(app)


def _greeting(html: str) -> str:
    return html.split('<p id="greeting">')[1].split("</p>")[0]


def test_the_page_follows_accept_language(client: TestClient) -> None:
    page = client.get("/hello", headers={"Accept-Language": "fr, es;q=0.8, de;q=0.5"})
    # Escaped inside the translation too: a translated page is no way around autoescaping.
    assert _greeting(page.text) == "¡Hola, &lt;b&gt;Ana&lt;/b&gt;!"
    assert '<html lang="es">' in page.text
    assert page.headers["content-language"] == "es"
    assert "lang" not in page.cookies  # nothing was chosen: nothing is remembered


def test_a_language_chosen_on_the_page_sticks_in_a_cookie(client: TestClient) -> None:
    chosen = client.get("/hello?lang=de", headers={"Accept-Language": "es"})
    assert _greeting(chosen.text) == "Hallo, &lt;b&gt;Ana&lt;/b&gt;!"
    cookie = chosen.headers["set-cookie"]
    assert "lang=de" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    # Later pages (and forms) without ?lang= keep the choice over the browser's languages.
    later = client.get("/hello", headers={"Accept-Language": "es"})
    assert _greeting(later.text) == "Hallo, &lt;b&gt;Ana&lt;/b&gt;!"


def test_the_cookie_is_host_prefixed_and_secure_on_https(tmp_path: Path) -> None:
    templates_dir = tmp_path / "t"
    templates_dir.mkdir()
    (templates_dir / "p.html").write_text('{% extends "base.html" %}')
    templates = page_templates(templates_dir)
    app = FastAPI()
    app.add_middleware(SecurityHeaders, public_base_url="https://reset.example")

    @app.get("/p")
    async def p(request: Request) -> HTMLResponse:
        return render_page(templates, request, "p.html")

    page = TestClient(app, base_url="https://reset.example").get("/p?lang=es")
    cookie = next(c for c in page.headers.get_list("set-cookie") if "lang=" in c)
    assert cookie.startswith("__Host-lang=es") and "Secure" in cookie


@pytest.mark.parametrize("attempt", ["xx", "de<script>", "de\r\nSet-Cookie: a=b", "../de", ""])
def test_an_unsupported_or_forged_choice_is_ignored(client: TestClient, attempt: str) -> None:
    page = client.get("/hello", params={"lang": attempt}, headers={"Accept-Language": "es"})
    assert page.status_code == 200
    assert _greeting(page.text).startswith("¡Hola")
    assert "lang" not in page.cookies


def test_the_language_menu_links_to_the_same_page_in_each_language(client: TestClient) -> None:
    page = client.get("/hello?lang=de&x=1").text
    assert 'aria-label="Sprache"' in page  # the layout's own word, from the shared catalog
    assert '<span aria-current="true" lang="de">Deutsch</span>' in page
    assert 'href="/hello?x=1&amp;lang=es" hreflang="es" lang="es">Español</a>' in page
    assert 'href="/hello?x=1&amp;lang=en" hreflang="en" lang="en">English</a>' in page


def _request(query: str = "", cookie: str | None = None) -> Request:
    headers = [(b"cookie", f"lang={cookie}".encode())] if cookie is not None else []
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("reset.example", 80),
        "path": "/forgot-password",
        "query_string": query.encode(),
        "headers": headers,
    }
    return Request(scope)


@pytest.mark.parametrize(
    ("query", "cookie", "expected"),
    [
        ("", None, "https://id.example/login"),  # nothing picked: the browser's language rules
        ("lang=es", None, "https://id.example/login?lang=es"),
        ("", "de", "https://id.example/login?lang=de"),
        ("lang=es", "de", "https://id.example/login?lang=es"),  # just now wins over earlier
        ("", "de%0D%0AX:1", "https://id.example/login"),  # a forged cookie goes nowhere
        ("lang=xx", None, "https://id.example/login"),
    ],
)
def test_a_picked_language_goes_along_to_the_other_service(
    query: str, cookie: str | None, expected: str
) -> None:
    assert carry_choice("https://id.example/login", _request(query, cookie)) == expected
    assert carry_choice("https://id.example/login?reset=done", _request("lang=de")) == (
        "https://id.example/login?reset=done&lang=de"
    )
