"""ConfirmReset on fakes: the code (or second factor) checked against the locked request, wrong
ones counted and committed, the last one burning the request, and single use."""

import uuid
from dataclasses import dataclass, replace
from uuid import UUID

import pytest
from reset_service.domain.reset_request import ConfirmFailure, ResetRequest
from reset_service.service_layer.errors import (
    ConfirmRejected,
    IdentityUnavailable,
    PasswordRejected,
    RateLimited,
)
from reset_service.service_layer.identity import KnownAccount, SecondFactor
from reset_service.service_layer.password_resets import PasswordResets

from .fakes import (
    MAX_ATTEMPTS,
    TTL,
    Clock,
    FakeDatabase,
    FakeIdentity,
    PasswordChange,
    emailed_token,
    password_resets,
    policy,
)

IP = "198.51.100.7"
NEW_PASSWORD = "a brand new long password"


@dataclass(frozen=True)
class Requested:
    account: KnownAccount
    code: str
    token: str


async def requested(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, *, totp: bool = False
) -> Requested:
    account = identity.add(f"p{len(identity.accounts)}@example.com", totp=totp)
    code = (await resets.request(account.email, IP)).verification_code
    return Requested(account, code, emailed_token(db, account))


def wrong(code: str) -> str:
    return "ZZZZZZZZ" if code != "ZZZZZZZZ" else "YYYYYYYY"


async def rejected(
    resets: PasswordResets,
    *,
    token: str,
    code: str | None,
    totp_code: str | None = None,
    recovery_code: str | None = None,
    client_ip: str | None = None,
) -> ConfirmRejected:
    with pytest.raises(ConfirmRejected) as refusal:
        await resets.confirm(
            token=token,
            new_password=NEW_PASSWORD,
            code=code,
            totp_code=totp_code,
            recovery_code=recovery_code,
            client_ip=client_ip,
        )
    return refusal.value


def request_of(db: FakeDatabase, account_id: UUID) -> ResetRequest:
    """The account's newest request, as committed."""
    return max(
        (r for r in db.tables.requests.values() if r.account_id == account_id),
        key=lambda r: r.created_at,
    )


