"""The emails as the SMTP server receives them: their parts, and what no event field can do to
their headers or envelope."""

from datetime import UTC, datetime, timedelta

import pytest
from notifier_service.domain.emails import build_message, render_reset_email
from notifier_service.domain.mime import UnsendableAddress, multipart_alternative

from .fakes import parsed

LINK = "https://accounts.example.com/reset-password?token=abc_DEF-123"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def reset_email(to: str = "ada@example.com", sender: str = "Reset <no-reply@example.com>"):
    rendered = render_reset_email(
        link=LINK, expires_at=NOW + timedelta(minutes=30), minutes_valid=30
    )
    return build_message(rendered, to=to, sender=sender, event_id="0b7c", sent_at=NOW)


def test_reset_email_has_button_plain_link_and_text_part() -> None:
    email = reset_email()
    assert (email.envelope_from, email.recipient) == ("no-reply@example.com", "ada@example.com")
    message = parsed(email)
    assert message["Subject"] == "Reset your password"
    assert message["From"] == "Reset <no-reply@example.com>"
    assert message["To"] == "ada@example.com"
    assert message["Message-ID"] == "<0b7c@example.com>" == email.message_id
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"] == "Thu, 01 Jan 2026 00:00:00 +0000"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert LINK in text
    assert f'href="{LINK}"' in html
    assert ">Reset password</a>" in html
    assert html.count(LINK) >= 3  # the button, the plain link's href and its visible text
    assert "30 minutes" in text
    assert not message.defects and not any(part.defects for part in message.walk())


def test_every_line_ends_in_crlf_and_is_at_most_998_characters() -> None:
    """Bare CR or LF could end the message early on some servers (SMTP smuggling); long
    non-ASCII headers are folded with CRLF too."""
    email = multipart_alternative(
        subject="Grüße " * 40,
        sender="Zurücksetzen des Passworts " * 8 + "<no-reply@example.com>",
        to="b@example.com",
        sent_at=NOW,
        message_id_local="e",
        headers=(),
        text="line\rwith a bare CR\n.\nand a dot line\r\n" + "x" * 2000,
        html="<p>é</p>\n",
    )
    content = email.content
    assert content.count(b"\r") == content.count(b"\n") == content.count(b"\r\n")
    assert max(len(line) for line in content.split(b"\r\n")) <= 998
    message = parsed(email)
    assert message["Subject"] == "Grüße " * 40
    assert message["From"].addresses[0].display_name == ("Zurücksetzen des Passworts " * 8).strip()


def test_text_that_is_not_short_ascii_goes_quoted_printable_and_reads_back_the_same() -> None:
    text, html = "Grüße\n" + "y" * 1200 + "\n", "<p>plain ascii</p>\n"
    email = multipart_alternative(
        subject="Grüße",
        sender="Zurücksetzen <no-reply@example.com>",
        to="b@example.com",
        sent_at=NOW,
        message_id_local="e",
        headers=(),
        text=text,
        html=html,
    )
    message = parsed(email)
    plain, rich = message.get_body(("plain",)), message.get_body(("html",))
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    assert rich["Content-Transfer-Encoding"] == "7bit"
    assert plain.get_content().replace("\r\n", "\n") == text
    assert rich.get_content().replace("\r\n", "\n") == html
    assert message["Subject"] == "Grüße" and email.content.isascii()
    assert message["From"] == "Zurücksetzen <no-reply@example.com>"


@pytest.mark.parametrize(
    "recipient",
    [
        "ada@example.com\r\nBcc: mallory@evil.example",
        "ada@example.com\nBcc: mallory@evil.example",
        "mallory@evil.example, ada@example.com",
        "ada,mallory@evil.example",
        "<mallory@evil.example>ada@example.com",
        "ada@example.com>",
        "ada @example.com",
        '"ada"@example.com',
        "ada@exa mple.com",
        "ada@",
        "@example.com",
        "ada@localhost",
    ],
)
def test_a_recipient_that_could_add_a_header_or_a_recipient_is_refused(recipient: str) -> None:
    with pytest.raises(UnsendableAddress):
        reset_email(to=recipient)


def test_an_internationalised_domain_goes_in_its_ascii_form() -> None:
    email = reset_email(to="ada@Bücher.example")
    assert email.recipient == "ada@xn--bcher-kva.example"
    assert parsed(email)["To"] == "ada@xn--bcher-kva.example"


def test_a_line_break_in_the_sender_setting_is_refused() -> None:
    with pytest.raises(ValueError):
        reset_email(sender="Reset <no-reply@example.com>\r\nBcc: mallory@evil.example")


def test_link_is_escaped_in_html() -> None:
    rendered = render_reset_email(
        link='https://x/"><script>', expires_at=datetime.now(UTC), minutes_valid=30
    )
    assert "<script>" not in rendered.html
