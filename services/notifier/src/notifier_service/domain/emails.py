"""Renders the emails we send (HTML with a real button, plain link below it, and a text part)."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, Template, select_autoescape

from notifier_service.domain.mime import OutgoingEmail, multipart_alternative

_TEMPLATE_DIR = Path(__file__).parent.parent / "templates"
_environment = Environment(
    loader=FileSystemLoader(_TEMPLATE_DIR),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
    # The templates ship with the code and never change while it runs: without this, every
    # lookup would stat the file to see whether it changed.
    auto_reload=False,
)
# Compiled once, at import (bench: looking them up per email was measurable).
_templates: dict[str, Template] = {
    path.name: _environment.get_template(path.name)
    for path in sorted(_TEMPLATE_DIR.iterdir())
    if path.suffix in (".txt", ".html") and not path.name.startswith("_")
}

RESET_SUBJECT = "Reset your password"
CHANGED_SUBJECT = "Your password was changed"
SECOND_FACTOR_ON_SUBJECT = "Two-factor authentication was turned on"
SECOND_FACTOR_OFF_SUBJECT = "Two-factor authentication was turned off"
SECOND_FACTOR_REMOVED_SUBJECT = "Two-factor authentication was removed by support"
VERIFY_SUBJECT = "Confirm your email address"
ALREADY_REGISTERED_SUBJECT = "You already have an account"
UNDO_COLOUR = "#c62828"
ACTION_COLOUR = "#1f5fd6"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render_reset_email(*, link: str, expires_at: datetime, minutes_valid: int) -> Rendered:
    context = {"link": link, "expires_at": expires_at, "minutes_valid": minutes_valid}
    return Rendered(
        subject=RESET_SUBJECT,
        text=_templates["reset_password.txt"].render(context),
        html=_templates["reset_password.html"].render(context),
    )


def render_password_changed_email(
    *, changed_at: datetime, client_ip: str | None, undo_link: str
) -> Rendered:
    context = {
        "when": changed_at.strftime("%d %B %Y, %H:%M UTC"),
        "client_ip": client_ip or "unknown",
        "undo_link": undo_link,
    }
    return Rendered(
        subject=CHANGED_SUBJECT,
        text=_templates["password_changed.txt"].render(context),
        html=_templates["password_changed.html"].render(context),
    )


def _render(name: str, subject: str, **context: object) -> Rendered:
    """`name.body.txt` is the message in plain paragraphs; the text part shows it as it is, the
    HTML layout puts each paragraph in a row (escaped there, like every other value)."""
    body = _templates[f"{name}.body.txt"].render(context)
    context = {"subject": subject, "body": body, **context}
    return Rendered(
        subject=subject,
        text=_templates[f"{name}.txt"].render(context),
        html=_templates[f"{name}.html"].render(context),
    )


def render_second_factor_email(
    *, enabled: bool, by_support: bool, changed_at: datetime, client_ip: str | None, undo_link: str
) -> Rendered:
    if enabled:
        subject = SECOND_FACTOR_ON_SUBJECT
    else:
        subject = SECOND_FACTOR_REMOVED_SUBJECT if by_support else SECOND_FACTOR_OFF_SUBJECT
    return _render(
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


def render_verify_email(*, link: str, hours_valid: int) -> Rendered:
    return _render(
        "verify_email",
        VERIFY_SUBJECT,
        hours_valid=hours_valid,
        button_label="Confirm email address",
        button_link=link,
        button_colour=ACTION_COLOUR,
    )


def render_already_registered_email() -> Rendered:
    return _render("already_registered", ALREADY_REGISTERED_SUBJECT, button_link=None)


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
