"""Reading delivered mail, whichever SMTP server captured it."""
# wait_for takes `timeout` on purpose: its TimeoutError must list the messages that *did*
# arrive, which an outer asyncio.timeout() cannot do.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import email.policy
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import httpx

Predicate = Callable[[EmailMessage], bool]


def parse_message(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # guaranteed by policy.default
    return message


def describe(messages: list[EmailMessage]) -> str:
    """One line per message, for timeout errors: what *did* arrive."""
    if not messages:
        return "no message was received"
    lines = [f"  to={m['to']!s} subject={m['subject']!s}" for m in messages[-20:]]
    return f"{len(messages)} message(s) received:\n" + "\n".join(lines)


class Mailbox(Protocol):
    def messages(self) -> list[EmailMessage]:
        """Every message received so far, oldest first."""
        ...

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> EmailMessage:
        """The first message matching `predicate`; TimeoutError lists what arrived."""
        ...

    def clear(self) -> None:
        """Forget every message received so far."""
        ...


async def _poll(
    mailbox: Mailbox, predicate: Predicate, timeout: float, interval: float
) -> EmailMessage:
    deadline = time.monotonic() + timeout
    while True:
        # Reading may touch disk or the network: keep the caller's loop responsive.
        messages = await asyncio.to_thread(mailbox.messages)
        for message in messages:
            if predicate(message):
                return message
        if time.monotonic() >= deadline:
            raise TimeoutError(f"no matching message within {timeout:.1f}s; {describe(messages)}")
        await asyncio.sleep(interval)


class MaildirMailbox:
    """Messages stored as .eml files by devinfra.smtp_capture (names sort by arrival)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def files(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("[0-9]*.eml"))

    def messages(self) -> list[EmailMessage]:
        result = []
        for path in self.files():
            try:
                result.append(parse_message(path.read_bytes()))
            except FileNotFoundError:
                continue  # cleared concurrently
        return result

    async def wait_for(
        self, predicate: Predicate, timeout: float = 10.0, interval: float = 0.1
    ) -> EmailMessage:
        return await _poll(self, predicate, timeout, interval)

    def clear(self) -> None:
        for path in self.files():
            path.unlink(missing_ok=True)


class MailpitMailbox:
    """Messages held by Mailpit, read through its HTTP API."""

    def __init__(self, api_base_url: str, *, timeout: float = 5.0) -> None:
        self.api_base_url = api_base_url.rstrip("/")
        self.timeout = timeout

    def _client(self) -> httpx.Client:
        import httpx

        return httpx.Client(base_url=self.api_base_url, timeout=self.timeout)

    def messages(self) -> list[EmailMessage]:
        with self._client() as client:
            summaries: list[dict[str, object]] = []
            start = 0
            while True:
                page = client.get("/api/v1/messages", params={"start": start, "limit": 250})
                page.raise_for_status()
                body = page.json()
                batch = body.get("messages") or []
                summaries.extend(batch)
                start += len(batch)
                if not batch or start >= int(body.get("messages_count", body.get("total", 0))):
                    break
            result = []
            # Mailpit lists newest first; the Mailbox contract is oldest first.
            for summary in reversed(summaries):
                raw = client.get(f"/api/v1/message/{summary['ID']}/raw")
                if raw.status_code == 404:
                    continue  # deleted concurrently
                raw.raise_for_status()
                result.append(parse_message(raw.content))
            return result

    async def wait_for(
        self, predicate: Predicate, timeout: float = 10.0, interval: float = 0.25
    ) -> EmailMessage:
        return await _poll(self, predicate, timeout, interval)

    def clear(self) -> None:
        with self._client() as client:
            client.delete("/api/v1/messages").raise_for_status()
