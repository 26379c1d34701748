"""The emails of identity's events: two-factor turned on or off, and registration; composed from
records whose sealed links open only under the fields they were sealed with."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from notifier_service.domain.composition import EmailComposer, UndeliverableEvent
from notifier_service.domain.emails import (
    render_already_registered_email,
    render_second_factor_email,
    render_verify_email,
)
from pwreset_contracts import PasswordChangedV1, RegistrationRequestedV1, SecondFactorChangedV1
from pwreset_contracts.binding import (
    already_registered_binding,
    registration_link_binding,
    second_factor_undo_binding,
    undo_link_binding,
)
from pwreset_contracts.cloudevents_kafka import ReceivedEvent
from pwreset_contracts.sealed import seal

from .fakes import parsed

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
KEY = b"K" * 32
UNDO = "https://id.example.com/this-wasnt-me?token=undo_TOKEN-1"
VERIFY = "https://id.example.com/verify-email?token=verify_TOKEN-2"


def notifications() -> EmailComposer:
    return EmailComposer(
        link_keys={}, notice_keys={"k1": KEY}, mail_from="Accounts <no-reply@example.com>"
    )


def received(data: object) -> ReceivedEvent:
    return ReceivedEvent(
        id=str(uuid.uuid4()), source="/pwreset/identity", type=data.ce_type, time=NOW,  # type: ignore[attr-defined]
        data=data, extensions={},  # type: ignore[arg-type]
    )  # fmt: skip


def second_factor_event(email: str = "ada@example.com", **changes: object) -> SecondFactorChangedV1:
    """A genuine notice sealed as identity seals it; only ``client_ip`` may be changed after
    sealing (the seal binds every other field the email shows)."""
    change_id, account_id = uuid.uuid4(), uuid.uuid4()
    bound_to = second_factor_undo_binding(
        change_id=change_id, account_id=account_id, recipient=email,
        change="enabled", actor="account_holder", changed_at=NOW, locale="en",
    )  # fmt: skip
    sealed = seal(UNDO, key=KEY, kid="k1", associated_data=bound_to)
    fields = {
        "change_id": change_id,
        "account_id": account_id,
        "email": email,
        "changed_at": NOW,
        "change": "enabled",
        "client_ip": "203.0.113.7",
        "sealed_undo_link": sealed,
    }
    return SecondFactorChangedV1(**{**fields, **changes})


def test_turned_on_email_has_the_undo_button_and_link() -> None:
    composed = notifications().compose(received(second_factor_event()), NOW)
    assert composed is not None
    message = parsed(composed)
    assert message["Subject"] == "Two-factor authentication was turned on"
    assert message["To"] == "ada@example.com"
    html = unescape(message.get_body(("html",)).get_content())
    text = message.get_body(("plain",)).get_content()
    assert ">This wasn't me</a>" in html and f'href="{UNDO}"' in html
    assert UNDO in text and "203.0.113.7" in text
    assert "turns two-factor authentication off again" in text


def test_a_record_copied_to_another_recipient_is_not_mailed() -> None:
    """A writer that copies the record with its own address gets no email with the link."""
    genuine = second_factor_event()
    forged = genuine.model_copy(update={"email": "attacker@evil.example"})
    with pytest.raises(UndeliverableEvent):
        notifications().compose(received(forged), NOW)
    other_account = genuine.model_copy(update={"account_id": uuid.uuid4()})
    with pytest.raises(UndeliverableEvent):
        notifications().compose(received(other_account), NOW)


def password_changed_event(**changes: object) -> PasswordChangedV1:
    change_id, account_id, email = uuid.uuid4(), uuid.uuid4(), "ada@example.com"
    bound_to = undo_link_binding(change_id=change_id, account_id=account_id, recipient=email)
    fields = {
        "change_id": change_id,
        "account_id": account_id,
        "email": email,
        "changed_at": NOW,
        "method": "reset",
        "client_ip": "203.0.113.7",
        "sealed_undo_link": seal(UNDO, key=KEY, kid="k1", associated_data=bound_to),
    }
    return PasswordChangedV1(**{**fields, **changes})


# What a writer on identity's topics can put where the IP address goes: client_ip is not part of
# the seal's binding, so a copied record with it changed still opens (45 characters at most).
WORDS_FOR_AN_IP = (
    "\r\n\r\nURGENT: call +1 555 0100 to keep access",
    "203.0.113.7. Call support on +1 555 0100 now",
    "203.0.113.7\u2028Reply with your password",
    "fe80::1%URGENT: call +1 555 0100",  # an IPv6 scope id is free text to Python's ipaddress
)


@pytest.mark.parametrize("client_ip", WORDS_FOR_AN_IP)
def test_a_copied_record_cannot_put_words_in_place_of_the_ip_address(client_ip: str) -> None:
    """Genuine emails from our domain must not carry an attacker's text: anything that is not an
    IP address is shown as "unknown", in both parts of both notices."""
    for event in (
        second_factor_event(client_ip=client_ip),
        password_changed_event(client_ip=client_ip),
    ):
        composed = notifications().compose(received(event), NOW)
        assert composed is not None
        message = parsed(composed)
        text = message.get_body(("plain",)).get_content()
        html = unescape(re.sub("<[^>]+>", "", message.get_body(("html",)).get_content()))
        for part in (text, html):
            assert "555 0100" not in part and "Reply with" not in part, part
            assert "from IP address unknown" in " ".join(part.split()), part


def test_a_real_ip_address_is_still_shown() -> None:
    for client_ip in ("203.0.113.7", "2001:db8::1"):
        composed = notifications().compose(
            received(password_changed_event(client_ip=client_ip)), NOW
        )
        assert composed is not None
        assert f"from IP address {client_ip}" in parsed(composed).get_body(("plain",)).get_content()


def test_html_injection_through_event_fields_is_escaped() -> None:
    rendered = render_second_factor_email(
        enabled=False,
        by_support=True,
        changed_at=NOW,
        client_ip='<a href="https://evil">x</a>',
        undo_link=UNDO,
    )
    assert '<a href="https://evil">' not in rendered.html
    assert "Our support team removed two-factor authentication" in rendered.text
    assert rendered.subject == "Two-factor authentication was removed by support"
    assert "This wasn't me" in rendered.text and UNDO in rendered.text


def test_registration_emails() -> None:
    registration_id = uuid.uuid4()
    email = "grace@example.com"
    event = RegistrationRequestedV1(
        registration_id=registration_id,
        email=email,
        requested_at=NOW,
        expires_at=NOW + timedelta(hours=24),
        kind="verify_address",
        sealed_link=seal(
            VERIFY,
            key=KEY,
            kid="k1",
            associated_data=registration_link_binding(
                registration_id=registration_id, recipient=email
            ),
        ),
    )
    composed = notifications().compose(received(event), NOW)
    assert composed is not None
    message = parsed(composed)
    assert message["Subject"] == "Confirm your email address"
    assert f'href="{VERIFY}"' in message.get_body(("html",)).get_content()
    assert "24 hours" in message.get_body(("plain",)).get_content()
    # Past its lifetime the link helps nobody: no email.
    assert notifications().compose(received(event), NOW + timedelta(hours=25)) is None
    with pytest.raises(UndeliverableEvent):  # copied to another address
        notifications().compose(
            received(event.model_copy(update={"email": "mallory@example.com"})), NOW
        )
    known_id = uuid.uuid4()
    known = RegistrationRequestedV1(
        registration_id=known_id,
        email=email,
        requested_at=NOW,
        expires_at=NOW + timedelta(hours=24),
        kind="already_registered",
        sealed_link=seal(
            "",
            key=KEY,
            kid="k1",
            associated_data=already_registered_binding(
                registration_id=known_id, recipient=email, locale="en"
            ),
        ),
    )
    composed_notice = notifications().compose(received(known), NOW)
    assert composed_notice is not None
    notice = parsed(composed_notice)
    assert notice["Subject"] == "You already have an account"
    assert "http" not in notice.get_body(("plain",)).get_content()
    assert render_already_registered_email().html.count("<a ") == 0
    assert render_verify_email(link=VERIFY, hours_valid=24).html.count(VERIFY) >= 3
