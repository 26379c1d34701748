"""InspectLink on fakes: what the "Set new password" page needs, never consuming the link."""

import pytest
from reset_service.domain.reset_request import ConfirmFailure
from reset_service.service_layer.errors import ConfirmRejected, RateLimited
from reset_service.service_layer.password_resets import PasswordResets

from .fakes import TTL, Clock, FakeDatabase, FakeIdentity, emailed_token, password_resets, policy

IP = "198.51.100.7"
NEW_PASSWORD = "a brand new long password"


async def test_opening_the_link_tells_the_page_what_to_ask_and_writes_nothing(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    account = identity.add("ada@example.com", totp=True)
    await resets.request("ada@example.com", IP)
    token = emailed_token(db, account)
    committed = db.tables
    db.calls = []
    for _ in range(3):  # a mail scanner, then the person, then a reload
        info = await resets.inspect_link(token, IP)
        assert info.requires_totp and info.expires_at == clock.now + TTL
    assert db.calls == ["requests.get_by_token", "rollback"] * 3
    assert db.tables is committed  # nothing committed
    await resets.confirm(token=token, new_password=NEW_PASSWORD, code=None, totp_code="123456")


async def test_used_revoked_and_expired_links_get_one_answer(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    used, revoked, expiring = (identity.add(f"{n}@example.com") for n in ("u", "r", "e"))
    code = (await resets.request(used.email, IP)).verification_code
    await resets.confirm(token=emailed_token(db, used), new_password=NEW_PASSWORD, code=code)
    await resets.request(revoked.email, IP)
    revoked_token = emailed_token(db, revoked)
    await resets.request(revoked.email, IP)  # replaces it
    await resets.request(expiring.email, IP)
    expiring_token = emailed_token(db, expiring)
    for token in (emailed_token(db, used), revoked_token):
        with pytest.raises(ConfirmRejected) as refusal:
            await resets.inspect_link(token, IP)
        assert refusal.value.failure is ConfirmFailure.LINK_INVALID
    await resets.inspect_link(expiring_token, IP)
    clock.advance(seconds=TTL.total_seconds())
    with pytest.raises(ConfirmRejected) as refusal:
        await resets.inspect_link(expiring_token, IP)
    assert refusal.value.failure is ConfirmFailure.LINK_INVALID


async def test_a_burnt_link_says_too_many_attempts(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    account = identity.add("ada@example.com")
    await resets.request("ada@example.com", IP)
    token = emailed_token(db, account)
    for _ in range(5):
        with pytest.raises(ConfirmRejected):
            await resets.confirm(token=token, new_password=NEW_PASSWORD, code="ZZZZZZZZ")
    with pytest.raises(ConfirmRejected) as refusal:
        await resets.inspect_link(token, IP)
    assert refusal.value.failure is ConfirmFailure.TOO_MANY_ATTEMPTS


async def test_unknown_links_are_limited_per_client_like_confirmations(
    db: FakeDatabase, identity: FakeIdentity, clock: Clock
) -> None:
    resets = password_resets(db, identity, clock, policy(link_misses_max=2))
    for i in range(2):
        with pytest.raises(ConfirmRejected):
            await resets.inspect_link(f"guess-{i}", IP)
    with pytest.raises(RateLimited):
        await resets.inspect_link("guess-2", IP)
    with pytest.raises(RateLimited):  # confirming counts in the same bucket
        await resets.confirm(token="guess-3", new_password=NEW_PASSWORD, code="A", client_ip=IP)
    assert [h.scope for h in db.tables.hits] == ["link_miss", "link_miss"]
