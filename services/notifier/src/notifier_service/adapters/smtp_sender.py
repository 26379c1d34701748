"""Sends messages over one reused SMTP connection, with a timeout on every call.

TLS (`tls`: implicit TLS, port 465 style; `starttls`: upgrade after EHLO, refused if the server
does not offer it) and authentication (when a username and password are set) are configuration.
Every command has `timeout` seconds (aiosmtplib's per-command timeout) and a whole send has
`3 * timeout`, both far under the Kafka consumer's max poll interval. Failures are the email
sender port's TransientSmtpError (4xx, connection refused or dropped, timeout) and
PermanentSmtpError (5xx), so the delivery use case decides without knowing aiosmtplib.
"""

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from email.message import EmailMessage

import aiosmtplib

from notifier_service import metrics
from notifier_service.domain.addresses import scrub
from notifier_service.service_layer.ports import PermanentSmtpError, TransientSmtpError

log = logging.getLogger("notifier.smtp")

# A connection idle for longer is checked with NOOP before use: servers drop idle clients, and
# a send that fails halfway on a dead connection would be a retry we can avoid.
IDLE_CHECK_SECONDS = 5.0
REMEMBER_ACCEPTED = 10_000


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
        self._last_used = 0.0
        self._lock = asyncio.Lock()
        # Local parts of the Message-IDs the server accepted lately (the notifier derives them
        # from the event id), so a retry after a failed ledger write does not send again.
        self._accepted: OrderedDict[str, None] = OrderedDict()
        self.sent_total = 0

    def accepted(self, message_id_local_part: str) -> bool:
        return message_id_local_part in self._accepted

    def _remember(self, message: EmailMessage) -> None:
        local = str(message.get("Message-ID", "")).strip("<>").partition("@")[0]
        if local:
            self._accepted[local] = None
            while len(self._accepted) > REMEMBER_ACCEPTED:
                self._accepted.popitem(last=False)

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            if time.monotonic() - self._last_used < IDLE_CHECK_SECONDS:
                return self._client
            try:
                await self._client.noop()
                return self._client
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                await self._reset()
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
        started = time.perf_counter()
        try:
            await self._send(message)
        except TransientSmtpError:
            metrics.SMTP_FAILURES.labels("transient").inc()
            raise
        except PermanentSmtpError:
            metrics.SMTP_FAILURES.labels("permanent").inc()
            raise
        metrics.EMAILS_SENT.inc()
        metrics.SMTP_SECONDS.observe(time.perf_counter() - started)

    async def _send(self, message: EmailMessage) -> None:
        async with self._lock:
            try:
                async with asyncio.timeout(self._timeout * 3):
                    client = await self._connected()
                    await client.send_message(message)
                self._last_used = time.monotonic()
                self._remember(message)
                self.sent_total += 1
            except aiosmtplib.SMTPRecipientsRefused as exc:
                codes = [r.code for r in exc.recipients]
                reason = scrub("; ".join(f"{r.code} {r.message}" for r in exc.recipients))
                if codes and all(code >= 500 for code in codes):
                    raise PermanentSmtpError(reason) from exc
                raise TransientSmtpError(reason, maybe_accepted=False) from exc
            except aiosmtplib.SMTPResponseException as exc:
                reason = scrub(f"{exc.code} {exc.message}")
                if exc.code >= 500:
                    raise PermanentSmtpError(reason) from exc
                # A 4xx reply: the server discarded the message (aiosmtplib sent RSET).
                raise TransientSmtpError(reason, maybe_accepted=False) from exc
            except (aiosmtplib.SMTPConnectError, ConnectionRefusedError) as exc:
                await self._reset()
                raise TransientSmtpError(type(exc).__name__, maybe_accepted=False) from exc
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                await self._reset()
                raise TransientSmtpError(type(exc).__name__, maybe_accepted=True) from exc

    async def _reset(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.quit(), self._timeout)
