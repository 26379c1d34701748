"""The emails with a deployment's branding and overridden templates: branded everywhere, the
From header's display name encoded and never a way to add a header, and never an email
without its link, whatever an override does."""

from datetime import timedelta
from email.headerregistry import Address
from html import unescape
from pathlib import Path

import pytest
from notifier_service.domain.composition import EmailComposer
from notifier_service.domain.emails import (
    build_message,
    email_templates,
    render_password_changed_email,
    render_reset_email,
    render_verify_email,
)
from notifier_service.domain.mime import multipart_alternative
from prometheus_client import REGISTRY
from servicekit.web.branding import Branding, BrandingSettings

from .fakes import KEY, MAIL_FROM, NOW, event_of, parsed, reset_record

LINK = "https://accounts.example.com/reset-password?token=abc_DEF-123"
UNDO = "https://id.example.com/this-wasnt-me?token=undo_TOKEN-1"
ACME = BrandingSettings(
    product_name="Acme <Cloud> & Co",
    logo_url="https://cdn.acme.example/logo.png",
    primary_colour="#0B7A4B",
    support_url="https://help.acme.example/?from=email&x=1",
    legal_footer="Acme Ltd <legal>\nRoad 1, Town",
    mail_from_name="Acme Konto: Zurücksetzen",
).branding


def branded(**changes: object) -> Branding:
    return Branding(**{**ACME.__dict__, **changes})


def fallbacks(template: str, reason: str) -> float:
    labels = {"template": template, "reason": reason}
    return REGISTRY.get_sample_value("template_override_fallbacks_total", labels) or 0.0


def reset_parts(branding: Branding) -> tuple[str, str]:
    rendered = render_reset_email(
        link=LINK,
        expires_at=NOW + timedelta(minutes=30),
        minutes_valid=30,
        templates=email_templates(branding),
    )
    return rendered.text, rendered.html


def test_both_emails_carry_the_brand_and_escape_its_text() -> None:
    templates = email_templates(ACME)
    reset = render_reset_email(
        link=LINK, expires_at=NOW, minutes_valid=30, templates=templates
    ).html
    changed = render_password_changed_email(
        changed_at=NOW, client_ip="203.0.113.7", undo_link=UNDO, templates=templates
    ).html
    verify = render_verify_email(link=UNDO, hours_valid=24, templates=templates).html
    for html in (reset, changed, verify):
        assert '<img src="https://cdn.acme.example/logo.png" alt="Acme &lt;Cloud&gt; &amp; Co"' in (
            html
        )
        assert 'href="https://help.acme.example/?from=email&amp;x=1"' in html
        assert "Acme Ltd &lt;legal&gt;\nRoad 1, Town" in html
        assert "<Cloud>" not in html and "<legal>" not in html
    assert reset.count("#0b7a4b") >= 3  # the button cell, its border and background
    assert "#1f5fd6" not in reset
    assert 'bgcolor="#0b7a4b"' in verify  # an action button takes the brand colour...
    assert 'bgcolor="#c62828"' not in verify
    text = render_reset_email(link=LINK, expires_at=NOW, minutes_valid=30, templates=templates)
    assert "Help and support: https://help.acme.example/?from=email&x=1" in text.text
    assert "Acme Ltd <legal>\nRoad 1, Town" in text.text  # plain text: as it is


def test_without_branding_the_emails_look_as_before() -> None:
    text, html = reset_parts(Branding())
    assert "Help and support" not in text and "--" not in text
    assert ">pwreset</td>" in html and "<img" not in html and "#1f5fd6" in html


def test_the_from_header_shows_the_display_name_encoded() -> None:
    rendered = render_reset_email(link=LINK, expires_at=NOW, minutes_valid=30)
    email = build_message(
        rendered,
        to="ada@example.com",
        sender=MAIL_FROM,
        sender_name=ACME.mail_from_name,
        event_id="e1",
        sent_at=NOW,
    )
    assert email.content.isascii()
    header = email.content.split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in header  # RFC 2047, not raw UTF-8
    message = parsed(email)
    sender = message["From"].addresses
    assert sender == (Address("Acme Konto: Zurücksetzen", "no-reply", "example.com"),)
    assert email.envelope_from == "no-reply@example.com"


