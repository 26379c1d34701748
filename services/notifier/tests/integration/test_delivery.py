"""The delivery use case against a real SMTP server and PostgreSQL ledger: one email per event
id."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from notifier_service.adapters.dead_letter_topic import DeadLetterCopies
from notifier_service.adapters.deliveries_ledger import DeliveriesLedger
from notifier_service.adapters.smtp_sender import SmtpSender
from notifier_service.domain.composition import EmailComposer
from notifier_service.domain.mime import multipart_alternative
from notifier_service.domain.outcomes import AlreadyDelivered, Delivered
from notifier_service.service_layer.deliver_email import EmailDelivery
from notifier_service.service_layer.ports import TransientSmtpError
from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.sealed import reset_link_binding, seal
from servicekit.messaging.consumer import DeadLetterProducer

pytestmark = pytest.mark.integration
KEY = b"n" * 32


def _received(email: str, link: str) -> cloudevents_kafka.ReceivedEvent:
    now = datetime.now(UTC)
    request_id = uuid.uuid4()
    account_id = uuid.uuid4()
    event = ResetRequestedV1(
        request_id=request_id,
        account_id=account_id,
        email=email,
        requested_at=now,
        expires_at=now + timedelta(minutes=30),
        sealed_link=seal(
            link,
            key=KEY,
            kid="k1",
            associated_data=reset_link_binding(
                request_id=request_id, account_id=account_id, recipient=email
            ),
        ),
    )
    record = cloudevents_kafka.encode(event, source="/it")
    return cloudevents_kafka.decode(record.headers, record.value)


async def test_event_becomes_one_email_even_when_delivered_twice(infra, pool) -> None:
    sender = SmtpSender(
        infra.smtp_host, infra.smtp_port, security="none", username=None, password=None, timeout=5
    )
    delivery = EmailDelivery(
        DeliveriesLedger(pool),
        sender,
        DeadLetterCopies(DeadLetterProducer(infra.kafka_bootstrap, "unused")),  # never started
        EmailComposer(
            link_keys={"k1": KEY}, notice_keys={}, mail_from="Reset <no-reply@example.com>"
        ),
    )
    email = f"it-{uuid.uuid4().hex[:8]}@example.com"
    link = f"http://127.0.0.1/reset-password?token={uuid.uuid4().hex}"
    event = _received(email, link)
    try:
        assert await delivery.deliver(event) == Delivered()
        assert await delivery.deliver(event) == AlreadyDelivered()
    finally:
        await sender.close()
    message = await infra.mailbox.wait_for(lambda m: m["To"] == email, timeout=10)
    assert message["Subject"] == "Reset your password"
    assert message["Message-ID"] == f"<{event.id}@example.com>"
    assert link in message.get_body(("plain",)).get_content()
    assert len([m for m in infra.mailbox.messages() if m["To"] == email]) == 1


async def test_unreachable_smtp_server_is_a_transient_error() -> None:
    sender = SmtpSender("127.0.0.1", 9, security="none", username=None, password=None, timeout=2)
    message = multipart_alternative(
        subject="x",
        sender="a@example.com",
        to="x@example.com",
        sent_at=datetime.now(UTC),
        message_id_local="x",
        headers=(),
        text="x",
        html="x",
    )
    with pytest.raises(TransientSmtpError) as refused:
        await sender.send(message)
    assert refused.value.maybe_accepted is False
