"""TEMPLATE_OVERRIDE_DIR: files there replace the shipped templates one by one; one that could
switch escaping off, breaks, leaves the sandbox or lacks what it must show is not used, and says
so in a log line and a metric."""

import logging
from pathlib import Path

import pytest
from jinja2 import DictLoader, TemplateNotFound
from prometheus_client import REGISTRY
from servicekit.web.templating import TemplateSet

SHIPPED = {
    "base.html": "<title>{% block title %}{% endblock %}</title><main>{% block content %}"
    "{% endblock %}</main>",
    "page.html": '{% extends "base.html" %}{% block title %}Shipped{% endblock %}'
    "{% block content %}<p>Hello {{ name }}</p><a href='{{ link }}'>go</a>{% endblock %}",
    "mail.txt": "Hello {{ name }}, open {{ link }}",
}
ATTACK = '<script>alert(1)</script>"&'
LINK = "https://reset.example.com/reset-password?token=abc_DEF-123"


def fallbacks(template: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "template_override_fallbacks_total", {"template": template, "reason": reason}
    )
    return value or 0.0


def templates(tmp_path: Path, overrides: dict[str, str], **options: object) -> TemplateSet:
    directory = tmp_path / "overrides"
    directory.mkdir(exist_ok=True)
    for name, source in overrides.items():
        (directory / name).write_text(source)
    return TemplateSet(DictLoader(SHIPPED), directory, **options)  # type: ignore[arg-type]


def render_page(templates: TemplateSet) -> str:
    return templates.render("page.html", {"name": ATTACK, "link": LINK})


def test_an_override_replaces_its_namesake_and_only_it(tmp_path: Path) -> None:
    chosen = templates(
        tmp_path, {"base.html": "<header>Acme</header>{% block content %}{% endblock %}"}
    )
    page = render_page(chosen)
    assert page.startswith("<header>Acme</header><p>Hello ")  # the shipped page, our layout
    assert chosen.render("mail.txt", {"name": "Ann", "link": LINK}) == f"Hello Ann, open {LINK}"


def test_without_an_override_directory_the_shipped_templates_render(tmp_path: Path) -> None:
    page = TemplateSet(DictLoader(SHIPPED)).render("page.html", {"name": ATTACK, "link": LINK})
    assert "<title>Shipped</title>" in page and "&lt;script&gt;" in page


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        # Switching autoescaping off around a value the attacker typed.
        ("{% autoescape false %}<p>{{ name }}</p>{% endautoescape %}{{ link }}", "refused"),
        ("<p>{{ name|safe }}</p>{{ link }}", "refused"),
        ("<p>{{ name | safe }}</p>{{ link }}", "refused"),
        ("{% filter safe %}<p>{{ name }}</p>{% endfilter %}{{ link }}", "refused"),
        ("{% set n = name|safe %}<p>{{ n }}</p>{{ link }}", "refused"),
        # The same through a file it includes (checked when that one loads).
        ('{% include "unsafe.html" %}{{ link }}', "refused"),
        # Out of the sandbox: no Python internals, no mutation.
        ("{{ name.__class__.__mro__ }}{{ link }}", "render_error"),
        ("{{ ''.__class__.__subclasses__() }}{{ link }}", "render_error"),
        ("{{ '{0.__class__.__init__.__globals__}'.format(name) }}{{ link }}", "render_error"),
        # Out of the directory.
        ('{% include "../secret.html" %}{{ link }}', "render_error"),
        ('{% include "/etc/hostname" %}{{ link }}', "render_error"),
        # Plain broken ones.
        ("{% if %}", "syntax"),
        ("{{ name.no_such_method() }}", "render_error"),
    ],
)
def test_an_override_that_could_unescape_or_escape_falls_back_to_the_shipped_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, source: str, reason: str
) -> None:
    (tmp_path / "secret.html").write_text("TOP SECRET")
    before = fallbacks("page.html", reason)
    chosen = templates(
        tmp_path,
        {
            "page.html": source,
            "unsafe.html": "{% autoescape false %}{{ name }}{% endautoescape %}",
        },
    )
    with caplog.at_level(logging.WARNING, logger="servicekit.templates"):
        page = render_page(chosen)
    # The shipped page, with the value escaped; nothing from outside the directory.
    assert "<title>Shipped</title>" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&amp;" in page
    assert "TOP SECRET" not in page
    assert fallbacks("page.html", reason) == before + 1
    lines = [r.getMessage() for r in caplog.records if "page.html" in r.getMessage()]
    assert lines and f"reason: {reason}" in lines[0]
    # The log line never quotes what was rendered (a link carries a token).
    assert all("abc_DEF-123" not in line and "alert(1)" not in line for line in lines)


