"""Builds the notifier's app: a small HTTP server for health checks and metrics, beside the
workers `bootstrap` builds (the event consumer, the ledger pruner).

Readiness: the database and Kafka fail it (503); SMTP does not. While the SMTP server is down the
consumer pauses and retries, and readiness reports `degraded: ["deliveries"]` instead of
flapping: taking the pod out of rotation would not bring the server back, and the notifier has
no inbound traffic to shed.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from servicekit.runtime.metrics import MetricsPortGate, install_telemetry
from servicekit.runtime.workers import run_workers
from servicekit.web.health import health_router
from servicekit.web.http_errors import install_error_handlers

from notifier_service import bootstrap
from notifier_service.core.config import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        notifier = await bootstrap.build(settings)
        app.state.notifier = notifier
        try:
            # SIGTERM lands here (uvicorn's lifespan shutdown): the workers stop (the consumer
            # finishes the record in flight, commits, leaves the group); then the connections
            # close.
            async with run_workers(notifier.workers):
                yield
        finally:
            await notifier.close()

    app = FastAPI(  # no API to document: health and metrics only
        title="notifier",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    app.add_middleware(MetricsPortGate, metrics_port=settings.metrics_port)
    install_telemetry(app, "notifier")

    def notifier() -> bootstrap.Notifier:
        built: bootstrap.Notifier = app.state.notifier
        return built

    async def database() -> None:
        await notifier().pool.fetchval("SELECT 1")

    async def kafka() -> None:
        await notifier().consumer.check_kafka()

    async def deliveries() -> None:
        await notifier().consumer.check_not_paused()

    app.include_router(
        health_router({"database": database, "kafka": kafka}, degraded={"deliveries": deliveries})
    )
    return app
