"""Two-factor, passwords and sessions: each rule with the test that proves it, on real
PostgreSQL through identity's service layer (docs/security.md has the table)."""

import asyncio
import base64
import time
import uuid
from collections.abc import Callable

import asyncpg
import pytest
from identity_service.core.config import Settings
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.errors import AuthFailed, PasswordRejected, TotpRejected
from pwreset_contracts.sealed import open_sealed

from .conftest import (
    NEW_PASSWORD,
    NOTICE_KEYS,
    PASSWORD,
    Clock,
    MakeTotpAccount,
    ResetsStarted,
    latest_outbox_record,
)

pytestmark = pytest.mark.integration


async def test_totp_secret_is_encrypted_at_rest(
    make_service: Callable[..., AccountService],
    clock: Clock,
    make_totp_account: MakeTotpAccount,
    pool: asyncpg.Pool,
) -> None:
    accounts = make_service()
    account_id, _, totp, _ = await make_totp_account(accounts)
    stored = await pool.fetchval("SELECT totp_secret_enc FROM accounts WHERE id = $1", account_id)
    assert totp.secret.encode() not in stored
    assert len(base64.b32decode(totp.secret)) >= 20  # at least 160 bits


async def test_a_totp_code_is_accepted_once_across_login_and_reset(
    make_service: Callable[..., AccountService], clock: Clock, make_totp_account: MakeTotpAccount
) -> None:
    accounts = make_service()
    account_id, email, totp, _ = await make_totp_account(accounts)
    clock.now += 30
    code = totp.at(clock.now)
    await accounts.login(email, PASSWORD, SecondFactor(totp_code=code))
    with pytest.raises(TotpRejected):
        await accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(totp_code=code), None)


async def test_an_email_reset_never_bypasses_totp(
    make_service: Callable[..., AccountService], clock: Clock, make_totp_account: MakeTotpAccount
) -> None:
    accounts = make_service()
    account_id, email, totp, _ = await make_totp_account(accounts)
    with pytest.raises(TotpRejected):
        await accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), None)
    clock.now += 30
    await accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(totp.at(clock.now)), None)
    with pytest.raises(AuthFailed) as still_required:
        await accounts.login(email, NEW_PASSWORD, SecondFactor())
    assert still_required.value.reason == "totp_required"  # the reset left two-factor on


async def test_second_factor_failures_are_throttled_per_account(
    make_service: Callable[..., AccountService], clock: Clock, make_totp_account: MakeTotpAccount
) -> None:
    accounts = make_service()
    _, email, totp, _ = await make_totp_account(accounts)
    clock.now += 30
    good = totp.at(clock.now)
    bad = "000000" if good != "000000" else "111111"
    reasons = []
    for _ in range(5):
        with pytest.raises(AuthFailed) as failed:
            await accounts.login(email, PASSWORD, SecondFactor(totp_code=bad))
        reasons.append(failed.value.reason)
    assert reasons == ["totp_invalid"] * 4 + ["totp_throttled"]
    with pytest.raises(AuthFailed) as throttled:  # even the right code waits out the window
        await accounts.login(email, PASSWORD, SecondFactor(totp_code=good))
    assert throttled.value.reason == "totp_throttled"
    clock.now += 15 * 60 + 31
    await accounts.login(email, PASSWORD, SecondFactor(totp_code=totp.at(clock.now)))


async def test_recovery_codes_are_single_use_and_stored_hashed(
    make_service: Callable[..., AccountService],
    clock: Clock,
    make_totp_account: MakeTotpAccount,
    pool: asyncpg.Pool,
) -> None:
    accounts = make_service()
    account_id, email, _, codes = await make_totp_account(accounts)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = await pool.fetch(
        "SELECT code_hash FROM recovery_codes WHERE account_id = $1", account_id
    )
    assert len(stored) == 10
    assert not any(c.replace("-", "").encode() in r["code_hash"] for c in codes for r in stored)
    await accounts.login(email, PASSWORD, SecondFactor(recovery_code=codes[0].upper()))
    with pytest.raises(AuthFailed):
        await accounts.login(email, PASSWORD, SecondFactor(recovery_code=codes[0]))
    # A recovery code also stands in for the authenticator in a reset.
    await accounts.set_password(
        account_id, NEW_PASSWORD, SecondFactor(recovery_code=codes[1]), None
    )


async def test_rehash_on_login_when_parameters_change(
    make_service: Callable[..., AccountService], pool: asyncpg.Pool
) -> None:
    email = f"r-{uuid.uuid4().hex[:10]}@example.com"
    account_id = await make_service(time_cost=2).create_account(email, PASSWORD)
    before = await pool.fetchval("SELECT password_hash FROM accounts WHERE id = $1", account_id)
    assert "$m=19456,t=2,p=1$" in before
    await make_service(time_cost=3).login(email, PASSWORD, SecondFactor())
    after = await pool.fetchval("SELECT password_hash FROM accounts WHERE id = $1", account_id)
    assert "$m=19456,t=3,p=1$" in after


def test_argon2_parameters_below_the_floor_are_refused() -> None:
    for field, value in (("argon2_memory_kib", 8192), ("argon2_time_cost", 1)):
        with pytest.raises(ValueError, match=field):
            Settings(**{field: value})


async def test_hashing_runs_off_the_event_loop(
    make_service: Callable[..., AccountService],
) -> None:
    accounts = make_service(time_cost=4)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    await accounts.create_account(f"h-{uuid.uuid4().hex[:10]}@example.com", PASSWORD)
    elapsed = time.perf_counter() - started
    beat.cancel()
    # Had the hash blocked the loop, the heartbeat could not have run during it.
    assert ticks > 0.3 * elapsed / 0.0015


async def test_password_policy_reason_is_returned(
    make_service: Callable[..., AccountService],
) -> None:
    accounts = make_service()
    with pytest.raises(PasswordRejected) as rejected:
        await accounts.create_account(f"s-{uuid.uuid4().hex[:10]}@example.com", "too short")
    assert rejected.value.reason == "too_short"


async def test_after_a_reset_sessions_are_revoked_and_password_changed_is_emitted(
    make_service: Callable[..., AccountService], pool: asyncpg.Pool, resets: ResetsStarted
) -> None:
    accounts = make_service()
    email = f"c-{uuid.uuid4().hex[:10]}@example.com"
    account_id = await accounts.create_account(email, PASSWORD)
    sessions = [await accounts.login(email, PASSWORD, SecondFactor()) for _ in range(2)]
    await accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(), "198.51.100.7")
    assert [await accounts.account_of_session(s) for s in sessions] == [None, None]

    event, value = await latest_outbox_record(pool, account_id)
    assert event.client_ip == "198.51.100.7" and event.email == email
    assert NEW_PASSWORD not in value.decode()
    undo = open_sealed(
        event.sealed_undo_link, keys=NOTICE_KEYS.keys, associated_data=event.undo_link_binding()
    )
    assert undo.startswith("https://id.example.com/this-wasnt-me?token=")
    assert undo.split("token=")[1] not in value.decode()  # sealed, not in clear

    # "This wasn't me": signs out every session (again) and starts a fresh reset, once.
    fresh = await accounts.login(email, NEW_PASSWORD, SecondFactor())
    token = undo.split("token=")[1]
    undone = await accounts.this_wasnt_me(token)
    assert undone is not None and undone.account.id == account_id
    assert undone.verification_code == ResetsStarted.CODE and resets.emails == [email]
    assert await accounts.account_of_session(fresh) is None
    assert await accounts.this_wasnt_me(token) is None
    assert resets.emails == [email]
