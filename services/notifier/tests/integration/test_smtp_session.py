"""The SMTP sender's own client against real servers on loopback: PIPELINING only when offered,
the message intact (dot-stuffed, CRLF only), refusals and dropped connections reported as what
they are (accepted or not), TLS verified and never skipped, AUTH, and the connection pool.

A scripted server (below) shows what reached it in which packets; aiosmtpd serves TLS and AUTH.
"""

import asyncio
import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from devinfra.certificates import make_certificate
from notifier_service.adapters.smtp_sender import SmtpSender
from notifier_service.domain.mime import OutgoingEmail, multipart_alternative
from notifier_service.service_layer.ports import PermanentSmtpError, TransientSmtpError

pytestmark = pytest.mark.integration


def email_to(address: str, text: str = "hello\n") -> OutgoingEmail:
    return multipart_alternative(
        subject="s",
        sender="R <r@example.com>",
        to=address,
        sent_at=datetime.now(UTC),
        message_id_local=str(uuid.uuid4()),
        headers=(),
        text=text,
        html="<p>hello</p>\n",
    )


class ScriptedServer:
    """Enough of an SMTP server to see what the client does: every packet it got, the commands
    in each, the messages (un-stuffed); `replies` overrides the answer to a command ("END": to
    the end of the data); `after_data`: "drop" closes without answering, "silent" never
    answers."""

    def __init__(
        self,
        *,
        pipelining: bool,
        replies: dict[str, str] | None = None,
        after_data: str | None = None,
    ) -> None:
        self.pipelining = pipelining
        self.replies = replies or {}
        self.after_data = after_data
        self.commands_per_packet: list[list[str]] = []
        self.messages: list[bytes] = []
        self.open_now = 0
        self.most_open = 0
        self.port = 0

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator["ScriptedServer"]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        async with server:
            yield self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            await self._conversation(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open_now -= 1
            writer.close()

    async def _conversation(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        writer.write(b"220 scripted ESMTP\r\n")
        buffer, data, in_data = b"", b"", False
        while chunk := await reader.read(65536):
            buffer += chunk
            commands: list[str] = []
            self.commands_per_packet.append(commands)
            while b"\r\n" in buffer:
                line, _, buffer = buffer.partition(b"\r\n")
                if in_data:
                    if line == b".":
                        in_data = False
                        self.messages.append(data)
                        if self.after_data == "drop":
                            return
                        if self.after_data == "silent":
                            await asyncio.sleep(3600)
                        writer.write(self._reply("END", "250 2.0.0 queued"))
                    else:
                        data += (line[1:] if line.startswith(b".") else line) + b"\r\n"
                    continue
                verb = line.split(b" ", 1)[0].split(b":", 1)[0].decode().upper()
                commands.append(verb)
                if verb == "EHLO":
                    extensions = b"250-PIPELINING\r\n" if self.pipelining else b""
                    writer.write(b"250-scripted\r\n" + extensions + b"250 8BITMIME\r\n")
                elif verb == "DATA":
                    reply = self._reply("DATA", "354 go ahead")
                    if reply.startswith(b"354"):
                        in_data, data = True, b""
                    writer.write(reply)
                elif verb == "QUIT":
                    writer.write(b"221 bye\r\n")
                    return
                else:
                    reply = self._reply(verb, "250 OK")
                    writer.write(reply)
                    if reply.startswith(b"421"):  # "closing the connection", as servers do
                        return

    def _reply(self, verb: str, default: str) -> bytes:
        return (self.replies.get(verb, default) + "\r\n").encode()


def sender_for(port: int, *, security: str = "none", timeout: float = 5, **kw: Any) -> SmtpSender:
    return SmtpSender(
        "127.0.0.1",
        port,
        security=security,
        username=kw.pop("username", None),
        password=kw.pop("password", None),
        timeout=timeout,
        **kw,
    )


async def test_commands_are_pipelined_only_when_the_server_offers_it() -> None:
    for pipelining in (True, False):
        async with ScriptedServer(pipelining=pipelining).running() as server:
            smtp = sender_for(server.port)
            try:
                for n in range(3):
                    await smtp.send(email_to(f"u{n}@example.com"))
            finally:
                await smtp.close()
        packets = [c for c in server.commands_per_packet if c]
        if pipelining:
            assert packets.count(["MAIL", "RCPT", "DATA"]) == 3
        else:  # one command, then its reply, then the next
            assert max(len(c) for c in packets) == 1
        assert len(server.messages) == 3


async def test_the_message_arrives_intact_dot_lines_and_bare_line_ends_included() -> None:
    """A line of one dot in the text must not end the data (dot-stuffing), and no bare LF or
    CR may reach the server (some servers end the data at a bare-LF dot: SMTP smuggling)."""
    text = "first\n.\n..two dots\nbare\rcr\n.\r\nlast\n"
    email = email_to("dots@example.com", text)
    async with ScriptedServer(pipelining=True).running() as server:
        smtp = sender_for(server.port)
        try:
            await smtp.send(email)
        finally:
            await smtp.close()
    (received,) = server.messages
    assert received == email.content
    assert received.count(b"\n") == received.count(b"\r\n") == received.count(b"\r")


async def test_a_refused_recipient_sends_no_content_and_the_session_goes_on() -> None:
    replies = {"RCPT": "550 5.1.1 <nobody@example.com>: no such user", "DATA": "554 no rcpt"}
    async with ScriptedServer(pipelining=True, replies=replies).running() as server:
        smtp = sender_for(server.port)
        try:
            with pytest.raises(PermanentSmtpError, match=r"550 5\.1\.1 <n\*\*\*@example\.com>"):
                await smtp.send(email_to("nobody@example.com"))
            server.replies.clear()
            await smtp.send(email_to("somebody@example.com"))
        finally:
            await smtp.close()
    assert len(server.messages) == 1 and b"To: somebody@example.com" in server.messages[0]
    assert smtp.sessions_opened == 1  # reset (RSET), not reconnected
    assert ["RSET"] in server.commands_per_packet


async def test_a_server_taking_data_after_refusing_the_recipient_gets_an_empty_message() -> None:
    async with ScriptedServer(pipelining=True, replies={"RCPT": "450 4.2.1 busy"}).running() as s:
        smtp = sender_for(s.port)
        try:
            with pytest.raises(TransientSmtpError) as refused:
                await smtp.send(email_to("busy@example.com"))
        finally:
            await smtp.close()
    assert refused.value.maybe_accepted is False
    assert s.messages == [b""]  # the session stayed in step; none of our content went out


async def test_a_connection_dropped_after_the_whole_message_may_have_been_accepted() -> None:
    async with ScriptedServer(pipelining=True, after_data="drop").running() as server:
        smtp = sender_for(server.port)
        with pytest.raises(TransientSmtpError) as dropped:
            await smtp.send(email_to("a@example.com"))
        await smtp.close()
    assert dropped.value.maybe_accepted is True
    assert smtp.accepted(email_to("a@example.com").message_id_local_part) is False


async def test_a_server_that_never_answers_the_end_of_data_times_out_maybe_accepted() -> None:
    async with ScriptedServer(pipelining=False, after_data="silent").running() as server:
        smtp = sender_for(server.port, timeout=0.3)
        with pytest.raises(TransientSmtpError) as silent:
            await smtp.send(email_to("a@example.com"))
        await smtp.close()
    assert silent.value.maybe_accepted is True


async def test_a_connection_dropped_before_the_data_was_not_accepted() -> None:
    async with ScriptedServer(pipelining=True, replies={"MAIL": "421 closing"}).running() as s:
        smtp = sender_for(s.port)
        with pytest.raises(TransientSmtpError) as closing:
            await smtp.send(email_to("a@example.com"))
        await smtp.close()
    assert closing.value.maybe_accepted is False and s.messages == []


async def test_many_sends_share_a_few_connections() -> None:
    async with ScriptedServer(pipelining=True).running() as server:
        smtp = sender_for(server.port, connections=3)
        try:
            await asyncio.gather(*(smtp.send(email_to(f"u{n}@example.com")) for n in range(20)))
        finally:
            await smtp.close()
    assert len(server.messages) == 20
    assert server.most_open <= 3 and smtp.sessions_opened <= 3


# -- TLS and AUTH, against aiosmtpd ------------------------------------------------------------
class Keep:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.original_content or envelope.content)
        return "250 OK"


def server_context(
    directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> tuple[ssl.SSLContext, Path]:
    certificate = make_certificate(directory, hosts=hosts)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate.cert, certificate.key)
    return context, certificate.ca


@contextlib.contextmanager
def aiosmtpd_server(**kwargs: Any):
    from devinfra.processes import free_port

    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def accept_ada(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any):
    ok = auth_data.login == b"ada" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)


