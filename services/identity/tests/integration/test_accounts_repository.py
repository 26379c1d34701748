"""Account storage against real PostgreSQL: TOTP steps claimed once, even concurrently;
a password change revokes every session."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import identity_service
import pytest
from identity_service.adapters.accounts_repository import AccountsRepository, EmailTaken
from pwreset_contracts.emails import normalise_email
from servicekit.testing import migrated_database

pytestmark = pytest.mark.integration
MIGRATIONS = Path(identity_service.__file__).parent / "migrations"


@pytest.fixture(scope="module")
def dsn(infra) -> str:
    return migrated_database(infra, "identity", MIGRATIONS)


@pytest.fixture
async def repo(dsn: str) -> AsyncIterator[AccountsRepository]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10)
    yield AccountsRepository(pool)
    await pool.close()


async def _account(repo: AccountsRepository) -> uuid.UUID:
    account_id = uuid.uuid4()
    email = f"{account_id.hex[:10]}@example.com"
    await repo.add(account_id, email, normalise_email(email), "$argon2id$fake")
    return account_id


async def test_email_is_unique_ignoring_case(repo: AccountsRepository) -> None:
    account_id = await _account(repo)
    email = f"{account_id.hex[:10]}@example.com"
    with pytest.raises(EmailTaken):
        await repo.add(uuid.uuid4(), email.upper(), normalise_email(email.upper()), "$fake")
    found = await repo.by_email_key(normalise_email(email.upper()))
    assert found is not None and found.id == account_id


async def test_a_totp_step_is_claimed_by_exactly_one_of_many_concurrent_calls(
    repo: AccountsRepository,
) -> None:
    account_id = await _account(repo)
    results = await asyncio.gather(*(repo.claim_totp_step(account_id, 1000) for _ in range(10)))
    assert results.count(True) == 1
    assert not await repo.claim_totp_step(account_id, 999)  # older steps are refused too
    assert await repo.claim_totp_step(account_id, 1001)


async def test_replacing_the_password_revokes_every_session(repo: AccountsRepository) -> None:
    account_id = await _account(repo)
    expires = datetime.now(UTC) + timedelta(hours=1)
    for _ in range(3):
        assert await repo.add_session(
            uuid.uuid4(), account_id, uuid.uuid4().bytes, expires, credentials_epoch=0
        )
    assert await repo.count_active_sessions(account_id) == 3
    await repo.replace_password(account_id, "$argon2id$new")
    assert await repo.count_active_sessions(account_id) == 0
    account = await repo.by_id(account_id)
    assert account is not None and account.password_hash == "$argon2id$new"
