"""Renders the emails we send (HTML with a real button, plain link below it, and a text part),
in the language the event asks for (its ``locale``; English when we ship no catalog for it),
with the deployment's branding and template overrides.

Every word goes through the notifier's gettext catalogs (``locales/``, servicekit.i18n): per
language one ``TemplateSet`` (servicekit.web.templating: TEMPLATE_OVERRIDE_DIR first, then the
shipped templates) with that language's catalog installed (``jinja2.ext.i18n``), autoescaping
on for HTML. Dates and times are written the language's way, with their time zone.
"""

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from gettext import NullTranslations
from pathlib import Path

from jinja2 import FileSystemLoader
from markupsafe import escape
from servicekit.i18n import (
    DEFAULT_LANGUAGE,
    N_,
    SUPPORTED_LANGUAGES,
    format_moment,
    load_translations,
    negotiate,
)
from servicekit.web.branding import Branding
from servicekit.web.templating import TemplateSet

from notifier_service.domain.mime import OutgoingEmail, multipart_alternative

_TEMPLATE_DIR = Path(__file__).parent.parent / "templates"
LOCALES = Path(__file__).parent.parent / "locales"
# Every email's templates, compiled once when the notifier starts (bench: looking them up per
# email was measurable); "_" files are the pieces they include.
EMAIL_TEMPLATES = tuple(
    path.name
    for path in sorted(_TEMPLATE_DIR.iterdir())
    if path.suffix in (".txt", ".html") and not path.name.startswith("_")
)

RESET_SUBJECT = N_("Reset your password")
CHANGED_SUBJECT = N_("Your password was changed")
SECOND_FACTOR_ON_SUBJECT = N_("Two-factor authentication was turned on")
SECOND_FACTOR_OFF_SUBJECT = N_("Two-factor authentication was turned off")
SECOND_FACTOR_REMOVED_SUBJECT = N_("Two-factor authentication was removed by support")
VERIFY_SUBJECT = N_("Confirm your email address")
ALREADY_REGISTERED_SUBJECT = N_("You already have an account")
UNDO_LABEL = N_("This wasn't me")
CONFIRM_LABEL = N_("Confirm email address")
UNKNOWN_IP = N_("unknown")
UNDO_COLOUR = "#c62828"


@dataclass(frozen=True)
class _Language:
    translations: NullTranslations
    templates: TemplateSet

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)


class EmailTemplates:
    """The email templates in every language we ship, each replaced by its namesake in
    TEMPLATE_OVERRIDE_DIR (servicekit.web.templating); ``brand`` in every one of them."""

    def __init__(self, branding: Branding) -> None:
        self._languages: dict[str, _Language] = {}
        for language in SUPPORTED_LANGUAGES:
            translations = load_translations(LOCALES, language)
            templates = TemplateSet(
                FileSystemLoader(_TEMPLATE_DIR),
                branding.template_override_dir,
                globals={"brand": branding},
                preload=EMAIL_TEMPLATES,
                translations=translations,
            )
            self._languages[language] = _Language(translations, templates)

    def language(self, language: str) -> _Language:
        return self._languages.get(language) or self._languages[DEFAULT_LANGUAGE]


def email_templates(branding: Branding) -> EmailTemplates:
    return EmailTemplates(branding)


# Without branding or overrides (the defaults; tests and the bench render with these).
SHIPPED = email_templates(Branding())


def email_language(locale: str | None) -> str:
    """The language an event's ``locale`` asks for, among those we ship (else English)."""
    return negotiate([locale]) if locale else DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _both(
    chosen: _Language, name: str, subject: str, context: Mapping[str, object], link: str | None
) -> Rendered:
    """The text and HTML parts of ``name`` under the translated subject. With a ``link``: an
    override whose output lacks it (as written, or HTML-escaped in the HTML part) is not used;
    the shipped template is."""
    context = {"subject": subject, **context}
    return Rendered(
        subject=subject,
        text=chosen.templates.render(f"{name}.txt", context, requires=(link,) if link else ()),
        html=chosen.templates.render(
            f"{name}.html", context, requires=(str(escape(link)),) if link else ()
        ),
    )


def _ip(chosen: _Language, client_ip: str | None) -> str:
    """The address the change came from, or "unknown". ``client_ip`` is not part of the seal's
    binding: a writer on the topic can copy a genuine record with any 45 characters there, which
    must not become words in an email from our domain (docs/security.md)."""
    return _ip_address(client_ip) or chosen.gettext(UNKNOWN_IP)


