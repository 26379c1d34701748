"""The SMTP sender against the real capture server: what it refuses to do, and how it fails."""

import uuid
from datetime import UTC, datetime

import pytest
from notifier_service.adapters.smtp_sender import SmtpSender
from notifier_service.domain.mime import OutgoingEmail, multipart_alternative
from notifier_service.service_layer.ports import PermanentSmtpError, TransientSmtpError

pytestmark = pytest.mark.integration


def message_to(address: str) -> OutgoingEmail:
    return multipart_alternative(
        subject="x",
        sender="r@example.com",
        to=address,
        sent_at=datetime.now(UTC),
        message_id_local=str(uuid.uuid4()),
        headers=(),
        text="x\n",
        html="<p>x</p>\n",
    )


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
        for message in messages:
            await smtp.send(message)
    finally:
        await smtp.close()
    assert smtp.sessions_opened == 1  # one connection for all
    assert smtp.accepted(messages[0].message_id_local_part)
    assert not smtp.accepted(str(uuid.uuid4()))
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
