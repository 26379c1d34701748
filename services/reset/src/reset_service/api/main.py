"""Builds the FastAPI app: wiring of adapters into the service layer happens here only."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from servicekit.messaging.outbox.settings import outbox_relay
from servicekit.runtime.database import create_pool
from servicekit.runtime.metrics import MetricsPortGate, install_telemetry
from servicekit.runtime.workers import Worker, run_workers
from servicekit.web.health import health_router
from servicekit.web.http_errors import BodySizeLimit, install_error_handlers
from servicekit.web.internal_port import InternalPortGate
from servicekit.web.pages import mount_static
from servicekit.web.security_headers import SecurityHeaders

from reset_service.adapters.identity_client import IdentityClient
from reset_service.adapters.rate_limits import prune_rate_limits
from reset_service.adapters.requests_repository import RequestsRepository
from reset_service.api import internal, pages, resets
from reset_service.core.config import Settings, get_settings
from reset_service.service_layer.deferred import send_deferred_emails
from reset_service.service_layer.password_resets import PasswordResets, RequestLimits


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, max_size=settings.db_pool_max_size)
        identity = IdentityClient(
            str(settings.identity_url),
            settings.internal_api_token.get_secret_value(),
            settings.identity_timeout_seconds,
        )
        app.state.pool = pool
        app.state.resets = PasswordResets(
            RequestsRepository(pool),
            identity,
            hash_keys=settings.token_hash_keyring,
            seal_keys=settings.link_seal_keyring,
            public_origin=settings.public_origin,
            ttl=timedelta(seconds=settings.reset_ttl_seconds),
            max_attempts=settings.max_code_attempts,
            limits=RequestLimits(
                account_max=settings.rate_limit_account_max,
                ip_max=settings.rate_limit_ip_max,
                window=timedelta(seconds=settings.rate_limit_window_seconds),
                link_misses_max=settings.rate_limit_link_misses_max,
            ),
        )
        window = timedelta(seconds=settings.rate_limit_window_seconds)
        workers = [
            Worker("rate-limit-pruner", lambda stop: prune_rate_limits(pool, window, stop)),
            Worker(
                "deferred-emails",
                lambda stop: send_deferred_emails(
                    app.state.resets, settings.deferred_email_poll_seconds, stop
                ),
            ),
        ]
        app.state.relay = None
        if settings.outbox_relay_enabled:
            app.state.relay = outbox_relay(pool, settings.database_url, settings, settings)
            workers.append(Worker("outbox-relay", app.state.relay.run))
        async with run_workers(workers):
            try:
                yield
            finally:
                await identity.aclose()
                await pool.close()

    app = FastAPI(title="reset", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(InternalPortGate, internal_port=settings.internal_port)
    app.add_middleware(MetricsPortGate, metrics_port=settings.metrics_port)
    # Outside the other middleware, so their answers (413, 500) carry the headers too.
    app.add_middleware(
        SecurityHeaders,
        public_base_url=settings.public_origin,
        trusted_proxies=settings.trusted_proxy_networks,
    )
    install_telemetry(app, "reset")  # outermost: times and counts everything, 413s included
    app.include_router(resets.router)
    app.include_router(internal.router)
    app.include_router(pages.router)
    mount_static(app, Path(__file__).parent.parent / "static")

    async def database() -> None:
        await app.state.pool.fetchval("SELECT 1")

    async def kafka() -> None:
        if app.state.relay is not None:
            await app.state.relay.check_kafka()

    # Kafka away only degrades reset: requests are still accepted into the outbox and go out
    # when it returns (docs/delivery.md), so it must not take the pods out of rotation.
    app.include_router(health_router({"database": database}, degraded={"kafka": kafka}))
    return app
