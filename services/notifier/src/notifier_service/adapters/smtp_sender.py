"""Sends messages over one reused SMTP connection, with a timeout on every call."""

import asyncio
import contextlib
from email.message import EmailMessage

import aiosmtplib


class TransientSmtpError(Exception):
    """Try again later: 4xx replies, refused or dropped connections, timeouts."""


class PermanentSmtpError(Exception):
    """The server refused for good (5xx); retrying would not help."""


class SmtpSender:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: str,
        username: str | None,
        password: str | None,
        timeout: float,
    ) -> None:
        self._host = host
        self._port = port
        self._security = security
        self._username = username
        self._password = password
        self._timeout = timeout
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        client = aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            timeout=self._timeout,
            use_tls=self._security == "tls",
            start_tls=self._security == "starttls",
        )
        await client.connect()
        if self._username and self._password:
            await client.login(self._username, self._password)
        self._client = client
        return client

    async def send(self, message: EmailMessage) -> None:
        async with self._lock:
            try:
                client = await self._connected()
                await client.send_message(message)
            except aiosmtplib.SMTPResponseException as exc:
                if not isinstance(exc, aiosmtplib.SMTPServerDisconnected) and exc.code >= 500:
                    raise PermanentSmtpError(f"{exc.code} {exc.message}") from exc
                await self._reset()
                raise TransientSmtpError(f"{exc.code} {exc.message}") from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await self._reset()
                raise TransientSmtpError(type(exc).__name__) from exc

    async def _reset(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            with contextlib.suppress(Exception):
                await client.quit()
