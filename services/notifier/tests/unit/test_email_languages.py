"""Each email in the language the person used (the event's ``locale``), every word of it, with
dates written that language's way and their time zone; English for a language we do not ship."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from notifier_service.core.config import Settings
from notifier_service.domain.composition import EmailComposer
from notifier_service.domain.emails import (
    render_already_registered_email,
    render_password_changed_email,
    render_reset_email,
    render_second_factor_email,
    render_verify_email,
)
from pydantic import ValidationError

from .fakes import KEY, NOW, event_of, parsed, reset_record

COMPOSER = EmailComposer(link_keys={"k1": KEY}, notice_keys={}, mail_from="no-reply@example.com")
LINK = "https://accounts.example.com/reset-password?token=abc_DEF-123"
CHANGED_AT = datetime(2026, 11, 29, 1, 6, 59, tzinfo=UTC)
# Words of the English emails that no German or Spanish one should carry ("Link", "Browser"
# and "Support" are German words too).
ENGLISH = re.compile(
    r"\b(the|your|you|password|works|minutes?|hours?|button|select|ignore|reset|changed|"
    r"wasn't|signed|session|unknown|someone|account|email|turned)\b",
    re.IGNORECASE,
)


def _visible(html: str) -> str:
    """The words a reader sees: no tags, attributes, links or the preview's spacing."""
    html = re.sub(r"<!--.*?-->", " ", html, flags=re.S)
    return re.sub(r"https?://\S+", " ", re.sub(r"<[^>]+>", " ", html))


def _all_emails(language: str) -> dict[str, tuple[str, str, str]]:
    kinds = {
        "reset": render_reset_email(
            link=LINK,
            expires_at=CHANGED_AT + timedelta(minutes=30),
            minutes_valid=30,
            language=language,
        ),
        "password changed": render_password_changed_email(
            changed_at=CHANGED_AT, client_ip=None, undo_link=LINK, language=language
        ),
        "verify": render_verify_email(link=LINK, hours_valid=24, language=language),
        "already registered": render_already_registered_email(language),
    }
    for enabled in (True, False):
        for by_support in (True, False):
            kinds[f"second factor {enabled} {by_support}"] = render_second_factor_email(
                enabled=enabled,
                by_support=by_support,
                changed_at=CHANGED_AT,
                client_ip="203.0.113.9",
                undo_link=LINK,
                language=language,
            )
    return {kind: (r.subject, r.text, r.html) for kind, r in kinds.items()}


@pytest.mark.parametrize("language", ["de", "es"])
def test_no_english_leaks_into_any_email(language: str) -> None:
    for kind, (subject, text, html) in _all_emails(language).items():
        for part in (subject, _visible(text), _visible(html)):
            leaked = ENGLISH.findall(part)
            assert not leaked, f"{kind} in {language}: English words {leaked} in {part!r}"
        assert f'<html lang="{language}">' in html


def test_the_english_check_would_see_english() -> None:
    subject, text, _ = _all_emails("en")["reset"]
    assert ENGLISH.findall(subject) and ENGLISH.findall(_visible(text))


def test_german_reset_email_with_its_expiry_in_german_and_the_time_zone() -> None:
    subject, text, html = _all_emails("de")["reset"]
    assert subject == "Ihr Passwort zurücksetzen"
    assert "Der Link gilt 30 Minuten lang, bis 29. November 2026, 01:36:59 UTC." in text
    assert ">Passwort zurücksetzen</a>" in html


def test_spanish_password_changed_email_dates_and_unknown_address() -> None:
    subject, text, html = _all_emails("es")["password changed"]
    assert subject == "Tu contraseña se ha cambiado"
    assert (
        "se cambió el 29 de noviembre de 2026, 1:06:59 UTC desde la dirección IP desconocida"
        in (text)
    )
    assert ">No he sido yo</a>" in html


def test_a_translated_email_still_escapes_what_the_event_brings() -> None:
    rendered = render_password_changed_email(
        changed_at=CHANGED_AT, client_ip="<b>1.2.3.4</b>", undo_link=f"{LINK}&x=<b>", language="de"
    )
    assert "&amp;x=&lt;b&gt;" in rendered.html and "<b>" not in rendered.html
    # Not an IP address: not shown at all (test_identity_emails.py, copied records).
    assert "1.2.3.4" not in rendered.html and "1.2.3.4" not in rendered.text


@pytest.mark.parametrize(
    ("locale", "subject"),
    [
        ("de", "Ihr Passwort zurücksetzen"),
        ("de-AT", "Ihr Passwort zurücksetzen"),
        ("es", "Restablece tu contraseña"),
        ("fr", "Reset your password"),  # not shipped: English
        ("en", "Reset your password"),
    ],
)
def test_the_composer_writes_the_email_in_the_events_language(locale: str, subject: str) -> None:
    composer = EmailComposer(
        link_keys={"k1": KEY}, notice_keys={}, mail_from="no-reply@example.com"
    )
    email = composer.compose(event_of(reset_record(locale=locale)), NOW)
    assert email is not None
    assert parsed(email)["Subject"] == subject


def test_an_event_from_before_languages_is_written_in_english() -> None:
    record = reset_record()
    assert b'"locale":"en"' in record.value or b'"locale": "en"' in (record.value or b"")
    composer = EmailComposer(
        link_keys={"k1": KEY}, notice_keys={}, mail_from="no-reply@example.com"
    )
    email = composer.compose(event_of(record), NOW)
    assert email is not None and parsed(email)["Subject"] == "Reset your password"


def test_a_team_shows_its_own_time_zone() -> None:
    berlin = EmailComposer(
        link_keys={"k1": KEY},
        notice_keys={},
        mail_from="no-reply@example.com",
        time_zone=ZoneInfo("Europe/Berlin"),
    )
    email = berlin.compose(event_of(reset_record(locale="de")), NOW)
    assert email is not None
    text = parsed(email).get_body(("plain",)).get_content()
    # NOW is 12:00 UTC in November: 13:30 in Berlin, winter time, 30 minutes later.
    assert "bis 28. November 2026, 13:30:00 MEZ." in text


def test_a_time_zone_that_does_not_exist_stops_the_start() -> None:
    assert Settings(email_time_zone="Europe/Berlin").time_zone == ZoneInfo("Europe/Berlin")
    with pytest.raises(ValidationError, match="EMAIL_TIME_ZONE"):
        Settings(email_time_zone="Mars/Olympus_Mons")
    with pytest.raises(ValidationError, match="EMAIL_TIME_ZONE"):
        Settings(email_time_zone="../../etc/passwd")