async def test_the_right_code_sets_the_password_and_uses_the_request(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    r = await requested(db, identity, resets)
    db.calls = []
    # As people type it: lower case, spaces and dashes.
    typed = f" {r.code[:4].lower()}-{r.code[4:].lower()} "
    await resets.confirm(token=r.token, new_password=NEW_PASSWORD, code=typed, client_ip=IP)
    assert identity.changes == [PasswordChange(r.account.account_id, NEW_PASSWORD, None, IP)]
    assert request_of(db, r.account.account_id).used_at == clock.now
    assert db.calls == [
        "requests.lock_by_token",
        "requests.mark_used",
        "requests.revoke_open",
        "commit",
    ]


async def test_a_link_works_once(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    r = await requested(db, identity, resets)
    await resets.confirm(token=r.token, new_password=NEW_PASSWORD, code=r.code)
    refusal = await rejected(resets, token=r.token, code=r.code)
    assert refusal.failure is ConfirmFailure.LINK_INVALID
    assert len(identity.changes) == 1


async def test_success_revokes_every_other_open_request_of_the_account(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    r = await requested(db, identity, resets)
    # An open request the newest did not revoke (written by another replica a moment later).
    other = replace(request_of(db, r.account.account_id), id=uuid.uuid4(), token_hash=b"other")
    db.tables.requests[other.id] = other
    await resets.confirm(token=r.token, new_password=NEW_PASSWORD, code=r.code)
    assert db.tables.requests[other.id].revoked_at is not None


async def test_wrong_codes_are_counted_and_the_fifth_burns_the_request(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    r = await requested(db, identity, resets)
    answers = [await rejected(resets, token=r.token, code=wrong(r.code)) for _ in range(5)]
    assert [a.attempts_left for a in answers] == [4, 3, 2, 1, 0]
    assert [a.failure for a in answers] == [ConfirmFailure.WRONG_CODE] * 4 + [
        ConfirmFailure.TOO_MANY_ATTEMPTS
    ]
    assert request_of(db, r.account.account_id).failed_attempts == 5  # committed each time
    burnt = await rejected(resets, token=r.token, code=r.code)  # even the right code now
    assert burnt.failure is ConfirmFailure.TOO_MANY_ATTEMPTS
    assert burnt.attempts_left is None
    assert identity.changes == []


async def test_the_code_of_another_request_is_wrong(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    mine = await requested(db, identity, resets)
    theirs = await requested(db, identity, resets)
    refusal = await rejected(resets, token=mine.token, code=theirs.code)
    assert refusal.failure is ConfirmFailure.WRONG_CODE


async def test_the_newest_link_takes_the_code_of_a_request_it_replaced(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    first = await requested(db, identity, resets)
    clock.advance(seconds=5)
    await resets.request(first.account.email, IP)
    newest = emailed_token(db, first.account)
    assert (await rejected(resets, token=first.token, code=first.code)).failure is (
        ConfirmFailure.LINK_INVALID  # the older link is revoked
    )
    await resets.confirm(token=newest, new_password=NEW_PASSWORD, code=first.code)
    assert len(identity.changes) == 1


async def test_expiry_accepted_just_before_refused_at_the_end(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    early = await requested(db, identity, resets)
    late = await requested(db, identity, resets)
    clock.advance(seconds=TTL.total_seconds() - 1)
    await resets.confirm(token=early.token, new_password=NEW_PASSWORD, code=early.code)
    clock.advance(seconds=1)
    refusal = await rejected(resets, token=late.token, code=late.code)
    assert refusal.failure is ConfirmFailure.LINK_INVALID


async def test_refusals_that_count_nothing_roll_back_and_do_not_call_identity(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    r = await requested(db, identity, resets)
    db.calls = []
    for code in (None, ""):
        refusal = await rejected(resets, token=r.token, code=code)
        assert refusal.failure is ConfirmFailure.CODE_REQUIRED
    assert db.calls == ["requests.lock_by_token", "rollback"] * 2
    assert request_of(db, r.account.account_id).failed_attempts == 0
    assert identity.changes == []


async def test_with_totp_on_the_code_alone_is_refused_and_the_second_factor_goes_to_identity(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    r = await requested(db, identity, resets, totp=True)
    refusal = await rejected(resets, token=r.token, code=r.code)
    assert refusal.failure is ConfirmFailure.TOTP_REQUIRED
    assert request_of(db, r.account.account_id).failed_attempts == 0
    await resets.confirm(token=r.token, new_password=NEW_PASSWORD, code=None, totp_code="123456")
    [change] = identity.changes
    assert change.second_factor == SecondFactor("123456", None)


async def test_a_wrong_second_factor_is_counted_like_a_wrong_code(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    r = await requested(db, identity, resets, totp=True)
    refusal = await rejected(resets, token=r.token, code=None, totp_code="000000")
    assert (refusal.failure, refusal.attempts_left) == (ConfirmFailure.WRONG_CODE, 4)
    refusal = await rejected(resets, token=r.token, code=None, recovery_code="abcde-fghij")
    assert (refusal.failure, refusal.attempts_left) == (ConfirmFailure.WRONG_CODE, 3)
    assert request_of(db, r.account.account_id).failed_attempts == 2


async def test_a_throttled_second_factor_is_refused_without_counting(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    r = await requested(db, identity, resets, totp=True)
    identity.totp_throttled = True
    refusal = await rejected(resets, token=r.token, code=None, totp_code="123456")
    assert refusal.failure is ConfirmFailure.TOTP_THROTTLED
    assert request_of(db, r.account.account_id).failed_attempts == 0


async def test_a_reset_whose_two_factor_was_removed_since_is_outdated_not_a_wrong_code(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    """Asked for with two-factor on, confirmed after support removed it: identity refuses the
    second factor as "two-factor is off", which is no wrong code (nothing counted, however
    often) and tells the person to ask for a new reset."""
    r = await requested(db, identity, resets, totp=True)
    identity.remove_two_factor(r.account)
    for _ in range(MAX_ATTEMPTS + 1):
        refusal = await rejected(resets, token=r.token, code=None, totp_code="123456")
        assert (refusal.failure, refusal.attempts_left) == (ConfirmFailure.RESET_OUTDATED, None)
    assert request_of(db, r.account.account_id).failed_attempts == 0
    assert identity.changes == []


async def test_a_password_identity_refuses_leaves_the_request_usable(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    r = await requested(db, identity, resets)
    identity.rejects_password = "common"
    with pytest.raises(PasswordRejected) as refused:
        await resets.confirm(token=r.token, new_password="password1", code=r.code)
    assert refused.value.reason == "common"
    identity.rejects_password = None
    await resets.confirm(token=r.token, new_password=NEW_PASSWORD, code=r.code)
    assert len(identity.changes) == 1


async def test_identity_unavailable_leaves_the_request_usable(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets
) -> None:
    r = await requested(db, identity, resets)
    identity.unavailable = True
    with pytest.raises(IdentityUnavailable):
        await resets.confirm(token=r.token, new_password=NEW_PASSWORD, code=r.code)
    identity.unavailable = False
    await resets.confirm(token=r.token, new_password=NEW_PASSWORD, code=r.code)
    assert request_of(db, r.account.account_id).used_at is not None


async def test_unknown_tokens_are_counted_per_client_then_limited(
    db: FakeDatabase, identity: FakeIdentity, clock: Clock
) -> None:
    resets = password_resets(db, identity, clock, policy(link_misses_max=3))
    r = await requested(db, identity, resets)
    answers = []
    for i in range(5):
        try:
            await resets.confirm(
                token=f"guess-{i}", new_password=NEW_PASSWORD, code="AAAAAAAA", client_ip=IP
            )
        except ConfirmRejected as exc:
            answers.append(exc.failure.value)
        except RateLimited as exc:
            answers.append(f"429 after {exc.retry_after_seconds}s")
    assert answers == ["link_invalid"] * 3 + [f"429 after {15 * 60}s"] * 2
    # Another client, and an internal caller (no client IP), are not limited.
    for client_ip in ("203.0.113.1", None):
        refusal = await rejected(resets, token="guess", code="AAAAAAAA", client_ip=client_ip)
        assert refusal.failure is ConfirmFailure.LINK_INVALID
    # A real link still works from the limited client.
    await resets.confirm(token=r.token, new_password=NEW_PASSWORD, code=r.code, client_ip=IP)
