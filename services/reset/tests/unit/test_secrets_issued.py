import re

from reset_service.domain.secrets_issued import (
    CODE_ALPHABET,
    keyed_hash,
    new_link_token,
    new_verification_code,
    normalise_code,
)


def test_code_is_8_unambiguous_characters() -> None:
    codes = {new_verification_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 8 and set(code) <= set(CODE_ALPHABET)
    assert not set("01OIL") & set(CODE_ALPHABET)


def test_link_token_carries_256_bits_url_safe() -> None:
    token = new_link_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)


def test_typed_codes_are_normalised() -> None:
    assert normalise_code(" abcd-efgh ") == "ABCDEFGH"
    assert normalise_code("abcd efgh") == "ABCDEFGH"


def test_keyed_hash_depends_on_key() -> None:
    assert keyed_hash(b"k" * 32, "x") != keyed_hash(b"j" * 32, "x")
    assert keyed_hash(b"k" * 32, "x") == keyed_hash(b"k" * 32, "x")