async def test_starttls_verifies_the_server_and_then_logs_in(tmp_path, monkeypatch) -> None:
    context, ca = server_context(tmp_path)
    with aiosmtpd_server(
        tls_context=context, require_starttls=True, authenticator=accept_ada,
        auth_require_tls=True,
    ) as (kept, port):  # fmt: skip
        # Not trusted (the system's store only): refused, nothing sent in clear.
        smtp = sender_for(port, security="starttls", username="ada", password="s3cret")
        with pytest.raises(TransientSmtpError) as untrusted:
            await smtp.send(email_to("a@example.com"))
        assert "SSLCertVerificationError" in str(untrusted.value)
        await smtp.close()
        monkeypatch.setenv("SSL_CERT_FILE", str(ca))
        smtp = sender_for(port, security="starttls", username="ada", password="s3cret")
        try:
            await smtp.send(email_to("b@example.com"))
        finally:
            await smtp.close()
        wrong = sender_for(port, security="starttls", username="ada", password="wrong")
        with pytest.raises(PermanentSmtpError, match="535"):
            await wrong.send(email_to("c@example.com"))
        await wrong.close()
    assert len(kept.messages) == 1 and b"To: b@example.com" in kept.messages[0]


async def test_starttls_not_offered_sends_nothing(tmp_path) -> None:
    with aiosmtpd_server() as (kept, port):
        smtp = sender_for(port, security="starttls")
        with pytest.raises(TransientSmtpError) as refused:
            await smtp.send(email_to("a@example.com"))
        await smtp.close()
    assert refused.value.maybe_accepted is False and kept.messages == []


