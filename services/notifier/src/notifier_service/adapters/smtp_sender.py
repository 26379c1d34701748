"""Sends messages over a small pool of reused SMTP sessions, with a timeout on every call.

Up to `connections` messages go out at once, each on a session of its own (`smtp_session.py`:
PIPELINING where the server offers it); an idle session is reused, the one used last first, so a
trickle of emails keeps one connection busy and the others close when the server drops them.
TLS (`tls`: implicit TLS, port 465 style; `starttls`: upgrade after EHLO, refused if the server
does not offer it) and authentication (when a username and password are set) are configuration.
Every command has `timeout` seconds and a whole send (connecting included) `3 * timeout`, both
far under the Kafka consumer's max poll interval. Failures are the email sender port's
TransientSmtpError (4xx, connection refused or dropped, timeout) and PermanentSmtpError (5xx),
so the delivery use case decides without knowing SMTP.
"""

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict

from notifier_service import metrics
from notifier_service.adapters.smtp_session import (
    MessageMaybeAccepted,
    SmtpProtocolError,
    SmtpReplyError,
    SmtpSession,
)
from notifier_service.domain.addresses import scrub
from notifier_service.domain.mime import OutgoingEmail
from notifier_service.service_layer.ports import PermanentSmtpError, TransientSmtpError

log = logging.getLogger("notifier.smtp")

# A session idle for longer is checked with NOOP before use: servers drop idle clients, and a
# send that fails halfway on a dead connection would be a retry we can avoid.
IDLE_CHECK_SECONDS = 5.0
REMEMBER_ACCEPTED = 10_000
# What says "the connection failed" (before the message was complete: nothing accepted).
TRANSPORT_ERRORS = (OSError, EOFError, TimeoutError, SmtpProtocolError)


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
        connections: int = 4,
    ) -> None:
        self._host = host
        self._port = port
        self._security = security
        self._username = username
        self._password = password
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max(1, connections))
        self._idle: list[tuple[SmtpSession, float]] = []  # with when it was last used
        # Local parts of the Message-IDs the server accepted lately (the notifier derives them
        # from the event id), so a retry after a failed ledger write does not send again.
        self._accepted: OrderedDict[str, None] = OrderedDict()
        self.sent_total = 0
        self.sessions_opened = 0

    def accepted(self, message_id_local_part: str) -> bool:
        return message_id_local_part in self._accepted

    def _remember(self, email: OutgoingEmail) -> None:
        local = email.message_id_local_part
        if local:
            self._accepted[local] = None
            while len(self._accepted) > REMEMBER_ACCEPTED:
                self._accepted.popitem(last=False)

    async def send(self, email: OutgoingEmail) -> None:
        started = time.perf_counter()
        try:
            await self._send(email)
        except TransientSmtpError:
            metrics.SMTP_FAILURES.labels("transient").inc()
            raise
        except PermanentSmtpError:
            metrics.SMTP_FAILURES.labels("permanent").inc()
            raise
        metrics.EMAILS_SENT.inc()
        metrics.SMTP_SECONDS.observe(time.perf_counter() - started)

    async def _send(self, email: OutgoingEmail) -> None:
        async with self._slots:
            session: SmtpSession | None = None
            reusable = False  # only a session whose transaction ended cleanly goes back
            try:
                async with asyncio.timeout(self._timeout * 3):
                    session = await self._session()
                    await session.send(email.envelope_from, email.recipient, email.content)
                reusable = True
            except SmtpReplyError as exc:
                reusable = True  # the session reset itself (or closed, if it could not)
                reason = scrub(f"{exc.code} {exc.text}")
                if exc.code >= 500:
                    raise PermanentSmtpError(reason) from exc
                # A 4xx reply: the server did not take the message.
                raise TransientSmtpError(reason, maybe_accepted=False) from exc
            except MessageMaybeAccepted as exc:
                raise TransientSmtpError(str(exc), maybe_accepted=True) from exc
            except TRANSPORT_ERRORS as exc:
                # The whole-send timeout may strike while the server's answer to the complete
                # message is awaited: then it may have the message.
                maybe = session is not None and session.awaiting_final_reply
                raise TransientSmtpError(type(exc).__name__, maybe_accepted=maybe) from exc
            finally:
                if session is not None:
                    if reusable and session.is_open:
                        self._idle.append((session, time.monotonic()))
                    else:
                        session.abort()
            self._remember(email)
            self.sent_total += 1

    async def _session(self) -> SmtpSession:
        """The session used last if it is still there, else a new one."""
        while self._idle:
            session, last_used = self._idle.pop()
            if not session.is_open:
                continue
            if time.monotonic() - last_used < IDLE_CHECK_SECONDS:
                return session
            try:
                await session.noop()
                return session
            except (SmtpReplyError, *TRANSPORT_ERRORS):
                session.abort()
        session = await SmtpSession.open(
            self._host,
            self._port,
            security=self._security,
            username=self._username,
            password=self._password,
            command_timeout=self._timeout,
        )
        self.sessions_opened += 1
        return session

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for session, _ in idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.quit(), self._timeout)