def test_an_override_escapes_every_value_it_shows(tmp_path: Path) -> None:
    chosen = templates(
        tmp_path,
        {
            "page.html": "<p title='{{ name }}'>{{ name }}</p>{{ name|e }}{{ name|upper }}"
            "{{ name|replace('x', 'y') }}{{ name ~ '!' }}{{ name|format }}"
            "{{ '%s'|format(name) }}{{ [name]|join(',') }}{{ name|striptags }}"
            "{{ name|urlize }}{{ name|tojson }}{{ name|wordwrap(5) }}{{ link }}"
        },
    )
    page = render_page(chosen)
    assert "<title>Shipped</title>" not in page  # the override was used
    assert "<script>" not in page.lower() and "<SCRIPT>" not in page


def test_a_name_outside_the_directory_is_not_found(tmp_path: Path) -> None:
    (tmp_path / "secret.html").write_text("TOP SECRET")
    chosen = templates(tmp_path, {})
    for name in ("../secret.html", "./../secret.html", "overrides/../../secret.html"):
        with pytest.raises(TemplateNotFound):
            chosen.render(name, {})


def test_an_email_override_without_the_link_is_not_used(tmp_path: Path) -> None:
    before = fallbacks("mail.txt", "missing_required")
    chosen = templates(tmp_path, {"mail.txt": "Hello {{ name }}, visit our website."})
    text = chosen.render("mail.txt", {"name": "Ann", "link": LINK}, requires=(LINK,))
    assert text == f"Hello Ann, open {LINK}"
    assert fallbacks("mail.txt", "missing_required") == before + 1
    # With the link, it is.
    chosen = templates(tmp_path, {"mail.txt": "Hi {{ name }}: {{ link }}"})
    assert chosen.render("mail.txt", {"name": "Ann", "link": LINK}, requires=(LINK,)) == (
        f"Hi Ann: {LINK}"
    )


def test_overrides_are_compiled_once(tmp_path: Path) -> None:
    loads: list[str] = []

    class Counting(DictLoader):
        def get_source(self, environment, template):  # type: ignore[no-untyped-def]
            loads.append(template)
            return super().get_source(environment, template)

    directory = tmp_path / "overrides"
    directory.mkdir()
    (directory / "mail.txt").write_text("Hi {{ name }}: {{ link }}")
    chosen = TemplateSet(Counting(SHIPPED), directory, preload=["mail.txt", "page.html"])
    assert loads.count("mail.txt") == 1  # at start, the shipped one (the override: its file)
    render_page(chosen)  # "base.html", which it extends, on first use
    compiled = list(loads)
    (directory / "mail.txt").write_text("changed on disk: not read again")
    for _ in range(3):
        assert chosen.render("mail.txt", {"name": "A", "link": LINK}).startswith("Hi A")
        render_page(chosen)
    assert loads == compiled


def test_a_broken_override_is_reported_once_at_start_then_not_retried(tmp_path: Path) -> None:
    before = fallbacks("mail.txt", "syntax")
    chosen = templates(tmp_path, {"mail.txt": "{% for %}"}, preload=["mail.txt"])
    assert fallbacks("mail.txt", "syntax") == before + 1
    for _ in range(3):
        assert chosen.render("mail.txt", {"name": "A", "link": LINK}) == f"Hello A, open {LINK}"
    assert fallbacks("mail.txt", "syntax") == before + 1


def test_a_configmap_volume_of_symlinks_works(tmp_path: Path) -> None:
    # Kubernetes mounts a ConfigMap as <dir>/<key> -> ..data/<key> -> ..<timestamp>/<key>.
    directory = tmp_path / "overrides"
    stamp = directory / "..2026_11_29_01_00_00.123"
    stamp.mkdir(parents=True)
    (stamp / "mail.txt").write_text("From the ConfigMap: {{ link }}")
    (directory / "..data").symlink_to(stamp.name)
    (directory / "mail.txt").symlink_to("..data/mail.txt")
    chosen = TemplateSet(DictLoader(SHIPPED), directory)
    assert chosen.render("mail.txt", {"link": LINK}) == f"From the ConfigMap: {LINK}"


def test_an_override_that_replaces_nothing_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="servicekit.templates"):
        templates(tmp_path, {"pgae.html": "typo", "page.html": "fine {{ link }}"})
    assert any("pgae.html" in r.getMessage() for r in caplog.records)
    assert not any("page.html" in r.getMessage() for r in caplog.records)
