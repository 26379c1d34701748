from datetime import UTC, datetime, timedelta

from notifier_service.domain.emails import build_message, render_reset_email

LINK = "https://accounts.example.com/reset-password?token=abc_DEF-123"


def test_reset_email_has_button_plain_link_and_text_part() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    rendered = render_reset_email(
        link=LINK, expires_at=now + timedelta(minutes=30), minutes_valid=30
    )
    message = build_message(
        rendered,
        to="ada@example.com",
        sender="Reset <no-reply@example.com>",
        event_id="0b7c",
        sent_at=now,
    )
    assert message["Subject"] == "Reset your password"
    assert message["Message-ID"] == "<0b7c@example.com>"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert LINK in text
    assert f'href="{LINK}"' in html
    assert ">Reset password</a>" in html
    assert html.count(LINK) >= 3  # the button, the plain link's href and its visible text
    assert "30 minutes" in text


def test_link_is_escaped_in_html() -> None:
    rendered = render_reset_email(
        link='https://x/"><script>', expires_at=datetime.now(UTC), minutes_valid=30
    )
    assert "<script>" not in rendered.html
