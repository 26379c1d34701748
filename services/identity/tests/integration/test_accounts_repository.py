"""Account storage against real PostgreSQL, through identity's unit of work: TOTP steps claimed
once, even concurrently; a password change moves the epoch on, so no session is written for the
old one, and every session is revoked."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import identity_service
import pytest
from identity_service.adapters.unit_of_work import IdentityUnitOfWork
from identity_service.domain.accounts import EmailTaken
from identity_service.domain.sessions import NewSession
from pwreset_contracts.emails import normalise_email
from servicekit.testing import migrated_database

pytestmark = pytest.mark.integration
MIGRATIONS = Path(identity_service.__file__).parent / "migrations"


@pytest.fixture(scope="module")
def dsn(infra) -> str:
    return migrated_database(infra, "identity", MIGRATIONS)


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10)
    yield pool
    await pool.close()


async def _account(pool: asyncpg.Pool) -> uuid.UUID:
    account_id = uuid.uuid4()
    email = f"{account_id.hex[:10]}@example.com"
    async with IdentityUnitOfWork(pool) as uow:
        await uow.accounts.add(account_id, email, normalise_email(email), "$argon2id$fake")
        await uow.commit()
    return account_id


async def _claim(pool: asyncpg.Pool, account_id: uuid.UUID, step: int) -> bool:
    async with IdentityUnitOfWork(pool) as uow:
        claimed = await uow.accounts.claim_totp_step(account_id, step)
        await uow.commit()
    return claimed


async def _session(pool: asyncpg.Pool, account_id: uuid.UUID, epoch: int) -> bool:
    expires = datetime.now(UTC) + timedelta(hours=1)
    session = NewSession(uuid.uuid4(), account_id, uuid.uuid4().bytes, expires, epoch)
    async with IdentityUnitOfWork(pool) as uow:
        written = await uow.sessions.add(session)
        await uow.commit()
    return written


async def test_email_is_unique_ignoring_case(pool: asyncpg.Pool) -> None:
    account_id = await _account(pool)
    email = f"{account_id.hex[:10]}@example.com"
    async with IdentityUnitOfWork(pool) as uow:
        with pytest.raises(EmailTaken):
            await uow.accounts.add(
                uuid.uuid4(), email.upper(), normalise_email(email.upper()), "$fake"
            )
    async with IdentityUnitOfWork(pool) as uow:
        found = await uow.accounts.by_email_key(normalise_email(email.upper()))
    assert found is not None and found.id == account_id


async def test_a_totp_step_is_claimed_by_exactly_one_of_many_concurrent_calls(
    pool: asyncpg.Pool,
) -> None:
    account_id = await _account(pool)
    results = await asyncio.gather(*(_claim(pool, account_id, 1000) for _ in range(10)))
    assert results.count(True) == 1
    assert not await _claim(pool, account_id, 999)  # older steps are refused too
    assert await _claim(pool, account_id, 1001)


async def test_a_password_change_revokes_every_session_and_voids_the_old_epoch(
    pool: asyncpg.Pool,
) -> None:
    account_id = await _account(pool)
    for _ in range(3):
        assert await _session(pool, account_id, epoch=0)
    async with IdentityUnitOfWork(pool) as uow:
        await uow.accounts.change_password(account_id, "$argon2id$new")
        await uow.sessions.revoke_all(account_id)
        await uow.commit()
    live = await pool.fetchval(
        "SELECT count(*) FROM sessions WHERE account_id = $1 AND revoked_at IS NULL", account_id
    )
    assert live == 0
    assert not await _session(pool, account_id, epoch=0)  # a login that read the old epoch
    async with IdentityUnitOfWork(pool) as uow:
        account = await uow.accounts.by_id(account_id)
    assert account is not None and account.password_hash == "$argon2id$new"
    assert account.credentials_epoch == 1


async def test_leaving_without_commit_writes_nothing(pool: asyncpg.Pool) -> None:
    account_id = uuid.uuid4()
    async with IdentityUnitOfWork(pool) as uow:
        await uow.accounts.add(account_id, "gone@example.com", "gone@example.com", "$fake")
    assert await pool.fetchval("SELECT count(*) FROM accounts WHERE id = $1", account_id) == 0


async def test_the_accounts_language_is_english_until_a_password_change_sets_it(
    pool: asyncpg.Pool,
) -> None:
    account_id = await _account(pool)
    async with IdentityUnitOfWork(pool) as uow:
        account = await uow.accounts.by_id(account_id)
        assert account is not None and account.locale == "en"
        await uow.accounts.change_password(account_id, "$argon2id$new", "de")
        await uow.commit()
    async with IdentityUnitOfWork(pool) as uow:
        await uow.accounts.change_password(account_id, "$argon2id$newer")  # None: kept
        await uow.commit()
        account = await uow.accounts.by_id(account_id)
    assert account is not None and account.locale == "de"


@pytest.mark.parametrize("tag", ["de_DE", "de-DE\n", "x" * 36, "<b>", "'; DROP TABLE accounts;--"])
async def test_the_database_refuses_a_language_that_is_no_tag(pool: asyncpg.Pool, tag: str) -> None:
    """The API refuses these first; the column's CHECK holds even for a caller that did not."""
    account_id = await _account(pool)
    with pytest.raises(asyncpg.CheckViolationError):
        async with IdentityUnitOfWork(pool) as uow:
            await uow.accounts.change_password(account_id, "$argon2id$new", tag)
            await uow.commit()
