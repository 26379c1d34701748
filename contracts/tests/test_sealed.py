import os
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pwreset_contracts import SecondFactorChangedV1, cloudevents_kafka
from pwreset_contracts.binding import second_factor_undo_binding
from pwreset_contracts.sealed import (
    KeyRing,
    SealError,
    decode_key,
    open_sealed,
    reset_link_binding,
    seal,
    undo_link_binding,
)


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


def test_a_reset_link_opens_only_beside_the_id_account_and_recipient_it_was_sealed_for() -> None:
    key, request_id, account_id = os.urandom(32), uuid.uuid4(), uuid.uuid4()
    bound = reset_link_binding(
        request_id=request_id, account_id=account_id, recipient="ada@example.com"
    )
    sealed = seal("https://x/reset?token=T", key=key, kid="k1", associated_data=bound)
    assert open_sealed(sealed, keys={"k1": key}, associated_data=bound).endswith("T")
    elsewhere = [
        # A compromised writer copies the seal beside its own address ...
        reset_link_binding(request_id=request_id, account_id=account_id, recipient="eve@x.test"),
        # ... or a look-alike / differently cased one, or another account, or a fresh id.
        reset_link_binding(
            request_id=request_id, account_id=account_id, recipient="ADA@example.com"
        ),
        reset_link_binding(
            request_id=request_id, account_id=account_id, recipient="ad\u0430@example.com"
        ),
        reset_link_binding(request_id=request_id, account_id=uuid.uuid4(), recipient="ada@ex"),
        reset_link_binding(
            request_id=uuid.uuid4(), account_id=account_id, recipient="ada@example.com"
        ),
        # The same fields in the "This wasn't me" link's purpose.
        undo_link_binding(change_id=request_id, account_id=account_id, recipient="ada@example.com"),
        str(request_id),  # the old binding: the request id alone
    ]
    for binding in elsewhere:
        with pytest.raises(SealError):
            open_sealed(sealed, keys={"k1": key}, associated_data=binding)


def test_bindings_cannot_be_made_equal_by_moving_text_between_fields() -> None:
    a = reset_link_binding(request_id="1", account_id="2,3", recipient="x")
    b = reset_link_binding(request_id="1,2", account_id="3", recipient="x")
    assert a != b


def test_a_second_factor_notice_binds_its_time_as_an_instant() -> None:
    """identity binds the datetime it holds, the notifier the one it parsed back from JSON: the
    same instant must bind the same whatever its offset, and a different instant must not."""
    moment = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
    change_id, account_id = uuid.uuid4(), uuid.uuid4()

    def bound(changed_at: datetime) -> str:
        return second_factor_undo_binding(
            change_id=change_id, account_id=account_id, recipient="ada@example.com",
            change="enabled", actor="account_holder", changed_at=changed_at, locale="en",
        )  # fmt: skip

    assert bound(moment) == bound(moment.astimezone(timezone(timedelta(hours=5, minutes=30))))
    assert bound(moment) != bound(moment + timedelta(microseconds=1))

    key = os.urandom(32)
    event = SecondFactorChangedV1(
        change_id=change_id, account_id=account_id, email="ada@example.com", changed_at=moment,
        change="enabled", sealed_undo_link=seal("link", key=key, kid="k1",
                                                associated_data=bound(moment)),
    )  # fmt: skip
    record = cloudevents_kafka.encode(event, source="/pwreset/identity")
    received = cloudevents_kafka.decode(record.headers, record.value).data
    assert isinstance(received, SecondFactorChangedV1)
    binding = received.undo_link_binding()
    assert open_sealed(received.sealed_undo_link, keys={"k1": key}, associated_data=binding)
