"""Wires the notifier: adapters into the delivery use case, the use case behind the Kafka
entrypoint, and the workers the app runs (the event consumer, the ledger pruner).

The only place besides tests that builds adapters; `api/main.py` calls `build` in its lifespan
and runs `Notifier.workers` with servicekit's `run_workers`.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from pwreset_contracts.dead_letters import DEAD_LETTER_TOPIC
from servicekit.messaging.consumer import AtLeastOnceConsumer, ConsumerGauges, DeadLetterProducer
from servicekit.runtime.database import create_pool
from servicekit.runtime.workers import Worker, every

from notifier_service import metrics
from notifier_service.adapters.dead_letter_topic import DeadLetterCopies
from notifier_service.adapters.deliveries_ledger import DATABASE_AWAY, DeliveriesLedger
from notifier_service.adapters.smtp_sender import SmtpSender
from notifier_service.core.config import Settings
from notifier_service.domain.composition import MAILED_EVENTS, EmailComposer
from notifier_service.domain.emails import email_templates
from notifier_service.entrypoints.kafka_consumer import DeliverAll, EventRecords
from notifier_service.service_layer.deliver_email import EmailDelivery

# The topics of the events the notifier turns into emails.
TOPICS = [event.topic for event in MAILED_EVENTS]
LEDGER_PRUNE_EVERY_SECONDS = 3600.0

log = logging.getLogger("notifier.app")


def smtp_sender(settings: Settings) -> SmtpSender:
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpSender(
        settings.smtp_host,
        settings.smtp_port,
        security=settings.smtp_security,
        username=settings.smtp_username,
        password=password,
        timeout=settings.smtp_timeout_seconds,
        connections=settings.smtp_connections,
    )


def event_consumer(
    delivery: EmailDelivery,
    *,
    bootstrap_servers: str,
    group_id: str,
    topics: list[str],
    max_retry_backoff_seconds: float,
    concurrency: int,
    kafka_options: dict[str, Any],
    deliver_all: DeliverAll | None = None,
) -> tuple[AtLeastOnceConsumer, EventRecords]:
    """The shared at-least-once loop around the notifier's entrypoint: each fetch delivered as
    one batch, retries one record at a time (`deliver_all`: tests may wrap the use case's to
    watch it)."""
    records = EventRecords(
        delivery.deliver, delivery.dead_letter, deliver_all or delivery.deliver_all
    )
    consumer = AtLeastOnceConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        topics=topics,
        handler=records.handle,
        batch_handler=records.handle_batch,
        max_retry_backoff_seconds=max_retry_backoff_seconds,
        concurrency=concurrency,
        kafka_options=kafka_options,
        gauges=ConsumerGauges(paused=metrics.PAUSED, lag=metrics.CONSUMER_LAG),
        log=logging.getLogger("notifier.consumer"),
        name="deliveries",
    )
    return consumer, records


def ledger_pruner(
    ledger: DeliveriesLedger, retention_seconds: float
) -> Callable[[asyncio.Event], Awaitable[None]]:
    """Forget settled deliveries past the topics' retention: once at start, then hourly."""

    async def prune() -> None:
        try:
            await ledger.prune(retention_seconds)
        except DATABASE_AWAY as exc:
            log.warning("ledger prune failed", extra={"fields": {"error": type(exc).__name__}})

    hourly = every(LEDGER_PRUNE_EVERY_SECONDS, prune, "ledger-pruner")

    async def run(stop: asyncio.Event) -> None:
        await prune()
        await hourly(stop)

    return run


@dataclass
class Notifier:
    pool: asyncpg.Pool
    consumer: AtLeastOnceConsumer
    workers: list[Worker]
    _dead_letters: DeadLetterCopies
    _sender: SmtpSender

    async def close(self) -> None:
        """After the workers stopped: the connections they used."""
        await self._dead_letters.close()
        await self._sender.close()
        await self.pool.close()


async def build(settings: Settings) -> Notifier:
    pool = await create_pool(settings.database_url, max_size=settings.db_pool_max_size)
    kafka_options = settings.kafka.security_options()
    ledger = DeliveriesLedger(pool)
    sender = smtp_sender(settings)
    dead_letters = DeadLetterCopies(
        DeadLetterProducer(
            settings.kafka_bootstrap_servers, DEAD_LETTER_TOPIC, kafka_options=kafka_options
        )
    )
    delivery = EmailDelivery(
        ledger,
        sender,
        dead_letters,
        EmailComposer(
            link_keys=settings.link_keys,
            notice_keys=settings.notice_keys,
            mail_from=settings.mail_from,
            mail_from_name=settings.branding.mail_from_name,
            templates=email_templates(settings.branding),
            time_zone=settings.time_zone,
        ),
        sends_at_once=settings.smtp_connections,
    )
    consumer, _ = event_consumer(
        delivery,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=settings.kafka_consumer_group,
        topics=TOPICS,
        max_retry_backoff_seconds=settings.delivery_retry_max_seconds,
        # (Retries, one record at a time.) Each delivery holds a pooled connection for its
        # ledger claim and briefly takes a second one: more deliveries in flight than half the
        # pool could wait on each other.
        concurrency=max(1, settings.db_pool_max_size // 2),
        kafka_options=kafka_options,
    )
    workers = [
        # On shutdown (SIGTERM through uvicorn's lifespan): no new record is started, the one
        # in flight finishes (at most three SMTP timeouts), offsets are committed, the consumer
        # leaves the group.
        Worker(
            "event-consumer",
            consumer.run,
            stop_timeout_seconds=settings.smtp_timeout_seconds * 3 + 10,
        ),
        Worker("ledger-pruner", ledger_pruner(ledger, settings.ledger_retention_seconds)),
    ]
    return Notifier(pool, consumer, workers, dead_letters, sender)
