"""Identity's service layer over real PostgreSQL: one migrated database per test module, a
controllable clock, and a factory for AccountService with test-sized settings (the reset
service, which "This wasn't me" calls, is a stand-in: it is not running here)."""

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import identity_service
import pyotp
import pytest
from identity_service.adapters.accounts_repository import AccountReads
from identity_service.adapters.argon2id import Argon2Hasher
from identity_service.adapters.login_throttle_repository import LoginThrottleRepository
from identity_service.adapters.password_hashing import PasswordHashing
from identity_service.adapters.secret_box import SecretBox
from identity_service.bootstrap import unit_of_work
from identity_service.domain.passwords import PasswordPolicy
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.login_throttle import LoginLimits, LoginThrottle
from identity_service.service_layer.notices import ChangeNotice
from identity_service.service_layer.second_factor import SecondFactorPolicy
from pwreset_contracts import cloudevents_kafka
from pwreset_contracts.sealed import KeyRing, decode_key
from servicekit.testing import migrated_database

MIGRATIONS = Path(identity_service.__file__).parent / "migrations"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "another long and fresh password"
NOTICE_KEYS = KeyRing.parse(f"n1:{'N' * 43}")
# For tests of something else than failed-login limits that send many logins side by side.
NO_LOGIN_LIMITS = {"free_per_account": 10**6, "free_per_account_ip": 10**6, "free_per_ip": 10**6}


@pytest.fixture(scope="module")
def dsn(infra) -> str:
    return migrated_database(infra, "identity", MIGRATIONS)


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=20)
    yield pool
    await pool.close()


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


class ResetsStarted:
    """The reset service's internal API as "This wasn't me" sees it: remembers the addresses
    it was asked to start a reset for."""

    CODE = "ABCD2345"

    def __init__(self) -> None:
        self.emails: list[str] = []

    async def start_reset(self, email: str, locale: str | None = None) -> str:
        self.emails.append(email)
        return self.CODE


@pytest.fixture
def resets() -> ResetsStarted:
    return ResetsStarted()


@pytest.fixture
def make_service(
    pool: asyncpg.Pool, clock: Clock, resets: ResetsStarted
) -> Callable[..., AccountService]:
    def make(
        time_cost: int = 2, *, hasher: Any = None, queue_limit: int = 1000, **limits: Any
    ) -> AccountService:
        forget_after = limits.pop("forget_after", timedelta(hours=1))
        uow = unit_of_work(pool)
        return AccountService(
            uow,
            AccountReads(pool),
            PasswordHashing(
                hasher or Argon2Hasher(19 * 1024, time_cost, 1), queue_limit=queue_limit
            ),
            LoginThrottle(
                LoginThrottleRepository(pool),
                LoginLimits.build(key=b"T" * 32, forget_after=forget_after, **limits),
            ),
            SecretBox("S" * 43),
            resets,
            PasswordPolicy(),
            SecondFactorPolicy(5, timedelta(minutes=15), decode_key("R" * 43), 10),
            ChangeNotice("https://id.example.com", NOTICE_KEYS, timedelta(days=7)),
            totp_issuer="test",
            session_ttl=timedelta(hours=1),
            clock=clock,
        )

    return make


async def latest_outbox_record(pool: asyncpg.Pool, account_id: uuid.UUID) -> tuple[Any, bytes]:
    """The newest event identity queued for an account, decoded, and its raw value."""
    row = await pool.fetchrow(
        "SELECT headers, value FROM outbox WHERE key = $1 ORDER BY id DESC LIMIT 1",
        str(account_id).encode(),
    )
    headers = [(k, v.encode()) for k, v in json.loads(row["headers"])]
    return cloudevents_kafka.decode(headers, row["value"]).data, bytes(row["value"])


def new_email(prefix: str = "a") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@example.com"


TotpAccount = tuple[uuid.UUID, str, pyotp.TOTP, list[str]]
MakeTotpAccount = Callable[..., Awaitable[TotpAccount]]


@pytest.fixture
def make_totp_account(clock: Clock) -> MakeTotpAccount:
    """An account with two-factor on: (id, email, its TOTP, its recovery codes)."""

    async def make(accounts: AccountService, password: str = PASSWORD) -> TotpAccount:
        email = new_email("t")
        account_id = await accounts.create_account(email, password)
        setup = await accounts.start_totp(account_id)
        totp = pyotp.TOTP(setup.secret)
        codes = await accounts.activate_totp(account_id, totp.at(clock.now), password)
        return account_id, email, totp, codes

    return make
