"""The SMTP sender against the real capture server: what it refuses to do, and how it fails."""

import uuid
from email.message import EmailMessage

import pytest
from notifier_service.adapters.smtp_sender import SmtpSender
from notifier_service.service_layer.ports import PermanentSmtpError, TransientSmtpError

pytestmark = pytest.mark.integration


def message_to(address: str) -> EmailMessage:
    message = EmailMessage()
    message["To"] = address
    message["From"] = "r@example.com"
    message["Message-ID"] = f"<{uuid.uuid4()}@example.com>"
    message.set_content("x")
    return message


def sender(infra, security: str) -> SmtpSender:
    return SmtpSender(
        infra.smtp_host, infra.smtp_port, security=security, username=None, password=None, timeout=5
    )


async def test_starttls_required_but_not_offered_sends_nothing_in_clear(infra) -> None:
    address = f"tls-{uuid.uuid4().hex[:8]}@example.com"
    smtp = sender(infra, "starttls")  # the capture server offers no STARTTLS
    with pytest.raises(TransientSmtpError):
        await smtp.send(message_to(address))
    await smtp.close()
    assert not [m for m in infra.mailbox.messages() if m["To"] == address]


async def test_a_reused_connection_sends_many_and_remembers_what_was_accepted(infra) -> None:
    smtp = sender(infra, "none")
    addresses = [f"reuse-{uuid.uuid4().hex[:8]}@example.com" for _ in range(3)]
    messages = [message_to(a) for a in addresses]
    try:
        clients = []
        for message in messages:
            await smtp.send(message)
            clients.append(smtp._client)
        assert clients[0] is not None and clients == [clients[0]] * 3  # one connection for all
    finally:
        await smtp.close()
    local = str(messages[0]["Message-ID"]).strip("<>").partition("@")[0]
    assert smtp.accepted(local) and not smtp.accepted(str(uuid.uuid4()))
    for address in addresses:
        await infra.mailbox.wait_for(lambda m, a=address: m["To"] == a, timeout=10)


async def test_4xx_is_transient_and_5xx_permanent(infra) -> None:
    smtp = sender(infra, "none")
    try:
        infra.smtp.set_mode("tempfail")
        with pytest.raises(TransientSmtpError) as transient:
            await smtp.send(message_to("a@example.com"))
        assert transient.value.maybe_accepted is False  # the server said no: nothing accepted
        infra.smtp.set_mode("reject")
        with pytest.raises(PermanentSmtpError, match="550"):
            await smtp.send(message_to("a@example.com"))
    finally:
        infra.smtp.set_mode("accept")
        await smtp.close()
