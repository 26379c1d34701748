"""The one email normalisation: the same key for the same mailbox, refused look-alikes."""

import pytest
from pwreset_contracts.emails import UnsupportedEmail, normalise_email


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada@EXAMPLE.com ", "ada@example.com"),
        ("ADA@example.com.", "ada@example.com"),
        ("a.b+tag@example.com", "a.b+tag@example.com"),  # no provider-specific folding
        ("ada@B\u00fccher.example", "ada@xn--bcher-kva.example"),
        ("ada@xn--bcher-kva.example", "ada@xn--bcher-kva.example"),
        # A full-width domain is the same domain.
        ("ada@\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com", "ada@example.com"),
    ],
)
def test_the_same_mailbox_has_one_key(typed: str, key: str) -> None:
    assert normalise_email(typed) == key


@pytest.mark.parametrize(
    "typed",
    [
        "adm\u0130n@corp.example",  # capital I with dot: lower() makes it admin@ in en_US.UTF-8
        "\u0430dmin@corp.example",  # Cyrillic a
        "\u00c4DA@example.com",
        "ß@example.com",
        "\uff21\uff24\uff21@example.com",  # full-width local part
        "ada\u200b@example.com",
        "ada @example.com",
        "ada@",
        "@example.com",
        "ada",
        "ada@exa_mple.com",
        "ada@-example.com",
    ],
)
def test_refused_addresses(typed: str) -> None:
    with pytest.raises(UnsupportedEmail):
        normalise_email(typed)


def test_a_look_alike_domain_is_another_key() -> None:
    assert normalise_email("admin@c\u043erp.example") != normalise_email("admin@corp.example")