async def test_implicit_tls_verifies_the_server_name(tmp_path, monkeypatch) -> None:
    context, ca = server_context(tmp_path, hosts=("localhost",))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    with aiosmtpd_server(ssl_context=context) as (kept, port):
        smtp = SmtpSender(
            "localhost", port, security="tls", username=None, password=None, timeout=5
        )
        try:
            await smtp.send(email_to("a@example.com"))
        finally:
            await smtp.close()
        # The same server under a name its certificate does not carry: refused.
        other = sender_for(port, security="tls")
        with pytest.raises(TransientSmtpError, match="SSLCertVerificationError"):
            await other.send(email_to("b@example.com"))
        await other.close()
    assert len(kept.messages) == 1


async def test_replies_injected_before_starttls_completes_are_refused() -> None:
    """A man in the middle writes a reply behind the server's 220 to STARTTLS, hoping it is read
    after the handshake as the (encrypted) server's: the client must stop before TLS."""
    after_starttls: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mitm ESMTP\r\n")
        await reader.readuntil(b"\r\n")  # EHLO
        writer.write(b"250-mitm\r\n250 STARTTLS\r\n")
        await reader.readuntil(b"\r\n")  # STARTTLS
        writer.write(b"220 go ahead\r\n250-injected\r\n250 AUTH PLAIN\r\n")
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            after_starttls.append(await asyncio.wait_for(reader.read(4096), 2))
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        smtp = sender_for(port, security="starttls")
        with pytest.raises(TransientSmtpError, match="SmtpProtocolError") as refused:
            await smtp.send(email_to("a@example.com"))
        await smtp.close()
    assert refused.value.maybe_accepted is False
    # No TLS ClientHello (or anything else) went out after the tainted reply.
    assert after_starttls in ([], [b""])
