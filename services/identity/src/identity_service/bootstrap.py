"""Builds identity from its Settings: the adapters, the use cases they are wired into, and the
background workers. The only place besides tests that hands adapters to the service layer."""

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
from pwreset_contracts.sealed import decode_key
from servicekit.messaging.outbox.settings import outbox_relay
from servicekit.runtime.backoff import sleep_unless_stopped
from servicekit.runtime.database import create_pool
from servicekit.runtime.workers import Worker, every

from identity_service.adapters.accounts_repository import AccountReads
from identity_service.adapters.admin_tokens import DevAdminTokens, JwksCache, JwtAdminTokens
from identity_service.adapters.argon2id import Argon2Hasher
from identity_service.adapters.login_throttle_repository import LoginThrottleRepository
from identity_service.adapters.password_hashing import PasswordHashing
from identity_service.adapters.reset_client import ResetClient
from identity_service.adapters.secret_box import SecretBox
from identity_service.adapters.unit_of_work import IdentityUnitOfWork
from identity_service.core.config import Settings
from identity_service.domain.login_throttle import ThrottleRule
from identity_service.domain.passwords import PasswordPolicy
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.login_throttle import LoginLimits, LoginThrottle
from identity_service.service_layer.notices import ChangeNotice, Notices
from identity_service.service_layer.ports import AdminTokens
from identity_service.service_layer.registrations import RegistrationPolicy, Registrations
from identity_service.service_layer.second_factor import SecondFactorPolicy
from identity_service.service_layer.seeding import AccountSeeding
from identity_service.service_layer.support import Support
from identity_service.service_layer.unit_of_work import UnitOfWorkFactory

HOUSEKEEPING_SECONDS = 600
Check = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class Identity:
    """What the app serves and runs: the use cases, the workers, and readiness checks."""

    accounts: AccountService
    registrations: Registrations
    support: Support
    # None when no ADMIN_PORT is set: no admin API is served then.
    admin_tokens: AdminTokens | None
    workers: list[Worker]
    database_check: Check
    # Kafka away only delays PasswordChanged (it waits in the outbox): a degraded check.
    kafka_check: Check


def unit_of_work(pool: asyncpg.Pool) -> UnitOfWorkFactory:
    return lambda: IdentityUnitOfWork(pool)


def password_policy(settings: Settings) -> PasswordPolicy:
    return PasswordPolicy(
        min_length=settings.password_min_length,
        min_length_with_totp=settings.password_min_length_with_totp,
        max_length=settings.password_max_length,
    )


def password_hashing(settings: Settings, *, queue_limit: int | None = None) -> PasswordHashing:
    hasher = Argon2Hasher(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )
    return PasswordHashing(hasher, queue_limit=queue_limit or settings.hash_queue_max)


def login_limits(settings: Settings) -> LoginLimits:
    recovery_key = decode_key(settings.recovery_code_hash_key.get_secret_value())
    return LoginLimits.build(
        # A key of its own, derived from a secret identity already holds: the table keeps
        # no address or IP in clear, and nobody can precompute its keys.
        key=hmac.new(recovery_key, b"pwreset login-throttle v1", hashlib.sha256).digest(),
        free_per_account=settings.login_free_failures_per_account,
        max_delay_per_account=timedelta(seconds=settings.login_max_delay_per_account_seconds),
        free_per_account_ip=settings.login_free_failures_per_account_ip,
        max_delay_per_account_ip=timedelta(seconds=settings.login_max_delay_per_account_ip_seconds),
        free_per_ip=settings.login_free_failures_per_ip,
        max_delay_per_ip=timedelta(seconds=settings.login_max_delay_per_ip_seconds),
        forget_after=timedelta(seconds=settings.login_failure_memory_seconds),
    )


def second_factor_policy(settings: Settings) -> SecondFactorPolicy:
    return SecondFactorPolicy(
        max_failures=settings.totp_max_failures,
        window=timedelta(seconds=settings.totp_failure_window_seconds),
        recovery_key=decode_key(settings.recovery_code_hash_key.get_secret_value()),
        recovery_count=settings.recovery_code_count,
        lockout_after=settings.totp_lockout_failures,
    )


def change_notice(settings: Settings) -> ChangeNotice:
    return ChangeNotice(
        public_origin=settings.public_origin,
        seal_keys=settings.notice_seal_keyring,
        undo_ttl=timedelta(seconds=settings.undo_link_ttl_seconds),
    )


def registration_policy(settings: Settings) -> RegistrationPolicy:
    return RegistrationPolicy(
        ttl=timedelta(seconds=settings.registration_ttl_seconds),
        per_ip=ThrottleRule(
            "register_ip", settings.registration_free_per_ip, timedelta(minutes=15)
        ),
    )


