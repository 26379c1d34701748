"""SMTP capture server: stores every received message as an .eml file.

Run as a process:
    python -m devinfra.smtp_capture --host 127.0.0.1 --port 2525 --maildir DIR [--print]

It offers PIPELINING (RFC 2920), as the mail servers the notifier meets in production do, so
tests go through the notifier's pipelined path. (aiosmtpd reads commands one line at a time
from a stream, so pipelined commands are answered in order; it only does not say so.)

Fault injection: the mode file (default DIR/../smtp-mode) is read on every message.
Its first word decides the answer to DATA:
    accept (or no file)  store the message, 250
    tempfail             451 4.3.0 (the sender should retry later)
    reject               550 5.7.1 (permanent failure)
"""

from __future__ import annotations

import argparse
import email.policy
import os
import re
import signal
import sys
import threading
import time
import uuid
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from devinfra.smtp_modes import REPLIES, default_mode_file, read_mode

_LINK = re.compile(r"https?://[^\s<>\"')\]]+")


def first_link(message: EmailMessage) -> str | None:
    """The first http(s) link of the text part (HTML part as a fallback)."""
    for preference in (("plain",), ("html",)):
        part = message.get_body(preferencelist=preference)
        if part is None:
            continue
        match = _LINK.search(part.get_content())
        if match:
            return match.group()
    return None


def store_message(maildir: Path, content: bytes, mail_from: str, rcpt_tos: list[str]) -> Path:
    """Write atomically (tmp file + rename) so readers never see a partial message.

    The name starts with a nanosecond timestamp, so sorting names sorts by arrival.
    """
    envelope = (
        f"X-Devinfra-Mail-From: {mail_from}\r\nX-Devinfra-Rcpt-To: {', '.join(rcpt_tos)}\r\n"
    ).encode()
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.eml"
    partial = maildir / f".{name}.part"
    with partial.open("wb") as handle:
        handle.write(envelope + content)
        handle.flush()
        os.fsync(handle.fileno())
    final = maildir / name
    os.replace(partial, final)
    return final


class OffersPipelining:
    """An aiosmtpd handler mixin: PIPELINING in the EHLO answer."""

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname  # what aiosmtpd does itself when no handler hooks EHLO
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


class CaptureHandler(OffersPipelining):
    """aiosmtpd handler: store (or refuse, per the mode file) each message."""

    def __init__(self, maildir: Path, mode_file: Path, echo: bool) -> None:
        self.maildir = maildir
        self.mode_file = mode_file
        self.echo = echo

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mode = read_mode(self.mode_file)
        if mode in REPLIES:
            return REPLIES[mode]
        content: bytes = envelope.original_content or envelope.content
        path = store_message(self.maildir, content, envelope.mail_from, envelope.rcpt_tos)
        if self.echo:
            message = BytesParser(policy=email.policy.default).parsebytes(content)
            assert isinstance(message, EmailMessage)
            print(
                f"[mail] to={', '.join(envelope.rcpt_tos)} subject={message['subject']!s} "
                f"link={first_link(message) or '-'}",
                flush=True,
            )
        return f"250 2.0.0 OK stored as {path.name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devinfra.smtp_capture")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument(
        "--mode-file",
        type=Path,
        default=None,
        help="fault injection switch (default: MAILDIR/../smtp-mode)",
    )
    parser.add_argument(
        "--print",
        dest="echo",
        action="store_true",
        help="print one line per message: recipients, subject, first link",
    )
    args = parser.parse_args(argv)

    from aiosmtpd.controller import Controller

    args.maildir.mkdir(parents=True, exist_ok=True)
    mode_file = args.mode_file or default_mode_file(args.maildir)
    handler = CaptureHandler(args.maildir, mode_file, args.echo)
    # Big limit: tests may send large multipart messages; SMTPUTF8 for non-ASCII addresses.
    controller = Controller(
        handler,
        hostname=args.host,
        port=args.port,
        data_size_limit=32 * 1024 * 1024,
        enable_SMTPUTF8=True,
        ready_timeout=10.0,
    )
    controller.start()
    print(f"smtp_capture: listening on {args.host}:{args.port}, maildir {args.maildir}", flush=True)

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
