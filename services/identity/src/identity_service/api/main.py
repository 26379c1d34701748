"""Builds the FastAPI app: middleware, routers and health. The service itself is built by
``identity_service.bootstrap`` when the app starts."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from servicekit.runtime.metrics import MetricsPortGate, install_telemetry
from servicekit.runtime.workers import run_workers
from servicekit.web.health import health_router
from servicekit.web.http_errors import BodySizeLimit, install_error_handlers
from servicekit.web.internal_port import InternalPortGate
from servicekit.web.media_type import require_declared_media_type
from servicekit.web.openapi import ApiDocument, serve_api_documents
from servicekit.web.pages import install_branding, mount_static
from servicekit.web.security_headers import SecurityHeaders

from identity_service import bootstrap
from identity_service.api import admin, errors, internal, pages, public, undo_pages
from identity_service.core.config import Settings, get_settings

PUBLIC_DOCUMENT = ApiDocument(
    title="identity",
    description="Accounts: registration by emailed link, login (a session token), two-factor "
    'authentication, and the "This wasn\'t me" link of security emails.',
)
# On INTERNAL_PORT only (servicekit.web.internal_port), like the API it describes.
INTERNAL_DOCUMENT = ApiDocument(
    title="identity (internal)",
    description="For the reset service only, with INTERNAL_API_TOKEN: look an address up, check "
    "an authenticator code, set a new password.",
    prefix="/internal/",
)
DOCUMENTS = (PUBLIC_DOCUMENT, INTERNAL_DOCUMENT, admin.ADMIN_DOCUMENT)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with bootstrap.identity(settings) as identity:
            app.state.identity = identity
            app.state.accounts = identity.accounts
            app.state.registrations = identity.registrations
            async with run_workers(identity.workers):
                yield

    app = FastAPI(
        title="identity",
        version="0.1.0",
        lifespan=lifespan,
        # Served per port below (DOCUMENTS): one document of every route would publish the
        # internal API on the public port.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(require_declared_media_type)],
    )
    app.state.settings = settings
    install_error_handlers(app)
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(InternalPortGate, internal_port=settings.internal_port)
    if settings.admin_port is not None:
        # The admin API on its port only, and nothing else there (health aside); with no
        # ADMIN_PORT its routes do not exist at all.
        app.add_middleware(
            InternalPortGate, internal_port=settings.admin_port, prefix=f"{admin.PREFIX}/"
        )
    app.add_middleware(MetricsPortGate, metrics_port=settings.metrics_port)
    # Outside the other middleware, so their answers (404 of the gate, 413, 500) carry it too.
    app.add_middleware(
        SecurityHeaders,
        public_base_url=settings.public_origin,
        trusted_proxies=settings.trusted_proxy_networks,
        image_origin=settings.branding.logo_origin,
    )
    install_telemetry(app, "identity")  # outermost: times and counts everything, 413s included
    app.include_router(public.router)
    app.include_router(internal.router)
    app.include_router(pages.router)
    app.include_router(undo_pages.router)
    if settings.admin_port is not None:
        app.include_router(admin.router)
    install_branding(app, settings.branding)
    mount_static(app)  # the shared stylesheet; identity has no files of its own
    serve_api_documents(app, *DOCUMENTS)

    async def database() -> None:
        await app.state.identity.database_check()

    async def kafka() -> None:
        await app.state.identity.kafka_check()

    # Kafka away only delays PasswordChanged (it waits in the outbox), so it degrades identity
    # without taking its pods out of rotation.
    app.include_router(health_router({"database": database}, degraded={"kafka": kafka}))
    return app
