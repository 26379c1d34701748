"""Service-layer tests of the reset service on real PostgreSQL.

Identity is replaced by an in-memory fake of *our own* port (service_layer/identity.py), as in
cosmicpython's service-layer tests; PostgreSQL stays real, because the guarantees under test
(row locks, transactions, limits across connections) live there.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
import reset_service
from pwreset_contracts import cloudevents_kafka
from pwreset_contracts.emails import normalise_email
from pwreset_contracts.sealed import KeyRing, decode_key, open_sealed
from reset_service.adapters.request_intake import PostgresRequestIntake
from reset_service.adapters.unit_of_work import ResetUnitOfWork
from reset_service.domain.rate_limits import RequestLimits
from reset_service.service_layer.identity import KnownAccount, SecondFactor, TotpInvalid
from reset_service.service_layer.password_resets import PasswordResets, ResetPolicy
from servicekit.runtime.database import create_pool
from servicekit.testing import migrated_database

MIGRATIONS = Path(reset_service.__file__).parent / "migrations"
ORIGIN = "https://accounts.example.com"


@dataclass
class FakeIdentity:
    accounts: dict[str, KnownAccount] = field(default_factory=dict)
    passwords: dict[uuid.UUID, str] = field(default_factory=dict)
    valid_totp: str = "123456"
    delay: float = 0.0

    def add(self, email: str, *, totp: bool = False) -> KnownAccount:
        account = KnownAccount(uuid.uuid4(), totp, email)
        self.accounts[normalise_email(email)] = account
        return account

    async def lookup(self, email: str) -> KnownAccount | None:
        """As identity does: matched by the one normalisation, the stored address returned."""
        return self.accounts.get(normalise_email(email))

    async def set_password(
        self,
        account_id: uuid.UUID,
        password: str,
        second_factor: SecondFactor | None,
        client_ip: str | None,
        language: str | None = None,
    ) -> None:
        await asyncio.sleep(self.delay)
        if second_factor is not None and second_factor.totp_code != self.valid_totp:
            raise TotpInvalid
        self.passwords[account_id] = password


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture(scope="module")
def dsn(infra) -> str:
    return migrated_database(infra, "reset", MIGRATIONS)


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    # As bootstrap makes it: no session reset on release (test_pool_sessions.py).
    pool = await create_pool(dsn, max_size=25, sessions_left_clean=True)
    yield pool
    await pool.close()


@pytest.fixture
def identity() -> FakeIdentity:
    return FakeIdentity()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_resets(
    pool: asyncpg.Pool, identity: FakeIdentity, clock: Clock
) -> Callable[..., PasswordResets]:
    def make(
        *, account_max: int = 3, ip_max: int = 20, ttl_minutes: int = 30, link_misses_max: int = 10
    ) -> PasswordResets:
        return PasswordResets.build(
            lambda: ResetUnitOfWork(pool),
            PostgresRequestIntake(pool),
            identity,
            ResetPolicy(
                hash_keys=KeyRing.parse(f"h1:{'A' * 43}"),
                seal_keys=KeyRing.parse(f"s1:{'B' * 43}"),
                public_origin=ORIGIN,
                ttl=timedelta(minutes=ttl_minutes),
                max_attempts=5,
                limits=RequestLimits(account_max, ip_max, timedelta(minutes=15), link_misses_max),
            ),
            clock=clock,
        )

    return make


def unique_email() -> str:
    return f"p-{uuid.uuid4().hex[:10]}@example.com"


def unique_ip() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


async def emailed_tokens(pool: asyncpg.Pool, email: str) -> list[str]:
    """The tokens of the links sealed for ``email`` in the outbox (what the emails carry),
    oldest first."""
    rows = await pool.fetch("SELECT headers, value FROM outbox ORDER BY id DESC LIMIT 500")
    tokens = []
    for row in rows:
        headers = [(k, v.encode()) for k, v in json.loads(row["headers"])]
        event = cloudevents_kafka.decode(headers, row["value"]).data
        if event.email == email:  # type: ignore[attr-defined]
            link = open_sealed(
                event.sealed_link,  # type: ignore[attr-defined]
                keys={"s1": decode_key("B" * 43)},
                associated_data=event.link_binding(),  # type: ignore[attr-defined]
            )
            tokens.append(parse_qs(urlsplit(link).query)["token"][0])
    return tokens[::-1]


async def emailed_token(pool: asyncpg.Pool, email: str) -> str:
    """The token of the newest link sealed for ``email`` in the outbox (what the email carries)."""
    tokens = await emailed_tokens(pool, email)
    if not tokens:
        raise AssertionError(f"no outbox record for {email}")
    return tokens[-1]


@dataclass(frozen=True)
class Requested:
    email: str
    account: KnownAccount
    code: str
    token: str


async def request_for_new_account(
    resets: PasswordResets, identity: FakeIdentity, pool: asyncpg.Pool, *, totp: bool = False
) -> Requested:
    """A known account, a reset request for it, and what the person has: code and token."""
    email = unique_email()
    account = identity.add(email, totp=totp)
    code = (await resets.request(email, unique_ip())).verification_code
    return Requested(email, account, code, await emailed_token(pool, email))
