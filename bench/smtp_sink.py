"""An SMTP sink that timestamps every message the moment it accepts it (for the latency rows).

Run as a process: `python -m bench.smtp_sink --port N --log FILE`. One line per accepted message:
`<time_ns> <recipient> <Message-ID> <first link or ->`. The link is parsed only from reset
emails to recipients whose local part starts with `link-` (the confirm benchmark needs the
token; parsing every message would cost the sink CPU the other rows should not pay). No fsync:
unlike devinfra's capture, nothing here has to survive a crash, and the sink must not add disk
latency. Like devinfra's capture and the mail servers of production, it offers PIPELINING.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import IO, Any

from aiosmtpd.controller import Controller
from devinfra.processes import free_port, port_accepts, stop_process, wait_until
from devinfra.smtp_capture import OffersPipelining

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_LINK = re.compile(r"https?://[^\s<>\"')\]]+")


def first_link(content: bytes) -> str:
    message = BytesParser(policy=policy.default).parsebytes(content)
    part = message.get_body(preferencelist=("plain",))
    match = _LINK.search(part.get_content()) if part is not None else None
    return match.group() if match else "-"


class TimestampingHandler(OffersPipelining):
    def __init__(self, log: IO[str]) -> None:
        self._log = log

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        accepted_ns = time.time_ns()
        content: bytes = envelope.original_content or envelope.content
        header_end = content.find(b"\r\n\r\n")
        found = _MESSAGE_ID.search(content, 0, header_end if header_end > 0 else len(content))
        message_id = found.group(1).decode() if found else "-"
        recipient = envelope.rcpt_tos[0] if envelope.rcpt_tos else "-"
        wanted = recipient.startswith("link-") and b"Subject: Reset your password" in content
        link = first_link(content) if wanted else "-"
        self._log.write(f"{accepted_ns} {recipient} {message_id} {link}\n")
        return "250 OK"


@dataclass(frozen=True)
class Accepted:
    at: float  # seconds since the epoch, when the sink accepted the message
    recipient: str
    message_id: str
    link: str | None


class SmtpSink:
    """The sink as a child process, and an incremental reader of its log."""

    def __init__(self, run_dir: Path) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.log = run_dir / "bench-smtp-sink.log"
        self._offset = 0
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.touch()
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.smtp_sink",
                "--port",
                str(self.port),
                "--log",
                str(self.log),
            ],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(
            lambda: port_accepts(self.host, self.port),
            timeout=20,
            what="bench SMTP sink",
            process=self._process,
        )

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, timeout=10)
            self._process = None

    def read_new(self) -> list[Accepted]:
        """Messages accepted since the last call (whole lines only)."""
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        found = []
        for line in data[:end].decode().splitlines():
            at_ns, recipient, message_id, link = line.split(" ", 3)
            found.append(
                Accepted(int(at_ns) / 1e9, recipient, message_id, None if link == "-" else link)
            )
        return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    with args.log.open("a", buffering=1) as log:  # line-buffered: readers see whole lines
        controller = Controller(TimestampingHandler(log), hostname=args.host, port=args.port)
        controller.start()
        stopped = asyncio.Event()
        loop = asyncio.new_event_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopped.set)
        loop.run_until_complete(stopped.wait())
        controller.stop()


if __name__ == "__main__":
    main()
