"""Who an address finds, on a PostgreSQL cluster initialised with the C locale (the test
default) and with en_US.UTF-8 (the official postgres image's default, what docker-compose runs).

The attack: `admİn@corp.example` (capital I with dot above, U+0130). Under a libc UTF-8 locale
PostgreSQL's lower() turns it into `admin@corp.example`, so a lookup by lower(email) found the
admin's account and the reset link went to the look-alike address. Lookups now compare the
platform's one normalisation (pwreset_contracts.emails), computed in Python, for equality, and
identity hands back the address it stored.
"""

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import identity_service
import pytest
from devinfra.postgres_local import LocalPostgres
from devinfra.processes import free_port
from identity_service.adapters.accounts_repository import AccountReads
from identity_service.adapters.argon2id import Argon2Hasher
from identity_service.adapters.login_throttle_repository import LoginThrottleRepository
from identity_service.adapters.password_hashing import PasswordHashing
from identity_service.adapters.secret_box import SecretBox
from identity_service.bootstrap import unit_of_work
from identity_service.domain.accounts import EmailTaken
from identity_service.domain.passwords import PasswordPolicy
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.login_throttle import LoginLimits, LoginThrottle
from identity_service.service_layer.notices import ChangeNotice
from identity_service.service_layer.second_factor import SecondFactorPolicy
from pwreset_contracts.sealed import KeyRing, decode_key
from servicekit.runtime.migrations import upgrade

from .conftest import ResetsStarted

pytestmark = pytest.mark.integration
MIGRATIONS = Path(identity_service.__file__).parent / "migrations"
PASSWORD = "correct horse battery staple"
UTF8_LOCALE = "en_US.UTF-8"


def _locale_installed(name: str) -> bool:
    listed = subprocess.run(["locale", "-a"], capture_output=True, text=True, check=False).stdout
    wanted = name.lower().replace("utf-8", "utf8")
    return wanted in {line.strip().lower().replace("utf-8", "utf8") for line in listed.split()}


@pytest.fixture(scope="module")
def utf8_cluster(infra) -> Iterator[LocalPostgres]:
    assert _locale_installed(UTF8_LOCALE), (
        f"{UTF8_LOCALE} is not generated on this machine: run scripts/install-system-deps.sh"
    )
    cluster = LocalPostgres(Path(infra.run_dir) / "postgres-en_US", free_port(), locale=UTF8_LOCALE)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module", params=["C", UTF8_LOCALE])
def dsn(request: pytest.FixtureRequest, infra) -> str:
    name = f"identity_it_{uuid.uuid4().hex[:8]}"
    if request.param == "C":
        dsn = infra.dsn_for(name)
    else:
        cluster = request.getfixturevalue("utf8_cluster")
        dsn = cluster.create_database(name)
    upgrade(MIGRATIONS, dsn)
    return dsn


@pytest.fixture
async def accounts(dsn: str) -> AsyncIterator[AccountService]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=25)
    uow = unit_of_work(pool)
    yield AccountService(
        uow,
        AccountReads(pool),
        # argon2id below the production floor: this test is about who an address finds.
        PasswordHashing(Argon2Hasher(8 * 1024, 1, 1), queue_limit=1000),
        LoginThrottle(LoginThrottleRepository(pool), LoginLimits.build(key=b"T" * 32)),
        SecretBox("S" * 43),
        ResetsStarted(),
        PasswordPolicy(),
        SecondFactorPolicy(5, timedelta(minutes=15), decode_key("R" * 43), 10),
        ChangeNotice("https://id.example.com", KeyRing.parse(f"n1:{'N' * 43}"), timedelta(days=7)),
        totp_issuer="test",
        session_ttl=timedelta(hours=1),
    )
    await pool.close()


async def test_the_cluster_really_has_the_locale(dsn: str) -> None:
    """So the look-alike test below is meaningful: lower() folds İ only in the UTF-8 cluster."""
    conn = await asyncpg.connect(dsn)
    try:
        collate = await conn.fetchval(
            "SELECT datcollate FROM pg_database WHERE datname = $1", dsn.rsplit("/", 1)[1]
        )
        folds = await conn.fetchval("SELECT lower('adm\u0130n') = 'admin'")
    finally:
        await conn.close()
    assert folds is (collate != "C"), (collate, folds)


async def test_a_dotted_capital_i_look_alike_finds_no_account(accounts: AccountService) -> None:
    domain = f"corp-{uuid.uuid4().hex[:8]}.example"
    admin = await accounts.create_account(f"admin@{domain}", PASSWORD)
    # 20 attackers at once, each with a look-alike of the admin's address.
    look_alikes = [
        f"adm\u0130n@{domain}",  # U+0130: lower() gives 'i' in en_US.UTF-8
        f"ADM\u0130N@{domain}",
        f"adm\u0131n@{domain}",  # dotless i
        f"\u0430dmin@{domain}",  # Cyrillic a
        f"admin@{domain.replace('o', chr(0x043E))}",  # Cyrillic o in the domain
    ] * 4
    found = await asyncio.gather(*(accounts.lookup(e) for e in look_alikes))
    assert found == [None] * len(look_alikes)
    stored = await accounts.lookup(f"  ADMIN@{domain.upper()} ")
    assert stored is not None and stored.id == admin
    assert stored.email == f"admin@{domain}"  # the stored address, not the typed one


async def test_one_account_per_mailbox_even_when_registered_concurrently(
    accounts: AccountService,
) -> None:
    domain = f"b\u00fccher-{uuid.uuid4().hex[:6]}.example"
    ascii_domain = domain.encode("idna").decode()
    spellings = [f"ada@{domain}", f"ADA@{domain.upper()}", f"Ada@{ascii_domain}"] * 7

    async def register(email: str) -> bool:
        try:
            await accounts.create_account(email, PASSWORD)
        except EmailTaken:
            return False
        return True

    made = await asyncio.gather(*(register(e) for e in spellings))
    assert made.count(True) == 1, made
    assert (await accounts.lookup(f"ada@{ascii_domain}")) is not None


async def test_a_non_ascii_local_part_is_refused_not_folded(accounts: AccountService) -> None:
    with pytest.raises(ValueError, match="ASCII"):
        await accounts.create_account(f"adm\u0130n@corp-{uuid.uuid4().hex[:6]}.example", PASSWORD)
