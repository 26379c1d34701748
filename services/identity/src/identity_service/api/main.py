"""Builds the FastAPI app: wiring of adapters into the service layer happens here only."""

import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from asyncpg import Pool
from fastapi import FastAPI
from pwreset_contracts.sealed import decode_key
from servicekit.messaging.outbox.settings import outbox_relay
from servicekit.runtime.database import create_pool
from servicekit.runtime.metrics import MetricsPortGate, install_telemetry
from servicekit.runtime.workers import Worker, every, run_workers
from servicekit.web.health import health_router
from servicekit.web.http_errors import BodySizeLimit, install_error_handlers
from servicekit.web.internal_port import InternalPortGate
from servicekit.web.pages import mount_static
from servicekit.web.security_headers import SecurityHeaders

from identity_service.adapters.accounts_repository import AccountsRepository
from identity_service.adapters.login_throttle_repository import LoginThrottleRepository
from identity_service.adapters.password_hashing import PasswordHashing
from identity_service.adapters.registrations_repository import RegistrationsRepository
from identity_service.adapters.reset_client import ResetClient
from identity_service.adapters.secret_box import SecretBox
from identity_service.api import errors, internal, pages, public, undo_pages
from identity_service.core.config import Settings, get_settings
from identity_service.domain.login_throttle import ThrottleRule
from identity_service.domain.passwords import Argon2Hasher, PasswordPolicy
from identity_service.service_layer.accounts import AccountService, SecondFactorPolicy
from identity_service.service_layer.login_throttle import LoginLimits, LoginThrottle
from identity_service.service_layer.notices import ChangeNotice, Notices
from identity_service.service_layer.registrations import RegistrationPolicy, Registrations


def login_throttle(pool: Pool, settings: Settings) -> LoginThrottle:
    forget_after = timedelta(seconds=settings.login_failure_memory_seconds)
    recovery_key = decode_key(settings.recovery_code_hash_key.get_secret_value())
    return LoginThrottle(
        LoginThrottleRepository(pool, forget_after=forget_after),
        LoginLimits.build(
            # A key of its own, derived from a secret identity already holds: the table keeps
            # no address or IP in clear, and nobody can precompute its keys.
            key=hmac.new(recovery_key, b"pwreset login-throttle v1", hashlib.sha256).digest(),
            free_per_account=settings.login_free_failures_per_account,
            max_delay_per_account=timedelta(seconds=settings.login_max_delay_per_account_seconds),
            free_per_account_ip=settings.login_free_failures_per_account_ip,
            max_delay_per_account_ip=timedelta(
                seconds=settings.login_max_delay_per_account_ip_seconds
            ),
            free_per_ip=settings.login_free_failures_per_ip,
            max_delay_per_ip=timedelta(seconds=settings.login_max_delay_per_ip_seconds),
            forget_after=forget_after,
        ),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, max_size=settings.db_pool_max_size)
        app.state.pool = pool
        app.state.reset_client = ResetClient(
            str(settings.reset_url), settings.internal_api_token.get_secret_value()
        )
        hashing = PasswordHashing(
            Argon2Hasher(
                settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
            ),
            queue_limit=settings.hash_queue_max,
        )
        throttle = login_throttle(pool, settings)
        password_policy = PasswordPolicy(
            min_length=settings.password_min_length,
            min_length_with_totp=settings.password_min_length_with_totp,
            max_length=settings.password_max_length,
        )
        notice = ChangeNotice(
            public_origin=settings.public_origin,
            seal_keys=settings.notice_seal_keyring,
            undo_ttl=timedelta(seconds=settings.undo_link_ttl_seconds),
        )
        app.state.accounts = AccountService(
            AccountsRepository(pool),
            hashing,
            throttle,
            SecretBox(settings.totp_encryption_key.get_secret_value()),
            password_policy,
            SecondFactorPolicy(
                max_failures=settings.totp_max_failures,
                window=timedelta(seconds=settings.totp_failure_window_seconds),
                recovery_key=decode_key(settings.recovery_code_hash_key.get_secret_value()),
                recovery_count=settings.recovery_code_count,
                lockout_after=settings.totp_lockout_failures,
            ),
            notice,
            totp_issuer=settings.totp_issuer,
            session_ttl=timedelta(seconds=settings.session_ttl_seconds),
        )
        app.state.registrations = Registrations(
            RegistrationsRepository(pool),
            AccountsRepository(pool),
            hashing,
            throttle,
            Notices(notice, lambda: datetime.now(UTC)),
            password_policy,
            RegistrationPolicy(
                ttl=timedelta(seconds=settings.registration_ttl_seconds),
                per_ip=ThrottleRule(
                    "register_ip", settings.registration_free_per_ip, timedelta(minutes=15)
                ),
            ),
            lambda: datetime.now(UTC),
        )

        async def housekeeping() -> None:
            await app.state.accounts.prune_login_throttle()
            await app.state.registrations.prune()

        workers = [Worker("housekeeping", every(600, housekeeping, "housekeeping"))]
        app.state.relay = None
        if settings.outbox_relay_enabled:
            app.state.relay = outbox_relay(pool, settings.database_url, settings, settings)
            workers.append(Worker("outbox-relay", app.state.relay.run))
        async with run_workers(workers):
            try:
                yield
            finally:
                await app.state.reset_client.aclose()
                await pool.close()

    app = FastAPI(
        title="identity", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    install_error_handlers(app)
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(InternalPortGate, internal_port=settings.internal_port)
    app.add_middleware(MetricsPortGate, metrics_port=settings.metrics_port)
    # Outside the other middleware, so their answers (404 of the gate, 413, 500) carry it too.
    app.add_middleware(
        SecurityHeaders,
        public_base_url=settings.public_origin,
        trusted_proxies=settings.trusted_proxy_networks,
    )
    install_telemetry(app, "identity")  # outermost: times and counts everything, 413s included
    app.include_router(public.router)
    app.include_router(internal.router)
    app.include_router(pages.router)
    app.include_router(undo_pages.router)
    mount_static(app)  # the shared stylesheet; identity has no files of its own

    async def database() -> None:
        await app.state.pool.fetchval("SELECT 1")

    async def kafka() -> None:
        if app.state.relay is not None:
            await app.state.relay.check_kafka()

    # Kafka away only delays PasswordChanged (it waits in the outbox), so it degrades identity
    # without taking its pods out of rotation.
    app.include_router(health_router({"database": database}, degraded={"kafka": kafka}))
    return app