def jwks_cache(settings: Settings) -> JwksCache | None:
    if settings.admin_port is None or settings.admin_jwks_url is None:
        return None
    return JwksCache(
        str(settings.admin_jwks_url),
        ttl=settings.admin_jwks_cache_seconds,
        min_refetch_interval=settings.admin_jwks_min_refetch_seconds,
    )


def admin_tokens(settings: Settings, jwks: JwksCache | None) -> AdminTokens | None:
    """How admin-API callers are checked: the identity provider's JWTs, and in development
    the static token if one is set (production refuses ADMIN_DEV_TOKEN)."""
    if settings.admin_port is None:
        return None
    jwt_tokens = None
    if jwks is not None and settings.admin_jwt_issuer and settings.admin_jwt_audience:
        jwt_tokens = JwtAdminTokens(
            jwks,
            issuer=settings.admin_jwt_issuer,
            audience=settings.admin_jwt_audience,
            algorithms=settings.admin_algorithms,
            role_claim=settings.admin_role_claim,
            leeway_seconds=settings.admin_jwt_leeway_seconds,
        )
    if settings.admin_dev_token is not None and settings.environment == "development":
        return DevAdminTokens(settings.admin_dev_token.get_secret_value(), jwt_tokens)
    return jwt_tokens


def jwks_refresher(
    jwks: JwksCache, settings: Settings
) -> Callable[[asyncio.Event], Awaitable[None]]:
    """Fetch the identity provider's keys at start and every half cache lifetime after, so the
    admin API's requests find them fresh (an unknown key id still refetches, rate-limited)."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await jwks.refresh()
            await sleep_unless_stopped(stop, settings.admin_jwks_cache_seconds / 2)

    return run


@asynccontextmanager
async def identity(settings: Settings) -> AsyncIterator[Identity]:
    """Identity wired to its database and the reset service, for as long as the block runs."""
    pool = await create_pool(settings.database_url, max_size=settings.db_pool_max_size)
    resets = ResetClient(str(settings.reset_url), settings.internal_api_token.get_secret_value())
    jwks = jwks_cache(settings)
    try:
        built = _build(settings, pool, resets, admin_tokens(settings, jwks))
        if jwks is not None:
            built.workers.append(Worker("jwks-refresh", jwks_refresher(jwks, settings)))
        yield built
    finally:
        if jwks is not None:
            await jwks.aclose()
        await resets.aclose()
        await pool.close()


def _build(
    settings: Settings, pool: asyncpg.Pool, resets: ResetClient, tokens: AdminTokens | None
) -> Identity:
    clock = time.time
    uow = unit_of_work(pool)
    hashing = password_hashing(settings)
    throttle = LoginThrottle(LoginThrottleRepository(pool), login_limits(settings))
    notice = change_notice(settings)
    accounts = AccountService(
        uow,
        AccountReads(pool),
        hashing,
        throttle,
        SecretBox(settings.totp_encryption_key.get_secret_value()),
        resets,
        password_policy(settings),
        second_factor_policy(settings),
        notice,
        totp_issuer=settings.totp_issuer,
        session_ttl=timedelta(seconds=settings.session_ttl_seconds),
        clock=clock,
    )

    def now() -> datetime:
        return datetime.fromtimestamp(clock(), UTC)

    support = Support(
        uow,
        resets,
        Notices(notice, now),
        now,
        lockout_after=settings.totp_lockout_failures,
    )
    registrations = Registrations(
        uow,
        hashing,
        throttle,
        Notices(notice, now),
        password_policy(settings),
        registration_policy(settings),
        now,
    )

    async def housekeeping() -> None:
        await accounts.prune_login_throttle()
        await registrations.prune()

    workers = [Worker("housekeeping", every(HOUSEKEEPING_SECONDS, housekeeping, "housekeeping"))]
    relay = None
    if settings.outbox_relay_enabled:
        relay = outbox_relay(pool, settings.database_url, settings, settings)
        workers.append(Worker("outbox-relay", relay.run))

    async def database_check() -> None:
        await pool.fetchval("SELECT 1")

    async def kafka_check() -> None:
        if relay is not None:
            await relay.check_kafka()

    return Identity(accounts, registrations, support, tokens, workers, database_check, kafka_check)


@asynccontextmanager
async def account_seeding(settings: Settings) -> AsyncIterator[AccountSeeding]:
    """For ``identity-service seed-accounts``: no hashing queue limit (the tool waits its turn
    in the shared lane rather than being refused)."""
    pool = await create_pool(settings.database_url, max_size=4)
    try:
        yield AccountSeeding(
            unit_of_work(pool),
            password_hashing(settings, queue_limit=2**31),
            password_policy(settings),
        )
    finally:
        await pool.close()
