"""Builds the FastAPI app: middleware, routers and health. The use cases and workers come from
``bootstrap.py`` and run for the app's lifetime."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from servicekit.runtime.metrics import MetricsPortGate, install_telemetry
from servicekit.runtime.otel import fastapi_telemetry
from servicekit.runtime.workers import run_workers
from servicekit.web.health import health_router
from servicekit.web.http_errors import BodySizeLimit, install_error_handlers
from servicekit.web.internal_port import InternalPortGate
from servicekit.web.media_type import require_declared_media_type
from servicekit.web.openapi import ApiDocument, serve_api_documents
from servicekit.web.pages import install_branding, mount_static
from servicekit.web.security_headers import SecurityHeaders

from reset_service.api import internal, pages, resets
from reset_service.bootstrap import reset_service
from reset_service.core.config import Settings, get_settings

PUBLIC_DOCUMENT = ApiDocument(
    title="reset",
    description="Password resets: ask for one (a code comes back, a link is emailed), then "
    "confirm it with the link's token, the code and a new password.",
)
# On INTERNAL_PORT only (servicekit.web.internal_port), like the API it describes.
INTERNAL_DOCUMENT = ApiDocument(
    title="reset (internal)",
    description="For identity only, with INTERNAL_API_TOKEN: start a reset for an account "
    '("This wasn\'t me").',
    prefix="/internal/",
)
DOCUMENTS = (PUBLIC_DOCUMENT, INTERNAL_DOCUMENT)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with reset_service(settings) as service, run_workers(service.workers):
            app.state.service = service
            app.state.resets = service.resets
            yield

    app = FastAPI(
        title="reset",
        version="0.1.0",
        lifespan=lifespan,
        # Served per port below (DOCUMENTS): one document of every route would publish the
        # internal API on the public port.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(require_declared_media_type)],
        telemetry=fastapi_telemetry(),
    )
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
        image_origin=settings.branding.logo_origin,
    )
    install_telemetry(app, "reset")  # outermost: times and counts everything, 413s included
    app.include_router(resets.router)
    app.include_router(internal.router)
    app.include_router(pages.router)
    install_branding(app, settings.branding)
    mount_static(app, Path(__file__).parent.parent / "static")
    serve_api_documents(app, *DOCUMENTS)

    async def database() -> None:
        await app.state.service.check_database()

    async def kafka() -> None:
        await app.state.service.check_kafka()

    # Kafka away only degrades reset: requests are still accepted into the outbox and go out
    # when it returns (docs/delivery.md), so it must not take the pods out of rotation.
    app.include_router(health_router({"database": database}, degraded={"kafka": kafka}))
    return app
