"""Renders the emails we send (HTML with a real button, plain link below it, and a text part)."""

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
)

RESET_SUBJECT = "Reset your password"
CHANGED_SUBJECT = "Your password was changed"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def render_reset_email(*, link: str, expires_at: datetime, minutes_valid: int) -> Rendered:
    context = {"link": link, "expires_at": expires_at, "minutes_valid": minutes_valid}
    return Rendered(
        subject=RESET_SUBJECT,
        text=_templates.get_template("reset_password.txt").render(context),
        html=_templates.get_template("reset_password.html").render(context),
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
        text=_templates.get_template("password_changed.txt").render(context),
        html=_templates.get_template("password_changed.html").render(context),
    )


def build_message(
    rendered: Rendered, *, to: str, sender: str, event_id: str, sent_at: datetime
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = to
    message["Date"] = format_datetime(sent_at)
    # Derived from the event id: if an email is ever sent twice, receivers can tell.
    domain = sender.rpartition("@")[2].rstrip(">") or "pwreset.local"
    message["Message-ID"] = f"<{event_id}@{domain}>" if event_id else make_msgid()
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
