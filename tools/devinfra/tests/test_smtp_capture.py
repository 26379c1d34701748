"""SMTP capture: multipart mail lands in the mailbox; fault modes answer 451/550."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
from devinfra.mailbox import MaildirMailbox, parse_message
from devinfra.providers import Infrastructure
from devinfra.smtp_capture import first_link, store_message


def _multipart(subject: str, link: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "noreply@example.test"
    message["To"] = "alice@example.test"
    message["Subject"] = subject
    message.set_content(f"Hello Älice,\nreset here: {link}\nBye.")
    message.add_alternative(f'<p>Reset <a href="{link}">here</a></p>', subtype="html")
    return message


@pytest.mark.integration
async def test_multipart_message_is_captured(infra: Infrastructure) -> None:
    subject = f"Reset your password {uuid.uuid4().hex[:6]}"
    link = "http://127.0.0.1:8000/reset?token=abc123"
    await aiosmtplib.send(
        _multipart(subject, link), hostname=infra.smtp_host, port=infra.smtp_port, timeout=10
    )

    found = await infra.mailbox.wait_for(lambda m: m["subject"] == subject, timeout=10)
    assert found["to"] == "alice@example.test"
    assert found.is_multipart()
    assert first_link(found) == link
    plain = found.get_body(preferencelist=("plain",))
    assert plain is not None and "Älice" in plain.get_content()


@pytest.mark.integration
async def test_fault_modes_refuse_mail(infra: Infrastructure) -> None:
    if infra.smtp is None:
        pytest.skip(f"fault modes need the local provider (smtp={infra.providers['smtp']})")
    message = _multipart("should be refused", "https://example.test/x")
    try:
        infra.smtp.set_mode("tempfail")
        with pytest.raises(aiosmtplib.SMTPResponseException) as temporary:
            await aiosmtplib.send(message, hostname=infra.smtp_host, port=infra.smtp_port)
        assert temporary.value.code == 451
        infra.smtp.set_mode("reject")
        with pytest.raises(aiosmtplib.SMTPResponseException) as permanent:
            await aiosmtplib.send(message, hostname=infra.smtp_host, port=infra.smtp_port)
        assert permanent.value.code == 550
    finally:
        infra.smtp.set_mode("accept")
    assert all(m["subject"] != "should be refused" for m in infra.mailbox.messages())


async def test_wait_for_timeout_lists_received_mail(tmp_path: Path) -> None:
    mailbox = MaildirMailbox(tmp_path)
    store_message(tmp_path, bytes(_multipart("first", "https://a.test/1")), "a@x", ["b@x"])
    store_message(tmp_path, bytes(_multipart("second", "https://a.test/2")), "a@x", ["b@x"])
    assert [m["subject"] for m in mailbox.messages()] == ["first", "second"]
    with pytest.raises(TimeoutError, match=r"2 message\(s\) received:(.|\n)*second"):
        await mailbox.wait_for(lambda m: m["subject"] == "third", timeout=0.3)
    mailbox.clear()
    assert mailbox.messages() == []


def test_first_link_prefers_text_part() -> None:
    message = parse_message(bytes(_multipart("s", "https://text.test/ok?x=1")))
    assert first_link(message) == "https://text.test/ok?x=1"


@pytest.mark.integration
async def test_offers_pipelining_and_answers_pipelined_commands_in_order(
    infra: Infrastructure,
) -> None:
    import asyncio

    if infra.smtp is None:
        pytest.skip(f"the capture server is the local provider's (smtp={infra.providers['smtp']})")
    reader, writer = await asyncio.open_connection(infra.smtp_host, infra.smtp_port)

    async def reply() -> list[bytes]:
        lines = [await asyncio.wait_for(reader.readline(), 10)]
        while lines[-1][3:4] == b"-":
            lines.append(await asyncio.wait_for(reader.readline(), 10))
        return lines

    try:
        await reply()  # greeting
        writer.write(b"EHLO pipelined.test\r\n")
        assert b"250-PIPELINING\r\n" in await reply()
        to = f"pipelined-{uuid.uuid4().hex[:8]}@example.test"
        writer.write(f"MAIL FROM:<a@example.test>\r\nRCPT TO:<{to}>\r\nDATA\r\n".encode())
        answers = [(await reply())[-1][:3] for _ in range(3)]
        assert answers == [b"250", b"250", b"354"]
        writer.write(f"To: {to}\r\nSubject: pipelined\r\n\r\nhello\r\n.\r\n".encode())
        assert (await reply())[-1][:3] == b"250"
    finally:
        writer.close()
    found = await infra.mailbox.wait_for(lambda m: m["to"] == to, timeout=10)
    assert found["subject"] == "pipelined"
