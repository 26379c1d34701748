"""Builds the notifier's app: the consumer runs beside a small HTTP server for health checks."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from servicekit.database import create_pool
from servicekit.health import health_router
from servicekit.http_errors import install_error_handlers

from notifier_service.adapters.deliveries_ledger import DeliveriesLedger
from notifier_service.adapters.event_consumer import EventConsumer
from notifier_service.adapters.smtp_sender import (
    PermanentSmtpError,
    SmtpSender,
    TransientSmtpError,
)
from notifier_service.core.config import Settings, get_settings
from notifier_service.service_layer.notifications import Notifications, UndeliverableEvent

TOPICS = ["password-reset.requested.v1"]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url, max_size=settings.db_pool_max_size)
        sender = SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout=settings.smtp_timeout_seconds,
        )
        notifications = Notifications(
            DeliveriesLedger(pool),
            sender,
            link_keys=settings.link_keys,
            mail_from=settings.mail_from,
        )
        consumer = EventConsumer(
            settings.kafka_bootstrap_servers,
            settings.kafka_consumer_group,
            TOPICS,
            notifications.handle,
            transient=(TransientSmtpError, OSError),
            permanent=(PermanentSmtpError, UndeliverableEvent),
        )
        app.state.pool = pool
        app.state.consumer = consumer
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop), name="event-consumer")
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=20)
            await sender.close()
            await pool.close()

    app = FastAPI(
        title="notifier", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    install_error_handlers(app)

    async def database() -> None:
        await app.state.pool.fetchval("SELECT 1")

    async def kafka() -> None:
        if not app.state.consumer.connected:
            raise ConnectionError("consumer not connected")

    app.include_router(health_router({"database": database, "kafka": kafka}))
    return app