def _ip_address(value: str | None) -> str | None:
    try:
        address = ipaddress.ip_address(value or "")
    except ValueError:
        return None
    # A scope id ("fe80::1%anything") is free text; no client on the internet has one.
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return None
    return str(address)


def render_reset_email(
    *,
    link: str,
    expires_at: datetime,
    minutes_valid: int,
    language: str = DEFAULT_LANGUAGE,
    zone: tzinfo = UTC,
    templates: EmailTemplates = SHIPPED,
) -> Rendered:
    chosen = templates.language(language)
    context = {
        "link": link,
        "expires_at": format_moment(expires_at, language, zone),
        "minutes_valid": minutes_valid,
        "language": language,
    }
    return _both(chosen, "reset_password", chosen.gettext(RESET_SUBJECT), context, link)


def render_password_changed_email(
    *,
    changed_at: datetime,
    client_ip: str | None,
    undo_link: str,
    language: str = DEFAULT_LANGUAGE,
    zone: tzinfo = UTC,
    templates: EmailTemplates = SHIPPED,
) -> Rendered:
    chosen = templates.language(language)
    context = {
        "when": format_moment(changed_at, language, zone),
        "client_ip": _ip(chosen, client_ip),
        "undo_link": undo_link,
        "language": language,
    }
    return _both(chosen, "password_changed", chosen.gettext(CHANGED_SUBJECT), context, undo_link)


def _render(
    chosen: _Language, language: str, name: str, subject: str, **context: object
) -> Rendered:
    """`name.body.txt` is the message in plain paragraphs; the text part shows it as it is, the
    HTML layout puts each paragraph in a row (escaped there, like every other value). An email
    with a button must show its link."""
    context = {"language": language, **context}
    body = chosen.templates.render(f"{name}.body.txt", context)
    link = context.get("button_link")
    translated = chosen.gettext(subject)
    return _both(
        chosen, name, translated, {**context, "body": body}, link if isinstance(link, str) else None
    )


def render_second_factor_email(
    *,
    enabled: bool,
    by_support: bool,
    changed_at: datetime,
    client_ip: str | None,
    undo_link: str,
    language: str = DEFAULT_LANGUAGE,
    zone: tzinfo = UTC,
    templates: EmailTemplates = SHIPPED,
) -> Rendered:
    chosen = templates.language(language)
    if enabled:
        subject = SECOND_FACTOR_ON_SUBJECT
    else:
        subject = SECOND_FACTOR_REMOVED_SUBJECT if by_support else SECOND_FACTOR_OFF_SUBJECT
    return _render(
        chosen,
        language,
        "second_factor_changed",
        subject,
        enabled=enabled,
        by_support=by_support,
        when=format_moment(changed_at, language, zone),
        client_ip=_ip(chosen, client_ip),
        button_label=chosen.gettext(UNDO_LABEL),
        button_link=undo_link,
        button_colour=UNDO_COLOUR,
    )


def render_verify_email(
    *,
    link: str,
    hours_valid: int,
    language: str = DEFAULT_LANGUAGE,
    templates: EmailTemplates = SHIPPED,
) -> Rendered:
    chosen = templates.language(language)
    return _render(
        chosen,
        language,
        "verify_email",
        VERIFY_SUBJECT,
        hours_valid=hours_valid,
        button_label=chosen.gettext(CONFIRM_LABEL),
        button_link=link,
    )


def render_already_registered_email(
    language: str = DEFAULT_LANGUAGE, *, templates: EmailTemplates = SHIPPED
) -> Rendered:
    chosen = templates.language(language)
    return _render(
        chosen, language, "already_registered", ALREADY_REGISTERED_SUBJECT, button_link=None
    )


def build_message(
    rendered: Rendered,
    *,
    to: str,
    sender: str,
    sender_name: str | None = None,
    event_id: str,
    sent_at: datetime,
) -> OutgoingEmail:
    """The message as the SMTP server gets it. The Message-ID is derived from the event id: if an
    email is ever sent twice, receivers can tell (and many fold the copies into one)."""
    return multipart_alternative(
        subject=rendered.subject,
        sender=sender,
        sender_name=sender_name,
        to=to,
        sent_at=sent_at,
        message_id_local=event_id,
        headers=(("Auto-Submitted", "auto-generated"),),
        text=rendered.text,
        html=rendered.html,
    )
