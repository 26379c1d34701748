"""RequestReset on fakes: the same calls for known and unknown emails, the limits, the
coalesced email, and the newest request taking over from the older ones."""

import dataclasses
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from reset_service.domain.reset_request import MAX_CARRIED_CODES
from reset_service.domain.secrets_issued import keyed_hash, normalise_code
from reset_service.service_layer.errors import ConfirmRejected, IdentityUnavailable, RateLimited
from reset_service.service_layer.password_resets import PasswordResets

from .fakes import (
    HASH_KEYS,
    TTL,
    WINDOW,
    Clock,
    FakeDatabase,
    FakeIdentity,
    emailed_token,
    emails,
    password_resets,
    policy,
)

IP = "198.51.100.7"


def accepted() -> float:
    return REGISTRY.get_sample_value("reset_requests_total", {"outcome": "accepted"}) or 0.0


def shape(value: object) -> object:
    """The types of a value, field by field: what a call's parameters look like, not what
    they hold."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: shape(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [type(value).__name__, *(shape(v) for v in value)]
    return type(value).__name__


async def test_known_and_unknown_emails_make_the_same_calls_and_only_the_known_keeps_them(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    identity.add("ada@example.com")
    before = accepted()
    known = await resets.request("ada@example.com", IP)
    known_calls, db.calls = db.calls, []
    unknown = await resets.request("nobody@example.com", "198.51.100.8")

    # One call each, the same but for ``keep``, given values of the same shape.
    assert known_calls == ["intake.issue(keep=True)"]
    assert db.calls == ["intake.issue(keep=False)"]
    known_new, unknown_new = db.issued
    assert shape(known_new) == shape(unknown_new)
    assert known_new.by_ip is not None and unknown_new.by_ip is not None
    # The same answer and the same metric for both.
    assert len(known.verification_code) == len(unknown.verification_code) == 8
    assert known.expires_in_seconds == unknown.expires_in_seconds == TTL.total_seconds()
    assert accepted() - before == 2
    # Only the known email left a request and an email; both were counted in both limits.
    assert [e.recipient for e in emails(db)] == ["ada@example.com"]
    assert len(db.tables.requests) == 1
    assert not db.tables.deferred
    assert sorted(h.scope for h in db.tables.hits) == ["account", "account", "ip", "ip"]


async def test_unknown_email_over_its_account_limit_makes_the_same_calls_as_a_known_one(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    identity.add("ada@example.com")
    for _ in range(3):
        await resets.request("ada@example.com", IP)
        await resets.request("nobody@example.com", IP)
    db.calls, db.issued = [], []
    await resets.request("ada@example.com", IP)
    known_calls, db.calls = db.calls, []
    await resets.request("nobody@example.com", IP)
    assert known_calls == ["intake.issue(keep=True)"]
    assert db.calls == ["intake.issue(keep=False)"]
    assert shape(db.issued[0]) == shape(db.issued[1])
    assert len(db.tables.deferred) == 1  # the known account's alone
    assert {r.account_id for r in db.tables.requests.values()} == set(db.tables.deferred)
    # Over the limit, neither took another account hit; both took their IP hit.
    assert sorted(h.scope for h in db.tables.hits) == ["account"] * 6 + ["ip"] * 8


async def test_the_request_stores_only_keyed_hashes_and_emails_the_stored_address(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    account = identity.add("Ada.L@b\u00fccher.example")
    issued = await resets.request("  ADA.L@XN--BCHER-KVA.EXAMPLE ", IP)
    [email] = emails(db)
    assert email.recipient == "Ada.L@b\u00fccher.example"  # never the typed spelling
    [request] = db.tables.requests.values()
    assert request.account_id == account.account_id
    assert request.token_hash == keyed_hash(HASH_KEYS.current, email.token)
    assert request.code_hash == keyed_hash(HASH_KEYS.current, issued.verification_code)
    assert request.hash_key_id == HASH_KEYS.current_id
    assert request.expires_at == clock.now + TTL
    assert not request.requires_totp


async def test_over_the_ip_limit_is_refused_with_retry_after_and_writes_nothing(
    db: FakeDatabase, identity: FakeIdentity, clock: Clock
) -> None:
    resets = password_resets(db, identity, clock, policy(ip_max=3))
    start = clock.now
    for _ in range(3):
        await resets.request("someone@example.com", IP)
        clock.advance(minutes=1)
    written = (len(db.tables.hits), len(db.tables.requests))
    db.calls = []
    with pytest.raises(RateLimited) as limited:
        await resets.request("other@example.com", IP)
    # The first hit leaves the window at start + 15 min; it is now start + 3 min.
    assert limited.value.retry_after_seconds == (start + WINDOW - clock.now).total_seconds()
    assert db.calls == ["intake.issue(keep=False)"]  # refused: no account hit, no request
    assert (len(db.tables.hits), len(db.tables.requests)) == written
    await resets.request("other@example.com", "198.51.100.9")  # another client is not affected
    clock.advance(minutes=12, seconds=1)
    await resets.request("other@example.com", IP)  # the window slides


async def test_over_the_account_limit_the_email_waits_coalesced_and_the_answer_is_the_same(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    account = identity.add("ada@example.com")
    start = clock.now
    issued = []
    for _ in range(5):
        issued.append(await resets.request("ada@example.com", IP))
        clock.advance(seconds=10)
    assert all(len(i.verification_code) == 8 for i in issued)
    assert len(emails(db)) == 3  # the limit: three emails now
    pending, due_at = db.tables.deferred[account.account_id]  # one pending email, the newest
    newest = max(db.tables.requests.values(), key=lambda r: r.created_at)
    assert pending.request_id == newest.id
    assert due_at == start + WINDOW  # when the first email's slot frees
    assert newest.code_hash == keyed_hash(HASH_KEYS.current, issued[-1].verification_code)
    # It takes the code of the request whose email it replaced.
    fourth = keyed_hash(HASH_KEYS.current, normalise_code(issued[3].verification_code))
    assert fourth in newest.carried_code_hashes


async def test_a_request_under_the_limit_again_cancels_the_pending_email(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    account = identity.add("ada@example.com")
    for _ in range(4):
        await resets.request("ada@example.com", IP)
    assert account.account_id in db.tables.deferred
    clock.advance(minutes=15, seconds=1)
    await resets.request("ada@example.com", IP)
    assert not db.tables.deferred  # the email going out now carries the newest link
    assert len(emails(db)) == 4


async def test_a_new_request_revokes_the_older_and_takes_over_its_codes_and_wrong_count(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    account = identity.add("ada@example.com")
    first = await resets.request("ada@example.com", IP)
    with pytest.raises(ConfirmRejected):
        await resets.confirm(
            token=emailed_token(db, account), new_password="x" * 12, code="ZZZZZZZZ"
        )
    clock.advance(seconds=5)
    await resets.request("ada@example.com", IP)
    older, newer = sorted(db.tables.requests.values(), key=lambda r: r.created_at)
    assert older.revoked_at == clock.now and newer.revoked_at is None
    assert newer.carried_code_hashes == [keyed_hash(HASH_KEYS.current, first.verification_code)]
    assert newer.failed_attempts == 1


async def test_after_the_window_a_new_request_starts_afresh(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    identity.add("ada@example.com")
    await resets.request("ada@example.com", IP)
    clock.advance(minutes=15, seconds=1)
    await resets.request("ada@example.com", IP)
    newest = max(db.tables.requests.values(), key=lambda r: r.created_at)
    assert newest.carried_code_hashes == [] and newest.failed_attempts == 0


async def test_carried_codes_are_capped(
    db: FakeDatabase, identity: FakeIdentity, clock: Clock
) -> None:
    resets = password_resets(db, identity, clock, policy(account_max=100, ip_max=100))
    identity.add("ada@example.com")
    for _ in range(MAX_CARRIED_CODES + 5):
        await resets.request("ada@example.com", IP)
        clock.advance(seconds=1)
    newest = max(db.tables.requests.values(), key=lambda r: r.created_at)
    assert len(newest.carried_code_hashes) == MAX_CARRIED_CODES


async def test_identity_starts_a_reset_outside_every_client_bucket_but_within_the_account_limit(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    account = identity.add("ada@example.com")
    for _ in range(25):  # more than the per-IP limit of 20: no IP bucket is involved
        await resets.request.from_identity("ada@example.com")
    assert db.issued and all(new.by_ip is None for new in db.issued)
    assert not [h for h in db.tables.hits if h.scope == "ip"]
    assert len(emails(db)) == 3  # the account's limit still holds; the rest waits, coalesced
    assert account.account_id in db.tables.deferred


async def test_identity_unavailable_fails_the_request_before_anything_is_written(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    identity.unavailable = True
    with pytest.raises(IdentityUnavailable):
        await resets.request("ada@example.com", IP)
    assert db.calls == [] and db.tables.hits == []


async def test_totp_accounts_get_requests_that_need_the_second_factor(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    identity.add("ada@example.com", totp=True)
    await resets.request("ada@example.com", IP)
    [request] = db.tables.requests.values()
    assert request.requires_totp


async def test_pending_email_keeps_its_earliest_due_time(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    account = identity.add("ada@example.com")
    start = clock.now
    for _ in range(3):
        await resets.request("ada@example.com", IP)
    clock.advance(minutes=1)
    await resets.request("ada@example.com", IP)
    clock.advance(minutes=1)
    await resets.request("ada@example.com", IP)
    _, due_at = db.tables.deferred[account.account_id]
    assert due_at == start + WINDOW
    assert timedelta(0) < due_at - clock.now <= WINDOW
