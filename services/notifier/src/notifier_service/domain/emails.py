"""Renders the emails we send (HTML with a real button, plain link below it, and a text part),
in the language the event asks for (its ``locale``; English when we ship no catalog for it).

Every word goes through the notifier's gettext catalogs (``locales/``, servicekit.i18n): one
Jinja environment per language with its catalog installed (``jinja2.ext.i18n``), autoescaping
on for HTML. Dates and times are written the language's way, with their time zone.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from gettext import NullTranslations
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, Template, select_autoescape
from servicekit.i18n import (
    DEFAULT_LANGUAGE,
    N_,
    SUPPORTED_LANGUAGES,
    format_moment,
    load_translations,
    negotiate,
)

from notifier_service.domain.mime import OutgoingEmail, multipart_alternative

_TEMPLATE_DIR = Path(__file__).parent.parent / "templates"
LOCALES = Path(__file__).parent.parent / "locales"


@dataclass(frozen=True)
class _Language:
    translations: NullTranslations
    templates: dict[str, Template]


def _language(language: str) -> _Language:
    translations = load_translations(LOCALES, language)
    environment = Environment(
        loader=FileSystemLoader(_TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
        # The templates ship with the code and never change while it runs: without this, every
        # lookup would stat the file to see whether it changed.
        auto_reload=False,
        extensions=["jinja2.ext.i18n"],
    )
    # Whitespace inside {% trans %} is folded, as the extraction folds it (babel.cfg).
    environment.policies["ext.i18n.trimmed"] = True
    environment.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
    # Compiled once, at import (bench: looking them up per email was measurable).
    templates = {
        path.name: environment.get_template(path.name)
        for path in sorted(_TEMPLATE_DIR.iterdir())
        if path.suffix in (".txt", ".html") and not path.name.startswith("_")
    }
    return _Language(translations, templates)


_languages: dict[str, _Language] = {
    language: _language(language) for language in SUPPORTED_LANGUAGES
}

RESET_SUBJECT = N_("Reset your password")
CHANGED_SUBJECT = N_("Your password was changed")
SECOND_FACTOR_ON_SUBJECT = N_("Two-factor authentication was turned on")
SECOND_FACTOR_OFF_SUBJECT = N_("Two-factor authentication was turned off")
VERIFY_SUBJECT = N_("Confirm your email address")
ALREADY_REGISTERED_SUBJECT = N_("You already have an account")
UNDO_LABEL = N_("This wasn't me")
CONFIRM_LABEL = N_("Confirm email address")
UNKNOWN_IP = N_("unknown")
UNDO_COLOUR = "#c62828"
ACTION_COLOUR = "#1f5fd6"


def email_language(locale: str | None) -> str:
    """The language an event's ``locale`` asks for, among those we ship (else English)."""
    return negotiate([locale]) if locale else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _both(language: str, name: str, subject: str, **context: object) -> Rendered:
    """The text and HTML parts of ``name`` in ``language``, under the translated subject."""
    chosen = _languages[language]
    subject = chosen.translations.gettext(subject)
    context = {"subject": subject, "language": language, **context}
    return Rendered(
        subject=subject,
        text=chosen.templates[f"{name}.txt"].render(context),
        html=chosen.templates[f"{name}.html"].render(context),
    )


def render_reset_email(
    *,
    link: str,
    expires_at: datetime,
    minutes_valid: int,
    language: str = DEFAULT_LANGUAGE,
    zone: tzinfo = UTC,
) -> Rendered:
    return _both(
        language,
        "reset_password",
        RESET_SUBJECT,
        link=link,
        expires_at=format_moment(expires_at, language, zone),
        minutes_valid=minutes_valid,
    )


def _ip(language: str, client_ip: str | None) -> str:
    return client_ip or _languages[language].translations.gettext(UNKNOWN_IP)


def render_password_changed_email(
    *,
    changed_at: datetime,
    client_ip: str | None,
    undo_link: str,
    language: str = DEFAULT_LANGUAGE,
    zone: tzinfo = UTC,
) -> Rendered:
    return _both(
        language,
        "password_changed",
        CHANGED_SUBJECT,
        when=format_moment(changed_at, language, zone),
        client_ip=_ip(language, client_ip),
        undo_link=undo_link,
    )


def _render(language: str, name: str, subject: str, **context: object) -> Rendered:
    """`name.body.txt` is the message in plain paragraphs; the text part shows it as it is, the
    HTML layout puts each paragraph in a row (escaped there, like every other value)."""
    chosen = _languages[language]
    body = chosen.templates[f"{name}.body.txt"].render(context)
    return _both(language, name, subject, body=body, **context)


def render_second_factor_email(
    *,
    enabled: bool,
    by_support: bool,
    changed_at: datetime,
    client_ip: str | None,
    undo_link: str,
    language: str = DEFAULT_LANGUAGE,
    zone: tzinfo = UTC,
) -> Rendered:
    return _render(
        language,
        "second_factor_changed",
        SECOND_FACTOR_ON_SUBJECT if enabled else SECOND_FACTOR_OFF_SUBJECT,
        enabled=enabled,
        by_support=by_support,
        when=format_moment(changed_at, language, zone),
        client_ip=_ip(language, client_ip),
        button_label=_languages[language].translations.gettext(UNDO_LABEL),
        button_link=undo_link,
        button_colour=UNDO_COLOUR,
    )


def render_verify_email(
    *, link: str, hours_valid: int, language: str = DEFAULT_LANGUAGE
) -> Rendered:
    return _render(
        language,
        "verify_email",
        VERIFY_SUBJECT,
        hours_valid=hours_valid,
        button_label=_languages[language].translations.gettext(CONFIRM_LABEL),
        button_link=link,
        button_colour=ACTION_COLOUR,
    )


def render_already_registered_email(language: str = DEFAULT_LANGUAGE) -> Rendered:
    return _render(language, "already_registered", ALREADY_REGISTERED_SUBJECT, button_link=None)


def build_message(
    rendered: Rendered, *, to: str, sender: str, event_id: str, sent_at: datetime
) -> OutgoingEmail:
    """The message as the SMTP server gets it. The Message-ID is derived from the event id: if an
    email is ever sent twice, receivers can tell (and many fold the copies into one)."""
    return multipart_alternative(
        subject=rendered.subject,
        sender=sender,
        to=to,
        sent_at=sent_at,
        message_id_local=event_id,
        headers=(("Auto-Submitted", "auto-generated"),),
        text=rendered.text,
        html=rendered.html,
    )
