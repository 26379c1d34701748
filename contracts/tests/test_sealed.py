import os

import pytest
from pwreset_contracts.sealed import KeyRing, SealError, decode_key, open_sealed, seal


def test_seal_opens_with_the_named_key_and_hides_the_plaintext() -> None:
    key = os.urandom(32)
    sealed = seal("https://x/reset?token=SECRET", key=key, kid="k1", associated_data="req-1")
    assert "SECRET" not in sealed.model_dump_json()
    assert open_sealed(sealed, keys={"k1": key}, associated_data="req-1").endswith("SECRET")


def test_open_fails_for_wrong_key_unknown_kid_or_other_event() -> None:
    key = os.urandom(32)
    sealed = seal("link", key=key, kid="k1", associated_data="req-1")
    with pytest.raises(SealError):
        open_sealed(sealed, keys={"k1": os.urandom(32)}, associated_data="req-1")
    with pytest.raises(SealError, match="no key"):
        open_sealed(sealed, keys={"k2": key}, associated_data="req-1")
    with pytest.raises(SealError):
        open_sealed(sealed, keys={"k1": key}, associated_data="req-2")


def test_decode_key_requires_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        decode_key("c2hvcnQ")
    assert len(decode_key("A" * 43)) == 32


def test_keyring_first_key_is_current_and_all_are_kept() -> None:
    ring = KeyRing.parse(f"new:{'B' * 43}, old:{'A' * 43}")
    assert ring.current_id == "new"
    assert set(ring.keys) == {"new", "old"}
    with pytest.raises(ValueError, match="id:base64url"):
        KeyRing.parse("no-separator")
