"""Renders the emails we send (HTML with a real button, plain link below it, and a text part)."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import FileSystemLoader
from markupsafe import escape
from servicekit.web.branding import Branding
from servicekit.web.templating import TemplateSet

from notifier_service.domain.mime import OutgoingEmail, multipart_alternative

_TEMPLATE_DIR = Path(__file__).parent.parent / "templates"
# Every email's templates, compiled once when the notifier starts (bench: looking them up per
# email was measurable); "_" files are the pieces they include.
EMAIL_TEMPLATES = tuple(
    path.name
    for path in sorted(_TEMPLATE_DIR.iterdir())
    if path.suffix in (".txt", ".html") and not path.name.startswith("_")
)


def email_templates(branding: Branding) -> TemplateSet:
    """The shipped email templates, each replaced by its namesake in TEMPLATE_OVERRIDE_DIR
    (servicekit.web.templating); ``brand`` in every one of them."""
    return TemplateSet(
        FileSystemLoader(_TEMPLATE_DIR),
        branding.template_override_dir,
        globals={"brand": branding},
        preload=EMAIL_TEMPLATES,
    )


# Without branding or overrides (the defaults; tests and the bench render with these).
SHIPPED = email_templates(Branding())


RESET_SUBJECT = "Reset your password"
CHANGED_SUBJECT = "Your password was changed"
SECOND_FACTOR_ON_SUBJECT = "Two-factor authentication was turned on"
SECOND_FACTOR_OFF_SUBJECT = "Two-factor authentication was turned off"
SECOND_FACTOR_REMOVED_SUBJECT = "Two-factor authentication was removed by support"
VERIFY_SUBJECT = "Confirm your email address"
ALREADY_REGISTERED_SUBJECT = "You already have an account"
UNDO_COLOUR = "#c62828"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _with_link(
    templates: TemplateSet, name: str, subject: str, link: str, context: Mapping[str, object]
) -> Rendered:
    """Text and HTML part of `name`: an override whose output lacks the link (as written, or
    HTML-escaped in the HTML part) is not used; the shipped template is."""
    return Rendered(
        subject=subject,
        text=templates.render(f"{name}.txt", context, requires=(link,)),
        html=templates.render(f"{name}.html", context, requires=(str(escape(link)),)),
    )


def render_reset_email(
    *, link: str, expires_at: datetime, minutes_valid: int, templates: TemplateSet = SHIPPED
) -> Rendered:
    context = {"link": link, "expires_at": expires_at, "minutes_valid": minutes_valid}
    return _with_link(templates, "reset_password", RESET_SUBJECT, link, context)


def render_password_changed_email(
    *,
    changed_at: datetime,
    client_ip: str | None,
    undo_link: str,
    templates: TemplateSet = SHIPPED,
) -> Rendered:
    context = {
        "when": changed_at.strftime("%d %B %Y, %H:%M UTC"),
        "client_ip": client_ip or "unknown",
        "undo_link": undo_link,
    }
    return _with_link(templates, "password_changed", CHANGED_SUBJECT, undo_link, context)


def _render(templates: TemplateSet, name: str, subject: str, **context: object) -> Rendered:
    """`name.body.txt` is the message in plain paragraphs; the text part shows it as it is, the
    HTML layout puts each paragraph in a row (escaped there, like every other value). An email
    with a button must show its link."""
    body = templates.render(f"{name}.body.txt", context)
    context = {"subject": subject, "body": body, **context}
    link = context.get("button_link")
    if isinstance(link, str):
        return _with_link(templates, name, subject, link, context)
    return Rendered(
        subject=subject,
        text=templates.render(f"{name}.txt", context),
        html=templates.render(f"{name}.html", context),
    )


def render_second_factor_email(
    *,
    enabled: bool,
    by_support: bool,
    changed_at: datetime,
    client_ip: str | None,
    undo_link: str,
    templates: TemplateSet = SHIPPED,
) -> Rendered:
    if enabled:
        subject = SECOND_FACTOR_ON_SUBJECT
    else:
        subject = SECOND_FACTOR_REMOVED_SUBJECT if by_support else SECOND_FACTOR_OFF_SUBJECT
    return _render(
        templates,
        "second_factor_changed",
        subject,
        enabled=enabled,
        by_support=by_support,
        when=changed_at.strftime("%d %B %Y, %H:%M UTC"),
        client_ip=client_ip or "unknown",
        button_label="This wasn't me",
        button_link=undo_link,
        button_colour=UNDO_COLOUR,
    )


def render_verify_email(
    *, link: str, hours_valid: int, templates: TemplateSet = SHIPPED
) -> Rendered:
    return _render(
        templates,
        "verify_email",
        VERIFY_SUBJECT,
        hours_valid=hours_valid,
        button_label="Confirm email address",
        button_link=link,
    )


def render_already_registered_email(*, templates: TemplateSet = SHIPPED) -> Rendered:
    return _render(templates, "already_registered", ALREADY_REGISTERED_SUBJECT, button_link=None)


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
