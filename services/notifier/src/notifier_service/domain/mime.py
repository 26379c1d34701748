"""An email's bytes, written directly: the message the SMTP server receives.

Every email of the notifier has one shape: a few headers, then `multipart/alternative` with a
text and an HTML part in UTF-8. The `email` package's `EmailMessage` parses every header it is
given through its header registry and folds it again when the message is flattened for SMTP: a
quarter of the notifier's CPU per email (bench profile, docs/benchmarks.md). Here the shape is
written once. A part that is ASCII with lines of at most 998 characters (every template, with
its links) goes as `7bit`, which is that text as it is (RFC 2045, 2.7); anything else as
quoted-printable, which costs ~30 µs per KiB more.

What could break a header or the SMTP envelope is refused, not escaped: an address outside the
plain `local@domain` form (RFC 5321's dot-string local part; a domain of letters, digits,
hyphens and dots, internationalised domains in their ASCII form) raises `UnsendableAddress`,
and a line break in any header value raises `ValueError`, so no event field can add a header or
a recipient.
"""

import binascii
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from functools import lru_cache

import idna

# RFC 5321 dot-string: atoms of atext separated by single dots.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_LINE_BREAK = re.compile(r"[\r\n]")


class UnsendableAddress(ValueError):
    """An address that cannot be put into an SMTP envelope and a header as it is."""


@dataclass(frozen=True)
class OutgoingEmail:
    """One message for the SMTP sender: its envelope and its content (CRLF line ends, not yet
    dot-stuffed: that is the SMTP protocol's business)."""

    envelope_from: str  # MAIL FROM
    recipient: str  # RCPT TO, and the To header
    message_id: str  # "<local@domain>"
    subject: str
    content: bytes

    @property
    def message_id_local_part(self) -> str:
        return self.message_id.strip("<>").partition("@")[0]


def sendable_address(address: str) -> str:
    """`address` as it goes into the envelope and the To header: unchanged when it is plain
    ASCII, an internationalised domain in its ASCII form (no SMTPUTF8 needed)."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local):
        raise UnsendableAddress("the address is not of the form local-part@domain")
    if not domain.isascii():
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise UnsendableAddress("the domain is not a valid internationalised domain") from exc
    if not _DOMAIN.fullmatch(domain):
        raise UnsendableAddress("the domain is not a valid domain")
    return f"{local}@{domain}"


@dataclass(frozen=True)
class _Sender:
    header: str  # the whole From line
    address: str
    domain: str


@lru_cache(maxsize=16)
def _sender(sender: str, display_name: str | None = None) -> _Sender:
    """The From header, the envelope sender and the Message-ID domain of a MAIL_FROM setting,
    shown under `display_name` (MAIL_FROM_NAME) when one is given (the same few values for
    every email: parsed once)."""
    name, address = parseaddr(_header_value(sender))
    if display_name is not None:
        name = _header_value(display_name)
    address = sendable_address(address)
    # Quoted, and RFC 2047-encoded when not ASCII, by the email package (once per setting).
    header = _fold("From", str(Address(display_name=name, addr_spec=address)))
    domain = sender.rpartition("@")[2].rstrip(">") or "pwreset.local"
    return _Sender(header, address, domain)


def _header_value(value: str) -> str:
    if _LINE_BREAK.search(value):
        raise ValueError("a header value must not contain a line break")
    return value


def _subject(subject: str) -> str:
    """The Subject line; a plain one as it is, any other (not ASCII, very long) through the
    email package's folding and RFC 2047 encoding."""
    _header_value(subject)
    if subject.isascii() and len(subject) <= 900:
        return f"Subject: {subject}"
    return _fold("Subject", subject)


def _fold(name: str, value: str) -> str:
    """`name: value`, folded with CRLF + space as SMTP wants it (the value was checked for line
    breaks before)."""
    folded: str = SMTP.header_factory(name, value).fold(policy=SMTP)
    return folded.removesuffix("\r\n")


MAX_LINE = 998  # RFC 5322, 2.1.1, without the CRLF


def _part(kind: str, text: str) -> bytes:
    """One text part: its headers and body, CRLF line ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii() and "\0" not in text and _short_lines(text):
        encoding, body = "7bit", text.encode("ascii")
    else:
        encoding, body = "quoted-printable", binascii.b2a_qp(text.encode("utf-8"), istext=True)
    head = f'Content-Type: text/{kind}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}'
    return head.encode("ascii") + b"\r\n\r\n" + body.replace(b"\n", b"\r\n")


def _short_lines(text: str) -> bool:
    return len(text) <= MAX_LINE or max(map(len, text.split("\n"))) <= MAX_LINE


def multipart_alternative(
    *,
    subject: str,
    sender: str,
    sender_name: str | None = None,
    to: str,
    sent_at: datetime,
    message_id_local: str,
    headers: Iterable[tuple[str, str]],
    text: str,
    html: str,
) -> OutgoingEmail:
    """The message with a text and an HTML alternative. `sender` is a MAIL_FROM setting
    ("Name <address>"), `sender_name` a display name replacing its own (MAIL_FROM_NAME); `to` a
    recipient address (see `sendable_address`)."""
    source = _sender(sender, sender_name)
    recipient = sendable_address(to)
    local = message_id_local or secrets.token_hex(16)
    message_id = f"<{_header_value(local)}@{source.domain}>"
    # Random, so no text can contain it; and "=_" never occurs in quoted-printable text ("="
    # starts a hex pair or a soft line break).
    boundary = "=_" + secrets.token_hex(16)
    lines = [
        _subject(subject),
        source.header,
        f"To: {recipient}",
        f"Date: {format_datetime(sent_at)}",
        f"Message-ID: {message_id}",
        *(f"{name}: {_header_value(value)}" for name, value in headers),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
    ]
    delimiter = f"\r\n--{boundary}\r\n".encode("ascii")
    content = b"".join(
        (
            "\r\n".join(lines).encode("ascii"),
            delimiter,
            _part("plain", text),
            delimiter,
            _part("html", html),
            f"\r\n--{boundary}--\r\n".encode("ascii"),
        )
    )
    return OutgoingEmail(source.address, recipient, message_id, subject, content)
