"""Builds the notifier's app: the consumer runs beside a small HTTP server for health checks.

Readiness: the database and Kafka fail it (503); SMTP does not. While the SMTP server is down the
consumer pauses and retries, and readiness reports `degraded: ["deliveries"]` instead of
flapping: taking the pod out of rotation would not bring the server back, and the notifier has
no inbound traffic to shed.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from pwreset_contracts import TOPICS as EVENT_TOPICS
from servicekit.runtime.backoff import sleep_unless_stopped
from servicekit.runtime.database import create_pool
from servicekit.runtime.metrics import MetricsPortGate, install_telemetry
from servicekit.web.health import health_router
from servicekit.web.http_errors import install_error_handlers

from notifier_service.adapters.dead_letters import DeadLetters
from notifier_service.adapters.deliveries_ledger import DeliveriesLedger, DeliveryBusy
from notifier_service.adapters.event_consumer import EventConsumer
from notifier_service.adapters.exclusive_delivery import ExclusiveDelivery
from notifier_service.adapters.smtp_sender import (
    PermanentSmtpError,
    SmtpSender,
    TransientSmtpError,
)
from notifier_service.core.config import Settings, get_settings
from notifier_service.service_layer.notifications import Notifications, UndeliverableEvent

# Every event topic of the contracts is one the notifier turns into emails.
TOPICS = list(EVENT_TOPICS)
LEDGER_PRUNE_EVERY_SECONDS = 3600.0

log = logging.getLogger("notifier.app")


async def prune_ledger(ledger: DeliveriesLedger, retention: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await ledger.prune(retention)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("ledger prune failed", extra={"fields": {"error": type(exc).__name__}})
        await sleep_unless_stopped(stop, LEDGER_PRUNE_EVERY_SECONDS)


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
        ledger = DeliveriesLedger(pool)
        notifications = Notifications(
            ledger,
            sender,
            link_keys=settings.link_keys,
            notice_keys=settings.notice_keys,
            mail_from=settings.mail_from,
        )
        dead_letters = DeadLetters(
            ledger,
            settings.kafka_bootstrap_servers,
            kafka_options=settings.kafka.security_options(),
        )
        consumer = EventConsumer(
            settings.kafka_bootstrap_servers,
            settings.kafka_consumer_group,
            TOPICS,
            ExclusiveDelivery(ledger, sender, notifications.handle),
            dead_letters,
            transient=(TransientSmtpError, DeliveryBusy),
            permanent=(PermanentSmtpError, UndeliverableEvent),
            max_retry_backoff_seconds=settings.delivery_retry_max_seconds,
            # Each delivery holds a pooled connection for its ledger claim and briefly takes a
            # second one: more deliveries in flight than half the pool could wait on each other.
            concurrency=max(1, settings.db_pool_max_size // 2),
            kafka_options=settings.kafka.security_options(),
        )
        app.state.pool = pool
        app.state.consumer = consumer
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop), name="event-consumer")
        pruner = asyncio.create_task(
            prune_ledger(ledger, settings.ledger_retention_seconds, stop), name="ledger-pruner"
        )
        try:
            yield
        finally:
            # SIGTERM lands here (uvicorn's lifespan shutdown): stop fetching, let the record
            # in flight finish, commit, leave the group; then close the connections.
            stop.set()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=settings.smtp_timeout_seconds * 3 + 10)
            await pruner
            await dead_letters.close()
            await sender.close()
            await pool.close()

    app = FastAPI(
        title="notifier", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    install_error_handlers(app)
    app.add_middleware(MetricsPortGate, metrics_port=settings.metrics_port)
    install_telemetry(app, "notifier")

    async def database() -> None:
        await app.state.pool.fetchval("SELECT 1")

    async def kafka() -> None:
        await app.state.consumer.check_kafka()

    async def deliveries() -> None:
        await app.state.consumer.check_delivering()

    app.include_router(
        health_router({"database": database, "kafka": kafka}, degraded={"deliveries": deliveries})
    )
    return app
