from notifier_service.domain.addresses import scrub


def test_addresses_in_smtp_replies_are_masked() -> None:
    reply = "550 5.1.1 <ada.lovelace@example.com>: Recipient address rejected"
    assert scrub(reply) == "550 5.1.1 <a***@example.com>: Recipient address rejected"
    assert scrub("451 try later") == "451 try later"