@pytest.mark.parametrize(
    "name",
    [
        'Acme, "Inc" <evil@attacker.example>',
        "Acme (comment) <evil@attacker.example>; other@attacker.example",
    ],
)
def test_a_display_name_with_address_syntax_stays_a_name(name: str) -> None:
    email = multipart_alternative(
        subject="s",
        sender=MAIL_FROM,
        sender_name=name,
        to="ada@example.com",
        sent_at=NOW,
        message_id_local="e2",
        headers=(),
        text="t",
        html="h",
    )
    sender = parsed(email)["From"].addresses
    assert len(sender) == 1 and sender[0].addr_spec == "no-reply@example.com"
    assert sender[0].display_name == name


@pytest.mark.parametrize(
    "name", ["Acme\r\nBcc: victim@example.com", "Acme\nBcc: victim@example.com", "Acme\rX: 1"]
)
def test_a_display_name_with_a_line_break_adds_no_header(name: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        multipart_alternative(
            subject="s",
            sender=MAIL_FROM,
            sender_name=name,
            to="ada@example.com",
            sent_at=NOW,
            message_id_local="e3",
            headers=(),
            text="t",
            html="h",
        )


def overrides(tmp_path: Path, files: dict[str, str]) -> Branding:
    for name, source in files.items():
        (tmp_path / name).write_text(source)
    return branded(template_override_dir=tmp_path)


def test_overrides_replace_the_emails_templates_one_by_one(tmp_path: Path) -> None:
    text, html = reset_parts(
        overrides(
            tmp_path,
            {
                "reset_password.txt": "{{ brand.product_name }}: choose a password at {{ link }}\n",
                "_email_header.html": "<tr><td>OUR HEADER {{ brand.product_name }}</td></tr>",
            },
        )
    )
    assert text == f"Acme <Cloud> & Co: choose a password at {LINK}\n"
    assert "<tr><td>OUR HEADER Acme &lt;Cloud&gt; &amp; Co</td></tr>" in html  # a shipped page
    assert f'href="{LINK}"' in html


@pytest.mark.parametrize(
    ("name", "source", "reason"),
    [
        ("reset_password.txt", "Visit our website to reset your password.", "missing_required"),
        ("reset_password.html", "<p>Visit our website.</p>", "missing_required"),
        ("reset_password.html", "<p>{{ link[:20] }}</p>", "missing_required"),
        ("reset_password.html", '<a href="{{ link|safe }}">reset</a>', "refused"),
        ("reset_password.html", "{% autoescape false %}{{ link }}{% endautoescape %}", "refused"),
        ("reset_password.html", "{{ link.no_such() }}", "render_error"),
        ("reset_password.txt", "{% if %}", "syntax"),
    ],
)
def test_an_email_is_never_sent_without_its_link(
    tmp_path: Path, name: str, source: str, reason: str
) -> None:
    before = fallbacks(name, reason)
    composer = EmailComposer(
        link_keys={"k1": KEY},
        notice_keys={},
        mail_from=MAIL_FROM,
        templates=email_templates(overrides(tmp_path, {name: source})),
    )
    email = composer.compose(event_of(reset_record()), NOW)
    assert email is not None
    message = parsed(email)
    text = message.get_body(("plain",)).get_content()
    html = unescape(message.get_body(("html",)).get_content())
    assert "/reset-password?token=" in text
    assert html.count("/reset-password?token=") >= 3  # the shipped template's button and link
    # Counted: once per language for an override refused or broken when loaded (each language
    # has its templates), once for the render that fell back otherwise.
    assert fallbacks(name, reason) > before


def test_the_link_check_sees_the_html_escaped_link(tmp_path: Path) -> None:
    """The link in an HTML override is escaped like every value: `&` is `&amp;` there, and it
    still counts as shown."""
    link = "https://accounts.example.com/reset-password?token=a&b=c"
    before = fallbacks("reset_password.html", "missing_required")
    templates = email_templates(
        overrides(tmp_path, {"reset_password.html": '<a href="{{ link }}">Reset</a>'})
    )
    html = render_reset_email(link=link, expires_at=NOW, minutes_valid=30, templates=templates).html
    assert html == '<a href="https://accounts.example.com/reset-password?token=a&amp;b=c">Reset</a>'
    assert fallbacks("reset_password.html", "missing_required") == before
